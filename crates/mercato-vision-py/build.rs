//! The extension finds libtorch in the torch wheel installed beside it in site-packages
//! (maturin installs it as the top-level package `_mercato_vision/`, so `$ORIGIN/../torch/lib`), never in the build tree:
//! one copy of libtorch is loaded whether or not `import torch` ran first, and the wheel
//! declares `torch==2.13.0` as a dependency instead of bundling 4.7 GB.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rustc-link-arg-cdylib=-Wl,-rpath,$ORIGIN/../torch/lib");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        // Keep libtorch_cuda.so linked (--as-needed would drop it and hide CUDA).
        if std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg-cdylib=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
}

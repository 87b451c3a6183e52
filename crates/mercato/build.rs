//! With the `torch` feature, bake libtorch's directory into this package's binaries
//! (tests, examples) as an rpath, so nothing needs `LD_LIBRARY_PATH`.
//!
//! torch-sys declares `links = "tch"` and exports the directory it linked against as
//! `DEP_TCH_LIBTORCH_LIB`; a link argument only applies to this package's own targets, so
//! every package with binaries that link libtorch uses this same file as its build script
//! (crates/mercato-cli and benches point their `build` key here).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        // With --as-needed the linker drops libtorch_cuda.so (nothing references it
        // directly), which hides CUDA from tch::Cuda::is_available(). Keep it when present.
        if std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
        println!("cargo:rustc-env=MERCATO_LIBTORCH_LIB={dir}");
    }
}

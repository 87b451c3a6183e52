//! IDX files (MNIST / Fashion-MNIST): raw bytes through `parse_idx`, and the same bytes as
//! a file through `read_idx` and the image / label loaders (gzip when they start 1f 8b).
//! A header claiming 2^40 elements must be refused before anything is allocated.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::idx;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = idx::parse_idx(data) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
    let path = mercato_fuzz::scratch_file("idx", "images-idx3-ubyte", data);
    let _ = idx::read_idx(&path);
    let _ = idx::load_idx_images(&path);
    let _ = idx::load_idx_labels(&path);
});

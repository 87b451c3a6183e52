//! MovieLens ratings files (`u.data`, `ratings.dat`, `ratings.csv`): format sniffing + parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = mercato_fuzz::scratch_file("movielens", "u.data", data);
    if let Ok(x) = mercato::data::load_movielens(&path) {
        assert_eq!(x.matrix().rows(), x.users().len());
    }
});

//! Last.fm-2k `user_artists.dat` (tab separated, header, play counts).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = mercato_fuzz::scratch_file("lastfm", "user_artists.dat", data);
    if let Ok(x) = mercato::data::load_lastfm(&path) {
        assert!(x.value_range().is_none_or(|(lo, _)| lo >= 0.0));
    }
});

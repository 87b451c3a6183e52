//! Image bytes (PNG, JPEG) through `decode_image_bytes`, the decoder behind `load_image_files`,
//! `load_image_folder` and the service's image uploads: the first byte picks the output (bit 0:
//! 1 or 3 channels, bits 1-6: side 1..=64), the rest is the file. A header claiming a huge
//! picture must be refused before its pixels are allocated (the allocation cap aborts
//! otherwise), and a picture that decodes gives exactly `channels x side x side` bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::data::images::decode_image_bytes;

fuzz_target!(|data: &[u8]| {
    let Some((&options, file)) = data.split_first() else { return };
    let channels = if options & 1 == 0 { 1 } else { 3 };
    let side = ((options >> 1) & 63) as usize + 1;
    if let Ok(px) = decode_image_bytes(file, side, channels) {
        assert_eq!(px.len(), channels * side * side, "decoded to the wrong size");
    }
});

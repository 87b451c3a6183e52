//! Regression tests for hostile files (issue 14): headers that claim enormous sizes are
//! refused before anything of that size is allocated, and a model file whose checksum was
//! recomputed after tampering (what the fuzz targets do) still fails validation cleanly.

use crate::data::idx::parse_idx;
use crate::fraud::alloc_count::largest_allocation;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::recommend::{Als, Rows};
use crate::Error;

/// Bytes of an IDX file of unsigned bytes with `dims` and `data`.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn idx_header_claiming_2_pow_40_elements_is_refused_before_allocating() {
    // 2^20 x 2^10 x 2^10 = 2^40 one-byte pixels, 16 bytes of data
    let file = idx(&[1 << 20, 1 << 10, 1 << 10], &[7; 16]);
    let (r, largest) = largest_allocation(|| parse_idx(&file));
    assert!(r.unwrap_err().contains("too large"), "refused for its size");
    assert!(largest < 4096, "allocated {largest} bytes for a 32-byte file");
    // 2^30 elements is within the format's cap, but the file holds 16 bytes: refused by
    // comparing the claim with the data length, before copying anything
    let file = idx(&[1 << 10, 1 << 10, 1 << 10], &[7; 16]);
    let (r, largest) = largest_allocation(|| parse_idx(&file));
    assert!(r.unwrap_err().contains("data bytes"));
    assert!(largest < 4096, "allocated {largest} bytes for a 32-byte file");
    let file = idx(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    let (r, largest) = largest_allocation(|| parse_idx(&file));
    assert!(r.unwrap_err().contains("too large"));
    assert!(largest < 4096);
}

/// `bytes` with the header's CRC-32 recomputed (the fuzz targets' `fix_checksum`).
fn with_fixed_crc(bytes: &[u8]) -> Vec<u8> {
    let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + hlen]).unwrap();
    let body = &bytes[16 + hlen..];
    header["crc32"] = crc32fast::hash(body).into();
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

#[test]
fn tensor_shape_claiming_2_pow_40_elements_is_refused_before_allocating() {
    // a valid container whose safetensors header claims a [2^40] f32 array over 8 bytes
    let good = ModelWriter::new("test.kind", &serde_json::json!({})).unwrap().f32("w", &[2], &[1.0, 2.0]);
    let bytes = good.to_bytes().unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\"shape\":[2]").expect("the safetensors header names the shape");
    let mut evil = bytes.clone();
    // same length: "[2]" -> "[9]" keeps the JSON valid; then a bigger claim via a longer
    // number would shift offsets, so also try the extreme through the dims product below
    evil[at + 9] = b'9';
    let evil = with_fixed_crc(&evil);
    let (r, largest) = largest_allocation(|| ModelReader::from_bytes(evil.clone(), "test.kind").err());
    assert!(matches!(r, Some(Error::ModelFormat(_))), "{r:?}");
    assert!(largest < 64 * evil.len(), "allocated {largest} bytes for a {}-byte file", evil.len());
}

#[test]
fn model_meta_claiming_huge_sizes_is_a_format_error() {
    let rows = Rows::from_triplets(3, 3, &[(0, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0)]).unwrap();
    let als = Als::params().factors(2).iterations(1).fit_rows(&rows).unwrap();
    let bytes = als.to_bytes().unwrap();
    for (from, to) in
        [("\"n_users\":3", "\"n_users\":1099511627776"), ("\"n_items\":3", "\"n_items\":18446744073709551615")]
    {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let at = text.find(from).expect("meta field");
        let mut evil = bytes[..at].to_vec();
        evil.extend_from_slice(to.as_bytes());
        evil.extend_from_slice(&bytes[at + from.len()..]);
        // the meta grew: fix its announced length and the checksum
        let hlen = u32::from_le_bytes(evil[12..16].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&evil[16..16 + hlen]).unwrap();
        let meta_len = header["meta_len"].as_u64().unwrap() + (to.len() - from.len()) as u64;
        header["meta_len"] = meta_len.into();
        let mut fixed = evil[..12].to_vec();
        let h = serde_json::to_vec(&header).unwrap();
        fixed.extend_from_slice(&(h.len() as u32).to_le_bytes());
        fixed.extend_from_slice(&h);
        fixed.extend_from_slice(&evil[16 + hlen..]);
        let fixed = with_fixed_crc(&fixed);
        let (r, largest) = largest_allocation(|| Als::from_bytes(fixed.clone()));
        assert!(matches!(r, Err(Error::ModelFormat(_))), "{to}: {r:?}");
        assert!(largest < 64 * fixed.len(), "{to}: allocated {largest} bytes");
    }
}

/// Inputs the fuzz targets found crashing, kept as files beside this module; each must now
/// load as a typed error (as given, and with its checksum recomputed as the targets do).
#[test]
fn fuzz_crashes_are_typed_errors() {
    use crate::fraud::AnyDetector;
    // model_fraud: an isolation forest whose tree offsets ran past the node arrays
    // ("index out of bounds: the len is 73 but the index is 73" in IsolationForest::read)
    let cases: [(&str, &[u8]); 1] =
        [("iforest_offsets_past_end", include_bytes!("fuzz_cases/iforest_offsets_past_end.bin"))];
    for (name, bytes) in cases {
        for b in [bytes.to_vec(), with_fixed_crc(bytes)] {
            let r = AnyDetector::from_bytes(b);
            assert!(matches!(r, Err(Error::ModelFormat(_))), "{name}: {:?}", r.err());
        }
    }
    // model_hybrid: a HybridMF file whose finite item embeddings (up to 1e35) scored +inf
    // and NaN ("NaN prediction from a model that loaded")
    let bytes: &[u8] = include_bytes!("fuzz_cases/hybrid_nan_prediction.bin");
    for b in [bytes.to_vec(), with_fixed_crc(bytes)] {
        let r = crate::recommend::hybrid::HybridMF::from_bytes(b);
        assert!(matches!(r, Err(Error::ModelFormat(_))), "hybrid_nan_prediction: {:?}", r.err());
    }
}

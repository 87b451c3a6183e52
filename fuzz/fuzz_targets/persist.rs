//! The model container (`persist`): magic, version, header JSON, lengths, checksum,
//! safetensors, and every typed array reader, on the input as given and with its checksum
//! recomputed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::persist::{peek_kind, ModelReader};

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        let Ok(kind) = peek_kind(&bytes) else { continue };
        let Ok(r) = ModelReader::from_bytes(bytes, &kind) else { continue };
        let _ = r.meta::<serde_json::Value>();
        for name in r.tensor_names().unwrap_or_default() {
            let _ = r.f32(&name);
            let _ = r.f64(&name);
            let _ = r.u32(&name);
            let _ = r.u64(&name);
            let _ = r.i64(&name);
            let _ = r.u8(&name);
            let _ = r.array2_f32(&name, [None, None]);
            let _ = r.array1_f64(&name, None);
        }
    }
});

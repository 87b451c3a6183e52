//! Helpers shared by the fuzz targets.

use std::path::PathBuf;

/// Writes `data` to a per-process scratch file named after `target` and returns its path:
/// the loaders read paths, and a file in tmpfs costs a few microseconds per execution.
pub fn scratch_file(target: &str, name: &str, data: &[u8]) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let dir = dir.join(format!("mercato-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch write");
    path
}

/// `bytes` with the model file's CRC-32 recomputed (when its header parses), so that the
/// fuzzer's mutations of the meta JSON and the tensors reach the parsers behind the
/// checksum instead of all stopping at "checksum mismatch".
pub fn fix_checksum(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 16 || &bytes[..8] != mercato::persist::MAGIC {
        return None;
    }
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().ok()?) as usize;
    let body_start = 16usize.checked_add(header_len)?;
    if body_start > bytes.len() {
        return None;
    }
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..body_start]).ok()?;
    let body = &bytes[body_start..];
    let crc = crc32fast::hash(body);
    let obj = header.as_object_mut()?;
    obj.insert("crc32".into(), crc.into());
    // keep the announced lengths consistent when the mutation changed the body's size only
    // in the tensors (the meta length stays as the file claims)
    if let Some(meta_len) = obj.get("meta_len").and_then(|v| v.as_u64()) {
        if meta_len <= body.len() as u64 {
            obj.insert("tensors_len".into(), (body.len() as u64 - meta_len).into());
        }
    }
    let header = serde_json::to_vec(&header).ok()?;
    let mut out = Vec::with_capacity(16 + header.len() + body.len());
    out.extend_from_slice(&bytes[..12]);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    Some(out)
}

/// The input as given and, when it differs, with its checksum fixed.
pub fn variants(data: &[u8]) -> Vec<Vec<u8>> {
    let mut v = vec![data.to_vec()];
    if let Some(fixed) = fix_checksum(data) {
        if fixed != data {
            v.push(fixed);
        }
    }
    v
}

/// Largest single allocation a fuzz input may cause. Inputs are at most 64 KiB, so anything
/// near this size means a size was taken from a header or a field instead of from the data
/// (a file claiming 2^40 elements): that must be refused *before* allocating.
pub const MAX_ALLOCATION: usize = 256 << 20;

/// The system allocator with a per-allocation cap: an oversized request aborts (libFuzzer
/// records the input as a crash) instead of being attempted. libFuzzer's own
/// `-malloc_limit_mb` needs a sanitizer runtime, which `--sanitizer none` builds lack.
pub struct CappedAlloc;

unsafe impl std::alloc::GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        check(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        check(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

fn check(size: usize) {
    if size > MAX_ALLOCATION {
        use std::io::Write;
        // a static message: formatting could allocate inside the allocator
        let _ =
            std::io::stderr().write_all(b"fuzz: allocation above MAX_ALLOCATION (size taken from untrusted input)\n");
        std::process::abort();
    }
}

#[global_allocator]
static GLOBAL: CappedAlloc = CappedAlloc;

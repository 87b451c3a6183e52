//! One file format for every model.
//!
//! ```text
//! offset  size  content
//! 0       8     magic  b"MERCATO\x1a"
//! 8       4     format version, u32 little-endian
//! 12      4     header length H, u32 little-endian
//! 16      H     header, JSON: {"kind", "crate_version", "meta_len", "tensors_len", "crc32"}
//! 16+H    M     meta, JSON: the model's hyper-parameters and small state (serde)
//! ...     T     tensors: a safetensors blob with the model's large arrays
//! ```
//!
//! The CRC-32 covers meta and tensors. Loading checks magic, version, kind, lengths and
//! checksum before it parses anything, and parsing only builds plain data: a model file
//! never executes code (unlike pickle). Python's `pickle` support goes through these bytes.
//!
//! ```
//! use mercato::persist::{ModelReader, ModelWriter};
//! let bytes = ModelWriter::new("demo", &serde_json::json!({"k": 3})).unwrap()
//!     .f32("weights", &[2], &[0.5, -1.0])
//!     .to_bytes()
//!     .unwrap();
//! let model = ModelReader::from_bytes(bytes, "demo").unwrap();
//! assert_eq!(model.meta::<serde_json::Value>().unwrap()["k"], 3);
//! assert_eq!(model.f32("weights").unwrap().1, vec![0.5, -1.0]);
//! assert!(ModelReader::from_bytes(b"garbage".to_vec(), "demo").is_err());
//! ```

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader (a server reloading its models) never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("mercato-tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// First bytes of every mercato model file.
pub const MAGIC: &[u8; 8] = b"MERCATO\x1a";
/// Version of the container layout this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The `kind` written in a model file's header, read without trusting anything else (the
/// model's own reader validates the whole file afterwards). Lets a caller dispatch a file of
/// unknown kind to the right type.
///
/// ```
/// use mercato::persist::{peek_kind, ModelWriter};
/// let bytes = ModelWriter::new("example.kind", &serde_json::json!({"k": 3}))?.to_bytes()?;
/// assert_eq!(peek_kind(&bytes)?, "example.kind");
/// assert!(peek_kind(b"not a model").is_err());
/// # Ok::<(), mercato::Error>(())
/// ```
pub fn peek_kind(bytes: &[u8]) -> Result<String> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(Error::format("not a mercato model file (bad magic bytes)"));
    }
    let len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    let header = bytes
        .get(16..16usize.saturating_add(len))
        .ok_or_else(|| Error::format("truncated file (header runs past the end)"))?;
    let v: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| Error::format(format!("corrupt header: {e}")))?;
    v.get("kind").and_then(|k| k.as_str()).map(str::to_string).ok_or_else(|| Error::format("header has no model kind"))
}
const MAX_HEADER: usize = 1 << 16;

#[derive(Serialize, Deserialize)]
struct Header {
    kind: String,
    crate_version: String,
    meta_len: u64,
    tensors_len: u64,
    crc32: u32,
}

/// A model implemented as plain data that round-trips through the model format.
pub trait Persist: Sized {
    /// The kind written in the header, e.g. `"recommend.funk_svd"`.
    const KIND: &'static str;

    /// Writes the model's parameters and arrays.
    fn write(&self) -> Result<ModelWriter>;

    /// Rebuilds the model, validating every array against the parameters.
    fn read(reader: &ModelReader) -> Result<Self>;

    /// The model file as bytes (also what Python pickles).
    fn to_bytes(&self) -> Result<Vec<u8>> {
        self.write()?.to_bytes()
    }

    /// Reads a model from bytes made by [`Persist::to_bytes`].
    fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::read(&ModelReader::from_bytes(bytes, Self::KIND)?)
    }

    /// Saves to `path` (written to a temporary file first, then renamed).
    fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write()?.save(path)
    }

    /// Loads from `path`.
    fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::read(&ModelReader::open(path, Self::KIND)?)
    }
}

struct OwnedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Collects a model's meta data and arrays, then serialises them.
pub struct ModelWriter {
    kind: String,
    meta: Vec<u8>,
    tensors: Vec<(String, OwnedTensor)>,
}

macro_rules! writer_method {
    ($name:ident, $t:ty, $dtype:expr) => {
        #[doc = concat!("Adds a `", stringify!($t), "` array of `shape` (row-major).")]
        pub fn $name(mut self, name: &str, shape: &[usize], data: &[$t]) -> Self {
            let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.tensors.push((name.to_string(), OwnedTensor { dtype: $dtype, shape: shape.to_vec(), bytes }));
            self
        }
    };
}

impl ModelWriter {
    /// Starts a file of `kind` with `meta` serialised as JSON.
    pub fn new(kind: &str, meta: &impl Serialize) -> Result<Self> {
        let meta = serde_json::to_vec(meta).map_err(|e| Error::format(format!("cannot encode parameters: {e}")))?;
        Ok(ModelWriter { kind: kind.to_string(), meta, tensors: Vec::new() })
    }

    writer_method!(f32, f32, Dtype::F32);
    writer_method!(f64, f64, Dtype::F64);
    writer_method!(u32, u32, Dtype::U32);
    writer_method!(u64, u64, Dtype::U64);
    writer_method!(i64, i64, Dtype::I64);
    writer_method!(u8, u8, Dtype::U8);

    /// Adds a 2-D `f32` array.
    pub fn array2_f32(self, name: &str, a: &Array2<f32>) -> Self {
        let data: Vec<f32> = a.iter().copied().collect();
        self.f32(name, a.shape(), &data)
    }

    /// Adds a 2-D `f64` array.
    pub fn array2_f64(self, name: &str, a: &Array2<f64>) -> Self {
        let data: Vec<f64> = a.iter().copied().collect();
        self.f64(name, a.shape(), &data)
    }

    /// The complete file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let views = self
            .tensors
            .iter()
            .map(|(name, t)| {
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| Error::format(format!("tensor {name:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let tensors = safetensors::serialize(views, None::<HashMap<String, String>>)
            .map_err(|e| Error::format(format!("cannot encode tensors: {e}")))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.meta);
        crc.update(&tensors);
        let header = Header {
            kind: self.kind.clone(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            meta_len: self.meta.len() as u64,
            tensors_len: tensors.len() as u64,
            crc32: crc.finalize(),
        };
        let header = serde_json::to_vec(&header).map_err(|e| Error::format(e.to_string()))?;
        let mut out = Vec::with_capacity(16 + header.len() + self.meta.len() + tensors.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.meta);
        out.extend_from_slice(&tensors);
        Ok(out)
    }

    /// Writes the file atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_bytes()?)
    }
}

/// A validated model file: header checked, checksum verified.
pub struct ModelReader {
    kind: String,
    crate_version: String,
    bytes: Vec<u8>,
    meta: std::ops::Range<usize>,
    tensors: std::ops::Range<usize>,
}

macro_rules! reader_method {
    ($name:ident, $t:ty, $dtype:expr) => {
        #[doc = concat!("Reads the `", stringify!($t), "` array `name` as (shape, row-major data).")]
        pub fn $name(&self, name: &str) -> Result<(Vec<usize>, Vec<$t>)> {
            let (shape, bytes) = self.raw(name, $dtype)?;
            const W: usize = std::mem::size_of::<$t>();
            let data = bytes.chunks_exact(W).map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk width"))).collect();
            Ok((shape, data))
        }
    };
}

impl ModelReader {
    /// Reads and validates `path` as a model of `expected_kind`.
    pub fn open(path: impl AsRef<Path>, expected_kind: &str) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes, expected_kind).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Validates `bytes` as a model of `expected_kind`.
    pub fn from_bytes(bytes: Vec<u8>, expected_kind: &str) -> Result<Self> {
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(Error::format("not a mercato model file (bad magic bytes)"));
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = word(8);
        if version > FORMAT_VERSION {
            return Err(Error::format(format!(
                "file uses format version {version}, this mercato ({}) reads up to {FORMAT_VERSION}; upgrade mercato",
                env!("CARGO_PKG_VERSION")
            )));
        }
        if version == 0 {
            return Err(Error::format("format version 0 is not valid"));
        }
        let header_len = word(12) as usize;
        if header_len > MAX_HEADER || 16 + header_len > bytes.len() {
            return Err(Error::format("truncated file (header runs past the end)"));
        }
        let header: Header = serde_json::from_slice(&bytes[16..16 + header_len])
            .map_err(|e| Error::format(format!("corrupt header: {e}")))?;
        if header.kind != expected_kind {
            return Err(Error::format(format!("file holds a {:?} model, expected {expected_kind:?}", header.kind)));
        }
        let meta_start = 16 + header_len;
        let expected_len =
            (meta_start as u64).checked_add(header.meta_len).and_then(|l| l.checked_add(header.tensors_len));
        match expected_len {
            Some(n) if n == bytes.len() as u64 => {}
            Some(n) if n > bytes.len() as u64 => {
                return Err(Error::format(format!("truncated file: {} bytes, header announces {n}", bytes.len())))
            }
            _ => return Err(Error::format("file has trailing bytes or impossible lengths")),
        }
        let meta = meta_start..meta_start + header.meta_len as usize;
        let tensors = meta.end..bytes.len();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&bytes[meta_start..]);
        if crc.finalize() != header.crc32 {
            return Err(Error::format("checksum mismatch: the file was modified or damaged"));
        }
        SafeTensors::deserialize(&bytes[tensors.clone()])
            .map_err(|e| Error::format(format!("corrupt tensors: {e}")))?;
        Ok(ModelReader { kind: header.kind, crate_version: header.crate_version, bytes, meta, tensors })
    }

    /// The model kind in the header.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The mercato version that wrote the file.
    pub fn crate_version(&self) -> &str {
        &self.crate_version
    }

    /// Decodes the meta JSON.
    pub fn meta<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.bytes[self.meta.clone()])
            .map_err(|e| Error::format(format!("bad parameters: {e}")))
    }

    fn raw(&self, name: &str, dtype: Dtype) -> Result<(Vec<usize>, Vec<u8>)> {
        let st = SafeTensors::deserialize(&self.bytes[self.tensors.clone()])
            .map_err(|e| Error::format(format!("corrupt tensors: {e}")))?;
        let t = st.tensor(name).map_err(|_| Error::format(format!("missing array {name:?}")))?;
        if t.dtype() != dtype {
            return Err(Error::format(format!("array {name:?} is {:?}, expected {dtype:?}", t.dtype())));
        }
        Ok((t.shape().to_vec(), t.data().to_vec()))
    }

    /// Names of the arrays in the file.
    pub fn tensor_names(&self) -> Result<Vec<String>> {
        let st = SafeTensors::deserialize(&self.bytes[self.tensors.clone()])
            .map_err(|e| Error::format(format!("corrupt tensors: {e}")))?;
        Ok(st.names().into_iter().map(|s| s.to_string()).collect())
    }

    /// The raw safetensors blob (e.g. for tch's `VarStore`).
    pub fn safetensors_bytes(&self) -> &[u8] {
        &self.bytes[self.tensors.clone()]
    }

    reader_method!(f32, f32, Dtype::F32);
    reader_method!(f64, f64, Dtype::F64);
    reader_method!(u32, u32, Dtype::U32);
    reader_method!(u64, u64, Dtype::U64);
    reader_method!(i64, i64, Dtype::I64);
    reader_method!(u8, u8, Dtype::U8);

    /// Reads a 2-D `f32` array, checking its shape against `expected` (use `None` to accept any size on an axis).
    pub fn array2_f32(&self, name: &str, expected: [Option<usize>; 2]) -> Result<Array2<f32>> {
        let (shape, data) = self.f32(name)?;
        to_array2(name, shape, data, expected)
    }

    /// Reads a 2-D `f64` array, checking its shape against `expected`.
    pub fn array2_f64(&self, name: &str, expected: [Option<usize>; 2]) -> Result<Array2<f64>> {
        let (shape, data) = self.f64(name)?;
        to_array2(name, shape, data, expected)
    }

    /// Reads a 1-D `f32` array of length `len` (any when `None`).
    pub fn array1_f32(&self, name: &str, len: Option<usize>) -> Result<Array1<f32>> {
        let (shape, data) = self.f32(name)?;
        check_shape(name, &shape, &[len])?;
        Ok(Array1::from(data))
    }

    /// Reads a 1-D `f64` array of length `len` (any when `None`).
    pub fn array1_f64(&self, name: &str, len: Option<usize>) -> Result<Array1<f64>> {
        let (shape, data) = self.f64(name)?;
        check_shape(name, &shape, &[len])?;
        Ok(Array1::from(data))
    }
}

fn check_shape(name: &str, shape: &[usize], expected: &[Option<usize>]) -> Result<()> {
    let ok = shape.len() == expected.len() && shape.iter().zip(expected).all(|(s, e)| e.is_none_or(|e| e == *s));
    if ok {
        Ok(())
    } else {
        Err(Error::format(format!("array {name:?} has shape {shape:?}, expected {expected:?}")))
    }
}

fn to_array2<T>(name: &str, shape: Vec<usize>, data: Vec<T>, expected: [Option<usize>; 2]) -> Result<Array2<T>> {
    check_shape(name, &shape, &expected)?;
    Array2::from_shape_vec((shape[0], shape[1]), data).map_err(|e| Error::format(format!("array {name:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        ModelWriter::new("test.kind", &serde_json::json!({"factors": 4}))
            .unwrap()
            .array2_f32("w", &ndarray::Array2::from_elem((3, 4), 0.25))
            .u32("idx", &[2], &[7, 9])
            .to_bytes()
            .unwrap()
    }

    fn err_of(bytes: Vec<u8>, kind: &str) -> String {
        match ModelReader::from_bytes(bytes, kind) {
            Ok(_) => panic!("expected an error"),
            Err(e) => {
                assert!(matches!(e, Error::ModelFormat(_)), "{e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn round_trip() {
        let r = ModelReader::from_bytes(sample(), "test.kind").unwrap();
        assert_eq!(r.crate_version(), env!("CARGO_PKG_VERSION"));
        assert_eq!(r.array2_f32("w", [Some(3), Some(4)]).unwrap()[[2, 3]], 0.25);
        assert_eq!(r.u32("idx").unwrap().1, vec![7, 9]);
        assert!(r.array2_f32("w", [Some(4), None]).is_err(), "shape is checked");
        assert!(r.f64("w").is_err(), "dtype is checked");
        assert!(r.f32("nope").unwrap_err().to_string().contains("missing array"));
    }

    #[test]
    fn rejects_damage() {
        let good = sample();
        assert!(err_of(good.clone(), "other.kind").contains("expected \"other.kind\""));
        for cut in [0, 10, 20, good.len() / 2, good.len() - 1] {
            let msg = err_of(good[..cut].to_vec(), "test.kind");
            assert!(msg.contains("truncated") || msg.contains("magic"), "cut {cut}: {msg}");
        }
        let mut tampered = good.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x40;
        assert!(err_of(tampered, "test.kind").contains("checksum"));
        let mut future = good.clone();
        future[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert!(err_of(future, "test.kind").contains("upgrade"));
        let mut longer = good;
        longer.push(0);
        assert!(err_of(longer, "test.kind").contains("trailing"));
    }

    #[test]
    fn save_and_load_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mercato");
        ModelWriter::new("k", &1u8).unwrap().f64("x", &[1], &[2.5]).save(&path).unwrap();
        assert_eq!(ModelReader::open(&path, "k").unwrap().f64("x").unwrap().1, vec![2.5]);
        let err = ModelReader::open(dir.path().join("absent"), "k").err().unwrap();
        assert!(matches!(err, Error::Io { .. }));
    }
}

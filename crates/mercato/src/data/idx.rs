//! IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw. Needs no libtorch.
//!
//! ```text
//! offset  size  content
//! 0       2     zero bytes
//! 2       1     element type (0x08 = unsigned byte; the only type these data sets use)
//! 3       1     number of dimensions D
//! 4       4·D   each dimension, u32 big-endian
//! 4+4·D   ...   the data, row-major
//! ```
//!
//! Compression is detected from the content (gzip magic `1f 8b`), not the file name; reading
//! gzip needs the feature `datasets` (on by default).
//!
//! ```no_run
//! use mercato::data::idx::load_fashion_mnist;
//! let fm = load_fashion_mnist(None::<&str>)?; // /usr/share/datasets/fashion-mnist or $MERCATO_FASHION_MNIST
//! assert_eq!(fm.train_images.shape(), &[60_000, 28, 28]);
//! assert_eq!(fm.class_names.len(), 10);
//! # Ok::<(), mercato::Error>(())
//! ```

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array3};

use crate::{Error, Result};

/// Where Debian's `dataset-fashion-mnist` package installs the four files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Largest element count accepted from a header (guards against a hostile header asking for
/// terabytes before the data is even read).
const MAX_ELEMENTS: u64 = 1 << 34;

/// A decoded IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Dimensions as stored in the header.
    pub dims: Vec<usize>,
    /// Row-major data; its length is the product of `dims`.
    pub data: Vec<u8>,
}

fn format_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Parse { path: path.display().to_string(), line: 0, message: format!("IDX: {msg}") }
}

/// Reads an IDX file of unsigned bytes (gzip or raw), validating magic and sizes.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) { gunzip(path, &raw)? } else { raw };
    parse_idx(&bytes).map_err(|m| format_err(path, m))
}

#[cfg(feature = "datasets")]
fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .read_to_end(&mut out)
        .map_err(|e| format_err(path, format!("corrupt gzip stream: {e}")))?;
    Ok(out)
}

#[cfg(not(feature = "datasets"))]
fn gunzip(path: &Path, _raw: &[u8]) -> Result<Vec<u8>> {
    Err(format_err(path, "gzip-compressed; reading it needs mercato's `datasets` feature (or gunzip the file)"))
}

/// Parses IDX bytes (already decompressed).
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err("bad magic number (expected 00 00 <type> <ndim>)".into());
    }
    let (kind, ndim) = (bytes[2], bytes[3] as usize);
    if kind != 0x08 {
        let name = match kind {
            0x09 => "i8",
            0x0B => "i16",
            0x0C => "i32",
            0x0D => "f32",
            0x0E => "f64",
            _ => "unknown",
        };
        return Err(format!("element type 0x{kind:02X} ({name}) is not supported; expected 0x08 (unsigned byte)"));
    }
    if ndim == 0 {
        return Err("zero dimensions".into());
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format!("truncated header: {ndim} dimensions need {header} bytes, file has {}", bytes.len()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| u32::from_be_bytes([bytes[4 + 4 * d], bytes[5 + 4 * d], bytes[6 + 4 * d], bytes[7 + 4 * d]]) as usize)
        .collect();
    let count = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).filter(|&n| n <= MAX_ELEMENTS);
    let Some(count) = count else {
        return Err(format!("dimensions {dims:?} are too large"));
    };
    let got = (bytes.len() - header) as u64;
    if got != count {
        return Err(format!("dimensions {dims:?} need {count} data bytes, file has {got}"));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Reads an IDX image file `[N, H, W]` (u8 pixels).
pub fn load_idx_images(path: impl AsRef<Path>) -> Result<Array3<u8>> {
    let path = path.as_ref();
    let a = read_idx(path)?;
    if a.dims.len() != 3 {
        return Err(format_err(path, format!("expected 3 dimensions [N, H, W], found {:?}", a.dims)));
    }
    Array3::from_shape_vec((a.dims[0], a.dims[1], a.dims[2]), a.data).map_err(|e| format_err(path, e))
}

/// Reads an IDX label file `[N]` (u8 labels).
pub fn load_idx_labels(path: impl AsRef<Path>) -> Result<Array1<u8>> {
    let path = path.as_ref();
    let a = read_idx(path)?;
    if a.dims.len() != 1 {
        return Err(format_err(path, format!("expected 1 dimension [N], found {:?}", a.dims)));
    }
    Ok(Array1::from(a.data))
}

/// Fashion-MNIST: 60k training and 10k test images (28×28 grey) with labels 0..10.
#[derive(Clone, Debug)]
pub struct FashionMnist {
    /// `[60000, 28, 28]` training images.
    pub train_images: Array3<u8>,
    /// Training labels.
    pub train_labels: Array1<u8>,
    /// `[10000, 28, 28]` test images.
    pub test_images: Array3<u8>,
    /// Test labels.
    pub test_labels: Array1<u8>,
    /// [`FASHION_MNIST_CLASSES`] as owned strings.
    pub class_names: Vec<String>,
}

/// Finds `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::io(
        dir.join(format!("{stem}.gz")),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "Fashion-MNIST file not found (apt-get install dataset-fashion-mnist, or pass the folder)",
        ),
    ))
}

/// The folder [`load_fashion_mnist`] reads when given none: `$MERCATO_FASHION_MNIST`, else
/// [`FASHION_MNIST_DIR`].
pub fn default_fashion_mnist_dir() -> PathBuf {
    std::env::var_os("MERCATO_FASHION_MNIST").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR))
}

/// Loads the four Fashion-MNIST files (`train-images-idx3-ubyte[.gz]`, ...) from `dir`
/// (default: [`default_fashion_mnist_dir`]), checking that images and labels agree.
/// Works for MNIST too (same file names); `class_names` are then the Fashion-MNIST ones.
pub fn load_fashion_mnist(dir: Option<impl AsRef<Path>>) -> Result<FashionMnist> {
    let dir = dir.map(|d| d.as_ref().to_path_buf()).unwrap_or_else(default_fashion_mnist_dir);
    let pair = |prefix: &str| -> Result<(Array3<u8>, Array1<u8>)> {
        let ip = find(&dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let lp = find(&dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = load_idx_images(&ip)?;
        let labels = load_idx_labels(&lp)?;
        if images.shape()[0] != labels.len() {
            return Err(Error::shape(
                format!("{} labels in {} (one per image)", images.shape()[0], lp.display()),
                labels.len(),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= 10) {
            return Err(format_err(&lp, format!("label {bad} is outside 0..10")));
        }
        Ok((images, labels))
    };
    let (train_images, train_labels) = pair("train")?;
    let (test_images, test_labels) = pair("t10k")?;
    Ok(FashionMnist {
        train_images,
        train_labels,
        test_images,
        test_labels,
        class_names: FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn raw_and_gzip_agree() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = idx(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        std::fs::write(dir.path().join("raw"), &bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&bytes).unwrap();
        std::fs::write(dir.path().join("gz"), gz.finish().unwrap()).unwrap();
        let a = load_idx_images(dir.path().join("raw")).unwrap();
        let b = load_idx_images(dir.path().join("gz")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.shape(), &[2, 2, 3]);
        assert_eq!(a[[1, 1, 2]], 11);
        assert!(load_idx_labels(dir.path().join("raw")).unwrap_err().to_string().contains("1 dimension"));
    }

    #[test]
    fn clear_errors() {
        assert!(parse_idx(&[1, 0, 8, 1, 0, 0, 0, 0]).unwrap_err().contains("magic"));
        assert!(parse_idx(&[0, 0, 0x0D, 1, 0, 0, 0, 0]).unwrap_err().contains("f32"));
        assert!(parse_idx(&[0, 0, 8, 3, 0, 0]).unwrap_err().contains("truncated header"));
        assert!(parse_idx(&idx(&[3], &[1, 2])).unwrap_err().contains("need 3 data bytes, file has 2"));
        assert!(parse_idx(&idx(&[3], &[1, 2, 3, 4])).unwrap_err().contains("file has 4"));
        assert!(parse_idx(&idx(&[u32::MAX, u32::MAX, u32::MAX], &[])).unwrap_err().contains("too large"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.gz");
        std::fs::write(&p, [0x1f, 0x8b, 1, 2, 3]).unwrap();
        let e = read_idx(&p).unwrap_err();
        assert!(matches!(e, Error::Parse { .. }) && e.to_string().contains("bad.gz"), "{e}");
        assert!(matches!(load_fashion_mnist(Some(dir.path())).unwrap_err(), Error::Io { .. }));
    }

    #[test]
    fn mismatched_label_count() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["train", "t10k"] {
            std::fs::write(dir.path().join(format!("{p}-images-idx3-ubyte")), idx(&[2, 1, 1], &[0, 255])).unwrap();
            std::fs::write(dir.path().join(format!("{p}-labels-idx1-ubyte")), idx(&[3], &[0, 1, 2])).unwrap();
        }
        assert!(matches!(load_fashion_mnist(Some(dir.path())).unwrap_err(), Error::ShapeMismatch { .. }));
    }

    #[test]
    fn real_fashion_mnist() {
        let dir = default_fashion_mnist_dir();
        if !dir.join("t10k-images-idx3-ubyte.gz").exists() && !dir.join("t10k-images-idx3-ubyte").exists() {
            eprintln!("skipping: Fashion-MNIST not found in {}", dir.display());
            return;
        }
        let fm = load_fashion_mnist(Some(&dir)).unwrap();
        assert_eq!(fm.train_images.shape(), &[60_000, 28, 28]);
        assert_eq!(fm.test_images.shape(), &[10_000, 28, 28]);
        // Balanced classes: 6,000 / 1,000 images each.
        let mut counts = [0usize; 10];
        fm.test_labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [1000; 10]);
        let mean = fm.train_images.iter().map(|&p| p as f64).sum::<f64>() / fm.train_images.len() as f64 / 255.0;
        assert!((mean - 0.2860).abs() < 1e-3, "mean pixel {mean}");
    }
}

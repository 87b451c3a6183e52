//! Image files: `root/<class_name>/*.jpg|jpeg|png` folders, lists of paths and bytes in
//! memory, decoded with the `image` crate, centre-cropped to a square and resized, and turned
//! into `[N, C, S, S]` u8 arrays. Nothing here needs libtorch: this module is built without
//! the `torch` feature (and fuzzed, `fuzz/fuzz_targets/image_decode.rs`); `mercato::vision`
//! re-exports it.
//!
//! Policy for files that cannot be read or decoded: when loading a training folder they are
//! skipped by default ([`CorruptPolicy::Skip`]) and reported by path in
//! [`ImageFolder::skipped`], or make the whole load fail with [`CorruptPolicy::Error`]. When
//! predicting on a list of paths every path needs an answer, so a bad file is an error that
//! names it. Either way nothing panics.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use ndarray::Array4;
use rayon::prelude::*;

use crate::{ensure, Error, Result};

/// What to do with files that cannot be decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CorruptPolicy {
    /// Leave them out and list them in [`ImageFolder::skipped`].
    #[default]
    Skip,
    /// Fail the load with an error naming the first bad file.
    Error,
}

/// How to read an image folder.
#[derive(Clone, Debug)]
pub struct ImageFolderOptions {
    /// Output side in pixels (images are resized so the shorter side fits, then centre-cropped).
    pub size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Corrupt-file policy.
    pub corrupt: CorruptPolicy,
    /// Decoding threads (`None` = all cores), in a pool local to the call.
    pub num_threads: Option<usize>,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        ImageFolderOptions { size: 28, channels: 1, corrupt: CorruptPolicy::Skip, num_threads: None }
    }
}

/// A labelled image set read from `root/<class_name>/*`.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// `[N, C, S, S]` pixels.
    pub images: Array4<u8>,
    /// Label per image (index into `class_names`).
    pub labels: Vec<usize>,
    /// Sub-folder names, sorted; the label of a class is its position here.
    pub class_names: Vec<String>,
    /// Source file of each image.
    pub paths: Vec<PathBuf>,
    /// Files that could not be decoded, with the reason (empty with [`CorruptPolicy::Error`]).
    pub skipped: Vec<(PathBuf, String)>,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// Decodes one file to `channels × size × size` u8 (CHW).
fn decode(path: &Path, size: usize, channels: usize) -> std::result::Result<Vec<u8>, String> {
    let img = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    to_pixels(img, size, channels)
}

/// Largest side of an image decoded from request bytes, and the most memory its decoding may
/// take: a header claiming a huge picture is refused before anything is allocated.
const MAX_SIDE: u32 = 8192;
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// Decodes one PNG/JPEG image held in memory (e.g. an HTTP request body) to `channels × size
/// × size` u8, resized and centre-cropped as [`load_image_files`] does. Images larger than
/// 8192 pixels a side, or needing more than 256 MiB to decode, are refused.
pub fn decode_image_bytes(bytes: &[u8], size: usize, channels: usize) -> Result<Vec<u8>> {
    check_options(size, channels)?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::invalid(format!("cannot read the image: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| Error::invalid(format!("cannot decode the image: {e}")))?;
    to_pixels(img, size, channels).map_err(Error::invalid)
}

fn to_pixels(img: image::DynamicImage, size: usize, channels: usize) -> std::result::Result<Vec<u8>, String> {
    let s = size as u32;
    // The centred square first, then the resize: the picture of resizing the shorter side to
    // `size` and cropping (`resize_to_fill`, up to the filter's reach at the cut edges), but
    // the intermediate never exceeds `size x size`. Resizing first made a 8192 x 1 picture (a PNG of a few hundred bytes) an
    // intermediate of 8192·size x size pixels: 1.4 GB at size 224.
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let img = if w == h { img } else { img.crop_imm((w - side) / 2, (h - side) / 2, side, side) };
    let img = img.resize_exact(s, s, FilterType::Triangle);
    let hw = size * size;
    Ok(if channels == 1 {
        img.to_luma8().into_raw()
    } else {
        let rgb = img.to_rgb8().into_raw();
        let mut chw = vec![0u8; 3 * hw];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                chw[c * hw + i] = px[c];
            }
        }
        chw
    })
}

fn check_options(size: usize, channels: usize) -> Result<()> {
    ensure!(channels == 1 || channels == 3, "channels must be 1 (grey) or 3 (RGB), got {channels}");
    ensure!((1..=4096).contains(&size), "image size must be in 1..=4096, got {size}");
    Ok(())
}

fn decode_all(
    paths: &[PathBuf],
    size: usize,
    channels: usize,
    num_threads: Option<usize>,
) -> Result<Vec<std::result::Result<Vec<u8>, String>>> {
    let pool = crate::parallel::pool(num_threads)?;
    Ok(pool.install(|| paths.par_iter().map(|p| decode(p, size, channels)).collect()))
}

fn stack(pixels: Vec<Vec<u8>>, size: usize, channels: usize) -> Result<Array4<u8>> {
    let n = pixels.len();
    let flat: Vec<u8> = pixels.into_iter().flatten().collect();
    Array4::from_shape_vec((n, channels, size, size), flat).map_err(|e| Error::invalid(e.to_string()))
}

/// Reads `root/<class_name>/*.jpg|jpeg|png` (class folders and files in sorted order;
/// hidden entries and other extensions ignored). Corrupt files follow `options.corrupt`.
/// An error when `root` has no class folder or no readable image.
pub fn load_image_folder(root: impl AsRef<Path>, options: &ImageFolderOptions) -> Result<ImageFolder> {
    let root = root.as_ref();
    check_options(options.size, options.channels)?;
    let read_dir = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v = std::fs::read_dir(d)
            .map_err(|e| Error::io(d, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(d, e)))
            .collect::<Result<Vec<_>>>()?;
        v.retain(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')));
        v.sort();
        Ok(v)
    };
    let mut class_names = Vec::new();
    let mut paths = Vec::new();
    let mut labels = Vec::new();
    for dir in read_dir(root)?.into_iter().filter(|p| p.is_dir()) {
        let label = class_names.len();
        class_names.push(dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        for f in read_dir(&dir)?.into_iter().filter(|p| p.is_file() && is_image(p)) {
            paths.push(f);
            labels.push(label);
        }
    }
    ensure!(!class_names.is_empty(), "{} has no class sub-folders (expected root/<class_name>/*.png)", root.display());
    let decoded = decode_all(&paths, options.size, options.channels, options.num_threads)?;
    let (mut pixels, mut kept_labels, mut kept_paths, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((res, label), path) in decoded.into_iter().zip(labels).zip(paths) {
        match res {
            Ok(px) => {
                pixels.push(px);
                kept_labels.push(label);
                kept_paths.push(path);
            }
            Err(reason) if options.corrupt == CorruptPolicy::Skip => skipped.push((path, reason)),
            Err(reason) => {
                return Err(Error::invalid(format!("cannot decode image {}: {reason}", path.display())));
            }
        }
    }
    ensure!(
        !pixels.is_empty(),
        "{} holds no readable .jpg/.jpeg/.png image ({} skipped)",
        root.display(),
        skipped.len()
    );
    Ok(ImageFolder {
        images: stack(pixels, options.size, options.channels)?,
        labels: kept_labels,
        class_names,
        paths: kept_paths,
        skipped,
    })
}

/// Decodes a list of image files to `[N, channels, size, size]` u8 (for prediction): every
/// file must decode; the first that does not is an error naming it.
pub fn load_image_files<P: AsRef<Path> + Sync>(paths: &[P], size: usize, channels: usize) -> Result<Array4<u8>> {
    check_options(size, channels)?;
    let owned: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    let decoded = decode_all(&owned, size, channels, None)?;
    let pixels = decoded
        .into_iter()
        .zip(&owned)
        .map(|(r, p)| r.map_err(|reason| Error::invalid(format!("cannot decode image {}: {reason}", p.display()))))
        .collect::<Result<Vec<_>>>()?;
    stack(pixels, size, channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_bytes_decode_like_files_and_refuse_junk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])).save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for channels in [1, 3] {
            let from_file = load_image_files(&[&path], 16, channels).unwrap();
            let from_bytes = decode_image_bytes(&bytes, 16, channels).unwrap();
            assert_eq!(from_file.as_slice().unwrap(), from_bytes.as_slice());
        }
        assert!(decode_image_bytes(b"not an image", 16, 1).is_err());
        assert!(decode_image_bytes(&bytes[..bytes.len() / 2], 16, 1).is_err());
        assert!(decode_image_bytes(&bytes, 16, 2).is_err());
        // a PNG header claiming 100000 x 100000 pixels is refused without allocating them
        let mut huge = bytes.clone();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(decode_image_bytes(&huge, 16, 1).is_err());
    }

    /// A PNG of `width x height` grey pixels, all zero (a few hundred bytes for any size).
    fn blank_png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let img = image::GrayImage::new(width, height);
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn thin_pictures_are_cropped_before_resizing() {
        use crate::fraud::alloc_count::largest_allocation;
        // 8192 x 1: resizing the shorter side to 224 first would make a 1.8M x 224 picture
        for (w, h) in [(8192, 1), (1, 8192), (8192, 3)] {
            let png = blank_png(w, h);
            let (px, largest) = largest_allocation(|| decode_image_bytes(&png, 224, 3));
            assert_eq!(px.unwrap().len(), 3 * 224 * 224);
            assert!(largest < 8 << 20, "{w} x {h}: {largest} bytes for a {}-byte file", png.len());
        }
        // a centred crop: the left and right bands of a wide picture are cut off
        let img = image::GrayImage::from_fn(30, 10, |x, _| image::Luma([if (10..20).contains(&x) { 200 } else { 0 }]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        assert!(decode_image_bytes(&png, 5, 1).unwrap().iter().all(|&p| p == 200));
    }

    #[test]
    fn folder_with_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        for (class, shade) in [("bags", 30u8), ("shoes", 220u8)] {
            let d = dir.path().join(class);
            std::fs::create_dir(&d).unwrap();
            for i in 0..3u32 {
                let img = image::RgbImage::from_fn(40 + i, 30, |x, _| image::Rgb([shade, shade, (x % 256) as u8]));
                img.save(d.join(format!("{i}.png"))).unwrap();
            }
        }
        std::fs::write(dir.path().join("shoes/broken.jpg"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("shoes/notes.txt"), b"ignored").unwrap();
        let opts = ImageFolderOptions { size: 16, channels: 3, ..Default::default() };
        let f = load_image_folder(dir.path(), &opts).unwrap();
        assert_eq!(f.class_names, vec!["bags", "shoes"]);
        assert_eq!(f.images.shape(), &[6, 3, 16, 16]);
        assert_eq!(f.labels, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(f.skipped.len(), 1);
        assert!(f.skipped[0].0.ends_with("shoes/broken.jpg"));
        assert!(f.images[[0, 0, 5, 5]] < 60 && f.images[[4, 0, 5, 5]] > 190, "red channel follows the class shade");

        let strict = ImageFolderOptions { corrupt: CorruptPolicy::Error, ..opts.clone() };
        assert!(load_image_folder(dir.path(), &strict).unwrap_err().to_string().contains("broken.jpg"));
        let grey = load_image_folder(dir.path(), &ImageFolderOptions { size: 8, ..Default::default() }).unwrap();
        assert_eq!(grey.images.shape(), &[6, 1, 8, 8]);

        let files = load_image_files(&[dir.path().join("bags/0.png")], 12, 1).unwrap();
        assert_eq!(files.shape(), &[1, 1, 12, 12]);
        let err = load_image_files(&[dir.path().join("shoes/broken.jpg")], 12, 1).unwrap_err();
        assert!(err.to_string().contains("broken.jpg"));
        assert!(load_image_files(&[dir.path().join("absent.png")], 12, 1).is_err());
        assert!(load_image_folder(dir.path().join("bags"), &opts).is_err(), "no class folders");
        assert!(load_image_folder(dir.path(), &ImageFolderOptions { channels: 2, ..opts }).is_err());
    }
}

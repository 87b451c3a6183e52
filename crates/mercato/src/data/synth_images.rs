//! Procedurally drawn product silhouettes: the bundled sample images of `mercato demo` on
//! machines without Fashion-MNIST (the repository holds no third-party data).
//!
//! Each image is a 28×28 grey-scale drawing of one Fashion-MNIST class, made like the real
//! ones look: white-on-black, centred, filling the frame, with a fabric-like texture. Shapes
//! are polygons and ellipses rendered with 4×4 super-sampling, jittered per image from the
//! seed; [`write_sample_images`] stores them as `<dir>/<class folder>/<class folder>_<k>.png`.
//!
//! ```
//! use mercato::data::synth_images::{sample_images, FOLDERS};
//! let images = sample_images(42, 2);
//! assert_eq!(images.len(), 2 * FOLDERS.len());
//! assert!(images.iter().all(|im| im.pixels.len() == 28 * 28));
//! ```

#[cfg(feature = "datasets")]
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::idx::FASHION_MNIST_CLASSES;
#[cfg(feature = "datasets")]
use crate::{Error, Result};

/// Image side in pixels.
pub const SIDE: usize = 28;
const SUPER: usize = 4;

/// Folder name of each Fashion-MNIST class (index = label), safe as a path component.
pub const FOLDERS: [&str; 10] =
    ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"];

/// The Fashion-MNIST label of a sample-image folder name, if it is one of [`FOLDERS`].
pub fn label_of_folder(folder: &str) -> Option<usize> {
    FOLDERS.iter().position(|f| *f == folder)
}

/// One drawn image.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleImage {
    /// Fashion-MNIST label (index into [`FOLDERS`] and the class names).
    pub label: usize,
    /// Class display name (`T-shirt/top`, ...).
    pub class_name: &'static str,
    /// `SIDE × SIDE` grey levels, row-major, 0 = background.
    pub pixels: Vec<u8>,
}

/// A shape in image coordinates (0..28, y down); `paint` adds, `cut` removes coverage.
enum Shape {
    Poly(Vec<(f64, f64)>),
    Ellipse { cx: f64, cy: f64, rx: f64, ry: f64 },
}

impl Shape {
    fn contains(&self, x: f64, y: f64) -> bool {
        match self {
            Shape::Ellipse { cx, cy, rx, ry } => ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0,
            Shape::Poly(p) => {
                // Even-odd rule.
                let mut inside = false;
                let mut j = p.len() - 1;
                for i in 0..p.len() {
                    let ((xi, yi), (xj, yj)) = (p[i], p[j]);
                    if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                        inside = !inside;
                    }
                    j = i;
                }
                inside
            }
        }
    }
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Shape {
    Shape::Poly(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
}

/// A drawing: filled shapes with a brightness each, then darker details painted over them.
struct Drawing {
    layers: Vec<(Shape, f64)>,
}

impl Drawing {
    fn new() -> Self {
        Drawing { layers: Vec::new() }
    }
    /// Paints `shape` with brightness `level` (0..1); later layers cover earlier ones.
    fn add(&mut self, shape: Shape, level: f64) -> &mut Self {
        self.layers.push((shape, level));
        self
    }

    fn render(&self, rng: &mut impl Rng, base: f64) -> Vec<u8> {
        self.render_styled(rng, base, &Style::default())
    }

    /// [`render`](Self::render) with a product's look: the drawing shrunk towards the
    /// centre by `style.scale` and its fabric darkened in horizontal stripes of depth
    /// `style.stripes`.
    fn render_styled(&self, rng: &mut impl Rng, base: f64, style: &Style) -> Vec<u8> {
        let noise = Normal::new(0.0, 0.06).ok();
        let centre = SIDE as f64 / 2.0;
        let mut out = vec![0u8; SIDE * SIDE];
        // Fabric texture: a slow horizontal and vertical shading plus per-pixel noise.
        let (fx, fy) = (rng.random_range(0.0..6.3), rng.random_range(0.0..6.3));
        for py in 0..SIDE {
            for px in 0..SIDE {
                let mut acc = 0.0;
                for sy in 0..SUPER {
                    for sx in 0..SUPER {
                        let x = px as f64 + (sx as f64 + 0.5) / SUPER as f64;
                        let y = py as f64 + (sy as f64 + 0.5) / SUPER as f64;
                        // Sample the drawing at the point this pixel shows after shrinking.
                        let (x, y) = (centre + (x - centre) / style.scale, centre + (y - centre) / style.scale);
                        let level =
                            self.layers.iter().rev().find(|(s, _)| s.contains(x, y)).map_or(0.0, |(_, level)| *level);
                        acc += level;
                    }
                }
                let coverage = acc / (SUPER * SUPER) as f64;
                if coverage <= 0.0 {
                    continue;
                }
                let shade = 1.0 + 0.08 * ((px as f64 * 0.45 + fx).sin() + (py as f64 * 0.3 + fy).cos())
                    - style.stripes * (0.5 + 0.5 * (py as f64 * 1.4).sin());
                let n = noise.map_or(0.0, |d| d.sample(rng));
                let v = 255.0 * coverage * base * (shade + n);
                out[py * SIDE + px] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }
}

/// Draws class `label` with jitter from `rng`.
fn draw(label: usize, rng: &mut impl Rng) -> Drawing {
    let mut j = |a: f64| rng.random_range(-a..=a);
    let mut d = Drawing::new();
    match label {
        // T-shirt/top: wide body, short sleeves, round neck.
        0 => {
            let (w, s) = (j(1.0), j(1.0));
            d.add(
                Shape::Poly(vec![
                    (8.5 - w, 2.0),
                    (11.0, 2.0),
                    (14.0, 4.0),
                    (17.0, 2.0),
                    (19.5 + w, 2.0),
                    (26.5, 7.0 + s),
                    (24.0, 12.0 + s),
                    (20.5 + w, 10.0),
                    (20.5 + w, 27.0),
                    (7.5 - w, 27.0),
                    (7.5 - w, 10.0),
                    (4.0, 12.0 + s),
                    (1.5, 7.0 + s),
                ]),
                0.85,
            );
        }
        // Trouser: a waistband and two long legs with a gap.
        1 => {
            let (w, g) = (j(0.8), j(0.4));
            d.add(
                Shape::Poly(vec![
                    (8.5 - w, 0.5),
                    (19.5 + w, 0.5),
                    (20.5 + w, 27.5),
                    (15.0 + g, 27.5),
                    (14.0, 8.0),
                    (13.0 - g, 27.5),
                    (7.5 - w, 27.5),
                ]),
                0.8,
            )
            .add(rect(8.5 - w, 0.5, 19.5 + w, 2.0), 0.95);
        }
        // Pullover: body and long sleeves hanging down beside it.
        2 => {
            let (w, s) = (j(0.8), j(1.0));
            d.add(
                Shape::Poly(vec![
                    (8.0 - w, 2.0),
                    (11.0, 2.0),
                    (14.0, 3.5),
                    (17.0, 2.0),
                    (20.0 + w, 2.0),
                    (25.0, 6.0),
                    (27.0, 25.0 + s),
                    (23.0, 25.5 + s),
                    (21.0 + w, 12.0),
                    (21.0 + w, 26.0),
                    (7.0 - w, 26.0),
                    (7.0 - w, 12.0),
                    (5.0, 25.5 + s),
                    (1.0, 25.0 + s),
                    (3.0, 6.0),
                ]),
                0.75,
            )
            .add(rect(7.0 - w, 24.5, 21.0 + w, 26.0), 0.9);
        }
        // Dress: narrow bodice, waist, wide flared skirt.
        3 => {
            let (w, h) = (j(1.2), j(1.0));
            d.add(
                Shape::Poly(vec![
                    (10.5, 0.5),
                    (12.0, 0.5),
                    (14.0, 2.0),
                    (16.0, 0.5),
                    (17.5, 0.5),
                    (18.0, 9.0 + h),
                    (22.0 + w, 27.5),
                    (6.0 - w, 27.5),
                    (10.0, 9.0 + h),
                ]),
                0.8,
            );
        }
        // Coat: longer than a pullover, flaring towards the hem, a zip down the front.
        4 => {
            let (w, s) = (j(0.8), j(1.0));
            d.add(
                Shape::Poly(vec![
                    (8.0 - w, 1.0),
                    (20.0 + w, 1.0),
                    (21.0 + w, 12.0),
                    (22.5 + w, 27.5),
                    (5.5 - w, 27.5),
                    (7.0 - w, 12.0),
                ]),
                0.75,
            )
            .add(Shape::Poly(vec![(8.0 - w, 1.0), (4.0, 4.0), (1.0, 24.0 + s), (4.5, 24.5 + s), (7.0 - w, 10.0)]), 0.75)
            .add(
                Shape::Poly(vec![(20.0 + w, 1.0), (24.0, 4.0), (27.0, 24.0 + s), (23.5, 24.5 + s), (21.0 + w, 10.0)]),
                0.75,
            )
            .add(Shape::Poly(vec![(12.0, 1.0), (14.0, 4.0), (16.0, 1.0)]), 0.1)
            .add(rect(13.5, 4.0, 14.5, 27.5), 0.3);
        }
        // Sandal: a thin sole and straps with gaps between them.
        5 => {
            let h = j(1.0);
            d.add(Shape::Poly(vec![(1.0, 19.0 + h), (27.0, 18.0 + h), (27.0, 21.0 + h), (1.0, 22.0 + h)]), 0.85)
                .add(Shape::Poly(vec![(3.0, 12.0 + h), (6.0, 12.0 + h), (9.0, 19.0 + h), (6.0, 19.0 + h)]), 0.75)
                .add(Shape::Poly(vec![(10.0, 14.0 + h), (13.0, 14.0 + h), (15.0, 18.5 + h), (12.0, 18.5 + h)]), 0.75)
                .add(Shape::Poly(vec![(16.0, 14.5 + h), (24.0, 16.0 + h), (24.0, 18.0 + h), (16.0, 18.0 + h)]), 0.75)
                .add(rect(2.5, 10.5 + h, 7.0, 12.5 + h), 0.8);
        }
        // Shirt: a T-shirt's body with long sleeves, a collar and a button placket.
        6 => {
            let (w, s) = (j(0.8), j(1.0));
            d.add(
                Shape::Poly(vec![
                    (8.0 - w, 1.5),
                    (20.0 + w, 1.5),
                    (24.5, 5.0),
                    (26.5, 24.0 + s),
                    (23.0, 24.5 + s),
                    (21.0 + w, 11.0),
                    (21.0 + w, 27.0),
                    (7.0 - w, 27.0),
                    (7.0 - w, 11.0),
                    (5.0, 24.5 + s),
                    (1.5, 24.0 + s),
                    (3.5, 5.0),
                ]),
                0.65,
            )
            .add(Shape::Poly(vec![(10.5, 1.5), (14.0, 5.0), (17.5, 1.5), (16.0, 4.5), (14.0, 6.0), (12.0, 4.5)]), 0.95)
            .add(rect(13.5, 6.0, 14.5, 27.0), 0.9);
            // A check pattern on the body, as many shirts in the catalogue have.
            let mut y = 8.0;
            while y < 26.0 {
                d.add(rect(7.0 - w, y, 13.5, y + 0.8), 0.4).add(rect(14.5, y, 21.0 + w, y + 0.8), 0.4);
                y += 3.5;
            }
            for x in [9.5, 18.5] {
                d.add(rect(x - w / 2.0, 7.0, x + 0.8 - w / 2.0, 27.0), 0.4);
            }
        }
        // Sneaker: a low shoe (about 8 px tall) across the whole width, heel on the right,
        // rounded toe on the left, a dark line of sole under a bright upper.
        7 => {
            let h = j(1.0);
            d.add(
                Shape::Poly(vec![
                    (1.0, 17.0 + h),
                    (2.5, 15.0 + h),
                    (8.0, 14.0 + h),
                    (14.0, 12.5 + h),
                    (19.0, 11.0 + h),
                    (24.0, 10.5 + h),
                    (27.0, 11.0 + h),
                    (27.5, 19.5 + h),
                    (1.5, 19.5 + h),
                ]),
                0.9,
            )
            .add(rect(1.5, 19.0 + h, 27.5, 20.5 + h), 0.35)
            .add(Shape::Ellipse { cx: 22.0, cy: 11.3 + h, rx: 3.0, ry: 0.8 }, 0.2)
            .add(Shape::Poly(vec![(9.0, 17.5 + h), (19.0, 13.5 + h), (20.0, 14.5 + h), (11.0, 18.0 + h)]), 0.55);
        }
        // Bag: a wide box with a handle arc above it.
        8 => {
            let (w, h) = (j(1.0), j(1.5));
            d.add(Shape::Ellipse { cx: 14.0, cy: 9.0 + h, rx: 7.5, ry: 7.0 }, 0.75)
                .add(Shape::Ellipse { cx: 14.0, cy: 9.0 + h, rx: 5.8, ry: 5.4 }, 0.0)
                .add(rect(2.0 - w, 9.0 + h, 26.0 + w, 27.0), 0.8)
                .add(rect(2.0 - w, 12.0 + h, 26.0 + w, 13.0 + h), 0.55);
        }
        // Ankle boot: a tall shaft at the back and a foot pointing right, with a heel.
        _ => {
            let h = j(1.0);
            d.add(
                Shape::Poly(vec![
                    (3.0, 1.0 + h),
                    (14.0, 1.0 + h),
                    (15.0, 13.0),
                    (24.0, 16.0),
                    (27.5, 20.0),
                    (27.5, 24.0),
                    (9.0, 24.0),
                    (8.0, 27.5),
                    (3.0, 27.5),
                ]),
                0.8,
            )
            .add(rect(3.0, 24.0, 27.5, 25.0), 0.6);
        }
    }
    d
}

/// How a product's picture departs from its class's plain drawing.
#[derive(Clone, Debug, PartialEq)]
struct Style {
    /// Side of the drawing relative to the frame (1 = as [`sample_images`] draws it).
    scale: f64,
    /// Depth of the dark horizontal stripes (0 = plain fabric).
    stripes: f64,
}

impl Default for Style {
    fn default() -> Self {
        Style { scale: 1.0, stripes: 0.0 }
    }
}

/// One product photo: the silhouette of class `label` whose look follows `look`, three
/// numbers in `[-1, 1]`: brightness (dark to bright), fabric stripes (plain to deeply
/// striped) and size in the frame (small to full). The outline keeps the random jitter of
/// [`sample_images`], drawn from `seed`, so two products with the same look still differ.
/// Values outside `[-1, 1]` are clamped.
///
/// ```
/// use mercato::data::synth_images::{product_picture, SIDE};
/// let dark = product_picture(8, [-1.0, 0.0, 0.0], 1);
/// let bright = product_picture(8, [1.0, 0.0, 0.0], 1);
/// let sum = |p: &[u8]| p.iter().map(|&v| v as u32).sum::<u32>();
/// assert_eq!(bright.pixels.len(), SIDE * SIDE);
/// assert!(sum(&bright.pixels) > sum(&dark.pixels));
/// ```
pub fn product_picture(label: usize, look: [f64; 3], seed: u64) -> SampleImage {
    let label = label.min(FOLDERS.len() - 1);
    let [bright, stripes, size] = look.map(|v| if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let drawing = draw(label, &mut rng);
    let style = Style { scale: 0.85 + 0.15 * size, stripes: 0.2 * (stripes + 1.0) };
    let base = 0.75 + 0.25 * bright;
    SampleImage {
        label,
        class_name: FASHION_MNIST_CLASSES[label],
        pixels: drawing.render_styled(&mut rng, base, &style),
    }
}

/// `per_class` drawings of every class, deterministic for `seed`.
pub fn sample_images(seed: u64, per_class: usize) -> Vec<SampleImage> {
    let mut out = Vec::with_capacity(per_class * FOLDERS.len());
    for (label, &class_name) in FASHION_MNIST_CLASSES.iter().enumerate() {
        for k in 0..per_class {
            // One stream per image, so adding a class or an image changes no other drawing.
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ ((label as u64) << 32 | k as u64));
            let drawing = draw(label, &mut rng);
            let base = rng.random_range(0.9..1.1);
            out.push(SampleImage { label, class_name, pixels: drawing.render(&mut rng, base) });
        }
    }
    out
}

/// A grey-scale 8-bit PNG (no dependency beyond flate2 and crc32fast, so it needs no `torch`;
/// feature `datasets`, on by default).
#[cfg(feature = "datasets")]
pub fn encode_png_gray(width: usize, height: usize, pixels: &[u8]) -> Result<Vec<u8>> {
    crate::ensure!(pixels.len() == width * height, "{} pixels for a {width}x{height} image", pixels.len());
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, deflate, no filter method, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for row in pixels.chunks(width.max(1)) {
        z.write_all(&[0]).and_then(|()| z.write_all(row)).map_err(|e| Error::invalid(format!("png: {e}")))?;
    }
    let data = z.finish().map_err(|e| Error::invalid(format!("png: {e}")))?;
    chunk(&mut out, b"IDAT", &data);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Writes [`sample_images`] as PNGs under `dir/<folder>/<folder>_<k>.png`; returns the paths
/// (feature `datasets`).
#[cfg(feature = "datasets")]
pub fn write_sample_images(dir: impl AsRef<Path>, seed: u64, per_class: usize) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    let mut counts = [0usize; FOLDERS.len()];
    let mut paths = Vec::new();
    for image in sample_images(seed, per_class) {
        let folder = dir.join(FOLDERS[image.label]);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let path = folder.join(format!("{}_{}.png", FOLDERS[image.label], counts[image.label]));
        counts[image.label] += 1;
        std::fs::write(&path, encode_png_gray(SIDE, SIDE, &image.pixels)?).map_err(|e| Error::io(&path, e))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_centred_and_filling_the_frame() {
        let a = sample_images(42, 2);
        assert_eq!(a, sample_images(42, 2));
        assert_ne!(a, sample_images(43, 2));
        for im in &a {
            let lit: Vec<(usize, usize)> =
                (0..SIDE * SIDE).filter(|&i| im.pixels[i] > 30).map(|i| (i % SIDE, i / SIDE)).collect();
            let (x0, x1) = (lit.iter().map(|p| p.0).min().unwrap(), lit.iter().map(|p| p.0).max().unwrap());
            let (y0, y1) = (lit.iter().map(|p| p.1).min().unwrap(), lit.iter().map(|p| p.1).max().unwrap());
            // Fashion-MNIST objects fill the frame along their long side.
            assert!((x1 - x0).max(y1 - y0) >= 24, "{} spans only {}x{} px", im.class_name, x1 - x0, y1 - y0);
            assert!((x1 - x0).min(y1 - y0) >= 8, "{} is too thin: {}x{} px", im.class_name, x1 - x0, y1 - y0);
            let cx = (x0 + x1) as f64 / 2.0;
            assert!((cx - 13.5).abs() <= 3.0, "{} centred at x = {cx}", im.class_name);
            assert!(y1 > y0 && im.pixels[0] == 0, "{}: background must be black", im.class_name);
        }
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn png_round_trip_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_sample_images(dir.path(), 42, 1).unwrap();
        assert_eq!(paths.len(), 10);
        let bytes = std::fs::read(&paths[0]).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        assert!(encode_png_gray(3, 3, &[0; 8]).is_err());
    }

    /// `datasets/sample_images` is exactly what the generator writes for seed 42.
    #[test]
    #[cfg(feature = "datasets")]
    fn bundled_sample_images_regenerate_byte_identical() {
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/sample_images");
        if !bundled.is_dir() {
            eprintln!("skipping: {} not found", bundled.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for path in write_sample_images(dir.path(), 42, 2).unwrap() {
            let rel = path.strip_prefix(dir.path()).unwrap();
            let bundled_file = std::fs::read(bundled.join(rel)).unwrap_or_default();
            assert!(bundled_file == std::fs::read(&path).unwrap(), "{} differs: regenerate it", rel.display());
        }
    }
}

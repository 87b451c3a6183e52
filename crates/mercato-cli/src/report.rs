//! The demo's self-contained HTML report: inline SVG charts (no fonts, no images to ship,
//! crisp at any zoom) and tables, in one file that opens offline.

use std::fmt::Write as _;
use std::path::Path;

use mercato::{Error, Result};

const W: f64 = 520.0;
const H: f64 = 340.0;
const PAD_L: f64 = 60.0;
const PAD_R: f64 = 20.0;
const PAD_T: f64 = 36.0;
const PAD_B: f64 = 48.0;
const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Axis range padded to "nice" bounds.
fn range(values: impl Iterator<Item = f64>, clamp_unit: bool) -> (f64, f64) {
    let (mut lo, mut hi) =
        values.filter(|v| v.is_finite()).fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if clamp_unit {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-12 {
        lo -= 0.5;
        hi += 0.5;
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        PAD_L + (x - self.x.0) / (self.x.1 - self.x.0) * (W - PAD_L - PAD_R)
    }
    fn py(&self, y: f64) -> f64 {
        H - PAD_B - (y - self.y.0) / (self.y.1 - self.y.0) * (H - PAD_T - PAD_B)
    }
}

fn axes(svg: &mut String, f: &Frame, title: &str, xlabel: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    for k in 0..=4 {
        let t = k as f64 / 4.0;
        let (xv, yv) = (f.x.0 + t * (f.x.1 - f.x.0), f.y.0 + t * (f.y.1 - f.y.0));
        let (gx, gy) = (f.px(xv), f.py(yv));
        let _ = write!(svg, r##"<line x1="{gx}" y1="{PAD_T}" x2="{gx}" y2="{}" stroke="#eee"/>"##, H - PAD_B);
        let _ = write!(svg, r##"<line x1="{PAD_L}" y1="{gy}" x2="{}" y2="{gy}" stroke="#eee"/>"##, W - PAD_R);
        let _ = write!(svg, r#"<text x="{gx}" y="{}" text-anchor="middle">{}</text>"#, H - PAD_B + 14.0, tick(xv));
        let _ = write!(svg, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, PAD_L - 4.0, gy + 4.0, tick(yv));
    }
    let _ = write!(
        svg,
        r##"<rect x="{PAD_L}" y="{PAD_T}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        W - PAD_L - PAD_R,
        H - PAD_T - PAD_B
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (PAD_L + W - PAD_R) / 2.0,
        H - 12.0,
        esc(xlabel)
    );
    let _ = write!(
        svg,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (PAD_T + H - PAD_B) / 2.0,
        esc(ylabel)
    );
}

fn tick(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn legend(svg: &mut String, names: &[&str]) {
    for (k, name) in names.iter().enumerate() {
        let y = PAD_T + 12.0 + 14.0 * k as f64;
        let x = W - PAD_R - 150.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/>"#,
            y - 9.0,
            PALETTE[k % PALETTE.len()]
        );
        let _ = write!(svg, r#"<text x="{}" y="{y}">{}</text>"#, x + 14.0, esc(name));
    }
}

/// A line chart of named (x, y) series. `unit` fixes both axes to [0, 1] (ROC, PR curves).
pub fn lines(title: &str, xlabel: &str, ylabel: &str, series: &[(&str, Vec<(f64, f64)>)], unit: bool) -> String {
    let f = Frame {
        x: range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)), unit),
        y: range(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)), unit),
    };
    let mut svg = String::new();
    axes(&mut svg, &f, title, xlabel, ylabel);
    for (k, (_, points)) in series.iter().enumerate() {
        // A ROC curve has one point per threshold (tens of thousands); drop points that move
        // the pen by less than half a pixel, keeping the ends, so files stay small.
        let mut path: Vec<String> = Vec::new();
        let mut last: Option<(f64, f64)> = None;
        for (i, &(x, y)) in points.iter().enumerate() {
            let (px, py) = (f.px(x), f.py(y));
            let moved = last.is_none_or(|(lx, ly)| (px - lx).abs() >= 0.5 || (py - ly).abs() >= 0.5);
            if moved || i + 1 == points.len() {
                path.push(format!("{px:.1},{py:.1}"));
                last = Some((px, py));
            }
        }
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            PALETTE[k % PALETTE.len()],
            path.join(" ")
        );
    }
    legend(&mut svg, &series.iter().map(|s| s.0).collect::<Vec<_>>());
    svg.push_str("</svg>");
    svg
}

/// A bar chart of named values.
pub fn bars(title: &str, ylabel: &str, bars: &[(String, f64)]) -> String {
    let f = Frame { x: (0.0, bars.len().max(1) as f64), y: (0.0, range(bars.iter().map(|b| b.1), false).1.max(1e-9)) };
    let mut svg = String::new();
    axes_no_x_ticks(&mut svg, &f, title, ylabel);
    let slot = (W - PAD_L - PAD_R) / bars.len().max(1) as f64;
    for (k, (name, v)) in bars.iter().enumerate() {
        let (x0, y0) = (PAD_L + slot * k as f64 + slot * 0.15, f.py(*v));
        let _ = write!(
            svg,
            r#"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
            slot * 0.7,
            (H - PAD_B - y0).max(0.0),
            PALETTE[k % PALETTE.len()]
        );
        let _ =
            write!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{v:.3}</text>"#, x0 + slot * 0.35, y0 - 3.0);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + slot * 0.35,
            H - PAD_B + 14.0,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn axes_no_x_ticks(svg: &mut String, f: &Frame, title: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    for k in 0..=4 {
        let yv = f.y.0 + k as f64 / 4.0 * (f.y.1 - f.y.0);
        let gy = f.py(yv);
        let _ = write!(svg, r##"<line x1="{PAD_L}" y1="{gy}" x2="{}" y2="{gy}" stroke="#eee"/>"##, W - PAD_R);
        let _ = write!(svg, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, PAD_L - 4.0, gy + 4.0, tick(yv));
    }
    let _ =
        write!(svg, r##"<line x1="{PAD_L}" y1="{}" x2="{}" y2="{}" stroke="#444"/>"##, H - PAD_B, W - PAD_R, H - PAD_B);
    let _ = write!(
        svg,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (PAD_T + H - PAD_B) / 2.0,
        esc(ylabel)
    );
}

/// Overlaid histograms of named samples over shared bins (e.g. scores of normal vs fraud),
/// each normalised to a density so classes of very different sizes compare.
pub fn histogram(title: &str, xlabel: &str, samples: &[(&str, &[f64])], bins: usize) -> String {
    let (lo, hi) = range(samples.iter().flat_map(|s| s.1.iter().copied()), false);
    let width = (hi - lo) / bins as f64;
    let densities: Vec<Vec<f64>> = samples
        .iter()
        .map(|(_, xs)| {
            let mut counts = vec![0.0; bins];
            for &x in xs.iter().filter(|x| x.is_finite()) {
                counts[(((x - lo) / width) as usize).min(bins - 1)] += 1.0;
            }
            let n = xs.len().max(1) as f64;
            counts.iter().map(|c| c / n / width).collect()
        })
        .collect();
    let f = Frame { x: (lo, hi), y: (0.0, densities.iter().flatten().copied().fold(0.0, f64::max) * 1.05 + 1e-12) };
    let mut svg = String::new();
    axes(&mut svg, &f, title, xlabel, "density");
    for (k, d) in densities.iter().enumerate() {
        for (b, &v) in d.iter().enumerate() {
            let x0 = f.px(lo + b as f64 * width);
            let x1 = f.px(lo + (b + 1) as f64 * width);
            let y = f.py(v);
            let _ = write!(
                svg,
                r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.45"/>"#,
                (x1 - x0).max(0.5),
                (H - PAD_B - y).max(0.0),
                PALETTE[k % PALETTE.len()]
            );
        }
    }
    legend(&mut svg, &samples.iter().map(|s| s.0).collect::<Vec<_>>());
    svg.push_str("</svg>");
    svg
}

#[cfg_attr(not(feature = "torch"), allow(dead_code))] // drawn by the demo's vision step
/// A confusion matrix as a heat map with counts (rows = true class, columns = predicted).
pub fn heatmap(title: &str, labels: &[String], counts: &[Vec<u64>]) -> String {
    let n = labels.len().max(1);
    let size = 34.0;
    let (left, top) = (110.0, 40.0);
    // Room on the right and below for the rotated column labels.
    let (w, h) = (left + size * n as f64 + 70.0, top + size * n as f64 + 90.0);
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="10">"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for (r, row) in counts.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let shade = 1.0 - (v as f64 / max).sqrt();
            let (x, y) = (left + size * c as f64, top + size * r as f64);
            let level = (255.0 * shade) as u8;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="rgb({level},{level},255)"/>"#
            );
            let colour = if shade < 0.5 { "white" } else { "black" };
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle" fill="{colour}">{v}</text>"#,
                x + size / 2.0,
                y + size / 2.0 + 4.0
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 4.0,
            top + size * r as f64 + size / 2.0 + 4.0,
            esc(&labels[r])
        );
    }
    for (c, label) in labels.iter().enumerate() {
        let x = left + size * c as f64 + size / 2.0;
        let y = top + size * n as f64 + 6.0;
        let _ =
            write!(svg, r#"<text transform="translate({x} {y}) rotate(45)" text-anchor="start">{}</text>"#, esc(label));
    }
    svg.push_str("</svg>");
    svg
}

/// Standard base64 with padding (RFC 4648), for data URLs.
#[cfg_attr(not(feature = "torch"), allow(dead_code))] // only the image step embeds pictures
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A file-name slug from a chart's title (its first, bold, text element), or "chart".
fn slug(svg: &str) -> String {
    let title = svg
        .split("font-weight=\"bold\">")
        .nth(1)
        .and_then(|t| t.split("</text>").next())
        .unwrap_or("chart")
        .replace("&amp;", "and");
    let s: String =
        title.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() {
        "chart".into()
    } else {
        s
    }
}

/// A report under construction: sections of text, tables and charts.
#[derive(Default)]
pub struct Report {
    body: String,
    /// Every chart added, also written as its own `charts/NN.svg` (for slides and READMEs).
    svgs: Vec<String>,
}

impl Report {
    /// Starts a section.
    pub fn section(&mut self, title: &str, intro: &str) {
        let _ = write!(self.body, "<h2>{}</h2><p>{}</p>", esc(title), esc(intro));
    }

    /// Adds a table with a header row.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body.push_str("<table><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", esc(h));
        }
        self.body.push_str("</tr>");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", esc(cell));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</table>");
    }

    /// Adds charts side by side.
    pub fn charts(&mut self, svgs: &[String]) {
        self.body.push_str(r#"<div class="charts">"#);
        for svg in svgs {
            let _ = write!(self.body, r#"<figure>{svg}</figure>"#);
            self.svgs.push(svg.clone());
        }
        self.body.push_str("</div>");
    }

    /// Adds small images (PNG bytes, embedded as data URLs) with captions, in a row.
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub fn images(&mut self, images: &[(String, Vec<u8>)]) {
        self.body.push_str(r#"<div class="charts">"#);
        for (caption, png) in images {
            let _ = write!(
                self.body,
                r#"<figure><img src="data:image/png;base64,{}" width="84" height="84" style="image-rendering:pixelated" alt="{c}"><figcaption style="font-size:11px;max-width:90px">{c}</figcaption></figure>"#,
                base64(png),
                c = esc(caption)
            );
        }
        self.body.push_str("</div>");
    }

    /// Writes `index.html` into `dir`, returning its path.
    pub fn write(&self, dir: &Path, title: &str) -> Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let html = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
             body{{font-family:sans-serif;max-width:1140px;margin:2em auto;color:#222}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}\
             th{{background:#f3f3f3}}.charts{{display:flex;flex-wrap:wrap;gap:12px}}figure{{margin:0}}\
             </style></head><body><h1>{t}</h1>{body}</body></html>",
            t = esc(title),
            body = self.body
        );
        let path = dir.join("index.html");
        std::fs::write(&path, html).map_err(|e| Error::io(&path, e))?;
        let charts = dir.join("charts");
        std::fs::create_dir_all(&charts).map_err(|e| Error::io(&charts, e))?;
        // Charts of an earlier run (maybe with other steps) must not linger beside these.
        for old in std::fs::read_dir(&charts).map_err(|e| Error::io(&charts, e))?.flatten() {
            if old.path().extension().is_some_and(|x| x == "svg") {
                std::fs::remove_file(old.path()).map_err(|e| Error::io(old.path(), e))?;
            }
        }
        for (i, svg) in self.svgs.iter().enumerate() {
            let file = charts.join(format!("{:02}-{}.svg", i + 1, slug(svg)));
            std::fs::write(&file, svg).map_err(|e| Error::io(&file, e))?;
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, coded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn charts_are_well_formed_svg() {
        let roc = lines("ROC", "FPR", "TPR", &[("model", vec![(0.0, 0.0), (0.2, 0.8), (1.0, 1.0)])], true);
        assert!(roc.starts_with("<svg") && roc.ends_with("</svg>") && roc.contains("polyline"));
        let dense: Vec<(f64, f64)> =
            (0..=20_000).map(|i| (i as f64 / 20_000.0, (i as f64 / 20_000.0).sqrt())).collect();
        let thin = lines("ROC", "FPR", "TPR", &[("m", dense)], true);
        let kept = thin.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split(' ').count();
        assert!((100..2000).contains(&kept), "{kept} points kept of 20001");
        assert!(thin.contains("500.0,36.0\""), "the curve's last point (1, 1) is kept: {thin}");
        let h = histogram("scores", "score", &[("normal", &[0.1, 0.2, 0.2]), ("fraud", &[0.9])], 10);
        assert_eq!(h.matches("<rect").count(), 20 + 1 + 2, "two series of 10 bins, a frame, two legend keys");
        let b = bars("P@10", "precision", &[("ALS".into(), 0.2), ("<pop>".into(), 0.1)]);
        assert!(b.contains("&lt;pop&gt;"), "labels are escaped");
        let m = heatmap("cm", &["a".into(), "b".into()], &[vec![3, 1], vec![0, 4]]);
        assert_eq!(m.matches("<rect").count(), 4);
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::default();
        r.section("Fraud", "scores");
        r.table(&["model", "AUC"], &[vec!["x".into(), "0.9".into()]]);
        r.charts(&[roc]);
        let path = r.write(dir.path(), "mercato demo").unwrap();
        assert!(std::fs::read_to_string(path).unwrap().contains("<table>"));
        let charts: Vec<_> = std::fs::read_dir(dir.path().join("charts")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(charts.len(), 1);
        let svg = std::fs::read_to_string(&charts[0]).unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "{svg}");
        assert!(charts[0].ends_with("01-roc.svg"), "{charts:?}");
    }
}

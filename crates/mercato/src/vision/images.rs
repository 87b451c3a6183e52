//! Images from memory: ndarray views of `[N, H, W]` or `[N, C, H, W]`, u8 or f32, checked
//! before anything reaches libtorch.

use ndarray::{Array, ArrayView, ArrayViewD, Dimension};
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// A batch of images in memory: `[N, H, W]` (one channel) or `[N, C, H, W]`.
///
/// `U8` pixels are 0..=255; `F32` pixels are on the 0..1 scale (as torchvision's
/// `ToTensor`), so `u8 / 255.0` gives the same predictions. Both are normalised with the
/// model's mean and standard deviation internally.
#[derive(Clone, Debug)]
pub enum Images<'a> {
    /// 8-bit pixels.
    U8(ArrayViewD<'a, u8>),
    /// Float pixels scaled to 0..1.
    F32(ArrayViewD<'a, f32>),
}

macro_rules! images_from {
    ($t:ty, $variant:ident) => {
        impl<'a, D: Dimension> From<&'a Array<$t, D>> for Images<'a> {
            fn from(a: &'a Array<$t, D>) -> Self {
                Images::$variant(a.view().into_dyn())
            }
        }

        impl<'a, D: Dimension> From<ArrayView<'a, $t, D>> for Images<'a> {
            fn from(a: ArrayView<'a, $t, D>) -> Self {
                Images::$variant(a.into_dyn())
            }
        }

        impl<'a, 'b: 'a, D: Dimension> From<&'a ArrayView<'b, $t, D>> for Images<'a> {
            fn from(a: &'a ArrayView<'b, $t, D>) -> Self {
                Images::$variant(a.view().into_dyn())
            }
        }
    };
}

images_from!(u8, U8);
images_from!(f32, F32);

impl Images<'_> {
    /// The shape as given.
    pub fn shape(&self) -> &[usize] {
        match self {
            Images::U8(a) => a.shape(),
            Images::F32(a) => a.shape(),
        }
    }

    /// Number of images (0 for a malformed array without a batch axis).
    pub fn len(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[N, C, H, W]` after checking the layout against what the model expects.
    pub(crate) fn check(&self, channels: usize, size: usize) -> Result<[usize; 4]> {
        let s = self.shape();
        let want = if channels == 1 {
            format!("[N, {size}, {size}] or [N, 1, {size}, {size}]")
        } else {
            format!("[N, {channels}, {size}, {size}]")
        };
        let nchw = match *s {
            [n, h, w] => [n, 1, h, w],
            [n, c, h, w] => [n, c, h, w],
            _ => return Err(Error::shape(format!("images {want}"), format!("{s:?}"))),
        };
        if nchw[1] != channels {
            let hint =
                if s.len() == 4 && s[3] == channels { " (channels-last? transpose to [N, C, H, W])" } else { "" };
            return Err(Error::shape(format!("images {want}"), format!("{s:?}: {} channels{hint}", nchw[1])));
        }
        if nchw[2] != size || nchw[3] != size {
            return Err(Error::shape(
                format!("images {want}"),
                format!("{s:?}: {}×{} pixels (resize them, or build the model for this size)", nchw[2], nchw[3]),
            ));
        }
        Ok(nchw)
    }

    /// Checks the layout and the values, and copies the images into a CPU tensor
    /// `[N, C, H, W]` of kind `Uint8` (0..=255) or `Float` (0..1 scale).
    pub(crate) fn to_tensor(&self, channels: usize, size: usize) -> Result<Tensor> {
        let nchw = self.check(channels, size)?;
        let dims: Vec<i64> = nchw.iter().map(|&d| d as i64).collect();
        let t = match self {
            Images::U8(a) => {
                let data: Vec<u8> = match a.as_slice() {
                    Some(s) => s.to_vec(),
                    None => a.iter().copied().collect(),
                };
                Tensor::f_from_slice(&data)?
            }
            Images::F32(a) => {
                if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    let per = (nchw[1] * nchw[2] * nchw[3]).max(1);
                    return Err(Error::invalid(format!("pixel values must be finite, found {v} in image {}", i / per)));
                }
                let data: Vec<f32> = match a.as_slice() {
                    Some(s) => s.to_vec(),
                    None => a.iter().copied().collect(),
                };
                Tensor::f_from_slice(&data)?
            }
        };
        Ok(t.f_reshape(dims.as_slice())?)
    }
}

/// Per-channel mean and standard deviation of images (0..1 scale) held in a `[N, C, H, W]`
/// tensor of kind `Uint8` or `Float`, computed in chunks to bound memory.
pub(crate) fn channel_stats(raw: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = raw.size()[0];
    let c = raw.size()[1];
    let mut sum = vec![0f64; c as usize];
    let mut sq = vec![0f64; c as usize];
    let mut count = 0f64;
    let chunk = 4096;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let x = scale(&raw.f_narrow(0, start, len)?)?.to_kind(Kind::Double);
        let s = Vec::<f64>::try_from(x.f_sum_dim_intlist([0i64, 2, 3].as_slice(), false, Kind::Double)?)?;
        let q = Vec::<f64>::try_from(x.square().f_sum_dim_intlist([0i64, 2, 3].as_slice(), false, Kind::Double)?)?;
        for ch in 0..c as usize {
            sum[ch] += s[ch];
            sq[ch] += q[ch];
        }
        count += (len * raw.size()[2] * raw.size()[3]) as f64;
        start += len;
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std: Vec<f32> = sum
        .iter()
        .zip(&sq)
        .map(|(s, q)| {
            let m = s / count;
            ((q / count - m * m).max(0.0).sqrt() as f32).max(1e-3)
        })
        .collect();
    Ok((mean, std))
}

/// Float tensor on the 0..1 scale from a `Uint8` (÷255) or `Float` tensor.
pub(crate) fn scale(raw: &Tensor) -> Result<Tensor> {
    Ok(match raw.kind() {
        Kind::Uint8 => raw.f_to_kind(Kind::Float)?.f_mul_scalar(1.0 / 255.0)?,
        _ => raw.f_to_kind(Kind::Float)?,
    })
}

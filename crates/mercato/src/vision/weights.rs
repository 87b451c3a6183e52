//! A libtorch network's weights as named arrays: snapshots for early stopping, and the
//! `weights/<variable>` arrays of a model file. Shared by every torch model.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::persist::{ModelReader, ModelWriter};
use crate::{Error, Result};

/// Weights (and batch-norm running statistics) by name, sorted, as CPU f32 tensors.
pub(crate) fn snapshot(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().to_device(Device::Cpu).to_kind(Kind::Float).copy()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Overwrites the weights from `(name, tensor)` pairs, checking names and shapes.
pub(crate) fn restore(vs: &mut VarStore, weights: &[(String, Tensor)]) -> Result<()> {
    let mut vars = vs.variables();
    if vars.len() != weights.len() {
        return Err(Error::format(format!(
            "file has {} weight arrays, the network needs {}",
            weights.len(),
            vars.len()
        )));
    }
    let device = vs.device();
    tch::no_grad(|| -> Result<()> {
        for (name, src) in weights {
            let var = vars.get_mut(name).ok_or_else(|| Error::format(format!("unexpected weight array {name:?}")))?;
            if var.size() != src.size() {
                return Err(Error::format(format!(
                    "weight {name:?} has shape {:?}, the network needs {:?}",
                    src.size(),
                    var.size()
                )));
            }
            var.f_copy_(&src.f_to_device(device)?)?;
        }
        Ok(())
    })
}

/// Adds every weight to `w` as an f32 array named `weights/<variable>`.
pub(crate) fn write(vs: &VarStore, mut w: ModelWriter) -> Result<ModelWriter> {
    for (name, t) in snapshot(vs) {
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let data = Vec::<f32>::try_from(&t.flatten(0, -1))?;
        w = w.f32(&format!("weights/{name}"), &shape, &data);
    }
    Ok(w)
}

/// Loads every `weights/…` array of `r` into `vs`, checking names and shapes.
pub(crate) fn read(vs: &mut VarStore, r: &ModelReader) -> Result<()> {
    let mut weights = Vec::new();
    for full in r.tensor_names()?.iter().filter(|n| n.starts_with("weights/")) {
        let (shape, data) = r.f32(full)?;
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if count != Some(data.len()) {
            return Err(Error::format(format!("weight {full:?}: shape {shape:?} does not match its data")));
        }
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        weights.push((full["weights/".len()..].to_string(), Tensor::f_from_slice(&data)?.f_reshape(dims.as_slice())?));
    }
    restore(vs, &weights)
}

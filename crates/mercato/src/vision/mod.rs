//! Product-image classification with a CNN on libtorch (cargo feature `torch`).

mod cnn;

pub use cnn::{SmallCnn, SmallCnnConfig};

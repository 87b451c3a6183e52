//! Product-image classification with a CNN on libtorch (cargo feature `torch`).
//!
//! * [`ImageClassifier`] — train ([`ImageClassifier::fit`]), predict, evaluate, save/load,
//!   and [`ImageClassifier::pretrained`]`("fashion_mnist")`;
//! * architectures: [`SmallCnn`] (two convolutions, fast) and [`ResNet`] (batch norm,
//!   residual blocks), chosen through [`Arch`];
//! * training: [`TrainConfig`] (Adam/AdamW/SGD, weight decay, cosine or step schedule,
//!   seeded shuffling, validation split, early stopping, crop/flip augmentation, progress bar);
//! * inputs: [`Images`] (ndarray u8 or f32, `[N, H, W]` or `[N, C, H, W]`) and image folders
//!   `root/<class>/*.png|jpg` ([`load_image_folder`], from [`crate::data::images`], which
//!   needs no libtorch).
//!
//! Everything a caller passes in is checked before it reaches libtorch: bad shapes, channel
//! counts, labels, NaN pixels and empty sets are [`crate::Error`]s, never a libtorch abort.

mod classifier;
mod cnn;
mod images;
mod net;
mod resnet;
mod train;
pub(crate) mod weights;

pub use crate::data::images::{
    decode_image_bytes, load_image_files, load_image_folder, CorruptPolicy, ImageFolder, ImageFolderOptions,
};
pub(crate) use classifier::FIT_LOCK;
pub use classifier::{Evaluation, ImageClassifier, ImageClassifierParams, PRETRAINED};
pub use cnn::{SmallCnn, SmallCnnConfig};
pub use images::Images;
pub use net::{Arch, KIND_RESNET, KIND_SMALL_CNN};
pub use resnet::{ResNet, ResNetConfig};
pub(crate) use train::ThreadGuard;
pub use train::{Augment, DeviceChoice, EpochStats, History, LrSchedule, Optimizer, TrainConfig};

#[cfg(test)]
mod tests;

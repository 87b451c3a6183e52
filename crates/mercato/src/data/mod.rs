//! Data model and loaders: ids, the interaction matrix, compressed sparse rows, files, splits.
//!
//! Orientation is settled once: users are rows, items are columns.

mod idmap;
pub mod idx;
pub mod images;
mod interactions;
pub mod loaders;
mod rows;
pub mod split;

pub use idmap::{ExternalId, IdMap};
pub use images::{
    decode_image_bytes, load_image_files, load_image_folder, CorruptPolicy, ImageFolder, ImageFolderOptions,
};
pub use interactions::{DuplicatePolicy, Interactions};
pub use loaders::{load_anomaly_csv, load_lastfm, load_movielens, load_triples, LabelledTable, TripleFormat};
pub(crate) use rows::normalize_row;
pub use rows::Rows;
pub use split::{holdout_per_user, k_fold, ml100k_fold, TrainTest};
pub mod synth;
pub mod synth_images;
pub mod synth_prices;
pub mod synth_sessions;

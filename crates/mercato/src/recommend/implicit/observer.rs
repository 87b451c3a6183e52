//! Watching ALS and BPR train: a callback after every iteration (implicit's `callback=`).

use std::time::Duration;

use crate::error::Result;

/// What a training callback sees after each iteration of [`super::AlsParams::fit_rows_observed`]
/// or [`super::BprParams::fit_rows_observed`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IterationReport {
    /// The iteration just finished, from 0.
    pub iteration: usize,
    /// Time since training started.
    pub elapsed: Duration,
    /// The training loss after this iteration, when `calculate_training_loss` is on.
    pub loss: Option<f32>,
    /// BPR: sampled triples the model ranked correctly before their update (0 for ALS).
    pub correct: u64,
    /// BPR: sampled triples skipped because the negative was a liked item (0 for ALS).
    pub skipped: u64,
}

/// A training callback: an error stops training and is returned by the fit.
///
/// ```
/// use mercato::recommend::{Als, IterationReport, Rows};
/// let rows = Rows::from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
/// let mut seen = Vec::new();
/// Als::params().factors(2).iterations(3)
///     .fit_rows_observed(&rows, &mut |r: &IterationReport| { seen.push(r.iteration); Ok(()) })
///     .unwrap();
/// assert_eq!(seen, [0, 1, 2]);
/// ```
pub type Observer<'a> = dyn FnMut(&IterationReport) -> Result<()> + Send + 'a;

/// The observer of a plain fit.
pub(crate) fn ignore(_: &IterationReport) -> Result<()> {
    Ok(())
}

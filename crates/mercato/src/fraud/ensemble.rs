//! [`Ensemble`]: combine detectors whose raw scores live on different scales.
//!
//! Each member's score is first normalised with statistics of its own training scores:
//! `Rank` maps a score to the fraction of training scores at or below it (in [0, 1]; robust,
//! scale free), `ZScore` to `(s - mean) / std` (keeps how far out a row is). The normalised
//! scores are then combined by their `Mean` (averaging, Aggarwal & Sathe 2015) or `Max`
//! (maximisation: any member can raise an alarm). The ensemble is itself a [`Detector`], with
//! its own contamination threshold and calibration.

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::detector::{check_contamination, check_row, check_score_input, fit_state_accessors, FitState};
use super::{AnyDetector, AnyDetectorParams, Detector, Explanation};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// How member scores are made comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Fraction of the member's training scores `<=` the score.
    #[default]
    Rank,
    /// `(s - mean) / std` over the member's training scores (std 0 → 1).
    ZScore,
}

/// How normalised scores are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Average over members.
    #[default]
    Mean,
    /// Maximum over members.
    Max,
}

/// Hyper-parameters of [`Ensemble`]: its member detectors' parameters and how their scores
/// are combined.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleParams {
    /// Normalisation of member scores.
    pub normalize: Normalize,
    /// Combination of normalised scores.
    pub combine: Combine,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// The member detectors, each fitted by [`EnsembleParams::fit`] on the same rows (in JSON,
    /// objects such as `{"iforest": {"seed": 1}}`). Not written to model files: a fitted
    /// ensemble keeps its fitted members, which carry their own parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<AnyDetectorParams>,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        EnsembleParams { normalize: Normalize::Rank, combine: Combine::Mean, contamination: 0.1, members: Vec::new() }
    }
}

impl crate::params::Params for EnsembleParams {
    fn check(&self) -> Result<()> {
        check_contamination(self.contamination)?;
        self.members.iter().try_for_each(AnyDetectorParams::check)
    }
}

impl EnsembleParams {
    crate::params::setters! {
        /// Sets the normalisation.
        normalize: Normalize,
        /// Sets the combination.
        combine: Combine,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the member detectors.
        members: Vec<AnyDetectorParams>,
    }

    /// Checks the parameters, fits every member on `x`, then the normalisers on the members'
    /// training scores.
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Ensemble> {
        crate::ensure!(!self.members.is_empty(), "an Ensemble needs at least one detector");
        self.check()?;
        let members = self.members.iter().map(|m| m.fit(x)).collect::<Result<Vec<_>>>()?;
        Ensemble::from_fitted(EnsembleParams { members: Vec::new(), ..self.clone() }, members, x.ncols())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Norm {
    /// Sorted training scores (rank normalisation).
    sorted: Vec<f64>,
    mean: f64,
    std: f64,
}

impl Norm {
    fn new(scores: &[f64]) -> Norm {
        let mut sorted = scores.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let n = sorted.len().max(1) as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n;
        Norm { sorted, mean, std: if var > 0.0 { var.sqrt() } else { 1.0 } }
    }

    #[inline]
    fn apply(&self, how: Normalize, s: f64) -> f64 {
        match how {
            Normalize::Rank => self.sorted.partition_point(|&v| v <= s) as f64 / self.sorted.len() as f64,
            Normalize::ZScore => (s - self.mean) / self.std,
        }
    }
}

/// A fitted combination of detectors (see the [module docs](self)), made by
/// [`EnsembleParams::fit`].
///
/// ```
/// use mercato::fraud::{Detector, EcodParams, EnsembleParams, IsolationForestParams};
/// let mut x = ndarray::Array2::from_shape_fn((300, 2), |(i, j)| ((i * (j + 5)) % 23) as f64);
/// x.row_mut(299).fill(80.0);
/// let members = vec![IsolationForestParams::default().seed(1).into(), EcodParams::default().into()];
/// let ens = EnsembleParams::default().members(members).fit(&x.view())?;
/// let s = ens.decision_scores()?;
/// assert!(s[299] >= s.iter().cloned().fold(0.0, f64::max) - 1e-12);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    /// Normalisation, combination and contamination; `members` is left empty (the fitted
    /// members carry their own parameters).
    pub(crate) params: EnsembleParams,
    members: Vec<AnyDetector>,
    norms: Vec<Norm>,
    state: FitState,
}

impl Ensemble {
    /// The ensemble of already fitted `members` (each on the same `n_features` columns):
    /// normalisers from their training scores, then the combined training scores.
    fn from_fitted(params: EnsembleParams, members: Vec<AnyDetector>, n_features: usize) -> Result<Self> {
        let norms: Vec<Norm> = members.iter().map(|m| m.decision_scores().map(Norm::new)).collect::<Result<_>>()?;
        let member_scores: Vec<Vec<f64>> =
            members.iter().map(|m| m.decision_scores().map(<[f64]>::to_vec)).collect::<Result<_>>()?;
        let scores = params.combine_columns(&norms, &member_scores);
        let state = FitState::new(n_features, scores, params.contamination)?;
        Ok(Ensemble { params, members, norms, state })
    }

    /// The hyper-parameters it was fitted with, the members' included.
    pub fn params(&self) -> EnsembleParams {
        EnsembleParams { members: self.members.iter().map(AnyDetector::params).collect(), ..self.params.clone() }
    }

    /// The member detectors.
    pub fn members(&self) -> &[AnyDetector] {
        &self.members
    }

    /// The members, to change settings that do not alter the fit (e.g. scoring threads).
    pub(crate) fn members_mut(&mut self) -> &mut [AnyDetector] {
        &mut self.members
    }
}

/// Combination of member scores (one normaliser per member).
impl EnsembleParams {
    #[inline]
    fn combine_one(&self, acc: f64, v: f64) -> f64 {
        match self.combine {
            Combine::Mean => acc + v,
            Combine::Max => acc.max(v),
        }
    }

    fn start(&self) -> f64 {
        match self.combine {
            Combine::Mean => 0.0,
            Combine::Max => f64::NEG_INFINITY,
        }
    }

    fn finish(&self, acc: f64, n_members: usize) -> f64 {
        match self.combine {
            Combine::Mean => acc / n_members as f64,
            Combine::Max => acc,
        }
    }

    fn combine_columns(&self, norms: &[Norm], member_scores: &[Vec<f64>]) -> Vec<f64> {
        let n = member_scores.first().map_or(0, Vec::len);
        (0..n)
            .map(|i| {
                let acc = member_scores
                    .iter()
                    .zip(norms)
                    .fold(self.start(), |a, (s, nm)| self.combine_one(a, nm.apply(self.normalize, s[i])));
                self.finish(acc, norms.len())
            })
            .collect()
    }
}

impl Detector for Ensemble {
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        check_score_input(x, self.state.n_features)?;
        let member_scores: Vec<Vec<f64>> =
            self.members.iter().map(|m| m.score(x).map(|a| a.to_vec())).collect::<Result<_>>()?;
        Ok(Array1::from(self.params.combine_columns(&self.norms, &member_scores)))
    }

    fn score_one(&self, x: &[f64]) -> Result<f64> {
        check_row(x, self.state.n_features)?;
        let p = &self.params;
        let mut acc = p.start();
        for (m, nm) in self.members.iter().zip(&self.norms) {
            acc = p.combine_one(acc, nm.apply(p.normalize, m.score_one(x)?));
        }
        Ok(p.finish(acc, self.norms.len()))
    }

    fit_state_accessors!();
    /// Each member's shares weighted by the member's normalised score (ranks, or z-scores
    /// floored at 0), summed, then rescaled to shares summing to 1 like every detector's:
    /// features that several confident members blame come first.
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let score = self.score_one(x)?;
        let mut total = vec![0.0; self.state.n_features];
        for (m, nm) in self.members.iter().zip(&self.norms) {
            let e = m.explain(x)?;
            let weight = nm.apply(self.params.normalize, e.score).max(0.0);
            let mass: f64 = e.contributions.iter().map(|c| c.1.abs()).sum();
            if mass > 0.0 {
                for &(j, c) in &e.contributions {
                    total[j] += weight * c / mass;
                }
            }
        }
        Ok(Explanation::from_values(score, total))
    }

    fn name(&self) -> &'static str {
        "ensemble"
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: EnsembleParams,
    state: FitState,
    norms: Vec<Norm>,
    n_members: usize,
}

impl Persist for Ensemble {
    const KIND: &'static str = "fraud.ensemble";

    fn write(&self) -> Result<ModelWriter> {
        let meta = Meta {
            params: self.params.clone(),
            state: self.state.clone(),
            norms: self.norms.clone(),
            n_members: self.members.len(),
        };
        let mut w = ModelWriter::new(Self::KIND, &meta)?;
        for (i, m) in self.members.iter().enumerate() {
            let bytes = m.to_bytes()?;
            w = w.u8(&format!("member{i}"), &[bytes.len()], &bytes);
        }
        Ok(w)
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: Meta = r.meta()?;
        if meta.n_members == 0 || meta.norms.len() != meta.n_members || meta.norms.iter().any(|n| n.sorted.is_empty()) {
            return Err(Error::format("fraud.ensemble: members and normalisers do not match"));
        }
        let members = (0..meta.n_members)
            .map(|i| AnyDetector::from_bytes(r.u8(&format!("member{i}"))?.1))
            .collect::<Result<Vec<_>>>()?;
        if members.iter().any(|m| m.n_features() != Some(meta.state.n_features)) {
            return Err(Error::format("fraud.ensemble: members were fitted on a different number of features"));
        }
        Ok(Ensemble { params: meta.params, members, norms: meta.norms, state: meta.state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fraud::{EcodParams, HbosParams, IsolationForestParams};

    #[test]
    fn combines_normalised_scores() {
        let mut x = ndarray::Array2::from_shape_fn((500, 3), |(i, j)| ((i * (j + 7)) % 41) as f64);
        x.row_mut(499).fill(300.0);
        for (norm, comb) in [(Normalize::Rank, Combine::Mean), (Normalize::ZScore, Combine::Max)] {
            let members = vec![
                IsolationForestParams::default().into(),
                EcodParams::default().into(),
                HbosParams::default().into(),
            ];
            let e = EnsembleParams::default().members(members).normalize(norm).combine(comb).fit(&x.view()).unwrap();
            let s = e.decision_scores().unwrap();
            let top = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(s[499], top, "{norm:?} {comb:?}");
            assert_eq!(e.score_one(x.row(3).as_slice().unwrap()).unwrap(), e.score(&x.view()).unwrap()[3]);
            if norm == Normalize::Rank {
                assert!(s.iter().all(|&v| (0.0..=1.0).contains(&v)));
            }
            let ex = e.explain(&[3.0, 3.0, 500.0]).unwrap();
            assert_eq!(ex.contributions[0].0, 2);
            let back = Ensemble::from_bytes(e.to_bytes().unwrap()).unwrap();
            assert_eq!(back, e);
        }
        assert!(EnsembleParams::default().fit(&x.view()).is_err());
        let one = EnsembleParams::default().members(vec![EcodParams::default().into()]).fit(&x.view()).unwrap();
        assert!(one.score_one(&[1.0, 2.0]).is_err(), "3 features");
        // The parameters round-trip through JSON, members included; a model file keeps the
        // fitted members, and the parameters read back are the same.
        let p = one.params();
        assert_eq!(EnsembleParams::from_json(&p.to_json()).unwrap(), p);
        assert_eq!(Ensemble::from_bytes(one.to_bytes().unwrap()).unwrap().params(), p);
    }
}

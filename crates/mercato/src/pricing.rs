//! Prices from demand models: the constant-elasticity optimum, a constrained optimizer for
//! log-log or linear demand with delta-method or parametric-bootstrap intervals, and what-if
//! curves.
//!
//! A demand curve here is the part of a fitted regression that depends on price, at fixed
//! other features: `ln q = a + b·ln p` (log-log; `b` is the elasticity) or `q = a + b·p`
//! (linear), with the 2 × 2 covariance of `(a, b)` from the regression.
//!
//! ```
//! use mercato::pricing::{optimal_price, Demand, DemandKind, Objective, PriceOptimizer};
//! // Elasticity −3 and unit cost 10: p* = 10·(−3)/(−2) = 15.
//! assert!((optimal_price(-3.0, 10.0, None, None)? - 15.0).abs() < 1e-12);
//! assert!(optimal_price(-0.5, 10.0, None, None).is_err()); // inelastic: no finite optimum
//! let demand = Demand { kind: DemandKind::LogLog, a: 8.0, b: -3.0, cov: [[0.01, 0.0], [0.0, 0.04]] };
//! let opt = PriceOptimizer { unit_cost: 10.0, min_price: Some(5.0), max_price: Some(40.0), ..Default::default() };
//! let r = opt.optimize(&demand)?;
//! assert!((r.price - 15.0).abs() < 1e-9 && r.lower < 15.0 && 15.0 < r.upper);
//! # Ok::<(), mercato::Error>(())
//! ```

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::regression::dist::normal_critical;
use crate::{bail, Result};

fn check_cost(unit_cost: f64) -> Result<()> {
    if !(unit_cost.is_finite() && unit_cost >= 0.0) {
        bail!("unit_cost must be finite and ≥ 0, got {unit_cost}");
    }
    Ok(())
}

fn bounds(min_price: Option<f64>, max_price: Option<f64>) -> Result<(f64, f64)> {
    let lo = min_price.unwrap_or(0.0);
    let hi = max_price.unwrap_or(f64::INFINITY);
    if !(lo.is_finite() && lo >= 0.0) || hi.is_nan() || hi <= 0.0 || lo > hi {
        bail!("price bounds must satisfy 0 ≤ min_price ≤ max_price, got [{lo}, {hi}]");
    }
    Ok((lo, hi))
}

/// Profit-maximising price under constant elasticity `ε` (demand ∝ p^ε): `c·ε/(1 + ε)`,
/// clipped to the bounds. For `ε ≥ −1` profit grows with price, so the optimum is
/// `max_price`, and an error when none is given.
pub fn optimal_price(elasticity: f64, unit_cost: f64, min_price: Option<f64>, max_price: Option<f64>) -> Result<f64> {
    check_cost(unit_cost)?;
    if !elasticity.is_finite() {
        bail!("elasticity must be finite, got {elasticity}");
    }
    let (lo, hi) = bounds(min_price, max_price)?;
    if elasticity >= -1.0 {
        if hi.is_finite() {
            return Ok(hi);
        }
        bail!("elasticity {elasticity} ≥ −1 (inelastic demand): profit rises with price without bound; give max_price");
    }
    Ok((unit_cost * elasticity / (1.0 + elasticity)).clamp(lo, hi))
}

/// The functional form of a demand curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemandKind {
    /// `ln q = a + b·ln p`.
    LogLog,
    /// `q = a + b·p`.
    Linear,
}

/// A demand curve with the covariance of its coefficients `(a, b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Demand {
    /// Functional form.
    pub kind: DemandKind,
    /// Level.
    pub a: f64,
    /// Price coefficient (the elasticity for log-log).
    pub b: f64,
    /// Covariance of `(a, b)`.
    pub cov: [[f64; 2]; 2],
}

impl Demand {
    /// Expected demand at `price` (for log-log, `exp(a + b ln p)`, the median of q).
    pub fn demand(&self, price: f64) -> f64 {
        match self.kind {
            DemandKind::LogLog => (self.a + self.b * price.ln()).exp(),
            DemandKind::Linear => (self.a + self.b * price).max(0.0),
        }
    }

    fn check(&self) -> Result<()> {
        let c = self.cov;
        if !(self.a.is_finite() && self.b.is_finite()) || c.iter().flatten().any(|v| !v.is_finite()) {
            bail!("demand coefficients and covariance must be finite");
        }
        if c[0][0] < 0.0 || c[1][1] < 0.0 || c[0][1] * c[1][0] > c[0][0] * c[1][1] * (1.0 + 1e-9) {
            bail!("demand covariance must be positive semi-definite, got {c:?}");
        }
        Ok(())
    }
}

/// What to maximise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// (p − c)·q(p).
    #[default]
    Profit,
    /// p·q(p).
    Revenue,
}

/// How the interval for the optimal price is formed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalMethod {
    /// Delta method on the optimum (numerical gradient w.r.t. (a, b)); ± z·se.
    #[default]
    Delta,
    /// Parametric bootstrap: draw (a, b) from their normal approximation, re-optimise,
    /// take percentiles.
    Bootstrap,
}

/// Constrained price optimisation for one product or segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriceOptimizer {
    /// Cost per unit.
    pub unit_cost: f64,
    /// Lowest allowed price.
    pub min_price: Option<f64>,
    /// Highest allowed price.
    pub max_price: Option<f64>,
    /// Today's price (needed with `max_change`).
    pub current_price: Option<f64>,
    /// Largest relative move from `current_price` (0.1 = ±10 %).
    pub max_change: Option<f64>,
    /// Profit or revenue.
    pub objective: Objective,
    /// Interval for the optimum.
    pub interval: IntervalMethod,
    /// Bootstrap draws.
    pub n_boot: usize,
    /// Seed of the bootstrap draws.
    pub seed: u64,
    /// 1 − confidence level of the intervals.
    pub alpha: f64,
}

impl Default for PriceOptimizer {
    fn default() -> Self {
        PriceOptimizer {
            unit_cost: 0.0,
            min_price: None,
            max_price: None,
            current_price: None,
            max_change: None,
            objective: Objective::Profit,
            interval: IntervalMethod::Delta,
            n_boot: 1000,
            seed: 0,
            alpha: 0.05,
        }
    }
}

/// The optimum with its interval and expected outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceResult {
    /// Optimal price.
    pub price: f64,
    /// Lower end of its interval.
    pub lower: f64,
    /// Upper end of its interval.
    pub upper: f64,
    /// Expected demand at the optimum.
    pub demand: f64,
    /// Expected revenue.
    pub revenue: f64,
    /// Expected profit.
    pub profit: f64,
    /// Whether the optimum sits on a bound.
    pub at_bound: bool,
}

/// One point of a what-if curve, with `1 − alpha` bands for demand (and so revenue/profit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Price.
    pub price: f64,
    /// Expected demand.
    pub demand: f64,
    /// Lower band of demand.
    pub demand_lower: f64,
    /// Upper band of demand.
    pub demand_upper: f64,
    /// price · demand.
    pub revenue: f64,
    /// (price − cost) · demand.
    pub profit: f64,
}

impl PriceOptimizer {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        check_cost(self.unit_cost)?;
        bounds(self.min_price, self.max_price)?;
        if let Some(m) = self.max_change {
            if !(m.is_finite() && m > 0.0) {
                bail!("max_change must be positive, got {m}");
            }
            match self.current_price {
                Some(c) if c.is_finite() && c > 0.0 => {}
                _ => bail!("max_change needs a positive current_price"),
            }
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            bail!("alpha must lie in (0, 1), got {}", self.alpha);
        }
        if self.interval == IntervalMethod::Bootstrap && !(10..=1_000_000).contains(&self.n_boot) {
            bail!("n_boot must lie in 10..=1000000, got {}", self.n_boot);
        }
        Ok(())
    }

    /// The allowed price range after bounds and `max_change`.
    pub fn range(&self) -> Result<(f64, f64)> {
        let (mut lo, mut hi) = bounds(self.min_price, self.max_price)?;
        if let (Some(m), Some(c)) = (self.max_change, self.current_price) {
            lo = lo.max(c * (1.0 - m));
            hi = hi.min(c * (1.0 + m));
        }
        if lo > hi {
            bail!("no price satisfies both the bounds and max_change: [{lo}, {hi}]");
        }
        Ok((lo, hi))
    }

    /// The best price for coefficients (a, b) in [lo, hi]: closed forms, then clipping
    /// (profit and revenue are unimodal in price for both forms).
    fn argmax(&self, kind: DemandKind, a: f64, b: f64, lo: f64, hi: f64) -> Result<f64> {
        let c = match self.objective {
            Objective::Profit => self.unit_cost,
            Objective::Revenue => 0.0,
        };
        let unbounded = || {
            crate::Error::invalid(format!(
            "demand does not fall fast enough with price (coefficient {b}): the optimum is unbounded; give max_price"
        ))
        };
        let p = match kind {
            DemandKind::LogLog => {
                if b < -1.0 {
                    c * b / (1.0 + b)
                } else if hi.is_finite() {
                    hi
                } else {
                    return Err(unbounded());
                }
            }
            DemandKind::Linear => {
                if b < 0.0 {
                    (b * c - a) / (2.0 * b)
                } else if hi.is_finite() {
                    hi
                } else {
                    return Err(unbounded());
                }
            }
        };
        Ok(p.clamp(lo, hi))
    }

    /// Optimises the price for `demand`.
    pub fn optimize(&self, demand: &Demand) -> Result<PriceResult> {
        self.check()?;
        demand.check()?;
        let (lo, hi) = self.range()?;
        let price = self.argmax(demand.kind, demand.a, demand.b, lo, hi)?;
        let (lower, upper) = match self.interval {
            IntervalMethod::Delta => {
                let h = |v: f64| 1e-6 * v.abs().max(1e-3);
                let (ha, hb) = (h(demand.a), h(demand.b));
                let ga = (self.argmax(demand.kind, demand.a + ha, demand.b, lo, hi)?
                    - self.argmax(demand.kind, demand.a - ha, demand.b, lo, hi)?)
                    / (2.0 * ha);
                let gb = (self.argmax(demand.kind, demand.a, demand.b + hb, lo, hi)?
                    - self.argmax(demand.kind, demand.a, demand.b - hb, lo, hi)?)
                    / (2.0 * hb);
                let c = demand.cov;
                let var = ga * ga * c[0][0] + 2.0 * ga * gb * c[0][1] + gb * gb * c[1][1];
                let z = normal_critical(self.alpha);
                let se = var.max(0.0).sqrt();
                ((price - z * se).max(lo), (price + z * se).min(hi))
            }
            IntervalMethod::Bootstrap => {
                // Cholesky of the 2 × 2 covariance for correlated normal draws.
                let c = demand.cov;
                let l00 = c[0][0].sqrt();
                let l10 = if l00 > 0.0 { c[1][0] / l00 } else { 0.0 };
                let l11 = (c[1][1] - l10 * l10).max(0.0).sqrt();
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
                let mut draws = Vec::with_capacity(self.n_boot);
                for _ in 0..self.n_boot {
                    let z0: f64 = StandardNormal.sample(&mut rng);
                    let z1: f64 = StandardNormal.sample(&mut rng);
                    let (a, b) = (demand.a + l00 * z0, demand.b + l10 * z0 + l11 * z1);
                    // A draw with an unbounded optimum sits at the upper limit.
                    draws.push(self.argmax(demand.kind, a, b, lo, hi).unwrap_or(hi));
                }
                draws.sort_by(f64::total_cmp);
                let q = |f: f64| draws[((f * (draws.len() - 1) as f64).round() as usize).min(draws.len() - 1)];
                (q(self.alpha / 2.0), q(1.0 - self.alpha / 2.0))
            }
        };
        let q = demand.demand(price);
        Ok(PriceResult {
            price,
            lower,
            upper,
            demand: q,
            revenue: price * q,
            profit: (price - self.unit_cost) * q,
            at_bound: price <= lo || price >= hi,
        })
    }

    /// Demand, revenue and profit at each price, with `1 − alpha` bands for demand (delta
    /// method on the linear predictor).
    pub fn curve(&self, demand: &Demand, prices: &[f64]) -> Result<Vec<CurvePoint>> {
        check_cost(self.unit_cost)?;
        demand.check()?;
        let z = normal_critical(self.alpha);
        prices
            .iter()
            .map(|&p| {
                if !(p.is_finite() && p > 0.0) {
                    bail!("prices must be positive and finite, got {p}");
                }
                let x = match demand.kind {
                    DemandKind::LogLog => p.ln(),
                    DemandKind::Linear => p,
                };
                let c = demand.cov;
                let se = (c[0][0] + 2.0 * x * c[0][1] + x * x * c[1][1]).max(0.0).sqrt();
                let eta = demand.a + demand.b * x;
                let (q, lo, hi) = match demand.kind {
                    DemandKind::LogLog => (eta.exp(), (eta - z * se).exp(), (eta + z * se).exp()),
                    DemandKind::Linear => (eta.max(0.0), (eta - z * se).max(0.0), (eta + z * se).max(0.0)),
                };
                Ok(CurvePoint {
                    price: p,
                    demand: q,
                    demand_lower: lo,
                    demand_upper: hi,
                    revenue: p * q,
                    profit: (p - self.unit_cost) * q,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_elasticity_optimum() {
        assert!((optimal_price(-2.0, 5.0, None, None).unwrap() - 10.0).abs() < 1e-12);
        assert_eq!(optimal_price(-2.0, 5.0, None, Some(8.0)).unwrap(), 8.0);
        assert_eq!(optimal_price(-2.0, 5.0, Some(12.0), None).unwrap(), 12.0);
        assert_eq!(optimal_price(-0.8, 5.0, None, Some(9.0)).unwrap(), 9.0);
        assert!(optimal_price(-1.0, 5.0, None, None).is_err());
        assert!(optimal_price(-2.0, -1.0, None, None).is_err());
        assert!(optimal_price(-2.0, 1.0, Some(5.0), Some(4.0)).is_err());
    }

    #[test]
    fn optimizer_matches_brute_force_and_intervals_cover() {
        for kind in [DemandKind::LogLog, DemandKind::Linear] {
            let d = match kind {
                DemandKind::LogLog => Demand { kind, a: 9.0, b: -2.5, cov: [[0.02, -0.004], [-0.004, 0.01]] },
                DemandKind::Linear => Demand { kind, a: 100.0, b: -4.0, cov: [[4.0, -0.1], [-0.1, 0.04]] },
            };
            for objective in [Objective::Profit, Objective::Revenue] {
                let opt = PriceOptimizer {
                    unit_cost: 6.0,
                    min_price: Some(1.0),
                    max_price: Some(30.0),
                    objective,
                    ..Default::default()
                };
                let r = opt.optimize(&d).unwrap();
                let f = |p: f64| {
                    let q = d.demand(p);
                    if objective == Objective::Profit {
                        (p - 6.0) * q
                    } else {
                        p * q
                    }
                };
                let best = (0..=29_000).map(|i| 1.0 + i as f64 * 1e-3).max_by(|a, b| f(*a).total_cmp(&f(*b))).unwrap();
                assert!((r.price - best).abs() < 2e-3, "{kind:?} {objective:?}: {} vs {best}", r.price);
                assert!(r.lower <= r.price && r.price <= r.upper);
                let boot = PriceOptimizer { interval: IntervalMethod::Bootstrap, seed: 3, ..opt.clone() };
                let b1 = boot.optimize(&d).unwrap();
                assert_eq!(b1, boot.optimize(&d).unwrap(), "seeded");
                assert!(b1.lower <= r.price && r.price <= b1.upper);
            }
        }
    }

    #[test]
    fn max_change_and_curve() {
        let d = Demand { kind: DemandKind::LogLog, a: 9.0, b: -3.0, cov: [[0.01, 0.0], [0.0, 0.01]] };
        let opt =
            PriceOptimizer { unit_cost: 10.0, current_price: Some(10.0), max_change: Some(0.2), ..Default::default() };
        let r = opt.optimize(&d).unwrap();
        assert!((r.price - 12.0).abs() < 1e-12 && r.at_bound);
        assert!(PriceOptimizer { max_change: Some(0.2), ..Default::default() }.optimize(&d).is_err());
        let pts = opt.curve(&d, &[5.0, 10.0, 15.0]).unwrap();
        assert!(pts.iter().all(|p| p.demand_lower < p.demand && p.demand < p.demand_upper));
        assert!(pts[0].demand > pts[2].demand);
        assert!(opt.curve(&d, &[-1.0]).is_err());
    }
}

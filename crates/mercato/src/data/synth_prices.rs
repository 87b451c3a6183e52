//! A weekly price and sales history for the synthetic marketplace's catalogue, with known
//! true price elasticities per category: the data a pricing analyst fits a log-log demand
//! model on, with the answer known.
//!
//! Each product sells `q = exp(level + ε_cat · ln(p / list) + 0.3 · promo + season + noise)`
//! units a week, where `level` is the product's own (log-normal across the catalogue), the
//! price `p` varies around the list price (±25 %, the price tests a shop runs), promotions
//! run in ~15 % of weeks, `season = 0.2 · sin(2π · week / 52)` and the noise is normal with
//! standard deviation 0.15.
//!
//! ```
//! use mercato::data::synth::{Marketplace, MarketplaceConfig};
//! use mercato::data::synth_prices::price_history;
//!
//! let market = Marketplace::generate(MarketplaceConfig { n_users: 20, n_products: 30, ..Default::default() });
//! let history = price_history(&market.products, 52, 7);
//! assert_eq!(history.rows.len(), 30 * 52);
//! assert!(history.elasticities.iter().all(|(_, e)| *e < -1.0)); // elastic: an optimum exists
//! ```

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::synth::Product;

/// One product-week.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceWeek {
    /// Index into the product list the history was made from.
    pub product: usize,
    /// Week number from 0.
    pub week: usize,
    /// The price charged that week.
    pub price: f64,
    /// Whether a promotion ran.
    pub promo: bool,
    /// Units sold (expected demand times noise; not rounded, so log is defined).
    pub units: f64,
}

/// A generated history with the elasticities it was drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceHistory {
    /// One row per product and week, product-major.
    pub rows: Vec<PriceWeek>,
    /// The true elasticity of each category, sorted by category name.
    pub elasticities: Vec<(String, f64)>,
    /// The promotion lift on log demand.
    pub promo_lift: f64,
}

impl PriceHistory {
    /// The true elasticity of `category` (None for a category not in the history).
    pub fn elasticity(&self, category: &str) -> Option<f64> {
        self.elasticities.iter().find(|(c, _)| c == category).map(|(_, e)| *e)
    }
}

/// `weeks` of prices and sales for every product; the same inputs give the same history.
/// Category elasticities run from −1.4 to −3.5 in category-name order (books and groceries
/// are not singled out: the point is to recover whatever was drawn).
pub fn price_history(products: &[Product], weeks: usize, seed: u64) -> PriceHistory {
    let mut categories: Vec<String> = products.iter().map(|p| p.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let elasticities: Vec<(String, f64)> = categories
        .iter()
        .enumerate()
        .map(|(k, c)| (c.clone(), -1.4 - 2.1 * k as f64 / (categories.len().max(2) - 1) as f64))
        .collect();
    let promo_lift = 0.3;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let noise = Normal::new(0.0, 0.15).expect("a positive standard deviation");
    let level = Normal::new(3.0, 0.8).expect("a positive standard deviation");
    let mut rows = Vec::with_capacity(products.len() * weeks);
    for (i, p) in products.iter().enumerate() {
        let e = elasticities.iter().find(|(c, _)| *c == p.category).map_or(-2.0, |(_, e)| *e);
        let base = level.sample(&mut rng);
        for week in 0..weeks {
            let factor: f64 = rng.random_range(0.75..1.25);
            let promo = rng.random::<f64>() < 0.15;
            let season = 0.2 * (2.0 * std::f64::consts::PI * week as f64 / 52.0).sin();
            let log_q = base + e * factor.ln() + promo_lift * f64::from(u8::from(promo)) + season;
            rows.push(PriceWeek {
                product: i,
                week,
                price: p.price * factor,
                promo,
                units: (log_q + noise.sample(&mut rng)).exp(),
            });
        }
    }
    PriceHistory { rows, elasticities, promo_lift }
}

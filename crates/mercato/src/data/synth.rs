//! A generated marketplace: the bundled default data of `mercato demo` and the examples.
//!
//! Users and products share latent "taste" vectors grouped by product category; explicit
//! ratings and implicit view/purchase events are drawn from the affinity between them, and
//! card transactions are drawn from each user's habits with three injected fraud patterns.
//! Everything is deterministic for a seed. `datasets/README.md` documents the process and
//! which signals the fraud labels depend on.
//!
//! ```
//! use mercato::data::synth::{Marketplace, Scale};
//! let m = Marketplace::generate(Scale::Small.config(7));
//! assert!(m.ratings.len() > 10_000);
//! let (x, y, names) = m.transaction_features();
//! assert_eq!(x.ncols(), names.len());
//! assert!(y.iter().any(|&l| l == 1));
//! ```

#[cfg(feature = "datasets")]
use std::path::Path;

use ndarray::Array2;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Normal, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::synth_images::{product_picture, SampleImage};
use super::{DuplicatePolicy, IdMap, Interactions};
#[cfg(feature = "datasets")]
use crate::ensure;
use crate::{Error, Result};

const LATENT: usize = 8;

/// The Fashion-MNIST silhouette class each category's products are drawn as in
/// [`Marketplace::generate_with_pictures`] (index = category in [`CATEGORY_NAMES`] order):
/// a stand-in shape, one distinct class per category.
pub const PICTURE_CLASS: [usize; 8] = [8, 4, 0, 1, 7, 3, 2, 5];
/// Category names, in the order [`PICTURE_CLASS`] follows.
pub const CATEGORY_NAMES: [&str; 8] = {
    let mut names = [""; 8];
    let mut i = 0;
    while i < names.len() {
        names[i] = CATEGORIES[i].0;
        i += 1;
    }
    names
};
/// The purpose of the picture streams ([`crate::rng::stream`]), apart from the marketplace's own.
const PICTURE_SALT: u64 = 0x7069_6374_7572_6573;

/// The index in [`CATEGORY_NAMES`] (and [`PICTURE_CLASS`]) of a product category's name.
pub fn category_index(name: &str) -> Option<usize> {
    CATEGORY_NAMES.iter().position(|c| *c == name)
}

/// Product categories with the nouns their products are named after.
const CATEGORIES: [(&str, [&str; 6]); 8] = [
    ("Electronics", ["Wireless Earbuds", "Smart Watch", "USB-C Charger", "Bluetooth Speaker", "E-Reader", "Webcam"]),
    ("Home", ["Desk Lamp", "Throw Blanket", "Coffee Grinder", "Plant Pot", "Wall Clock", "Storage Box"]),
    ("Fashion", ["Denim Jacket", "Leather Belt", "Running Shoes", "Wool Scarf", "Sunglasses", "Canvas Tote"]),
    ("Books", ["Cookbook", "Thriller Novel", "Travel Guide", "Poetry Collection", "Sci-Fi Saga", "Biography"]),
    ("Sports", ["Yoga Mat", "Water Bottle", "Resistance Bands", "Cycling Gloves", "Tennis Racket", "Dumbbells"]),
    ("Beauty", ["Face Serum", "Lip Balm", "Hair Dryer", "Perfume", "Hand Cream", "Nail Kit"]),
    ("Toys", ["Puzzle Box", "Building Blocks", "Plush Bear", "Kite", "Board Game", "RC Car"]),
    ("Grocery", ["Green Tea", "Olive Oil", "Dark Chocolate", "Espresso Beans", "Honey Jar", "Spice Set"]),
];
const BRANDS: [&str; 12] = [
    "Aurora", "Nimbus", "Atlas", "Vertex", "Juniper", "Solace", "Kestrel", "Marlow", "Onyx", "Pavo", "Quill", "Tundra",
];
/// Merchant categories of card transactions (index = code in the data).
pub const MERCHANT_CATEGORIES: [&str; 8] =
    ["grocery", "restaurants", "fuel", "online retail", "electronics", "travel", "digital goods", "pharmacy"];

/// Size presets for [`MarketplaceConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// ~600 users, 400 products, ~25k ratings, 20k transactions: the bundled files (a few MB).
    Small,
    /// ~20k users, 5k products, ~800k ratings, 300k transactions.
    Medium,
    /// ~200k users, 20k products, ~8M ratings, 3M transactions.
    Large,
}

impl Scale {
    /// Parses `small`, `medium` or `large`.
    pub fn parse(s: &str) -> Result<Scale> {
        match s {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "large" => Ok(Scale::Large),
            other => Err(Error::invalid(format!("scale must be small, medium or large, got {other:?}"))),
        }
    }

    /// The preset configuration with `seed`.
    pub fn config(self, seed: u64) -> MarketplaceConfig {
        let (n_users, n_products, n_transactions) = match self {
            Scale::Small => (600, 400, 20_000),
            Scale::Medium => (20_000, 5_000, 300_000),
            Scale::Large => (200_000, 20_000, 3_000_000),
        };
        MarketplaceConfig { seed, n_users, n_products, n_transactions, ..MarketplaceConfig::default() }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketplaceConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of users.
    pub n_users: usize,
    /// Number of products.
    pub n_products: usize,
    /// Mean number of rated products per user.
    pub ratings_per_user: f64,
    /// Mean number of viewed products per user.
    pub events_per_user: f64,
    /// Number of card transactions.
    pub n_transactions: usize,
    /// Fraction of transactions that are fraudulent.
    pub fraud_rate: f64,
}

impl Default for MarketplaceConfig {
    fn default() -> Self {
        MarketplaceConfig {
            seed: 42,
            n_users: 600,
            n_products: 400,
            ratings_per_user: 40.0,
            events_per_user: 60.0,
            n_transactions: 20_000,
            fraud_rate: 0.02,
        }
    }
}

/// A product of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id (`p0001`...).
    pub product: String,
    /// Display name.
    pub name: String,
    /// Category name.
    pub category: String,
    /// Price in currency units.
    pub price: f64,
}

/// An explicit rating.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// User id.
    pub user: u32,
    /// Product id.
    pub product: String,
    /// 1..=5 stars.
    pub rating: f32,
}

/// Implicit feedback of one user on one product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// User id.
    pub user: u32,
    /// Product id.
    pub product: String,
    /// Product page views.
    pub views: u32,
    /// Purchases.
    pub purchases: u32,
}

impl Event {
    /// The implicit-feedback weight used for training: views + 5 × purchases.
    pub fn weight(&self) -> f32 {
        self.views as f32 + 5.0 * self.purchases as f32
    }
}

/// A card transaction with its ground truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Transaction id.
    pub tx_id: u64,
    /// Card holder (user id).
    pub user: u32,
    /// Amount in currency units.
    pub amount: f64,
    /// Hour of day, 0..24.
    pub hour: f64,
    /// Index into [`MERCHANT_CATEGORIES`].
    pub merchant_category: u8,
    /// 1 when the merchant's country differs from the card's.
    pub country_mismatch: u8,
    /// Transactions on this card in the preceding hour.
    pub velocity_1h: u32,
    /// Days since the device was first seen on this account.
    pub device_age_days: f64,
    /// Distance from the card holder's home, km.
    pub distance_km: f64,
    /// Amount divided by the card holder's median amount.
    pub amount_ratio: f64,
    /// `normal`, `card_testing`, `account_takeover`, `unusual_amount_geo` or `friendly_fraud`.
    pub pattern: String,
    /// 1 = fraud.
    pub label: u8,
}

/// Names of the numeric transaction features, in [`Marketplace::transaction_features`] order.
pub const TRANSACTION_FEATURES: [&str; 8] = [
    "amount",
    "hour",
    "merchant_category",
    "country_mismatch",
    "velocity_1h",
    "device_age_days",
    "distance_km",
    "amount_ratio",
];

/// The whole generated marketplace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marketplace {
    /// Catalogue.
    pub products: Vec<Product>,
    /// Explicit ratings.
    pub ratings: Vec<Rating>,
    /// Implicit views and purchases.
    pub events: Vec<Event>,
    /// Card transactions.
    pub transactions: Vec<Transaction>,
}

fn normal(rng: &mut impl Rng, sd: f64) -> f64 {
    Normal::new(0.0, sd).map(|d| d.sample(rng)).unwrap_or(0.0)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Draws `k` distinct indices with probability ∝ `weights` (Efraimidis–Spirakis keys).
fn weighted_sample(rng: &mut impl Rng, weights: &[f64], k: usize) -> Vec<usize> {
    let mut keys: Vec<(f64, usize)> =
        weights.iter().enumerate().map(|(i, &w)| (rng.random::<f64>().ln() / w.max(1e-12), i)).collect();
    let k = k.min(keys.len());
    keys.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
    let mut chosen: Vec<usize> = keys[..k].iter().map(|&(_, i)| i).collect();
    chosen.sort_unstable();
    chosen
}

impl Marketplace {
    /// Generates a marketplace; the same config always gives the same data.
    pub fn generate(config: MarketplaceConfig) -> Marketplace {
        Self::generate_with_departures(config).0
    }

    /// Generates the marketplace of [`generate`](Self::generate) (the same data) and one
    /// picture per product, in catalogue order, for cold-start experiments: a product's
    /// picture shows its category (a stand-in silhouette per category, see
    /// [`PICTURE_CLASS`]) and its look (brightness, stripes, size) follows three of the
    /// hidden taste dimensions along which it departs from its category, the part of a
    /// shopper's preference the category alone cannot tell. A model that sees the picture
    /// can learn that look; one that sees only the category cannot.
    ///
    /// ```
    /// use mercato::data::synth::{Marketplace, Scale};
    /// let config = Scale::Small.config(7);
    /// let (m, pictures) = Marketplace::generate_with_pictures(config.clone());
    /// assert_eq!(m, Marketplace::generate(config));
    /// assert_eq!(pictures.len(), m.products.len());
    /// ```
    pub fn generate_with_pictures(config: MarketplaceConfig) -> (Marketplace, Vec<SampleImage>) {
        let seed = config.seed;
        let (market, departures) = Self::generate_with_departures(config);
        let pictures = market
            .products
            .iter()
            .zip(&departures)
            .enumerate()
            .map(|(p, (product, departure))| {
                let cat = category_index(&product.category).unwrap_or(0);
                // Departures from the centroid have standard deviation 0.6; tanh keeps
                // the look in [-1, 1] and roughly linear over most products.
                let look = [0, 1, 2].map(|d| (departure[d] / 0.6).tanh());
                product_picture(PICTURE_CLASS[cat], look, crate::rng::stream(seed, PICTURE_SALT, p as u64).random())
            })
            .collect();
        (market, pictures)
    }

    /// The marketplace and each product's hidden departure from its category centroid (its
    /// taste vector minus the centroid), kept for its picture.
    fn generate_with_departures(config: MarketplaceConfig) -> (Marketplace, Vec<Vec<f64>>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let centroids: Vec<Vec<f64>> =
            (0..CATEGORIES.len()).map(|_| (0..LATENT).map(|_| normal(&mut rng, 1.0)).collect()).collect();

        // Products: category centroid + noise; popularity is log-normal (a long tail).
        let mut products = Vec::with_capacity(config.n_products);
        let mut departures = Vec::with_capacity(config.n_products);
        let mut item_vecs = Vec::with_capacity(config.n_products);
        let (mut item_bias, mut popularity) = (Vec::new(), Vec::new());
        for p in 0..config.n_products {
            let cat = rng.random_range(0..CATEGORIES.len());
            let (cat_name, nouns) = CATEGORIES[cat];
            let noun = nouns[rng.random_range(0..nouns.len())];
            let brand = BRANDS[rng.random_range(0..BRANDS.len())];
            let price =
                (LogNormal::new(3.2 + 0.25 * cat as f64 % 1.0, 0.7).map(|d| d.sample(&mut rng)).unwrap_or(25.0)
                    * 100.0)
                    .round()
                    / 100.0;
            products.push(Product {
                product: format!("p{p:05}"),
                name: format!("{brand} {noun} {}", (b'A' + (p % 26) as u8) as char),
                category: cat_name.to_string(),
                price,
            });
            let departure: Vec<f64> = (0..LATENT).map(|_| normal(&mut rng, 0.6)).collect();
            item_vecs.push(centroids[cat].iter().zip(&departure).map(|(c, d)| c + d).collect::<Vec<f64>>());
            departures.push(departure);
            item_bias.push(normal(&mut rng, 0.35));
            popularity.push(normal(&mut rng, 1.0).exp());
        }

        // Users: a blend of two favourite categories; activity is log-normal.
        let mut ratings = Vec::new();
        let mut events = Vec::new();
        let mut user_scale = Vec::with_capacity(config.n_users);
        for u in 0..config.n_users as u32 {
            let (a, b) = (rng.random_range(0..CATEGORIES.len()), rng.random_range(0..CATEGORIES.len()));
            let w = rng.random_range(0.5..1.0);
            let taste: Vec<f64> = (0..LATENT)
                .map(|d| w * centroids[a][d] + (1.0 - w) * centroids[b][d] + normal(&mut rng, 0.5))
                .collect();
            let bias = normal(&mut rng, 0.3);
            let activity = normal(&mut rng, 0.5).exp();
            let affinity: Vec<f64> = item_vecs.iter().map(|v| dot(&taste, v) / LATENT as f64).collect();

            let n_rated = ((config.ratings_per_user * activity) as usize).clamp(5, config.n_products / 2);
            let weights: Vec<f64> = popularity.iter().zip(&affinity).map(|(p, a)| p * (1.5 * a).exp()).collect();
            for i in weighted_sample(&mut rng, &weights, n_rated) {
                let r = 3.3 + bias + item_bias[i] + 1.1 * affinity[i] + normal(&mut rng, 0.55);
                ratings.push(Rating {
                    user: u,
                    product: products[i].product.clone(),
                    rating: r.round().clamp(1.0, 5.0) as f32,
                });
            }

            let n_viewed = ((config.events_per_user * activity) as usize).clamp(3, config.n_products / 2);
            let weights: Vec<f64> = popularity.iter().zip(&affinity).map(|(p, a)| p * (2.0 * a).exp()).collect();
            for i in weighted_sample(&mut rng, &weights, n_viewed) {
                let interest = 1.0 / (1.0 + (-2.0 * affinity[i]).exp());
                let views = 1 + Poisson::new(3.0 * interest).map(|d| d.sample(&mut rng) as u32).unwrap_or(0);
                let purchases = u32::from(rng.random::<f64>() < 0.35 * interest * interest);
                events.push(Event { user: u, product: products[i].product.clone(), views, purchases });
            }
            user_scale.push(LogNormal::new(3.4, 0.5).map(|d| d.sample(&mut rng)).unwrap_or(30.0));
        }

        let transactions = generate_transactions(&mut rng, &config, &user_scale);
        (Marketplace { products, ratings, events, transactions }, departures)
    }

    /// Explicit ratings as [`Interactions`] (users are integer ids, products string ids).
    pub fn rating_interactions(&self) -> Result<Interactions> {
        Interactions::from_triples(
            self.ratings.iter().map(|r| (r.user, r.product.as_str(), r.rating)),
            DuplicatePolicy::Error,
        )
    }

    /// Implicit events as [`Interactions`] with weight views + 5 × purchases.
    pub fn event_interactions(&self) -> Result<Interactions> {
        Interactions::from_triples(
            self.events.iter().map(|e| (e.user, e.product.as_str(), e.weight())),
            DuplicatePolicy::Sum,
        )
    }

    /// Product id → index map in catalogue order, with display names.
    pub fn product_names(&self) -> (IdMap, Vec<String>) {
        let ids = self.products.iter().map(|p| p.product.as_str().into()).collect::<Vec<_>>();
        (IdMap::from(ids), self.products.iter().map(|p| p.name.clone()).collect())
    }

    /// Numeric transaction features ([`TRANSACTION_FEATURES`]), labels, and feature names.
    pub fn transaction_features(&self) -> (Array2<f64>, Vec<u8>, Vec<String>) {
        let mut x = Array2::zeros((self.transactions.len(), TRANSACTION_FEATURES.len()));
        for (row, t) in x.rows_mut().into_iter().zip(&self.transactions) {
            let values = [
                t.amount,
                t.hour,
                t.merchant_category as f64,
                t.country_mismatch as f64,
                t.velocity_1h as f64,
                t.device_age_days,
                t.distance_km,
                t.amount_ratio,
            ];
            for (slot, v) in row.into_iter().zip(values) {
                *slot = v;
            }
        }
        let labels = self.transactions.iter().map(|t| t.label).collect();
        (x, labels, TRANSACTION_FEATURES.iter().map(|s| s.to_string()).collect())
    }

    /// Writes `products.csv`, `ratings.csv`, `events.csv`, `transactions.csv` into `dir`
    /// (feature `datasets`, on by default).
    #[cfg(feature = "datasets")]
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_csv(&dir.join("products.csv"), &self.products)?;
        write_csv(&dir.join("ratings.csv"), &self.ratings)?;
        write_csv(&dir.join("events.csv"), &self.events)?;
        write_csv(&dir.join("transactions.csv"), &self.transactions)
    }

    /// Reads the four files written by [`Marketplace::write`] (feature `datasets`).
    #[cfg(feature = "datasets")]
    pub fn read(dir: impl AsRef<Path>) -> Result<Marketplace> {
        let dir = dir.as_ref();
        let m = Marketplace {
            products: read_csv(&dir.join("products.csv"))?,
            ratings: read_csv(&dir.join("ratings.csv"))?,
            events: read_csv(&dir.join("events.csv"))?,
            transactions: read_csv(&dir.join("transactions.csv"))?,
        };
        ensure!(!m.products.is_empty() && !m.ratings.is_empty(), "marketplace at {} is empty", dir.display());
        Ok(m)
    }
}

/// Per-card-holder habits that both legitimate and fraudulent transactions are drawn around.
struct Holders {
    /// Typical amount (log-normal, median ≈ 30).
    scale: Vec<f64>,
    /// Age in days of the holder's usual device.
    home_device: Vec<f64>,
    /// Three usual merchant categories (grocery always; a second and third at random, so
    /// some holders buy digital goods every week and tiny charges there are normal for them).
    favourite_mcc: Vec<[u8; 3]>,
}

fn round_to(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn day_hour(rng: &mut impl Rng) -> f64 {
    (15.0 + normal(rng, 4.5)).rem_euclid(24.0)
}

fn exp_mean(rng: &mut impl Rng, mean: f64) -> f64 {
    Exp::<f64>::new(1.0 / mean).map(|d| d.sample(rng)).unwrap_or(mean)
}

/// A legitimate transaction of holder `u`, including the rare-but-normal events that make
/// fraud hard to separate: big-ticket purchases, travel, cross-border online shops, shopping
/// sprees (high velocity) and a new phone (new device).
fn legitimate(rng: &mut impl Rng, h: &Holders, u: usize, tx_id: u64, pattern: &str, label: u8) -> Transaction {
    let scale = h.scale[u];
    let (amount, merchant_category) = if rng.random::<f64>() < 0.03 {
        (scale * rng.random_range(3.0..12.0), [4u8, 5].choose(rng).copied().unwrap_or(4))
    } else {
        (
            scale * LogNormal::new(0.0, 0.7).map(|d| d.sample(rng)).unwrap_or(1.0),
            *h.favourite_mcc[u].choose(rng).unwrap_or(&0),
        )
    };
    let travelling = rng.random::<f64>() < 0.04;
    let online_abroad = !travelling && rng.random::<f64>() < 0.03;
    let velocity_1h = if rng.random::<f64>() < 0.03 {
        rng.random_range(2..8)
    } else {
        Poisson::new(0.5).map(|d| d.sample(rng) as u32).unwrap_or(0)
    };
    let device_age_days = if rng.random::<f64>() < 0.02 {
        rng.random_range(0.0..5.0)
    } else {
        h.home_device[u] + rng.random_range(0.0..30.0)
    };
    let distance_km = if travelling { rng.random_range(300.0..6000.0) } else { exp_mean(rng, 8.0) };
    Transaction {
        tx_id,
        user: u as u32,
        amount,
        hour: day_hour(rng),
        merchant_category,
        country_mismatch: u8::from(travelling || online_abroad),
        velocity_1h,
        device_age_days: device_age_days.round(),
        distance_km: distance_km.round(),
        amount_ratio: amount / scale,
        pattern: pattern.into(),
        label,
    }
}

fn generate_transactions(
    rng: &mut Xoshiro256PlusPlus,
    config: &MarketplaceConfig,
    user_scale: &[f64],
) -> Vec<Transaction> {
    let n_users = user_scale.len().max(1);
    let scale = if user_scale.is_empty() { vec![30.0] } else { user_scale.to_vec() };
    let home_device: Vec<f64> = (0..n_users).map(|_| rng.random_range(20.0..1500.0)).collect();
    let favourite_mcc: Vec<[u8; 3]> =
        (0..n_users).map(|_| [0, rng.random_range(1..6), rng.random_range(0..8)]).collect();
    let h = Holders { scale, home_device, favourite_mcc };
    let mut out = Vec::with_capacity(config.n_transactions);
    let mut tx_id = 1u64;
    while out.len() < config.n_transactions {
        let u = rng.random_range(0..n_users);
        let scale = h.scale[u];
        let fraud = rng.random::<f64>() < config.fraud_rate;
        if !fraud {
            out.push(legitimate(rng, &h, u, tx_id, "normal", 0));
            tx_id += 1;
            continue;
        }
        let pattern = rng.random::<f64>();
        if pattern < 0.25 {
            // Card testing: a burst of small charges at digital goods (or online retail). Each
            // charge alone looks like a holder who buys apps; the velocity grows along the burst,
            // so its first charges are barely visible.
            let burst = rng.random_range(3..7);
            let new_device = rng.random::<f64>() < 0.4;
            let hour = rng.random_range(0.0..24.0);
            let mismatch = u8::from(rng.random::<f64>() < 0.3);
            let merchant_category = if rng.random::<f64>() < 0.7 { 6 } else { 3 };
            for k in 0..burst {
                let amount = rng.random_range(0.5..5.0);
                let device_age_days = if new_device { rng.random_range(0.0..2.0) } else { h.home_device[u] };
                let velocity_1h = k / 2 + Poisson::new(1.0).map(|d| d.sample(rng) as u32).unwrap_or(0);
                out.push(Transaction {
                    tx_id,
                    user: u as u32,
                    amount,
                    hour: (hour + k as f64 * 0.05).rem_euclid(24.0),
                    merchant_category,
                    country_mismatch: mismatch,
                    velocity_1h,
                    device_age_days: device_age_days.round(),
                    distance_km: exp_mean(rng, 30.0).round(),
                    amount_ratio: amount / scale,
                    pattern: "card_testing".into(),
                    label: 1,
                });
                tx_id += 1;
            }
        } else if pattern < 0.62 {
            // Account takeover: the amount looks like the holder's own, but from a new device,
            // often abroad and at night.
            let amount = scale * LogNormal::new(0.3, 0.6).map(|d| d.sample(rng)).unwrap_or(1.3);
            let new_device = rng.random::<f64>() < 0.85;
            let mismatch = rng.random::<f64>() < 0.55;
            let hour = if rng.random::<f64>() < 0.5 { rng.random_range(0.0..6.0) } else { day_hour(rng) };
            out.push(Transaction {
                tx_id,
                user: u as u32,
                amount,
                hour,
                merchant_category: [3u8, 4, 6].choose(rng).copied().unwrap_or(3),
                country_mismatch: u8::from(mismatch),
                velocity_1h: Poisson::new(0.8).map(|d| d.sample(rng) as u32).unwrap_or(0),
                device_age_days: if new_device { rng.random_range(0.0..3.0f64) } else { h.home_device[u] }.round(),
                distance_km: if mismatch { rng.random_range(300.0..9000.0) } else { exp_mean(rng, 40.0) }.round(),
                amount_ratio: amount / scale,
                pattern: "account_takeover".into(),
                label: 1,
            });
            tx_id += 1;
        } else if pattern < 0.85 {
            // Unusual amount, sometimes far away, on the holder's own device: overlaps with
            // legitimate big-ticket purchases and travel.
            let amount = scale * rng.random_range(2.5..12.0);
            let far = rng.random::<f64>() < 0.5;
            out.push(Transaction {
                tx_id,
                user: u as u32,
                amount,
                hour: day_hour(rng),
                merchant_category: [4u8, 5].choose(rng).copied().unwrap_or(4),
                country_mismatch: u8::from(rng.random::<f64>() < 0.4),
                velocity_1h: Poisson::new(0.5).map(|d| d.sample(rng) as u32).unwrap_or(0),
                device_age_days: (h.home_device[u] + rng.random_range(0.0..30.0)).round(),
                distance_km: if far { rng.random_range(100.0..8000.0) } else { exp_mean(rng, 8.0) }.round(),
                amount_ratio: amount / scale,
                pattern: "unusual_amount_geo".into(),
                label: 1,
            });
            tx_id += 1;
        } else {
            // Friendly fraud (a disputed purchase the holder made): drawn exactly like a
            // legitimate transaction, so no detector can see it — the label noise of real data.
            out.push(legitimate(rng, &h, u, tx_id, "friendly_fraud", 1));
            tx_id += 1;
        }
    }
    out.truncate(config.n_transactions);
    for t in &mut out {
        t.amount = round_to(t.amount, 2).max(0.01);
        t.hour = round_to(t.hour, 1).rem_euclid(24.0);
        t.amount_ratio = round_to(t.amount / h.scale[t.user as usize], 3);
    }
    out
}

#[cfg(feature = "datasets")]
fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    for row in rows {
        w.serialize(row).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

#[cfg(feature = "datasets")]
fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    reader
        .deserialize()
        .map(|row| {
            row.map_err(|e| Error::Parse {
                path: path.display().to_string(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let a = Marketplace::generate(Scale::Small.config(3));
        let b = Marketplace::generate(Scale::Small.config(3));
        assert_eq!(a, b);
        assert_ne!(a, Marketplace::generate(Scale::Small.config(4)));
        assert_eq!(a.transactions.len(), 20_000);
        let fraud = a.transactions.iter().filter(|t| t.label == 1).count() as f64 / 20_000.0;
        assert!((0.02..0.08).contains(&fraud), "fraud share {fraud}");
        assert!(a.ratings.iter().all(|r| (1.0..=5.0).contains(&r.rating)));
        let x = a.rating_interactions().unwrap();
        assert_eq!(x.n_users(), 600);
        assert!(a.event_interactions().unwrap().nnz() > 10_000);
    }

    /// The fraud must be learnable but not trivial: detectors in the range they reach on real
    /// card data (ROC-AUC 0.8-0.97, average precision far from 1), the disguised pattern invisible.
    #[test]
    fn fraud_is_realistically_hard() {
        use crate::fraud::{AnyDetectorParams, Detector, EcodParams, IsolationForestParams};
        use crate::metrics::{average_precision, roc_auc};
        let m = Marketplace::generate(Scale::Small.config(42));
        let (x, y, _) = m.transaction_features();
        let mut aucs = Vec::new();
        let detectors: [AnyDetectorParams; 2] =
            [IsolationForestParams::default().seed(7).into(), EcodParams::default().into()];
        for params in detectors {
            let det = params.fit(&x.view()).unwrap();
            let s = det.decision_scores().unwrap();
            let (auc, ap) = (roc_auc(s, &y).unwrap(), average_precision(s, &y).unwrap());
            assert!((0.8..0.97).contains(&auc), "ROC-AUC {auc}");
            assert!(ap < 0.75, "AP {ap}");
            aucs.push(auc);

            // Friendly fraud is drawn like legitimate use: ranked no better than chance.
            let (mut sub_s, mut sub_y) = (Vec::new(), Vec::new());
            for (t, &v) in m.transactions.iter().zip(s) {
                if t.pattern == "friendly_fraud" || t.label == 0 {
                    sub_s.push(v);
                    sub_y.push(t.label);
                }
            }
            let auc_friendly = roc_auc(&sub_s, &sub_y).unwrap();
            assert!((0.3..0.7).contains(&auc_friendly), "friendly fraud ROC-AUC {auc_friendly}");
        }
        assert!((aucs[0] - aucs[1]).abs() > 0.005, "detectors should differ: {aucs:?}");
        for pattern in ["card_testing", "account_takeover", "unusual_amount_geo", "friendly_fraud"] {
            assert!(m.transactions.iter().any(|t| t.pattern == pattern), "{pattern} missing");
        }
    }

    /// `datasets/marketplace` is exactly what `mercato datasets generate --seed 42 --scale small` writes.
    #[test]
    #[cfg(feature = "datasets")]
    fn bundled_files_regenerate_byte_identical() {
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/marketplace");
        if !bundled.is_dir() {
            eprintln!("skipping: {} not found", bundled.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        Marketplace::generate(Scale::Small.config(42)).write(dir.path()).unwrap();
        for file in ["products.csv", "ratings.csv", "events.csv", "transactions.csv"] {
            let (a, b) = (std::fs::read(bundled.join(file)).unwrap(), std::fs::read(dir.path().join(file)).unwrap());
            assert!(a == b, "{file} differs from a fresh generation: regenerate datasets/marketplace");
        }
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn csv_round_trip() {
        let config = MarketplaceConfig { n_users: 30, n_products: 40, n_transactions: 200, ..Default::default() };
        let m = Marketplace::generate(config);
        let dir = tempfile::tempdir().unwrap();
        m.write(dir.path()).unwrap();
        let back = Marketplace::read(dir.path()).unwrap();
        assert_eq!(back.products, m.products);
        assert_eq!(back.ratings, m.ratings);
        assert_eq!(back.transactions.len(), m.transactions.len());
        std::fs::write(dir.path().join("ratings.csv"), "user,product,rating\n1,p00001,x\n").unwrap();
        let err = Marketplace::read(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
    }
}

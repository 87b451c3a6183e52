//! Synthetic shopping sessions with sequential structure, for next-item recommendation.
//!
//! Each user shops in a few sessions. A session picks a category (mostly one of the user's
//! two favourites), views two to four main products of it (compare), buys the last one
//! viewed, then views and sometimes buys its accessories in their fixed order (phone → case
//! → charger). What comes next therefore depends on the last events, not only on the user's
//! taste: a model of the order (SASRec, GRU4Rec) can predict it, an order-free one (ALS)
//! only knows the user's categories.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Size of the generated log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of users.
    pub n_users: usize,
    /// Number of categories.
    pub n_categories: usize,
    /// Main products per category.
    pub mains_per_category: usize,
    /// Accessories per main product.
    pub accessories_per_main: usize,
    /// Largest number of sessions per user (each user has 1..=this many).
    pub max_sessions: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            seed: 7,
            n_users: 2000,
            n_categories: 8,
            mains_per_category: 15,
            accessories_per_main: 3,
            max_sessions: 6,
        }
    }
}

/// One event of a session log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// User id.
    pub user: u32,
    /// Product id: `c2-m07` (a main product) or `c2-m07-a1` (its second accessory).
    pub item: String,
    /// Category name, `cat2`.
    pub category: String,
    /// `view`, `cart` or `purchase`.
    pub event: &'static str,
    /// Seconds since the start of the log.
    pub time: i64,
}

/// Generates the session log; the same config always gives the same events, ordered by user
/// then time.
///
/// ```
/// use mercato::data::synth_sessions::{sessions, SessionConfig};
/// let log = sessions(&SessionConfig { n_users: 5, ..Default::default() });
/// assert!(log.windows(2).all(|w| (w[0].user, w[0].time) < (w[1].user, w[1].time)));
/// assert!(log.iter().any(|e| e.event == "purchase"));
/// ```
pub fn sessions(config: &SessionConfig) -> Vec<SessionEvent> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let (n_cat, n_main) = (config.n_categories.max(1), config.mains_per_category.max(1));
    // Main products' popularity within a category: a Zipf-like long tail.
    let weights: Vec<f64> = (0..n_main).map(|m| 1.0 / (m as f64 + 1.0).powf(0.8)).collect();
    let total: f64 = weights.iter().sum();
    let pick_main = |rng: &mut Xoshiro256PlusPlus| {
        let mut x = rng.random::<f64>() * total;
        for (m, w) in weights.iter().enumerate() {
            if x < *w {
                return m;
            }
            x -= w;
        }
        n_main - 1
    };
    let mut out = Vec::new();
    for user in 0..config.n_users as u32 {
        let favourites = [rng.random_range(0..n_cat), rng.random_range(0..n_cat)];
        let mut time = rng.random_range(0..86_400i64);
        let n_sessions = rng.random_range(1..=config.max_sessions.max(1));
        for _ in 0..n_sessions {
            let cat =
                if rng.random_bool(0.8) { favourites[rng.random_range(0..2)] } else { rng.random_range(0..n_cat) };
            let mut push = |item: String, event: &'static str, time: &mut i64, rng: &mut Xoshiro256PlusPlus| {
                *time += rng.random_range(20..300);
                out.push(SessionEvent { user, item, category: format!("cat{cat}"), event, time: *time });
            };
            // Browse and compare: 2..=4 distinct main products.
            let mut viewed: Vec<usize> = Vec::new();
            let n_views = rng.random_range(2..=4).min(n_main);
            while viewed.len() < n_views {
                let m = pick_main(&mut rng);
                if !viewed.contains(&m) {
                    viewed.push(m);
                    push(format!("c{cat}-m{m:02}"), "view", &mut time, &mut rng);
                }
            }
            // Buy the last one compared, then its accessories in order, each less likely.
            let chosen = *viewed.last().expect("at least one view");
            if rng.random_bool(0.7) {
                push(format!("c{cat}-m{chosen:02}"), "purchase", &mut time, &mut rng);
                for a in 0..config.accessories_per_main {
                    if !rng.random_bool(0.85 - 0.2 * a as f64) {
                        break;
                    }
                    let item = format!("c{cat}-m{chosen:02}-a{a}");
                    push(item.clone(), "view", &mut time, &mut rng);
                    if rng.random_bool(0.4) {
                        push(item, "cart", &mut time, &mut rng);
                    }
                }
            }
            time += rng.random_range(86_400..7 * 86_400);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_structured() {
        let c = SessionConfig { n_users: 200, ..Default::default() };
        let a = sessions(&c);
        assert_eq!(a, sessions(&c));
        assert_ne!(a, sessions(&SessionConfig { seed: 8, ..c.clone() }));
        // After a purchase of a main product, the next event (same user) is mostly its
        // first accessory: the order carries the signal.
        let (mut after, mut first_acc) = (0, 0);
        for w in a.windows(2) {
            if w[0].user == w[1].user && w[0].event == "purchase" && !w[0].item.contains("-a") {
                after += 1;
                if w[1].item == format!("{}-a0", w[0].item) {
                    first_acc += 1;
                }
            }
        }
        assert!(after > 100 && first_acc as f64 > 0.7 * after as f64, "{first_acc}/{after}");
    }
}

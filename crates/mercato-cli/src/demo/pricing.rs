//! Demo step: price elasticities recovered from a year of weekly prices and sales, and the
//! profit-maximising price of each category with its interval.

use mercato::data::synth::Marketplace;
use mercato::data::synth_prices::{price_history, PriceHistory};
use mercato::pricing::{optimal_price, Demand, DemandKind, IntervalMethod, PriceOptimizer};
use mercato::regression::LinearRegressionParams;
use mercato::Result;
use ndarray::Array2;

use super::{timed, Step};
use crate::report::{self, Report};

/// Unit cost as a share of the list price (a 45 % gross margin at list).
const COST_SHARE: f64 = 0.55;
/// Prices may move between half and twice the list price.
const PRICE_RANGE: (f64, f64) = (0.5, 2.0);
const WEEKS: usize = 52;

/// One category's fit and optimum, on the price index (1 = list price).
struct CategoryPricing {
    category: String,
    true_elasticity: f64,
    elasticity: f64,
    se: f64,
    demand: Demand,
    price: f64,
    lower: f64,
    upper: f64,
    true_price: f64,
}

/// Fits `ln q = a + ε·ln(p / list) + promo + season + product effects` per category (the
/// product dummies absorb each product's own sales level), then optimises the price index.
fn fit_category(history: &PriceHistory, market: &Marketplace, category: &str) -> Result<CategoryPricing> {
    let rows: Vec<_> = history.rows.iter().filter(|r| market.products[r.product].category == category).collect();
    let mut products: Vec<usize> = rows.iter().map(|r| r.product).collect();
    products.sort_unstable();
    products.dedup();
    // columns: ln(price index), promo, sin, cos, then one dummy per product but the first
    let k = 4 + products.len() - 1;
    let mut x = Array2::<f64>::zeros((rows.len(), k));
    let mut y = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let angle = 2.0 * std::f64::consts::PI * r.week as f64 / 52.0;
        x[[i, 0]] = (r.price / market.products[r.product].price).ln();
        x[[i, 1]] = f64::from(u8::from(r.promo));
        x[[i, 2]] = angle.sin();
        x[[i, 3]] = angle.cos();
        if let Ok(pos) = products.binary_search(&r.product) {
            if pos > 0 {
                x[[i, 3 + pos]] = 1.0;
            }
        }
        y.push(r.units.ln());
    }
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None)?;
    let (params, cov) = (fit.params(), fit.cov_params()?);
    // the first product's demand in a week without promotion, season averaged out
    let demand = Demand {
        kind: DemandKind::LogLog,
        a: params[0],
        b: params[1],
        cov: [[cov[[0, 0]], cov[[0, 1]]], [cov[[1, 0]], cov[[1, 1]]]],
    };
    let optimizer = PriceOptimizer {
        unit_cost: COST_SHARE,
        min_price: Some(PRICE_RANGE.0),
        max_price: Some(PRICE_RANGE.1),
        interval: IntervalMethod::Delta,
        ..Default::default()
    };
    let best = optimizer.optimize(&demand)?;
    let true_elasticity = history.elasticity(category).unwrap_or(f64::NAN);
    Ok(CategoryPricing {
        category: category.to_string(),
        true_elasticity,
        elasticity: params[1],
        se: cov[[1, 1]].sqrt(),
        demand,
        price: best.price,
        lower: best.lower,
        upper: best.upper,
        true_price: optimal_price(true_elasticity, COST_SHARE, Some(PRICE_RANGE.0), Some(PRICE_RANGE.1))?,
    })
}

/// Runs the pricing step on the marketplace's catalogue.
pub fn run(market: &Marketplace, report: &mut Report) -> Result<()> {
    let _s = Step::start(&format!(
        "Pricing: elasticities from {WEEKS} weeks of prices and sales of {} products",
        market.products.len()
    ));
    let history = price_history(&market.products, WEEKS, 42);
    let (fits, seconds) = timed(|| {
        history.elasticities.iter().map(|(c, _)| fit_category(&history, market, c)).collect::<Result<Vec<_>>>()
    })?;
    println!(
        "   {} product-weeks, one log-log regression per category with product effects ({seconds:.3} s)",
        history.rows.len()
    );
    println!("   unit cost {COST_SHARE} x list price; prices allowed in [{}, {}] x list", PRICE_RANGE.0, PRICE_RANGE.1);
    println!(
        "   {:<12} {:>8} {:>16} {:>10} {:>18} {:>10}",
        "category", "true e", "fitted e (se)", "true best", "best price (95%)", "error"
    );
    let mut rows = Vec::new();
    for f in &fits {
        let fitted = format!("{:.3} ({:.3})", f.elasticity, f.se);
        let best = format!("{:.3} [{:.3}, {:.3}]", f.price, f.lower, f.upper);
        let error = format!("{:+.1}%", 100.0 * (f.price / f.true_price - 1.0));
        println!(
            "   {:<12} {:>8.2} {:>16} {:>10.3} {:>18} {:>10}",
            f.category, f.true_elasticity, fitted, f.true_price, best, error
        );
        rows.push(vec![
            f.category.clone(),
            format!("{:.2}", f.true_elasticity),
            fitted,
            format!("{:.3}", f.true_price),
            best,
            error,
        ]);
    }
    report.section(
        "Pricing: elasticities and optimal prices",
        &format!(
            "{} product-weeks of generated prices and sales (true elasticities known, promotions, \
             seasonality, noise). One log-log demand regression per category with product effects \
             recovers the elasticity; the profit-maximising price (unit cost {COST_SHARE} × list, \
             prices within [{}, {}] × list) follows with a delta-method 95% interval. Prices are \
             price indices: 1 is the list price.",
            history.rows.len(),
            PRICE_RANGE.0,
            PRICE_RANGE.1
        ),
    );
    report.table(
        &["category", "true elasticity", "fitted (se)", "true optimal price", "optimal price [95%]", "error"],
        &rows,
    );
    let grid: Vec<f64> = (0..=60).map(|i| PRICE_RANGE.0 + (PRICE_RANGE.1 - PRICE_RANGE.0) * i as f64 / 60.0).collect();
    let curves: Vec<(&str, Vec<(f64, f64)>)> = fits
        .iter()
        .map(|f| {
            let profit: Vec<f64> = grid.iter().map(|&p| (p - COST_SHARE) * f.demand.demand(p)).collect();
            // each category relative to its own best, so one chart holds them all
            let best = profit.iter().copied().fold(f64::MIN, f64::max).max(f64::MIN_POSITIVE);
            (f.category.as_str(), grid.iter().zip(&profit).map(|(&p, &v)| (p, v / best)).collect())
        })
        .collect();
    report.charts(&[report::lines(
        "Expected profit per price, relative to each category's best (fitted demand)",
        "price / list price",
        "profit / best profit",
        &curves,
        false,
    )]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use mercato::data::synth::MarketplaceConfig;

    use super::*;

    #[test]
    fn recovers_the_drawn_elasticities_and_their_optima() {
        let market = Marketplace::generate(MarketplaceConfig { n_users: 10, n_products: 60, ..Default::default() });
        let history = price_history(&market.products, WEEKS, 3);
        for (category, truth) in &history.elasticities {
            let f = fit_category(&history, &market, category).unwrap();
            assert!((f.elasticity - truth).abs() < 5.0 * f.se, "{category}: {} vs {truth} (se {})", f.elasticity, f.se);
            assert!(f.lower <= f.price && f.price <= f.upper);
            assert!((f.price / f.true_price - 1.0).abs() < 0.15, "{category}: {} vs {}", f.price, f.true_price);
        }
    }
}

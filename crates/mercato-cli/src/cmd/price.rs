//! `mercato price`: the constant-elasticity optimal price, `c·ε/(1 + ε)` within bounds.

use clap::Args;
use serde_json::json;

use crate::exit::{CliError, CliResult};
use crate::output::{emit, num};

/// Arguments of `mercato price`.
#[derive(Args, Debug)]
pub struct PriceArgs {
    /// Price elasticity of demand ε (the log-price coefficient of a log-log demand model).
    #[arg(long, allow_hyphen_values = true)]
    pub elasticity: f64,
    /// Cost per unit.
    #[arg(long)]
    pub unit_cost: f64,
    /// Lowest allowed price.
    #[arg(long)]
    pub min_price: Option<f64>,
    /// Highest allowed price (required when demand is inelastic, ε ≥ −1).
    #[arg(long)]
    pub max_price: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mercato price`. Rejected inputs are usage errors (exit 2): they are flags.
pub fn run(a: PriceArgs) -> CliResult {
    let price = mercato::pricing::optimal_price(a.elasticity, a.unit_cost, a.min_price, a.max_price).map_err(|e| {
        CliError::usage(match e {
            mercato::Error::InvalidInput(m) => m,
            other => other.to_string(),
        })
    })?;
    let margin = if price > 0.0 { (price - a.unit_cost) / price } else { f64::NAN };
    let value = json!({
        "elasticity": num(a.elasticity),
        "unit_cost": num(a.unit_cost),
        "price": num(price),
        "margin": num(margin),
    });
    emit(a.json, &value, || println!("optimal price {price:.4} (margin {:.1}%)", margin * 100.0));
    Ok(())
}

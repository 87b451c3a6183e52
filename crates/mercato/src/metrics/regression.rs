use crate::{ensure, Error, Result};

fn check(y_true: &[f64], y_pred: &[f64]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::shape(format!("{} predictions", y_true.len()), y_pred.len()));
    }
    ensure!(!y_true.is_empty(), "cannot score an empty set of predictions");
    crate::error::ensure_finite("y_true", y_true)?;
    crate::error::ensure_finite("y_pred", y_pred)
}

/// Root mean squared error.
///
/// ```
/// assert_eq!(mercato::metrics::rmse(&[1.0, 3.0], &[2.0, 2.0]).unwrap(), 1.0);
/// ```
pub fn rmse(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check(y_true, y_pred)?;
    let sse: f64 = y_true.iter().zip(y_pred).map(|(t, p)| (t - p) * (t - p)).sum();
    Ok((sse / y_true.len() as f64).sqrt())
}

/// Mean absolute error.
pub fn mae(y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
    check(y_true, y_pred)?;
    let sae: f64 = y_true.iter().zip(y_pred).map(|(t, p)| (t - p).abs()).sum();
    Ok(sae / y_true.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let t = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 5.0];
        assert!((rmse(&t, &p).unwrap() - (2.25f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((mae(&t, &p).unwrap() - 0.625).abs() < 1e-12);
        assert!(rmse(&t, &p[..3]).is_err());
        assert!(mae(&[], &[]).is_err());
        assert!(rmse(&[f64::NAN], &[1.0]).is_err());
    }
}

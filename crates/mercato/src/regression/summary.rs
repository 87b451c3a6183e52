//! `summary()`: the fit as a text table laid out like statsmodels' `OLS.fit().summary()`, so
//! a statsmodels user reads it without a legend. Shared by Python and the CLI.

use super::LinearRegression;
use crate::error::Result;

impl LinearRegression {
    /// The fit as statsmodels lays out its `summary()`: the model block (R², F, AIC/BIC, …),
    /// one row per parameter (coefficient, standard error, t or z, p-value and the `1 − alpha`
    /// interval; coefficients only for ridge, which has no inference), the condition number,
    /// and a note naming a robust covariance. `yname` labels the dependent variable.
    ///
    /// ```
    /// use mercato::regression::LinearRegressionParams;
    /// use ndarray::array;
    ///
    /// let x = array![[1.0], [2.0], [3.0], [4.0], [5.0]];
    /// let fit = LinearRegressionParams::default().fit(&x.view(), &[2.1, 3.9, 6.2, 7.8, 10.1], None, None)?;
    /// let text = fit.summary("sales", 0.05)?;
    /// assert!(text.contains("OLS Regression Results") && text.contains("P>|t|"));
    /// # Ok::<(), mercato::Error>(())
    /// ```
    pub fn summary(&self, yname: &str, alpha: f64) -> Result<String> {
        let ridge = self.hyper_params().alpha > 0.0;
        let (model, method) = if ridge { ("Ridge", "Ridge") } else { ("OLS", "Least Squares") };
        let names = self.param_names();
        let nw = names.iter().map(|n| n.chars().count() + 1).max().unwrap_or(0).max(16);
        let width = 67 + nw;
        let num = |v: Option<f64>| v.map_or_else(|| "nan".to_string(), fmt_stat);
        let cov_type = self.hyper_params().cov_type.as_str();
        let rows = [
            ("Dep. Variable:", yname.to_string(), "R-squared:", num(Some(self.rsquared()))),
            ("Model:", model.to_string(), "Adj. R-squared:", num(Some(self.rsquared_adj()))),
            ("Method:", method.to_string(), "F-statistic:", num(self.fvalue().ok())),
            ("No. Observations:", self.nobs().to_string(), "Prob (F-statistic):", num(self.f_pvalue().ok())),
            ("Df Residuals:", format!("{:.0}", self.df_resid()), "Log-Likelihood:", num(Some(self.llf()))),
            ("Df Model:", format!("{:.0}", self.df_model()), "AIC:", num(Some(self.aic()))),
            ("Covariance Type:", cov_type.to_string(), "BIC:", num(Some(self.bic()))),
        ];
        let rule = "=".repeat(width);
        let mut out = vec![center(&format!("{model} Regression Results"), width), rule.clone()];
        let (left, right) = (width / 2 - 20, width - width / 2 - 23);
        for (a, b, c, d) in rows {
            out.push(format!("{a:<20}{b:>left$}   {c:<20}{d:>right$}"));
        }
        out.push(rule.clone());
        let stat = if self.use_t() { "t" } else { "z" };
        let (lo, hi) =
            (format!("[{}", fmt_g(alpha / 2.0, 6, false)), format!("{}]", fmt_g(1.0 - alpha / 2.0, 6, false)));
        let p_head = format!("P>|{stat}|");
        out.push(format!("{:<nw$}{:>10}{:>11}{stat:>11}{p_head:>11}{lo:>12}{hi:>12}", "", "coef", "std err"));
        out.push("-".repeat(width));
        let params = self.params();
        if ridge {
            for (n, p) in names.iter().zip(&params) {
                out.push(format!("{n:<nw$}{p:>10.4}"));
            }
        } else {
            let (bse, t, p, ci) = (self.bse()?, self.tvalues()?, self.pvalues()?, self.conf_int(alpha)?);
            for (i, n) in names.iter().enumerate() {
                out.push(format!(
                    "{n:<nw$}{:>10.4}{:>11.3}{:>11.3}{:>11.3}{:>12.3}{:>12.3}",
                    params[i], bse[i], t[i], p[i], ci[i].0, ci[i].1
                ));
            }
        }
        out.push(rule.clone());
        out.push(format!("{:<20}{:>19}", "Cond. No.", fmt_g(self.condition_number(), 3, false)));
        out.push(rule);
        if cov_type != "nonrobust" {
            out.push(format!("Notes: standard errors are {cov_type} robust."));
        }
        Ok(out.join("\n"))
    }
}

/// statsmodels' number style in the model block: 4 significant digits, or 3 in exponent form
/// for very large or small values.
fn fmt_stat(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e5).contains(&a) {
        fmt_g(v, 4, true)
    } else {
        fmt_g(v, 3, false)
    }
}

/// C's `%g` (`%#g` with `alt`, which keeps trailing zeros) with `prec` significant digits.
fn fmt_g(v: f64, prec: usize, alt: bool) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let prec = prec.max(1);
    // the exponent after rounding to `prec` digits decides between fixed and exponent form
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| -> String {
        if alt || !s.contains('.') {
            s
        } else {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    if exp >= -4 && exp < prec as i32 {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let mut s = trim(format!("{v:.decimals$}"));
        if alt && decimals == 0 {
            s.push('.');
        }
        s
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_string()), exp.abs())
    }
}

/// Python's `str.center`: on odd padding the extra space goes left when the width is odd.
fn center(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let pad = width - len;
    let left = pad / 2 + (pad & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_c() {
        // expected values from Python's f"{v:#.4g}" / f"{v:.3g}" / f"{v:g}"
        assert_eq!(fmt_g(0.5, 4, true), "0.5000");
        assert_eq!(fmt_g(12345.6, 4, true), "1.235e+04");
        assert_eq!(fmt_g(0.001234, 4, true), "0.001234");
        assert_eq!(fmt_g(-3.0, 4, true), "-3.000");
        assert_eq!(fmt_g(0.0, 4, true), "0.000");
        assert_eq!(fmt_g(1234.0, 4, true), "1234.");
        assert_eq!(fmt_g(1.5e-7, 3, false), "1.5e-07");
        assert_eq!(fmt_g(2.0e6, 3, false), "2e+06");
        assert_eq!(fmt_g(0.025, 6, false), "0.025");
        assert_eq!(fmt_g(0.975, 6, false), "0.975");
        assert_eq!(fmt_g(9.9996, 4, true), "10.00");
        assert_eq!(fmt_stat(1.0e-5), "1e-05");
        assert_eq!(center("abc", 6), " abc  ");
        assert_eq!(center("abc", 8), "  abc   ");
        assert_eq!(center("ab", 7), "   ab  ");
    }
}

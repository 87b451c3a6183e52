//! Model files of the regression kind (`regression.linear`: OLS, WLS, ridge, robust and
//! cluster covariances): loading validates everything, and a model that loads predicts,
//! gives intervals and its inference summary without panicking. (Pricing keeps no model
//! file: `mercato::pricing` works on a fitted regression's elasticity.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::persist::Persist;
use mercato::regression::{IntervalKind, LinearRegression};

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        let Ok(m) = LinearRegression::from_bytes(bytes) else { continue };
        let n = m.coef().len();
        if n <= 1 << 12 {
            let x = ndarray::Array2::from_shape_fn((2, n), |(i, j)| (i + j) as f64 * 0.5);
            let _ = m.predict(&x.view());
            let _ = m.predict_interval(&x.view(), IntervalKind::Confidence, 0.05);
            let _ = m.predict_interval(&x.view(), IntervalKind::Prediction, 0.1);
        }
        let wrong = ndarray::Array2::<f64>::zeros((1, n + 1));
        let _ = m.predict(&wrong.view());
        let _ = (m.params(), m.param_names(), m.bse(), m.tvalues(), m.pvalues(), m.conf_int(0.05));
        let _ = (m.fvalue(), m.f_pvalue(), m.llf(), m.aic(), m.bic(), m.rsquared_adj(), m.condition_number());
    }
});

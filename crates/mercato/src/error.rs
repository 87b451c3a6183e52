//! The crate's one error type.
//!
//! Every fallible public function returns [`Result<T>`]. Variants are chosen by *cause*, so
//! callers (and the Python bindings, which map them to `ValueError`, `KeyError`, ...) can
//! react without parsing messages. Messages name the offending value and what was expected.

use std::path::PathBuf;

/// Result alias used throughout mercato.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in mercato.
///
/// The variants separate *who* is at fault, so a service can map them to status codes without
/// reading messages: [`Error::InvalidInput`], [`Error::ShapeMismatch`] and [`Error::UnknownId`]
/// are the caller's request data (HTTP 400/404); [`Error::InvalidParameter`] is a model's
/// configuration; [`Error::ModelFormat`], [`Error::Io`] and [`Error::Torch`] are the
/// environment's. New variants may be added in minor releases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Request or training *data* the algorithm cannot use (NaN, negative weight, empty
    /// matrix, ...). Hyper-parameters have their own variant, [`Error::InvalidParameter`].
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A hyper-parameter outside its rule (`contamination(0.7)`, `factors = 0`, an unknown or
    /// mistyped field in a parameter JSON).
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter {
        /// The parameter's field name, as in the `…Params` struct and the Python constructor.
        name: String,
        /// The rule it breaks and the value given.
        message: String,
    },

    /// Arrays whose shapes do not fit together.
    #[error("shape mismatch: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What the operation needed.
        expected: String,
        /// What it was given.
        got: String,
    },

    /// An external id (user, item, class) that the model or data has never seen.
    #[error("unknown {kind} id: {id}")]
    UnknownId {
        /// "user", "item", "class"...
        kind: &'static str,
        /// The id as given.
        id: String,
    },

    /// A model used before `fit`.
    #[error("model not fitted: call fit before {0}")]
    NotFitted(&'static str),

    /// A model file that is truncated, tampered with, of another kind or from the future.
    #[error("model format: {0}")]
    ModelFormat(String),

    /// A data file with a malformed line.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// libtorch reported an error (only with the `torch` feature).
    #[error("torch: {0}")]
    Torch(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidParameter { name: name.into(), message: message.into() }
    }

    /// True for errors caused by the caller's data or parameters (a service answers 4xx),
    /// false for model files, I/O and libtorch (5xx).
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput(_)
                | Error::InvalidParameter { .. }
                | Error::ShapeMismatch { .. }
                | Error::UnknownId { .. }
                | Error::NotFitted(_)
                | Error::Parse { .. }
        )
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shape(expected: impl ToString, got: impl ToString) -> Self {
        Error::ShapeMismatch { expected: expected.to_string(), got: got.to_string() }
    }

    /// Shorthand for [`Error::ModelFormat`].
    pub fn format(msg: impl Into<String>) -> Self {
        Error::ModelFormat(msg.into())
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

#[cfg(feature = "torch")]
impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::Torch(e.to_string())
    }
}

/// Returns early with an error built from a format string: [`Error::InvalidInput`] by default,
/// [`Error::InvalidParameter`] with `param "name",`, [`Error::ShapeMismatch`] with
/// `shape expected, got`, [`Error::ModelFormat`] with `format`.
///
/// ```
/// fn check(k: usize) -> mercato::Result<()> {
///     if k > 100 {
///         mercato::bail!(param "k", "must be at most 100, got {k}");
///     }
///     mercato::bail!("k must be positive, got {k}");
/// }
/// assert!(matches!(check(0), Err(mercato::Error::InvalidInput(_))));
/// let err = check(101).unwrap_err();
/// assert!(matches!(&err, mercato::Error::InvalidParameter { name, .. } if name == "k"));
/// assert_eq!(err.to_string(), "invalid parameter `k`: must be at most 100, got 101");
/// ```
#[macro_export]
macro_rules! bail {
    (param $name:expr, $($arg:tt)*) => {
        return Err($crate::Error::param($name, format!($($arg)*)))
    };
    (shape $expected:expr, $got:expr) => {
        return Err($crate::Error::shape($expected, $got))
    };
    (format $($arg:tt)*) => {
        return Err($crate::Error::ModelFormat(format!($($arg)*)))
    };
    ($($arg:tt)*) => {
        return Err($crate::Error::InvalidInput(format!($($arg)*)))
    };
}

/// Returns early unless the condition holds, with the same error forms as [`bail!`].
///
/// ```
/// fn check(k: usize) -> mercato::Result<usize> {
///     mercato::ensure!(k > 0, param "k", "must be positive, got {k}");
///     Ok(k)
/// }
/// assert_eq!(check(3).unwrap(), 3);
/// assert!(matches!(check(0), Err(mercato::Error::InvalidParameter { .. })));
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        // Bound first: `!(x >= y)` on floats trips clippy's partial-order lint at call sites.
        let holds: bool = $cond;
        if !holds {
            $crate::bail!($($arg)*);
        }
    };
}

/// Checks that every value is finite, naming the first offender.
pub fn ensure_finite<'a>(what: &str, values: impl IntoIterator<Item = &'a f64>) -> Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            bail!("{what} must be finite, found {v} at position {i}");
        }
    }
    Ok(())
}

//! Exit codes and the error type of the train/recommend/score/classify/eval commands.
//!
//! Scripts branch on the exit code, so every error is sorted into one of a few documented
//! classes; the message (printed to stderr as `error: ...`) says what and where.

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// Runtime or model error: a model file that is corrupt, tampered with or of the wrong kind,
/// parameters or data the algorithm rejects, libtorch failures, a file that cannot be written.
pub const RUNTIME: u8 = 1;
/// Usage error: unknown flag, missing argument, a hyper-parameter the algorithm does not have
/// (clap exits with 2 for its own errors too).
pub const USAGE: u8 = 2;
/// Input data error: a file that cannot be read, a malformed line (file:line), a missing or
/// non-numeric column, an unknown user/item id, a shape that does not match the model.
pub const DATA: u8 = 3;
/// The command needs a cargo feature this binary was built without (`torch` for images).
pub const NO_FEATURE: u8 = 4;

/// The table shown at the end of `mercato --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  runtime or model error (corrupt/tampered/wrong-kind model file, rejected parameters, write failure)
  2  usage error (unknown flag, missing argument, hyper-parameter the algorithm does not have)
  3  input data error (unreadable file, malformed line, missing/non-numeric column, unknown id, wrong shape)
  4  feature not built (image commands need a binary built with `--features torch`)

Errors are printed to stderr as `error: ...`; with --json, results are one JSON object on stdout.";

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// One of the constants above.
    pub code: u8,
    /// Printed after `error: `.
    pub message: String,
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { code: USAGE, message: message.into() }
    }

    /// An input data error (exit 3).
    pub fn data(message: impl Into<String>) -> Self {
        CliError { code: DATA, message: message.into() }
    }

    /// A runtime or model error (exit 1).
    pub fn runtime(message: impl Into<String>) -> Self {
        CliError { code: RUNTIME, message: message.into() }
    }

    /// Stops the command early with success and no message (a closed output pipe).
    pub fn stop() -> Self {
        CliError { code: OK, message: String::new() }
    }

    /// The command needs the `torch` feature (exit 4).
    #[cfg_attr(feature = "torch", allow(dead_code))]
    pub fn no_torch(command: &str) -> Self {
        CliError {
            code: NO_FEATURE,
            message: format!(
                "`{command}` needs image support, and this mercato was built without the `torch` feature; \
                 rebuild with `cargo build --release -p mercato-cli --features torch` (see the README's libtorch notes)"
            ),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<mercato::Error> for CliError {
    /// Sorted by cause: data problems (parse, shape, unknown id, unreadable file) exit 3,
    /// everything else (model format, invalid parameters, torch) exits 1.
    fn from(e: mercato::Error) -> Self {
        use mercato::Error as E;
        let code = match &e {
            E::Parse { .. } | E::ShapeMismatch { .. } | E::UnknownId { .. } | E::Io { .. } => DATA,
            // InvalidInput, InvalidParameter, NotFitted, ModelFormat, Torch and later variants.
            _ => RUNTIME,
        };
        CliError { code, message: e.to_string() }
    }
}

/// Maps a failure to write an output (model, scores) to a runtime error: the inputs were fine.
pub fn write_failure(e: mercato::Error) -> CliError {
    CliError::runtime(e.to_string())
}

//! Progress reporting for long fits (ALS, BPR, the libtorch trainers), on stderr.
//!
//! A bar is drawn only when the caller asked for progress and stderr is a terminal; in logs
//! and notebooks the epoch loops print one line per epoch instead. The bar itself is
//! indicatif's, behind the default feature `progress`: a service built with
//! `default-features = false` does not link indicatif, and its fits print the per-epoch lines
//! (when asked for) and nothing else.

use std::borrow::Cow;
#[cfg(feature = "progress")]
use std::io::IsTerminal;

/// A progress bar that may be hidden; every method is a no-op on a hidden bar. The
/// epoch-loop parts (`batches`, `epoch_line`, `set_prefix`, `show`) serve the libtorch
/// trainers only, hence their `allow(dead_code)` without feature `torch`.
pub(crate) struct Bar {
    /// Progress was asked for (epoch lines are printed even where no bar is drawn).
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    show: bool,
    #[cfg(feature = "progress")]
    inner: indicatif::ProgressBar,
}

impl Bar {
    /// A plain bar of `len` steps with `what` as its message, drawn when `show` and stderr
    /// is a terminal.
    pub(crate) fn new(show: bool, len: u64, what: &str) -> Bar {
        let bar = Bar::hidden_unless(show, len);
        bar.set_message(what.to_string());
        bar
    }

    /// A bar for an epoch loop: `{prefix} [=====>   ] pos/len batches elapsed eta {msg}`,
    /// where the prefix names the epoch ([`Bar::set_prefix`]).
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub(crate) fn batches(show: bool, len: u64) -> Bar {
        let bar = Bar::hidden_unless(show, len);
        #[cfg(feature = "progress")]
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} batches {elapsed_precise} eta {eta} {msg}",
        ) {
            bar.inner.set_style(style.progress_chars("=> "));
        }
        bar
    }

    fn hidden_unless(show: bool, len: u64) -> Bar {
        #[cfg(not(feature = "progress"))]
        let _ = len;
        Bar {
            show,
            #[cfg(feature = "progress")]
            inner: if show && std::io::stderr().is_terminal() {
                indicatif::ProgressBar::new(len)
            } else {
                indicatif::ProgressBar::hidden()
            },
        }
    }

    /// Prints a finished epoch's summary: above the bar where one is drawn, as a plain line
    /// on stderr otherwise (logs, notebooks, builds without the `progress` feature); nothing
    /// when progress was not asked for.
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub(crate) fn epoch_line(&self, line: String) {
        if !self.show {
            return;
        }
        #[cfg(feature = "progress")]
        if !self.inner.is_hidden() {
            self.inner.println(line);
            return;
        }
        eprintln!("{line}");
    }

    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub(crate) fn set_prefix(&self, prefix: impl Into<Cow<'static, str>>) {
        #[cfg(feature = "progress")]
        self.inner.set_prefix(prefix);
        #[cfg(not(feature = "progress"))]
        let _ = prefix.into();
    }

    pub(crate) fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        #[cfg(feature = "progress")]
        self.inner.set_message(message);
        #[cfg(not(feature = "progress"))]
        let _ = message.into();
    }

    pub(crate) fn inc(&self, steps: u64) {
        #[cfg(feature = "progress")]
        self.inner.inc(steps);
        #[cfg(not(feature = "progress"))]
        let _ = steps;
    }

    pub(crate) fn finish_and_clear(&self) {
        #[cfg(feature = "progress")]
        self.inner.finish_and_clear();
    }
}

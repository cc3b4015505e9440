//! Log lines kept with the delivery attempt and shown by `delivery show`.
//!
//! Use the macros [`trace!`](crate::trace), [`debug!`](crate::debug),
//! [`info!`](crate::info), [`warn!`](crate::warn) and
//! [`error!`](crate::error), which take `format!` arguments, or [`log`].
//! Past the invocation's log budget the host drops lines and keeps a
//! truncation marker instead.
//!
//! ```no_run
//! use hookhost_sdk::log::{self, Level};
//! use hookhost_sdk::{info, warn};
//!
//! let order = 1001;
//! info!("order {order} accepted");
//! warn!("retrying in {}s", 30);
//! log::log(Level::Debug, "plain message");
//! ```

use crate::wit::hookhost::plugin::log as wit;

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail useful when debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the handler got past.
    Warn,
    /// A failure.
    Error,
}

impl From<Level> for wit::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        }
    }
}

/// Records one line at `level`.
pub fn log(level: Level, message: &str) {
    wit::log(level.into(), message);
}

/// Logs a line at [`Level::Trace`]; takes `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

/// Logs a line at [`Level::Debug`]; takes `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs a line at [`Level::Info`]; takes `format!` arguments.
///
/// ```no_run
/// let id = "evt_1";
/// hookhost_sdk::info!("handled {id}");
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs a line at [`Level::Warn`]; takes `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs a line at [`Level::Error`]; takes `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

//! Everything a handler usually needs: `use hookhost_sdk::prelude::*;`.
//!
//! Brings in [`handler`], [`Event`], [`HandlerError`], [`Result`], [`retry`],
//! [`retry_after`], [`reject`], the modules [`http`], [`kv`], [`config`] and
//! [`secret`], the log macros [`trace!`], [`debug!`], [`info!`], [`warn!`]
//! and [`error!`], and [`serde_json`] with its [`json!`] macro.

pub use crate::{
    Event, HandlerError, Result, config, debug, error, handler, http, info, kv, reject, retry,
    retry_after, secret, trace, warn,
};
pub use serde_json::{self, json};

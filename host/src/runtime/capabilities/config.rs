//! `config`: the endpoint's settings, read-only.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::runtime::bindings::config::Host;
use crate::runtime::state::State;

/// The settings an invocation can read.
pub(crate) struct ConfigState {
    values: Arc<BTreeMap<String, String>>,
}

impl ConfigState {
    pub(crate) fn new(values: Arc<BTreeMap<String, String>>) -> Self {
        Self { values }
    }
}

impl Host for State {
    async fn get(&mut self, key: String) -> Option<String> {
        self.config.values.get(&key).cloned()
    }

    async fn get_all(&mut self) -> Vec<(String, String)> {
        self.config
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

//! `secret`: the endpoint's plugin secrets, read-only. What the guest reads
//! here, [`Redactor`](crate::runtime::redact::Redactor) keeps out of the
//! attempt's record.

use std::sync::Arc;

use crate::domain::PluginSecrets;
use crate::runtime::bindings::secret::Host;
use crate::runtime::state::State;

/// The secrets an invocation can read.
pub(crate) struct SecretState {
    secrets: Arc<PluginSecrets>,
}

impl SecretState {
    pub(crate) fn new(secrets: Arc<PluginSecrets>) -> Self {
        Self { secrets }
    }
}

impl Host for State {
    /// As `config::get` does with its key, the name is only compared: its
    /// copy out of the guest's memory is all it costs the host, and the
    /// guest's memory limit bounds that.
    async fn get(&mut self, name: String) -> Option<String> {
        self.secret.secrets.get(&name).map(str::to_owned)
    }
}

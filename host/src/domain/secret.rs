//! Plugin secrets: values an endpoint holds for its plugin (a provider's API
//! key), readable by the guest and by nothing that prints.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Shortest secret value accepted, so that removing its occurrences from
/// what a plugin logs cannot take apart ordinary text.
pub const MIN_SECRET_BYTES: usize = 8;

/// One secret value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the guest that reads it and for sealing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(..)")
    }
}

/// The secrets of one endpoint, by name. Shared, not copied: every
/// invocation at the endpoint is granted the cached endpoint's secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginSecrets(Arc<BTreeMap<String, SecretValue>>);

impl PluginSecrets {
    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(SecretValue::expose)
    }

    /// Every secret, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.expose()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, SecretValue)> for PluginSecrets {
    fn from_iter<I: IntoIterator<Item = (String, SecretValue)>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_value() {
        let secrets: PluginSecrets = [("api_key".into(), SecretValue::new("sk_live_1234".into()))]
            .into_iter()
            .collect();
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("sk_live"), "{shown}");
        assert!(shown.contains("api_key"), "{shown}");
        assert_eq!(secrets.get("api_key"), Some("sk_live_1234"));
    }
}

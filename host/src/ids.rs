//! Identifier newtypes, so a tenant id can never be passed where an endpoint id belongs.
//!
//! Tenant, endpoint and plugin names are chosen by people and appear in URLs,
//! so they are validated once, here, on the way in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{kind} {value:?} is not valid: use 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
)]
pub struct InvalidName {
    kind: &'static str,
    value: String,
}

fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` as a name.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidName> {
                let value = value.into();
                if is_valid_name(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidName { kind: $kind, value })
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(value: String) -> Result<Self, InvalidName> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        /// Maps keyed by the name can be looked up with the text a row holds.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;
            fn from_str(s: &str) -> Result<Self, InvalidName> {
                Self::new(s)
            }
        }
    };
}

name_type!(
    /// A tenant: the unit of isolation for plugins, endpoints, deliveries and storage.
    TenantId,
    "tenant id"
);
name_type!(
    /// An endpoint of a tenant: the last segment of `/hooks/{tenant}/{endpoint}`.
    EndpointId,
    "endpoint id"
);
name_type!(
    /// A plugin of a tenant; its versions are numbered 1, 2, 3….
    PluginName,
    "plugin name"
);

name_type!(
    /// A plugin secret of an endpoint, as its plugin asks for it with `secret::get`.
    SecretName,
    "secret name"
);

/// A generated id: a prefix and a UUIDv7 in 32 lowercase hex digits, so ids
/// sort by creation time and index well.
macro_rules! generated_id {
    ($(#[$doc:meta])* $name:ident, $invalid:ident, $prefix:literal, $what:literal, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "{}"), uuid::Uuid::now_v7().simple()))
            }

            /// Wraps an id read back from the store, which only ever holds
            /// generated ones; ids from outside go through [`str::parse`].
            pub fn from_string(value: String) -> Self {
                Self(value)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        #[doc = concat!("A ", $what, " id that is not `", $prefix, "` and 32 lowercase hex digits.")]
        #[derive(Debug, thiserror::Error, PartialEq, Eq)]
        #[error($message)]
        pub struct $invalid(String);

        impl std::str::FromStr for $name {
            type Err = $invalid;

            /// Checks an id from a URL or a query before it reaches the store.
            fn from_str(s: &str) -> Result<Self, $invalid> {
                let hex = s.strip_prefix($prefix).unwrap_or_default();
                if hex.len() == 32
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    Ok(Self(s.to_owned()))
                } else {
                    Err($invalid(s.chars().take(80).collect()))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

generated_id!(
    /// A delivery: one accepted webhook and everything that happened to it.
    DeliveryId,
    InvalidDeliveryId,
    "dlv_",
    "delivery",
    "delivery id {0:?} is not valid: delivery ids are dlv_ and 32 hex digits, as a 202 answers them"
);

generated_id!(
    /// A bulk replay: a background job that queues again every delivery of
    /// an endpoint matching a filter.
    ReplayId,
    InvalidReplayId,
    "rpl_",
    "replay",
    "replay id {0:?} is not valid: replay ids are rpl_ and 32 hex digits, as starting a replay answers them"
);

generated_id!(
    /// An alert: one notice to one destination, and its sending.
    AlertId,
    InvalidAlertId,
    "alr_",
    "alert",
    "alert id {0:?} is not valid: alert ids are alr_ and 32 hex digits"
);

name_type!(
    /// A tenant's alert destination.
    DestinationName,
    "destination name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_delivery_id_parses_and_anything_else_is_refused() {
        let id = DeliveryId::generate();
        assert_eq!(id.as_str().parse::<DeliveryId>(), Ok(id.clone()));
        for bad in [
            "",
            "dlv_",
            "dlv_xyz",
            "0193a1b2c3d4e5f60718293a4b5c6d7e",
            "dlv_0193A1B2C3D4E5F60718293A4B5C6D7E",
        ] {
            assert!(bad.parse::<DeliveryId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_accept_lowercase_digits_dash_and_underscore() {
        assert!(TenantId::new("acme-co_2").is_ok());
        assert!(TenantId::new("9lives").is_ok());
    }

    #[test]
    fn names_refuse_empty_uppercase_slashes_and_long_values() {
        for bad in ["", "Acme", "a/b", "-lead", "a b", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn delivery_ids_sort_by_creation() {
        let a = DeliveryId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = DeliveryId::generate();
        assert!(a < b);
    }
}

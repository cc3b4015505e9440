//! The KV writes of many successful invocations, composed into one write
//! per key, so a batch commits them with one statement per kind of write
//! instead of one per write, and a counter every invocation increments is
//! written once per batch. Keys come out in order (PostgreSQL locks them
//! in that order before writing; see `postgres.rs`).

use std::collections::BTreeMap;

use crate::ids::{PluginName, TenantId};
use crate::runtime::{KvNamespace, KvWrite};

/// One key's composed write.
type Key = (TenantId, PluginName, String);

/// Composes `writes`, in the order they were made, into one write per key:
/// a later set or delete replaces what came before it; increments add up;
/// an increment after a set adds to the set value (read as an integer the
/// way the stores read a stored counter, 0 if it is none), and after a
/// delete starts from 0. Sums saturate at the ends of i64, as the stores'.
pub(crate) fn compose<'a>(
    writes: impl IntoIterator<Item = (&'a KvNamespace, &'a KvWrite)>,
) -> Vec<(KvNamespace, KvWrite)> {
    let mut keys: BTreeMap<Key, KvWrite> = BTreeMap::new();
    for (ns, write) in writes {
        let (key, next) = match write {
            KvWrite::Set { key, .. } | KvWrite::Delete { key } => (key, write.clone()),
            KvWrite::Increment { key, delta } => {
                let id = (ns.tenant.clone(), ns.plugin.clone(), key.clone());
                let next = match keys.get(&id) {
                    None => write.clone(),
                    Some(KvWrite::Increment { delta: before, .. }) => KvWrite::Increment {
                        key: key.clone(),
                        delta: before.saturating_add(*delta),
                    },
                    Some(KvWrite::Set { value, .. }) => KvWrite::Set {
                        key: key.clone(),
                        value: counter(value)
                            .saturating_add(*delta)
                            .to_string()
                            .into_bytes(),
                    },
                    Some(KvWrite::Delete { .. }) => KvWrite::Set {
                        key: key.clone(),
                        value: delta.to_string().into_bytes(),
                    },
                };
                (key, next)
            }
        };
        keys.insert((ns.tenant.clone(), ns.plugin.clone(), key.clone()), next);
    }
    keys.into_iter()
        .map(|((tenant, plugin, _), write)| (KvNamespace { tenant, plugin }, write))
        .collect()
}

/// A stored counter's value: optional spaces, a sign and up to 19 digits,
/// clamped to i64; anything else counts as 0.
fn counter(value: &[u8]) -> i64 {
    let text = std::str::from_utf8(value).unwrap_or_default().trim_ascii();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    text.parse::<i128>()
        .map_or(0, |n| n.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(plugin: &str) -> KvNamespace {
        KvNamespace {
            tenant: TenantId::new("t").unwrap(),
            plugin: PluginName::new(plugin).unwrap(),
        }
    }

    fn set(key: &str, value: &str) -> KvWrite {
        KvWrite::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn inc(key: &str, delta: i64) -> KvWrite {
        KvWrite::Increment {
            key: key.into(),
            delta,
        }
    }

    fn del(key: &str) -> KvWrite {
        KvWrite::Delete { key: key.into() }
    }

    #[test]
    fn each_key_gets_the_one_write_that_leaves_what_the_sequence_left() {
        let (a, b) = (ns("a"), ns("b"));
        let writes = [
            (&a, inc("total", 1)),
            (&b, inc("total", 5)),
            (&a, inc("total", 2)),
            (&a, set("s", " 40 ")),
            (&a, inc("s", 2)),
            (&a, set("gone", "x")),
            (&a, del("gone")),
            (&a, del("reborn")),
            (&a, inc("reborn", 3)),
            (&a, set("text", "abc")),
            (&a, inc("text", 1)),
            (&a, inc("later-set", 1)),
            (&a, set("later-set", "v")),
            (&a, inc("max", i64::MAX)),
            (&a, inc("max", 1)),
        ];
        let composed = compose(writes.iter().map(|(ns, w)| (*ns, w)));
        assert_eq!(
            composed,
            [
                (a.clone(), del("gone")),
                (a.clone(), set("later-set", "v")),
                (a.clone(), inc("max", i64::MAX)),
                (a.clone(), set("reborn", "3")),
                (a.clone(), set("s", "42")),
                (a.clone(), set("text", "1")),
                (a.clone(), inc("total", 3)),
                (b.clone(), inc("total", 5)),
            ]
        );
    }

    #[test]
    fn a_stored_counter_reads_as_the_stores_read_it() {
        assert_eq!(counter(b" -12 "), -12);
        assert_eq!(counter(b"+7"), 7);
        assert_eq!(counter(b"9999999999999999999"), i64::MAX);
        assert_eq!(counter(b"-9999999999999999999"), i64::MIN);
        assert_eq!(counter(b"99999999999999999999"), 0, "20 digits");
        assert_eq!(counter(b"12abc"), 0);
        assert_eq!(counter(b""), 0);
        assert_eq!(counter(b"-"), 0);
    }
}

//! Plugin secrets kept out of the attempt's record: every occurrence of a
//! secret's value in guest text the record keeps becomes `[secret NAME]`.
//!
//! One [`Redactor`] per invocation is applied where guest text enters the
//! record, before the text is cut to its bound or charged to the log budget:
//! log lines (the `log` import, stdout, stderr) as the log keeps them,
//! outbound calls as they are recorded, the outcome message as the guest
//! returns. So the budget charges what is stored, and a value that a bound
//! cuts leaves none of its beginning behind.
//!
//! Only exact values are found. A value encoded (base64, percent-encoded),
//! transformed or split across two log lines is kept as written. A stream's
//! line is whole before it is searched, however many writes made it.

use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use crate::domain::{PluginSecrets, clip};

/// Replaces one invocation's secrets; the matcher is built on first use, so
/// an invocation that records no text pays nothing for its secrets.
pub(crate) struct Redactor {
    secrets: Arc<PluginSecrets>,
    matcher: OnceLock<Option<Matcher>>,
}

impl Redactor {
    pub(crate) fn new(secrets: Arc<PluginSecrets>) -> Self {
        Self {
            secrets,
            matcher: OnceLock::new(),
        }
    }

    fn matcher(&self) -> Option<&Matcher> {
        self.matcher
            .get_or_init(|| Matcher::new(&self.secrets))
            .as_ref()
    }

    /// `text` with every secret replaced; as it was when it holds none.
    pub(crate) fn redact(&self, text: String) -> String {
        match self.matcher() {
            Some(matcher) => matcher.replace(text),
            None => text,
        }
    }

    /// `text` with every secret replaced, cut to `max` bytes as
    /// [`clip`] cuts it. The kept part ends before any beginning of a value
    /// that the cut goes through, and only that part is searched, so the work
    /// is bounded by `max` however long the guest's text.
    pub(crate) fn clip(&self, text: String, max: usize) -> String {
        let Some(matcher) = self.matcher() else {
            return clip(text, max);
        };
        if text.len() <= max {
            return clip(matcher.replace(text), max);
        }
        // Where `clip` would cut: room for its marker, on a character boundary.
        let mut end = max.saturating_sub(cut_marker(text.len()).len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        end -= matcher.unfinished(&text.as_bytes()[..end]);
        let kept = matcher.replace(text[..end].to_owned());
        let marked = format!("{kept}{}", cut_marker(text.len() - end));
        if marked.len() <= max {
            clip(marked, max)
        } else {
            // Markers longer than the values they replace grew the text.
            clip(kept, max)
        }
    }
}

/// How `clip` says that `cut` bytes were cut.
fn cut_marker(cut: usize) -> String {
    format!("… [{cut} more bytes cut]")
}

/// The automaton of one invocation's secret values.
struct Matcher {
    automaton: AhoCorasick,
    /// `[secret NAME]` of each pattern, by pattern index.
    markers: Vec<String>,
    /// Each pattern's value and its prefix function, for a value cut short.
    values: Vec<(Vec<u8>, Vec<u16>)>,
}

impl Matcher {
    /// `None` when there is nothing to find. Empty values are skipped (they
    /// would match everywhere), and a value two secrets share is named once.
    fn new(secrets: &PluginSecrets) -> Option<Self> {
        let mut markers = Vec::new();
        let mut values: Vec<(Vec<u8>, Vec<u16>)> = Vec::new();
        for (name, value) in secrets.iter() {
            let value = value.as_bytes();
            // Longer than the API accepts, it could not be found whole in a
            // bounded text anyway; its prefix table is kept in 16 bits.
            if value.is_empty()
                || value.len() > usize::from(u16::MAX)
                || values.iter().any(|(v, _)| v == value)
            {
                continue;
            }
            markers.push(format!("[secret {name}]"));
            values.push((value.to_vec(), prefix_function(value)));
        }
        if values.is_empty() {
            return None;
        }
        // A contiguous NFA, never a DFA: the values are the tenant's choice,
        // and a DFA of a few long ones that share prefixes takes hundreds of
        // megabytes and seconds to build, where the NFA is linear in their
        // bytes (`hard::PLUGIN_SECRETS` × `hard::PLUGIN_SECRET_BYTES`).
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(values.iter().map(|(v, _)| v))
            .expect("patterns the API bounds build");
        Some(Self {
            automaton,
            markers,
            values,
        })
    }

    /// `text` with each stretch of overlapping occurrences replaced by the
    /// markers of the secrets in it, so no byte of any occurrence is kept.
    fn replace(&self, text: String) -> String {
        // Overlapping matches come in order of their end; merging each into
        // the stretches it overlaps keeps them sorted and disjoint.
        let mut stretches: Vec<Stretch> = Vec::new();
        for m in self.automaton.find_overlapping_iter(&text) {
            let mut stretch = Stretch {
                start: m.start(),
                end: m.end(),
                patterns: vec![m.pattern().as_usize()],
            };
            while let Some(last) = stretches.pop_if(|last| last.end > stretch.start) {
                stretch.start = stretch.start.min(last.start);
                let mut patterns = last.patterns;
                for p in stretch.patterns {
                    if !patterns.contains(&p) {
                        patterns.push(p);
                    }
                }
                stretch.patterns = patterns;
            }
            stretches.push(stretch);
        }
        if stretches.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for stretch in stretches {
            out.push_str(&text[copied..stretch.start]);
            for p in stretch.patterns {
                out.push_str(&self.markers[p]);
            }
            copied = stretch.end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// The length of the longest end of `kept` that is the beginning of a
    /// value (not all of it: a whole value is replaced), found with each
    /// value's prefix function in time linear in the values' lengths.
    fn unfinished(&self, kept: &[u8]) -> usize {
        self.values
            .iter()
            .map(|(value, prefix)| {
                // Shorter than the value, so the match never completes.
                let tail = &kept[kept.len().saturating_sub(value.len() - 1)..];
                let mut matched = 0;
                for &byte in tail {
                    while matched > 0 && value[matched] != byte {
                        matched = usize::from(prefix[matched - 1]);
                    }
                    if value[matched] == byte {
                        matched += 1;
                    }
                }
                matched
            })
            .max()
            .unwrap_or(0)
    }
}

/// A run of text covered by overlapping occurrences, and whose they are.
struct Stretch {
    start: usize,
    end: usize,
    patterns: Vec<usize>,
}

/// `p[i]`: the length of the longest proper prefix of `value[..=i]` that is
/// also its suffix (Knuth–Morris–Pratt).
fn prefix_function(value: &[u8]) -> Vec<u16> {
    let mut p = vec![0u16; value.len()];
    for i in 1..value.len() {
        let mut k = usize::from(p[i - 1]);
        while k > 0 && value[i] != value[k] {
            k = usize::from(p[k - 1]);
        }
        if value[i] == value[k] {
            k += 1;
        }
        p[i] = k as u16;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SecretValue;

    fn redactor(secrets: &[(&str, &str)]) -> Redactor {
        Redactor::new(Arc::new(
            secrets
                .iter()
                .map(|(n, v)| ((*n).to_owned(), SecretValue::new((*v).to_owned())))
                .collect(),
        ))
    }

    #[test]
    fn every_occurrence_becomes_the_secrets_name() {
        let r = redactor(&[("api_key", "sk_live_0123456789"), ("token", "tok_abcdefgh")]);
        assert_eq!(
            r.redact("Bearer sk_live_0123456789 then tok_abcdefgh, sk_live_0123456789!".into()),
            "Bearer [secret api_key] then [secret token], [secret api_key]!"
        );
    }

    #[test]
    fn text_without_secrets_is_kept_as_it_was() {
        let r = redactor(&[("api_key", "sk_live_0123456789")]);
        assert_eq!(r.redact("nothing to see".into()), "nothing to see");
        assert_eq!(redactor(&[]).redact("sk_live".into()), "sk_live");
    }

    #[test]
    fn overlapping_secrets_leave_no_piece_of_either() {
        let r = redactor(&[("a", "abcdefgh12"), ("b", "gh12345678")]);
        assert_eq!(
            r.redact("xxabcdefgh12345678yy".into()),
            "xx[secret a][secret b]yy"
        );
        // The later match starts before the earlier one's start.
        let r = redactor(&[("inner", "cdefghij"), ("outer", "abcdefghijkl")]);
        assert_eq!(
            r.redact("<abcdefghijkl>".into()),
            "<[secret inner][secret outer]>"
        );
        let r = redactor(&[("key", "aaaaaaaa")]);
        assert_eq!(r.redact(format!("-{}-", "a".repeat(20))), "-[secret key]-");
    }

    #[test]
    fn empty_values_are_skipped_and_short_ones_still_replaced() {
        let r = redactor(&[("empty", ""), ("short", "xy")]);
        assert_eq!(r.redact("axyb".into()), "a[secret short]b");
        assert_eq!(redactor(&[("empty", "")]).redact("abc".into()), "abc");
    }

    #[test]
    fn a_value_two_secrets_share_is_named_once() {
        let r = redactor(&[("a", "same-value-1"), ("b", "same-value-1")]);
        assert_eq!(r.redact("same-value-1".into()), "[secret a]");
    }

    #[test]
    fn clipping_without_a_secret_in_the_text_is_clip() {
        let r = redactor(&[("api_key", "sk_live_0123456789")]);
        for text in ["short".to_owned(), "é".repeat(3000), "x\0y".into()] {
            assert_eq!(r.clip(text.clone(), 1024), clip(text, 1024));
        }
    }

    #[test]
    fn a_secret_across_the_bound_leaves_none_of_its_beginning() {
        let secret = "sk_live_0123456789";
        let r = redactor(&[("api_key", secret)]);
        let plain = clip("a".repeat(5000), 1024);
        let kept = plain.find('…').unwrap();
        // The value starts 5 bytes before where the cut would fall.
        let text = format!("{}{secret}{}", "a".repeat(kept - 5), "b".repeat(4000));
        let clipped = r.clip(text, 1024);
        assert!(clipped.len() <= 1024, "{}", clipped.len());
        assert!(clipped.ends_with("more bytes cut]"), "{clipped}");
        assert!(!clipped.contains("sk_li"), "{clipped}");
        assert!(clipped.starts_with(&"a".repeat(kept - 5)), "{clipped}");
    }

    #[test]
    fn a_secret_before_the_bound_is_replaced_and_the_cut_marked() {
        let r = redactor(&[("api_key", "sk_live_0123456789")]);
        let clipped = r.clip(format!("key sk_live_0123456789 {}", "z".repeat(5000)), 256);
        assert!(clipped.starts_with("key [secret api_key] zzz"), "{clipped}");
        assert!(clipped.ends_with("more bytes cut]"), "{clipped}");
        assert!(clipped.len() <= 256);
    }

    #[test]
    fn markers_longer_than_their_values_still_fit_the_bound() {
        let r = redactor(&[("a_rather_long_secret_name", "12345678")]);
        for text in ["12345678".repeat(100), "12345678".repeat(1000)] {
            let clipped = r.clip(text, 512);
            assert!(clipped.len() <= 512, "{}", clipped.len());
            assert!(!clipped.contains("12345678"), "{clipped}");
        }
    }

    #[test]
    fn the_unfinished_end_is_the_longest_beginning_of_a_value() {
        let r = redactor(&[("a", "abcabd12"), ("b", "zzzzzzzz")]);
        let m = r.matcher().unwrap();
        assert_eq!(m.unfinished(b"xxabcab"), 5);
        assert_eq!(m.unfinished(b"xxabcabcab"), 5);
        assert_eq!(m.unfinished(b"xxzzz"), 3);
        assert_eq!(
            m.unfinished(b"xxabcabd12"),
            0,
            "a whole value is no beginning"
        );
        assert_eq!(m.unfinished(b"xy"), 0);
        assert_eq!(m.unfinished(b""), 0);
    }
}

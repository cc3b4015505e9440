//! Text that came from outside (a guest, a sender) as the host keeps it:
//! bounded, and storable by every backend.

use sha2::{Digest, Sha256};

/// `text` cut to at most `max` bytes (on a character boundary), ending in a
/// marker that says how many bytes were cut, with NUL characters, which
/// PostgreSQL's `text` cannot hold, replaced by U+FFFD. Text within bounds
/// and without NUL comes back as it was, unallocated.
pub fn clip(text: String, max: usize) -> String {
    let text = if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    };
    if text.len() <= max {
        return text;
    }
    let marker = format!("… [{} more bytes cut]", text.len());
    let mut end = max.saturating_sub(marker.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = String::with_capacity(end + marker.len());
    cut.push_str(&text[..end]);
    let marker = format!("… [{} more bytes cut]", text.len() - end);
    cut.push_str(&marker);
    cut
}

/// Longest event id kept as it was sent; a longer one is kept as its digest.
pub const MAX_EVENT_ID_BYTES: usize = 256;

/// Longest event type kept; a longer one is cut to this.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;

/// A sender's event id as the dedup key: as sent when it is short and
/// storable, otherwise `sha256:` and its digest, so two different ids never
/// collide and nothing a sender writes there can make a batch fail.
pub fn event_key(id: String) -> String {
    if id.len() <= MAX_EVENT_ID_BYTES && !id.contains('\0') && !id.starts_with(DIGESTED) {
        return id;
    }
    format!("{DIGESTED}{}", hex::encode(Sha256::digest(id.as_bytes())))
}

/// What starts a digested event id; a sent id that starts so is digested
/// too, so it cannot pose as another's digest.
const DIGESTED: &str = "sha256:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_with_a_marker_within_the_bound() {
        assert_eq!(clip("fine".into(), 100), "fine");
        let cut = clip("é".repeat(1000), 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(cut.ends_with("more bytes cut]"), "{cut}");
        assert!(cut.starts_with("éé"), "{cut}");
    }

    #[test]
    fn nul_is_replaced_so_every_backend_can_store_it() {
        assert_eq!(clip("a\0b".into(), 100), "a\u{FFFD}b");
    }

    #[test]
    fn long_or_unstorable_event_ids_become_distinct_digests() {
        assert_eq!(event_key("evt_1".into()), "evt_1");
        let a = event_key("x".repeat(300));
        let b = event_key(format!("{}y", "x".repeat(299)));
        assert!(a.starts_with("sha256:") && a.len() < MAX_EVENT_ID_BYTES);
        assert_ne!(a, b);
        assert!(event_key("a\0b".into()).starts_with("sha256:"));
        assert_ne!(
            event_key(a.clone()),
            a,
            "a sent digest is not kept as it is"
        );
    }
}

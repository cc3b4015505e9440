//! Counts events per type, per type and UTC day, and in total, in the
//! key-value store. Sends nothing.
//!
//! See README.md for the keys.

use hookhost_sdk::prelude::*;

const MS_PER_DAY: u64 = 86_400_000;

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let event_type = event.event_type().unwrap_or("unknown");
    let day = utc_date(event.received_at_ms);
    let n = kv::increment(&format!("count:{event_type}"), 1)?;
    kv::increment(&format!("day:{day}:{event_type}"), 1)?;
    kv::increment("total", 1)?;
    info!("{event_type}: {n}");
    Ok(())
}

/// The UTC date, `YYYY-MM-DD`, of a time in milliseconds since the Unix epoch.
fn utc_date(ms: u64) -> String {
    let days = i64::try_from(ms / MS_PER_DAY).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian (year, month, day) of `z` days since 1970-01-01,
/// after Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(MS_PER_DAY - 1), "1970-01-01");
        assert_eq!(utc_date(MS_PER_DAY), "1970-01-02");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(951_868_800_000), "2000-03-01");
        assert_eq!(utc_date(1_709_164_800_000), "2024-02-29");
        assert_eq!(utc_date(1_715_684_729_000), "2024-05-14");
        assert_eq!(utc_date(1_735_689_599_999), "2024-12-31");
        assert_eq!(utc_date(1_735_689_600_000), "2025-01-01");
        assert_eq!(utc_date(4_107_542_400_000), "2100-03-01");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut prev = civil_from_days(-1);
        for z in 0..200_000 {
            let (y, m, d) = civil_from_days(z);
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month =
                d == 1 && ((y, m) == (prev.0, prev.1 + 1) || (y, m) == (prev.0 + 1, 1));
            assert!(next_day || next_month, "{prev:?} then {:?}", (y, m, d));
            prev = (y, m, d);
        }
    }
}

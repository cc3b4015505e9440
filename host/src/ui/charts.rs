//! Charts as inline SVG drawn on the server: no chart library, no script,
//! and a table beside each for those who do not see it.

use maud::{Markup, html};

use crate::store::DeliveryStatus;

/// The series a traffic chart stacks, bottom first.
pub const SERIES: [(&str, &str); 5] = [
    ("succeeded", "ok"),
    ("failed", "warn"),
    ("dead", "bad"),
    ("filtered", "idle"),
    ("in flight", "busy"),
];

/// The series a delivery of this status counts in.
pub fn series_of(status: DeliveryStatus) -> usize {
    match status {
        DeliveryStatus::Succeeded => 0,
        DeliveryStatus::Retrying => 1,
        DeliveryStatus::Dead => 2,
        DeliveryStatus::Filtered => 3,
        DeliveryStatus::Pending
        | DeliveryStatus::Running
        | DeliveryStatus::Waiting
        | DeliveryStatus::Paused => 4,
    }
}

/// Stacked bars, one per bucket, scaled to the tallest.
pub fn stacked(buckets: &[[u64; 5]], label: &str) -> Markup {
    const HEIGHT: u64 = 48;
    const BAR: usize = 5;
    let width = buckets.len() * BAR;
    let top = buckets
        .iter()
        .map(|b| b.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut rects = Vec::new();
    for (i, bucket) in buckets.iter().enumerate() {
        let mut base = 0u64;
        for (series, count) in bucket.iter().enumerate().filter(|(_, c)| **c > 0) {
            let y0 = HEIGHT - base * HEIGHT / top;
            let y1 = HEIGHT - (base + count) * HEIGHT / top;
            rects.push((SERIES[series].1, i * BAR, y1, (y0 - y1).max(1)));
            base += count;
        }
    }
    html! {
        svg.chart viewBox={"0 0 " (width) " " (HEIGHT)} preserveAspectRatio="none" role="img" aria-label=(label) {
            title { (label) }
            @for (class, x, y, h) in rects {
                rect class=(class) x=(x) y=(y) width=(BAR - 1) height=(h) {}
            }
        }
    }
}

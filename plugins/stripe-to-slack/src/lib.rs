//! Posts a Slack message for every Stripe `payment_intent.succeeded` event.
//!
//! See README.md for the configuration and the exact request.

use hookhost_sdk::prelude::*;
use serde::Serialize;
use serde_json::Value;

const SUCCEEDED: &str = "payment_intent.succeeded";

/// Currencies Stripe counts in whole units: 5000 JPY is "5000 JPY".
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies Stripe counts in thousandths: 1500 KWD is "1.500 KWD".
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// The body of a Slack incoming-webhook message.
#[derive(Serialize)]
struct SlackMessage<'a> {
    text: &'a str,
}

/// What to do with one event.
#[derive(Debug, PartialEq)]
enum Action {
    /// Not a `payment_intent.succeeded`: log its type and succeed.
    Ignore(String),
    /// Post this text to Slack.
    Post(String),
}

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let text = match action(&event)? {
        Action::Ignore(event_type) => {
            info!("ignoring {event_type}");
            return Ok(());
        }
        Action::Post(text) => text,
    };
    let url = config::get("slack_url").ok_or_else(|| reject("slack_url not set"))?;
    http::post_json(&url, &SlackMessage { text: &text })?;
    info!("posted to Slack: {text}");
    Ok(())
}

fn action(event: &Event) -> Result<Action, HandlerError> {
    // The host names the type from the payload's `type`; read it ourselves
    // only when it did not.
    if let Some(t) = event.event_type()
        && t != SUCCEEDED
    {
        return Ok(Action::Ignore(t.to_string()));
    }
    let payload: Value = event.json()?;
    let event_type = event
        .event_type()
        .or_else(|| payload["type"].as_str())
        .unwrap_or("unknown");
    if event_type != SUCCEEDED {
        return Ok(Action::Ignore(event_type.to_string()));
    }
    payment_text(&payload["data"]["object"]).map(Action::Post)
}

/// "Payment received: 20.00 USD from cus_NffrFeUfNV2Hib (pi_3MtwBwLkdIwHu7ix28a3tqPa)".
fn payment_text(intent: &Value) -> Result<String, HandlerError> {
    let id = intent["id"]
        .as_str()
        .ok_or_else(|| reject("payment intent without data.object.id"))?;
    let amount = intent["amount"].as_i64().ok_or_else(|| {
        reject(format!(
            "payment intent {id} without an integer data.object.amount"
        ))
    })?;
    let currency = intent["currency"]
        .as_str()
        .ok_or_else(|| reject(format!("payment intent {id} without data.object.currency")))?;
    let customer = intent["customer"]
        .as_str()
        .or_else(|| intent["receipt_email"].as_str())
        .unwrap_or("unknown customer");
    Ok(format!(
        "Payment received: {} from {customer} ({id})",
        format_amount(amount, currency)
    ))
}

/// An amount in minor units as Stripe counts them, with the currency upper-cased:
/// (2000, "usd") is "20.00 USD", (5000, "jpy") is "5000 JPY".
fn format_amount(amount: i64, currency: &str) -> String {
    let lower = currency.to_ascii_lowercase();
    let upper = currency.to_ascii_uppercase();
    let decimals = if ZERO_DECIMAL.contains(&lower.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&lower.as_str()) {
        3
    } else {
        2
    };
    if decimals == 0 {
        return format!("{amount} {upper}");
    }
    let scale = 10u64.pow(decimals);
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!(
        "{sign}{}.{:0width$} {upper}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_event(event_type: Option<&str>) -> Event {
        Event {
            id: "evt_1".into(),
            provider: "stripe".into(),
            event_type: event_type.map(String::from),
            body: include_bytes!("../fixtures/payment_intent.succeeded.json").to_vec(),
            ..Event::default()
        }
    }

    #[test]
    fn fixture_posts_the_documented_body() {
        for event_type in [Some(SUCCEEDED), None] {
            let Action::Post(text) = action(&fixture_event(event_type)).unwrap() else {
                panic!("not posted");
            };
            let body = serde_json::to_string(&SlackMessage { text: &text }).unwrap();
            assert_eq!(
                body,
                r#"{"text":"Payment received: 20.00 USD from cus_NffrFeUfNV2Hib (pi_3MtwBwLkdIwHu7ix28a3tqPa)"}"#
            );
        }
    }

    #[test]
    fn other_types_are_ignored() {
        let event = fixture_event(Some("charge.refunded"));
        assert_eq!(
            action(&event).unwrap(),
            Action::Ignore("charge.refunded".into())
        );
        let event = Event {
            body: br#"{"type":"customer.created"}"#.to_vec(),
            ..Event::default()
        };
        assert_eq!(
            action(&event).unwrap(),
            Action::Ignore("customer.created".into())
        );
    }

    #[test]
    fn customer_falls_back_to_email_then_unknown() {
        let intent = serde_json::json!({"id": "pi_1", "amount": 5000, "currency": "jpy",
            "customer": null, "receipt_email": "jenny@example.com"});
        assert_eq!(
            payment_text(&intent).unwrap(),
            "Payment received: 5000 JPY from jenny@example.com (pi_1)"
        );
        let intent = serde_json::json!({"id": "pi_2", "amount": 5, "currency": "eur"});
        assert_eq!(
            payment_text(&intent).unwrap(),
            "Payment received: 0.05 EUR from unknown customer (pi_2)"
        );
        let intent = serde_json::json!({"id": "pi_3", "currency": "eur"});
        assert!(matches!(
            payment_text(&intent),
            Err(HandlerError::Reject(_))
        ));
    }

    #[test]
    fn amounts() {
        assert_eq!(format_amount(2000, "usd"), "20.00 USD");
        assert_eq!(format_amount(1999, "eur"), "19.99 EUR");
        assert_eq!(format_amount(0, "gbp"), "0.00 GBP");
        assert_eq!(format_amount(5000, "jpy"), "5000 JPY");
        assert_eq!(format_amount(123456, "krw"), "123456 KRW");
        assert_eq!(format_amount(1500, "kwd"), "1.500 KWD");
        assert_eq!(format_amount(-250, "usd"), "-2.50 USD");
    }
}

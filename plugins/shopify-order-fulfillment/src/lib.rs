//! Asks a fulfilment service to ship each new Shopify order, exactly once.
//!
//! See README.md for the configuration and the exact request.

use hookhost_sdk::prelude::*;
use serde::{Deserialize, Serialize};

const ORDERS_CREATE: &str = "orders/create";

/// The fields of a Shopify order this handler reads.
#[derive(Deserialize)]
struct Order {
    id: u64,
    order_number: u64,
    email: Option<String>,
    line_items: Vec<LineItem>,
    shipping_address: Option<Address>,
}

#[derive(Deserialize, Serialize)]
struct LineItem {
    sku: Option<String>,
    quantity: u64,
}

#[derive(Deserialize, Serialize)]
struct Address {
    name: Option<String>,
    address1: Option<String>,
    city: Option<String>,
    zip: Option<String>,
    country_code: Option<String>,
}

/// The body sent to the fulfilment service; fields serialise in this order.
#[derive(Serialize)]
struct FulfillmentRequest<'a> {
    order_id: u64,
    order_number: u64,
    email: Option<&'a str>,
    line_items: &'a [LineItem],
    shipping_address: Option<&'a Address>,
}

impl<'a> From<&'a Order> for FulfillmentRequest<'a> {
    fn from(order: &'a Order) -> Self {
        FulfillmentRequest {
            order_id: order.id,
            order_number: order.order_number,
            email: order.email.as_deref(),
            line_items: &order.line_items,
            shipping_address: order.shipping_address.as_ref(),
        }
    }
}

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let topic = event
        .event_type()
        .or_else(|| event.header("x-shopify-topic"))
        .unwrap_or("unknown");
    if topic != ORDERS_CREATE {
        info!("ignoring {topic}");
        return Ok(());
    }
    let order: Order = event.json()?;
    let id = order.id;
    let key = format!("order:{id}");
    if kv::get(&key)?.is_some() {
        info!("order {id} already sent for fulfilment");
        return Ok(());
    }
    let url = config::get("fulfillment_url").ok_or_else(|| reject("fulfillment_url not set"))?;
    http::post_json(&url, &FulfillmentRequest::from(&order))?;
    kv::set(&key, event.id.as_bytes())?;
    info!("requested fulfilment of order {id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_request_body() {
        let order: Order =
            serde_json::from_slice(include_bytes!("../fixtures/orders-create.json")).unwrap();
        assert_eq!(
            serde_json::to_string(&FulfillmentRequest::from(&order)).unwrap(),
            r#"{"order_id":820982911946154508,"order_number":1234,"email":"jon@example.com","line_items":[{"sku":"IPOD2008RED","quantity":1},{"sku":"IPOD2008BLACK","quantity":2}],"shipping_address":{"name":"Steve Shipper","address1":"123 Shipping Street","city":"Shippington","zip":"40003","country_code":"US"}}"#
        );
    }

    #[test]
    fn missing_fields_serialise_as_null() {
        let order: Order = serde_json::from_str(
            r#"{"id":1,"order_number":1001,"email":null,"line_items":[{"sku":null,"quantity":3}]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&FulfillmentRequest::from(&order)).unwrap(),
            r#"{"order_id":1,"order_number":1001,"email":null,"line_items":[{"sku":null,"quantity":3}],"shipping_address":null}"#
        );
    }
}

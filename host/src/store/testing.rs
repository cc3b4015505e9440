//! Rows the store's and the queue's unit tests start from.

use crate::domain::Provider;
use crate::ids::{DeliveryId, EndpointId, PluginName, TenantId};
use crate::store::{NewDelivery, Store};

/// A tenant with one plugin version, enough for deliveries to be stored.
pub(crate) async fn tenant_with_plugin(store: &dyn Store) -> (TenantId, PluginName) {
    let tenant = TenantId::new("acme").unwrap();
    let plugin = PluginName::new("echo").unwrap();
    store.create_tenant(&tenant, None).await.unwrap();
    store
        .add_plugin_version(&tenant, &plugin, "sha256:00", &[], b"\0asm", u64::MAX)
        .await
        .unwrap();
    (tenant, plugin)
}

/// A webhook for version 1 of the plugin, due at once.
pub(crate) fn delivery(tenant: &TenantId, plugin: &PluginName) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::generate(),
        tenant: tenant.clone(),
        endpoint: EndpointId::new("orders").unwrap(),
        event_id: None,
        provider: Provider::None,
        event_type: None,
        headers: vec![],
        body: bytes::Bytes::from_static(b"{}"),
        received_at: crate::domain::Timestamp::now(),
        plugin: plugin.clone(),
        plugin_version: 1,
        lease_ms: 30_000,
        arrival: crate::store::Arrival::Due,
    }
}

//! Plugin versions ready to run, loaded from the store once per host.
//!
//! Entries are keyed by the component's digest, which the claim reads with
//! the delivery: a (tenant, plugin, version) whose tenant was deleted and
//! created again, or whose version was deleted, can never reach code loaded
//! for what the name meant before, on any host. The runtime keeps the
//! compiled artifact on disk, so a restart skips compilation too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::ids::{PluginName, TenantId};
use crate::runtime::{Plugin, Runtime};
use crate::store::Store;

/// Loaded plugin versions of every tenant.
pub(crate) struct PluginCache {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    loaded: Mutex<HashMap<String, Arc<OnceCell<Arc<Plugin>>>>>,
}

impl PluginCache {
    pub(crate) fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> Self {
        Self {
            store,
            runtime,
            loaded: Mutex::default(),
        }
    }

    /// The plugin version whose component has `digest`, loading it on first
    /// use; concurrent first uses share one load. Failures are not cached.
    pub(crate) async fn get(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
        digest: Option<&str>,
    ) -> Result<Arc<Plugin>, String> {
        let digest =
            digest.ok_or_else(|| format!("plugin {plugin} v{version} no longer exists"))?;
        let cell = self
            .loaded
            .lock()
            .expect("poisoned")
            .entry(digest.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let wasm = self
                .store
                .plugin_wasm(tenant, plugin, version)
                .await
                .map_err(|e| format!("could not read plugin {plugin} v{version}: {e}"))?
                .ok_or_else(|| format!("plugin {plugin} v{version} no longer exists"))?;
            let loaded = self
                .runtime
                .load(&wasm)
                .await
                .map_err(|e| format!("could not load plugin {plugin} v{version}: {e}"))?;
            if loaded.digest() != digest {
                return Err(format!(
                    "plugin {plugin} v{version} changed while it was loaded; it runs again later"
                ));
            }
            Ok(loaded)
        })
        .await
        .cloned()
    }
}

//! Plugin versions ready to run, loaded from the store once per host.
//!
//! Versions are immutable, so an entry never goes stale; the runtime keeps
//! the compiled artifact on disk, so a restart skips compilation too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::ids::{PluginName, TenantId};
use crate::runtime::{Plugin, Runtime};
use crate::store::Store;

type Key = (TenantId, PluginName, u32);

/// Loaded plugin versions of every tenant.
pub(crate) struct PluginCache {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    loaded: Mutex<HashMap<Key, Arc<OnceCell<Arc<Plugin>>>>>,
}

impl PluginCache {
    pub(crate) fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> Self {
        Self {
            store,
            runtime,
            loaded: Mutex::default(),
        }
    }

    /// The plugin version, loading it on first use; concurrent first uses
    /// share one load. Failures are not cached.
    pub(crate) async fn get(
        &self,
        tenant: &TenantId,
        plugin: &PluginName,
        version: u32,
    ) -> Result<Arc<Plugin>, String> {
        let cell = self
            .loaded
            .lock()
            .expect("poisoned")
            .entry((tenant.clone(), plugin.clone(), version))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let wasm = self
                .store
                .plugin_wasm(tenant, plugin, version)
                .await
                .map_err(|e| format!("could not read plugin {plugin} v{version}: {e}"))?
                .ok_or_else(|| format!("plugin {plugin} v{version} no longer exists"))?;
            self.runtime
                .load(&wasm)
                .await
                .map_err(|e| format!("could not load plugin {plugin} v{version}: {e}"))
        })
        .await
        .cloned()
    }
}

//! Plugin versions ready to run, loaded from the store once per host.
//!
//! Entries are keyed by the component's digest, which the claim reads with
//! the delivery: a (tenant, plugin, version) whose tenant was deleted and
//! created again, or whose version was deleted, can never reach code loaded
//! for what the name meant before, on any host. The runtime keeps the
//! compiled artifact on disk, so a restart skips compilation too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::OnceCell;

use crate::ids::{PluginName, TenantId};
use crate::runtime::{Plugin, Runtime};
use crate::store::Store;

/// Most plugin versions kept loaded; past it the one used longest ago is
/// dropped (and loaded again from the disk cache when next needed), so
/// uploading many versions cannot grow the host's memory without bound.
const MAX_LOADED: usize = 256;

type Entry = (Arc<OnceCell<Arc<Plugin>>>, Instant);

/// Loaded plugin versions of every tenant.
pub(crate) struct PluginCache {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    loaded: Mutex<HashMap<String, Entry>>,
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
        let cell = {
            let mut loaded = self.loaded.lock().expect("poisoned");
            if !loaded.contains_key(digest) && loaded.len() >= MAX_LOADED {
                let oldest = loaded
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(digest, _)| digest.clone());
                if let Some(oldest) = oldest {
                    loaded.remove(&oldest);
                }
            }
            let (cell, used) = loaded
                .entry(digest.to_owned())
                .or_insert_with(|| (Arc::default(), Instant::now()));
            *used = Instant::now();
            cell.clone()
        };
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

//! Guest CPU is rationed between tenants. A guest runs WebAssembly only
//! while it holds one of a few slots (by default one per core but one), so
//! however many of a tenant's invocations spin, the host's own work
//! (receiving, recording, claiming) keeps a core and sees few runnable guest
//! tasks in its way.
//!
//! A slot is held only while wasm code runs: it is given back on every call
//! into the host (an outbound request, a KV read, a sleep) and taken again on
//! the way back. At each epoch tick a holder gives its slot up if anyone is
//! waiting, and waiters are served by the guest time their tenant has used
//! while present, least first: a tenant whose plugins spin queues behind a
//! tenant whose plugins return in microseconds, which waits at most one tick.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wasmtime::{CallHook, StoreContextMut};

/// Rations slots among invocations, fairly between tenants.
pub(crate) struct CpuGate {
    state: Mutex<GateState>,
}

struct GateState {
    free: usize,
    /// Tenants with an invocation running; forgotten when they have none, so
    /// the map is bounded by the worker count.
    tenants: HashMap<Arc<str>, TenantUse>,
    waiters: Vec<Waiter>,
    next_seq: u64,
}

#[derive(Default)]
struct TenantUse {
    /// Guest time used while present, the order in which waiters are served.
    used: Duration,
    /// Invocations running.
    present: u32,
}

struct Waiter {
    tenant: Arc<str>,
    seq: u64,
    grant: Arc<Grant>,
}

#[derive(Default)]
struct Grant {
    given: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl CpuGate {
    pub(crate) fn new(slots: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(GateState {
                free: slots.max(1),
                tenants: HashMap::new(),
                waiters: Vec::new(),
                next_seq: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().expect("cpu gate lock")
    }

    /// Takes a slot for `tenant`, waiting behind the invocations of tenants
    /// that have used less.
    async fn acquire(&self, tenant: &Arc<str>) {
        let grant = {
            let mut state = self.lock();
            if state.free > 0 && state.waiters.is_empty() {
                state.free -= 1;
                return;
            }
            let grant = Arc::new(Grant::default());
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiters.push(Waiter {
                tenant: tenant.clone(),
                seq,
                grant: grant.clone(),
            });
            grant
        };
        // Dropped while waiting (the invocation's deadline passed): leave the
        // queue, or pass on a slot given meanwhile.
        let mut waiting = Waiting {
            gate: self,
            grant: Some(grant),
        };
        let grant = waiting.grant.clone().expect("set above");
        while !grant.given.load(std::sync::atomic::Ordering::Acquire) {
            grant.notify.notified().await;
        }
        waiting.grant = None;
    }

    /// Gives a slot back, charging `tenant` for the time it was held.
    fn release(&self, tenant: &Arc<str>, held: Duration) {
        let mut state = self.lock();
        if let Some(used) = state.tenants.get_mut(tenant) {
            used.used += held;
        }
        state.hand_over();
    }

    fn has_waiters(&self) -> bool {
        !self.lock().waiters.is_empty()
    }
}

impl GateState {
    fn arrive(&mut self, tenant: &Arc<str>) {
        // A tenant (re)appearing starts level with the least-used tenant
        // present: being away earns no credit to starve the others with.
        let floor = self.tenants.values().map(|t| t.used).min();
        let entry = self
            .tenants
            .entry(tenant.clone())
            .or_insert_with(|| TenantUse {
                used: floor.unwrap_or_default(),
                present: 0,
            });
        entry.present += 1;
    }

    fn depart(&mut self, tenant: &Arc<str>) {
        if let Some(entry) = self.tenants.get_mut(tenant) {
            entry.present -= 1;
            if entry.present == 0 {
                self.tenants.remove(tenant);
            }
        }
    }

    /// Gives the free slot to the waiter whose tenant has used least.
    fn hand_over(&mut self) {
        let next = self
            .waiters
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| {
                let used = self.tenants.get(&w.tenant).map(|t| t.used);
                (used.unwrap_or_default(), w.seq)
            })
            .map(|(i, _)| i);
        match next {
            Some(i) => {
                let waiter = self.waiters.swap_remove(i);
                waiter
                    .grant
                    .given
                    .store(true, std::sync::atomic::Ordering::Release);
                waiter.grant.notify.notify_one();
            }
            None => self.free += 1,
        }
    }
}

/// A wait for a slot in progress; on drop it leaves the queue or, when the
/// slot arrived just as it was abandoned, passes it on.
struct Waiting<'a> {
    gate: &'a CpuGate,
    grant: Option<Arc<Grant>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(grant) = self.grant.take() else {
            return;
        };
        let mut state = self.gate.lock();
        state.waiters.retain(|w| !Arc::ptr_eq(&w.grant, &grant));
        if grant.given.load(std::sync::atomic::Ordering::Acquire) {
            state.hand_over();
        }
    }
}

/// One invocation's claim on the gate, shared by its call hook and its epoch
/// callback; a slot still held when the store is dropped is given back.
pub(crate) struct Turn {
    gate: Arc<CpuGate>,
    tenant: Arc<str>,
    held_since: Mutex<Option<Instant>>,
}

impl Turn {
    pub(crate) fn new(gate: Arc<CpuGate>, tenant: &str) -> Arc<Self> {
        let tenant: Arc<str> = Arc::from(tenant);
        gate.lock().arrive(&tenant);
        Arc::new(Self {
            gate,
            tenant,
            held_since: Mutex::new(None),
        })
    }

    fn holding(&self) -> bool {
        self.held_since.lock().expect("turn lock").is_some()
    }

    /// Waits for a slot unless one is held already.
    pub(crate) async fn enter(&self) {
        if self.holding() {
            return;
        }
        self.gate.acquire(&self.tenant).await;
        *self.held_since.lock().expect("turn lock") = Some(Instant::now());
    }

    /// Gives the slot back, if one is held.
    pub(crate) fn leave(&self) {
        let since = self.held_since.lock().expect("turn lock").take();
        if let Some(since) = since {
            self.gate.release(&self.tenant, since.elapsed());
        }
    }

    /// At an epoch tick: whether to give the slot to someone waiting.
    pub(crate) fn should_yield(&self) -> bool {
        self.gate.has_waiters()
    }

    /// The future an epoch callback yields with: the slot is given up now
    /// and taken again, in turn, before the guest resumes.
    pub(crate) fn requeue(self: &Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.leave();
        let turn = self.clone();
        Box::pin(async move { turn.enter().await })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.leave();
        self.gate.lock().depart(&self.tenant);
    }
}

/// Slots follow the guest across the wasm/host boundary.
pub(crate) struct TurnHook(pub(crate) Arc<Turn>);

#[async_trait::async_trait]
impl<T: Send> wasmtime::CallHookHandler<T> for TurnHook {
    async fn handle_call_event(
        &self,
        _store: StoreContextMut<'_, T>,
        hook: CallHook,
    ) -> wasmtime::Result<()> {
        if hook.entering_host() {
            self.0.leave();
        } else {
            self.0.enter().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOON: Duration = Duration::from_secs(1);

    fn waits(turn: &Arc<Turn>) -> tokio::task::JoinHandle<()> {
        let turn = turn.clone();
        tokio::spawn(async move { turn.enter().await })
    }

    async fn queued(gate: &CpuGate, n: usize) {
        while gate.lock().waiters.len() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_free_slot_is_taken_at_once_and_the_last_one_makes_others_wait() {
        let gate = CpuGate::new(1);
        let (first, second) = (Turn::new(gate.clone(), "a"), Turn::new(gate.clone(), "a"));
        first.enter().await;
        assert!(gate.has_waiters() == false);
        let waiting = waits(&second);
        queued(&gate, 1).await;
        first.leave();
        tokio::time::timeout(SOON, waiting)
            .await
            .expect("the released slot is taken")
            .expect("task");
    }

    #[tokio::test]
    async fn the_tenant_that_used_less_is_served_first() {
        let gate = CpuGate::new(1);
        let spinner = Turn::new(gate.clone(), "spinner");
        let spinner_again = Turn::new(gate.clone(), "spinner");
        let quick = Turn::new(gate.clone(), "quick");
        spinner.enter().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        // The spinner's other invocation queued before the quick tenant's:
        // the quick tenant, having used nothing, still goes first.
        let spinner_waits = waits(&spinner_again);
        queued(&gate, 1).await;
        let quick_waits = waits(&quick);
        queued(&gate, 2).await;
        spinner.leave();
        tokio::time::timeout(SOON, quick_waits)
            .await
            .expect("quick is served")
            .expect("task");
        assert!(!spinner_waits.is_finished(), "the spinner still waits");
        quick.leave();
        tokio::time::timeout(SOON, spinner_waits)
            .await
            .expect("then the spinner")
            .expect("task");
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_trace_and_loses_no_slot() {
        let gate = CpuGate::new(1);
        let holder = Turn::new(gate.clone(), "a");
        holder.enter().await;
        let abandoned = Turn::new(gate.clone(), "b");
        assert!(
            tokio::time::timeout(Duration::from_millis(10), abandoned.enter())
                .await
                .is_err()
        );
        assert!(!gate.has_waiters(), "the waiter left the queue");
        drop(abandoned);
        drop(holder);
        let state = gate.lock();
        assert_eq!(state.free, 1, "the slot is free again");
        assert!(state.tenants.is_empty(), "no tenant is remembered");
    }
}

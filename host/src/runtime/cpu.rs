//! Guest CPU is rationed between tenants. A guest executes WebAssembly only
//! while it holds one of a few slots (by default one per core but one), so
//! however many of a tenant's invocations spin, the host's own work
//! (receiving, recording, claiming) keeps a core and sees few runnable guest
//! tasks in its way.
//!
//! wasmtime's call hook follows the guest across the wasm/host boundary. On
//! the way into the host (a host call, a libcall such as `memory.grow`, the
//! epoch check) the slot is *parked*: kept for the guest's return, but free
//! for any waiter to take; with guests waiting it is given back at once. On
//! the way back into wasm a parked slot is taken up again with one atomic
//! operation; a guest whose slot was taken asks for one at its next epoch
//! check, which comes at once, and waits there. So the uncontended path
//! costs a few atomic operations per transition and no lock.
//!
//! Waiters are served by the guest time their tenant has used, least first.
//! A waiter whose tenant has used clearly less than a holder's advances the
//! engine's epoch, so the holder reaches its epoch check within microseconds
//! and hands over: a tenant whose plugins return quickly barely waits behind
//! one that spins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wasmtime::{CallHook, Engine};

/// How far ahead of a waiter's tenant a holder's tenant must be before the
/// waiter preempts it; without a margin two spinning tenants would hand the
/// slot back and forth at every step.
const PREEMPT_MARGIN: Duration = Duration::from_millis(2);

/// Tenants remembered while none of their guests contend, beyond which
/// those the floor has caught up with are forgotten.
const REMEMBERED_TENANTS: usize = 1024;

/// Rations slots among invocations, fairly between tenants.
pub(crate) struct CpuGate {
    /// Advanced to preempt a holder (see the module doc).
    engine: Engine,
    /// How many guests wait, read without the lock by guests parking.
    waiting: Arc<AtomicUsize>,
    state: Mutex<GateState>,
}

struct GateState {
    free: usize,
    /// The least guest time among contending tenants, never decreasing: a
    /// tenant that starts contending again starts no lower, so going away
    /// and coming back earns no credit to starve the others with.
    floor: Duration,
    /// Tenants with a guest holding or waiting for a slot.
    tenants: HashMap<Arc<str>, TenantUse>,
    /// Guest time of tenants that stopped contending above the floor.
    remembered: HashMap<Arc<str>, Duration>,
    holders: Vec<Holder>,
    waiters: Vec<Waiter>,
    /// `waiters.len()`, for guests to read without the lock.
    waiting: Arc<AtomicUsize>,
    next_id: u64,
    preemptions: u64,
}

/// What `/metrics` shows of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestCpu {
    /// Guests waiting for a slot now.
    pub waiting: usize,
    /// Times a waiter made a holder of a busier tenant yield.
    pub preemptions: u64,
}

#[derive(Default)]
struct TenantUse {
    /// Guest time used, the order in which waiters are served.
    used: Duration,
    /// Its guests holding or waiting for a slot.
    contending: u32,
}

struct Holder {
    id: u64,
    tenant: Arc<str>,
    since: Instant,
    /// The holding guest's [`Turn::state`], to take the slot while parked.
    state: Arc<AtomicU8>,
}

struct Waiter {
    tenant: Arc<str>,
    seq: u64,
    wake: Arc<Notify>,
    /// Woken to try for a freed slot and not yet run.
    woken: bool,
}

impl CpuGate {
    pub(crate) fn new(slots: usize, engine: Engine) -> Arc<Self> {
        let waiting = Arc::new(AtomicUsize::new(0));
        Arc::new(Self {
            engine,
            waiting: waiting.clone(),
            state: Mutex::new(GateState {
                free: slots.max(1),
                floor: Duration::ZERO,
                tenants: HashMap::new(),
                remembered: HashMap::new(),
                holders: Vec::new(),
                waiters: Vec::new(),
                waiting,
                next_id: 1,
                preemptions: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().expect("cpu gate lock")
    }

    pub(crate) fn stats(&self) -> GuestCpu {
        let state = self.lock();
        GuestCpu {
            waiting: state.waiters.len(),
            preemptions: state.preemptions,
        }
    }

    /// Takes a slot for `tenant`, waiting behind the guests of tenants that
    /// have used less; returns the holder id to release it with.
    ///
    /// A freed slot is not handed to a waiter (whose task may sit in a
    /// run queue for a while) but offered: the best waiter is woken, and
    /// until it runs, any guest whose tenant has used no more than every
    /// waiter's may take it. Guests of one tenant thus never convoy behind
    /// each other, while a busier tenant still waits its turn.
    async fn acquire(&self, tenant: &Arc<str>, turn_state: &Arc<AtomicU8>) -> u64 {
        let wake = {
            let mut state = self.lock();
            state.contend(tenant);
            if let Some(id) = state.try_take(tenant, None, turn_state, PARKED) {
                return id;
            }
            let wake = Arc::new(Notify::new());
            let seq = state.next_id;
            state.next_id += 1;
            state.waiters.push(Waiter {
                tenant: tenant.clone(),
                seq,
                wake: wake.clone(),
                woken: false,
            });
            state.count_waiters();
            if state.should_preempt(tenant) {
                state.preemptions += 1;
                self.engine.increment_epoch();
            }
            wake
        };
        // Dropped while waiting (the invocation's deadline passed): leave
        // the queue, and pass on a wake it was given.
        let mut waiting = Waiting {
            gate: self,
            tenant,
            wake,
            served: false,
        };
        loop {
            waiting.wake.notified().await;
            let mut state = self.lock();
            if let Some(id) = state.try_take(tenant, Some(&waiting.wake), turn_state, PARKED) {
                waiting.served = true;
                return id;
            }
        }
    }

    /// A slot for `tenant` now, if one is free (or parked) and no waiter
    /// comes first; the guest runs at once.
    fn try_acquire(&self, tenant: &Arc<str>, turn_state: &Arc<AtomicU8>) -> Option<u64> {
        let mut state = self.lock();
        state.contend(tenant);
        let taken = state.try_take(tenant, None, turn_state, RUNNING);
        if taken.is_none() {
            state.stop_contending(tenant, Duration::ZERO);
        }
        taken
    }

    /// Gives slot `id` back, charging its tenant for the time it was held.
    fn release(&self, id: u64) {
        let mut state = self.lock();
        state.release(id);
    }
}

impl GateState {
    fn contend(&mut self, tenant: &Arc<str>) {
        if let Some(entry) = self.tenants.get_mut(tenant) {
            entry.contending += 1;
            return;
        }
        let used = self.remembered.remove(tenant).unwrap_or_default();
        self.tenants.insert(
            tenant.clone(),
            TenantUse {
                used: used.max(self.floor),
                contending: 1,
            },
        );
    }

    /// Records `turn_state`'s guest as a holder, in `mode` (running or parked).
    fn hold(&mut self, tenant: &Arc<str>, turn_state: &Arc<AtomicU8>, mode: u8) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        turn_state.store(mode, Ordering::SeqCst);
        self.holders.push(Holder {
            id,
            tenant: tenant.clone(),
            since: Instant::now(),
            state: turn_state.clone(),
        });
        id
    }

    /// Takes back slots whose guests are parked in the host, while none is free.
    fn take_parked(&mut self) {
        let mut i = 0;
        while self.free == 0 && i < self.holders.len() {
            let parked = self.holders[i]
                .state
                .compare_exchange(PARKED, FREE, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            if parked {
                let holder = self.holders.swap_remove(i);
                self.stop_contending(&holder.tenant, holder.since.elapsed());
                self.free += 1;
            } else {
                i += 1;
            }
        }
    }

    fn count_waiters(&self) {
        self.waiting.store(self.waiters.len(), Ordering::SeqCst);
    }

    fn release(&mut self, id: u64) {
        let Some(i) = self.holders.iter().position(|h| h.id == id) else {
            return;
        };
        let holder = self.holders.swap_remove(i);
        self.stop_contending(&holder.tenant, holder.since.elapsed());
        self.free += 1;
        self.wake_next();
    }

    /// A slot for `tenant` if one is free and no waiter's tenant has used
    /// less; `me` is the caller's own entry in the queue, if it has one.
    fn try_take(
        &mut self,
        tenant: &Arc<str>,
        me: Option<&Arc<Notify>>,
        turn_state: &Arc<AtomicU8>,
        mode: u8,
    ) -> Option<u64> {
        if self.free == 0 {
            self.take_parked();
        }
        let mine = self.used(tenant);
        let position = me.and_then(|me| self.waiters.iter().position(|w| Arc::ptr_eq(&w.wake, me)));
        let others_first = self.waiters.iter().any(|w| self.used(&w.tenant) < mine);
        if self.free == 0 || others_first {
            if let Some(i) = position {
                self.waiters[i].woken = false;
                // Woken, but another tenant's waiter came first meanwhile:
                // the slot is offered to it instead.
                if self.free > 0 {
                    self.wake_next();
                }
            }
            return None;
        }
        if let Some(i) = position {
            self.waiters.swap_remove(i);
            self.count_waiters();
        }
        self.free -= 1;
        let id = self.hold(tenant, turn_state, mode);
        if self.free > 0 {
            self.wake_next();
        }
        Some(id)
    }

    fn used(&self, tenant: &Arc<str>) -> Duration {
        self.tenants.get(tenant).map(|t| t.used).unwrap_or_default()
    }

    /// Wakes the waiter whose tenant has used least, unless one is awake.
    fn wake_next(&mut self) {
        if self.waiters.iter().any(|w| w.woken) {
            return;
        }
        let next = self
            .waiters
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| (self.used(&w.tenant), w.seq))
            .map(|(i, _)| i);
        if let Some(i) = next {
            self.waiters[i].woken = true;
            self.waiters[i].wake.notify_one();
        }
    }

    fn stop_contending(&mut self, tenant: &Arc<str>, held: Duration) {
        let Some(entry) = self.tenants.get_mut(tenant) else {
            return;
        };
        entry.used += held;
        entry.contending -= 1;
        let released = entry.used;
        if entry.contending == 0 {
            self.tenants.remove(tenant);
        }
        // The floor follows the least-used tenant still in the running, the
        // one releasing included (alone, it is the only one).
        let least = self
            .tenants
            .values()
            .map(|t| t.used)
            .fold(released, Duration::min);
        self.floor = self.floor.max(least);
        // Leaving keeps what was used beyond the floor; what is at or below
        // it would come back at the floor anyway.
        if released > self.floor && !self.tenants.contains_key(tenant) {
            self.remembered.insert(tenant.clone(), released);
            if self.remembered.len() > REMEMBERED_TENANTS {
                let floor = self.floor;
                self.remembered.retain(|_, used| *used > floor);
            }
        }
    }

    /// Whether a holder's tenant is clearly ahead of `tenant`.
    fn should_preempt(&self, tenant: &Arc<str>) -> bool {
        let mine = self.used(tenant) + PREEMPT_MARGIN;
        self.holders
            .iter()
            .any(|h| self.used(&h.tenant) + h.since.elapsed() > mine)
    }
}

/// A wait for a slot in progress; dropped unserved (its future was
/// abandoned), it leaves the queue and passes on a wake it was given.
struct Waiting<'a> {
    gate: &'a CpuGate,
    tenant: &'a Arc<str>,
    wake: Arc<Notify>,
    served: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut state = self.gate.lock();
        state.waiters.retain(|w| !Arc::ptr_eq(&w.wake, &self.wake));
        state.count_waiters();
        state.stop_contending(self.tenant, Duration::ZERO);
        if state.free > 0 {
            state.wake_next();
        }
    }
}

/// A guest holds no slot.
const FREE: u8 = 0;
/// A guest holds a slot and executes wasm.
const RUNNING: u8 = 1;
/// A guest holds a slot but is in the host: any waiter may take it.
const PARKED: u8 = 2;

/// One invocation's claim on the gate, shared by its call hook and its epoch
/// callback; a slot still held when the store is dropped is given back.
pub(crate) struct Turn {
    gate: Arc<CpuGate>,
    tenant: Arc<str>,
    /// [`FREE`], [`RUNNING`] or [`PARKED`]; shared with the gate, which may
    /// take a parked slot.
    state: Arc<AtomicU8>,
    /// The holder id of the slot last held.
    held: AtomicU64,
}

impl Turn {
    pub(crate) fn new(gate: Arc<CpuGate>, tenant: &str) -> Arc<Self> {
        Arc::new(Self {
            gate,
            tenant: Arc::from(tenant),
            state: Arc::new(AtomicU8::new(FREE)),
            held: AtomicU64::new(0),
        })
    }

    /// Follows a transition between wasm and the host. Returns `true` when
    /// the guest is about to run wasm without a slot: its epoch deadline
    /// must then fall due at once, so that [`Turn::on_epoch`] makes it wait.
    pub(crate) fn on_call(&self, hook: CallHook) -> bool {
        if hook.entering_host() {
            if self.state.load(Ordering::Relaxed) == RUNNING {
                self.state.store(PARKED, Ordering::SeqCst);
                if self.gate.waiting.load(Ordering::SeqCst) > 0 {
                    self.leave();
                }
            }
            return false;
        }
        let resumed =
            self.state
                .compare_exchange(PARKED, RUNNING, Ordering::SeqCst, Ordering::SeqCst);
        if resumed.is_ok() || self.state.load(Ordering::Relaxed) == RUNNING {
            return false;
        }
        match self.gate.try_acquire(&self.tenant, &self.state) {
            Some(id) => {
                self.held.store(id, Ordering::Relaxed);
                false
            }
            None => true,
        }
    }

    /// What the epoch callback does short of the deadline: yield to the
    /// executor, and then wait for a slot if the guest has none. The yield
    /// comes first even then: a free slot would otherwise be taken back
    /// without the task ever returning to the executor, which could then
    /// neither run the woken waiter nor cancel the invocation.
    pub(crate) fn on_epoch(self: &Arc<Self>) -> wasmtime::UpdateDeadline {
        if self.state.load(Ordering::SeqCst) == FREE {
            let turn = self.clone();
            wasmtime::UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    turn.enter().await
                }),
            )
        } else {
            wasmtime::UpdateDeadline::Yield(1)
        }
    }

    /// Waits for a slot unless one is held; it is held parked.
    async fn enter(&self) {
        if self.state.load(Ordering::SeqCst) == FREE {
            let id = self.gate.acquire(&self.tenant, &self.state).await;
            self.held.store(id, Ordering::Relaxed);
        }
    }

    /// Gives the slot back, if one is held and not taken meanwhile.
    fn leave(&self) {
        if self.state.swap(FREE, Ordering::SeqCst) != FREE {
            self.gate.release(self.held.load(Ordering::Relaxed));
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOON: Duration = Duration::from_secs(1);

    fn gate() -> Arc<CpuGate> {
        CpuGate::new(1, Engine::default())
    }

    /// Takes a slot and runs wasm in it, as the hook has a guest do.
    async fn run(turn: &Turn) {
        turn.enter().await;
        assert!(!turn.on_call(CallHook::CallingWasm));
    }

    fn waits(turn: &Arc<Turn>) -> tokio::task::JoinHandle<()> {
        let turn = turn.clone();
        tokio::spawn(async move { run(&turn).await })
    }

    async fn queued(gate: &CpuGate, n: usize) {
        while gate.lock().waiters.len() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_free_slot_is_taken_at_once_and_the_last_one_makes_others_wait() {
        let gate = gate();
        let (first, second) = (Turn::new(gate.clone(), "a"), Turn::new(gate.clone(), "a"));
        run(&first).await;
        let waiting = waits(&second);
        queued(&gate, 1).await;
        first.leave();
        tokio::time::timeout(SOON, waiting)
            .await
            .expect("the released slot is taken")
            .expect("task");
    }

    #[tokio::test]
    async fn a_slot_parked_in_the_host_is_taken_by_another_and_asked_for_again_on_return() {
        let gate = gate();
        let (a, b) = (Turn::new(gate.clone(), "a"), Turn::new(gate.clone(), "b"));
        run(&a).await;
        // Into the host and back with nobody waiting: no lock, the same slot.
        assert!(!a.on_call(CallHook::CallingHost));
        assert!(!a.on_call(CallHook::ReturningFromHost));
        assert!(!a.on_call(CallHook::CallingHost));
        tokio::time::timeout(Duration::from_millis(100), run(&b))
            .await
            .expect("b took the slot a parked");
        assert!(
            a.on_call(CallHook::ReturningFromHost),
            "a must wait for a slot"
        );
        let a_waits = {
            let a = a.clone();
            tokio::spawn(async move { a.enter().await })
        };
        queued(&gate, 1).await;
        b.leave();
        tokio::time::timeout(SOON, a_waits)
            .await
            .expect("a gets it back")
            .expect("task");
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_whoever_of_the_tenant_runs_first() {
        let gate = gate();
        let turns: Vec<_> = (0..3).map(|_| Turn::new(gate.clone(), "a")).collect();
        run(&turns[0]).await;
        let second_waits = waits(&turns[1]);
        queued(&gate, 1).await;
        // The second is woken, but the third, already running, takes the
        // slot instead of waiting for the second's task to be scheduled.
        turns[0].leave();
        tokio::time::timeout(Duration::from_millis(100), run(&turns[2]))
            .await
            .expect("the running guest took the free slot");
        assert!(!second_waits.is_finished());
        turns[2].leave();
        tokio::time::timeout(SOON, second_waits)
            .await
            .expect("then the woken one")
            .expect("task");
    }

    #[tokio::test]
    async fn the_tenant_that_used_less_is_served_first() {
        let gate = gate();
        let spinner = Turn::new(gate.clone(), "spinner");
        let spinner_again = Turn::new(gate.clone(), "spinner");
        let quick = Turn::new(gate.clone(), "quick");
        run(&spinner).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        // The spinner's other guest queued before the quick tenant's: the
        // quick tenant, having used nothing, still goes first.
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
    async fn a_waiter_that_used_less_preempts_the_holder_through_the_epoch() {
        let gate = gate();
        let spinner = Turn::new(gate.clone(), "spinner");
        run(&spinner).await;
        tokio::time::sleep(PREEMPT_MARGIN * 2).await;
        let quick = Turn::new(gate.clone(), "quick");
        let quick_waits = waits(&quick);
        queued(&gate, 1).await;
        assert_eq!(gate.stats().preemptions, 1, "the holder was asked to yield");

        // A waiter of the tenant holding the slot asks nothing of it.
        spinner.leave();
        quick_waits.await.expect("task");
        let spinner_again = Turn::new(gate.clone(), "spinner");
        let spinner_waits = waits(&spinner_again);
        queued(&gate, 1).await;
        assert_eq!(gate.stats().preemptions, 1, "no preemption by the spinner");
        quick.leave();
        spinner_waits.await.expect("task");
    }

    #[tokio::test]
    async fn a_tenant_arriving_late_starts_level_with_the_one_that_ran_alone() {
        let gate = gate();
        let old = Turn::new(gate.clone(), "old");
        run(&old).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        old.leave();
        // The newcomer has no claim to the 20 ms `old` used alone: it starts
        // where `old` is, so it cannot take the slot for that long.
        let new = Turn::new(gate.clone(), "new");
        run(&new).await;
        new.leave();
        let state = gate.lock();
        assert!(
            state.floor >= Duration::from_millis(20),
            "{:?}",
            state.floor
        );
        let new_used = state.remembered.get("new").copied().unwrap_or(state.floor);
        assert!(new_used >= Duration::from_millis(20), "{new_used:?}");
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_trace_and_loses_no_slot() {
        let gate = gate();
        let holder = Turn::new(gate.clone(), "a");
        run(&holder).await;
        let abandoned = Turn::new(gate.clone(), "b");
        assert!(
            tokio::time::timeout(Duration::from_millis(10), run(&abandoned))
                .await
                .is_err()
        );
        assert!(gate.lock().waiters.is_empty(), "the waiter left the queue");
        drop(abandoned);
        drop(holder);
        let state = gate.lock();
        assert_eq!(state.free, 1, "the slot is free again");
        assert!(state.holders.is_empty());
        assert!(state.tenants.is_empty(), "nobody contends");
    }
}

//! The fsync of the write-ahead log, off the writer's path (flush
//! pipelining).
//!
//! The queue's batches commit with `synchronous=NORMAL`: SQLite appends
//! their frames to the log and returns without an fsync. A thread of its
//! own then fsyncs the log, once for every batch committed since it last
//! did, and only then are those batches' callers answered. That is the
//! fsync `synchronous=FULL` would do inside COMMIT, done after the write
//! lock is let go: meanwhile the writer runs the next batch, instead of the
//! disk and the writer taking turns. What SQLite syncs itself under NORMAL
//! (the log before a checkpoint, the database after it, a new log header)
//! keeps the log readable, so an fsync here makes every commit before it
//! as durable as FULL would have.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::store::{Durable, StoreError};

/// Hands out [`Durable`]s for the writer's commits and fsyncs the log for them.
#[derive(Debug)]
pub(super) struct WalSync {
    shared: Arc<Shared>,
    synced: watch::Receiver<Synced>,
}

#[derive(Debug, Default)]
struct Shared {
    requested: Mutex<Requested>,
    wake: Condvar,
}

impl Shared {
    fn requested(&self) -> MutexGuard<'_, Requested> {
        // Nothing panics while holding it, so a poisoned lock is still sound.
        self.requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Requested {
    /// Commits that asked for an fsync so far.
    commits: u64,
    /// The store is gone: finish what was asked and stop.
    closed: bool,
}

#[derive(Debug, Clone, Default)]
struct Synced {
    /// Commits known to be on disk.
    commits: u64,
    /// Set by the first fsync that failed, and kept.
    failed: Option<String>,
}

impl WalSync {
    /// Starts the thread that fsyncs the log at `wal`.
    pub(super) fn start(wal: PathBuf) -> io::Result<Self> {
        Self::with(move || match File::open(&wal) {
            Ok(log) => log.sync_data(),
            // No log: the last connection checkpointed it into the database,
            // and synced that, before removing it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// Starts the thread with `fsync` as what makes the commits durable.
    fn with(mut fsync: impl FnMut() -> io::Result<()> + Send + 'static) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (report, synced) = watch::channel(Synced::default());
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("hookhost-wal-sync".into())
            .spawn(move || run(&thread, &mut fsync, &report))?;
        Ok(Self { shared, synced })
    }

    /// A commit has just returned: it is durable after the next fsync,
    /// which starts only now, so it covers the commit.
    pub(super) fn committed(&self) -> Durable {
        let commits = {
            let mut requested = self.shared.requested();
            requested.commits += 1;
            requested.commits
        };
        self.shared.wake.notify_one();
        self.until(commits)
    }

    /// Durable once every commit that asked for an fsync so far is.
    pub(super) fn caught_up(&self) -> Durable {
        let commits = self.shared.requested().commits;
        self.until(commits)
    }

    fn until(&self, commits: u64) -> Durable {
        let mut synced = self.synced.clone();
        Durable::after(async move {
            let synced = synced
                .wait_for(|s| s.commits >= commits || s.failed.is_some())
                .await
                .map_err(|_| StoreError::NotDurable("the log's fsync thread stopped".into()))?;
            match &synced.failed {
                Some(e) => Err(StoreError::NotDurable(e.clone())),
                None => Ok(()),
            }
        })
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        self.shared.requested().closed = true;
        self.shared.wake.notify_one();
    }
}

fn run(shared: &Shared, fsync: &mut dyn FnMut() -> io::Result<()>, report: &watch::Sender<Synced>) {
    let mut done = 0;
    loop {
        let commits = {
            let mut requested = shared.requested();
            while requested.commits == done && !requested.closed {
                requested = shared
                    .wake
                    .wait(requested)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if requested.commits == done {
                return;
            }
            requested.commits
        };
        let result = fsync();
        done = commits;
        report.send_modify(|synced| {
            synced.commits = commits;
            if let Err(e) = result {
                tracing::error!(error = %e, "fsync of the write-ahead log failed; no more commits are acknowledged");
                synced
                    .failed
                    .get_or_insert_with(|| format!("fsync of the write-ahead log: {e}"));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;

    /// A log whose every fsync waits for the test to let it finish.
    fn gated() -> (WalSync, mpsc::Receiver<()>, mpsc::Sender<io::Result<()>>) {
        let (started, fsyncs) = mpsc::channel();
        let (finish, finished) = mpsc::channel();
        let sync = WalSync::with(move || {
            // Once the test is over, nobody listens or answers any more.
            let _ = started.send(());
            finished.recv().unwrap_or(Ok(()))
        })
        .unwrap();
        (sync, fsyncs, finish)
    }

    fn started(fsyncs: &mpsc::Receiver<()>) {
        fsyncs
            .recv_timeout(Duration::from_secs(5))
            .expect("an fsync started");
    }

    #[tokio::test]
    async fn a_commit_is_durable_only_after_an_fsync_that_started_after_it() {
        let (sync, fsyncs, finish) = gated();
        let first = sync.committed().wait();
        started(&fsyncs);
        // Committed while the first fsync runs: that one does not cover it.
        let mut second = Box::pin(sync.committed().wait());
        let mut first = Box::pin(first);

        finish.send(Ok(())).unwrap();
        first.as_mut().await.unwrap();
        assert!(second.as_mut().now_or_never().is_none());
        started(&fsyncs);
        finish.send(Ok(())).unwrap();
        second.await.unwrap();
    }

    #[tokio::test]
    async fn one_fsync_covers_every_commit_waiting_for_it() {
        let (sync, fsyncs, finish) = gated();
        let first = sync.committed().wait();
        started(&fsyncs);
        let (second, third) = (sync.committed().wait(), sync.committed().wait());
        finish.send(Ok(())).unwrap();
        first.await.unwrap();
        started(&fsyncs);
        finish.send(Ok(())).unwrap();
        second.await.unwrap();
        third.await.unwrap();
        assert!(fsyncs.try_recv().is_err(), "two fsyncs for three commits");
    }

    #[tokio::test]
    async fn catching_up_waits_for_pending_commits_and_no_longer() {
        let (sync, fsyncs, finish) = gated();
        sync.caught_up().wait().await.unwrap();
        let mut behind = Box::pin(sync.committed().wait());
        let mut caught_up = Box::pin(sync.caught_up().wait());
        started(&fsyncs);
        assert!(caught_up.as_mut().now_or_never().is_none());
        finish.send(Ok(())).unwrap();
        caught_up.await.unwrap();
        behind.as_mut().await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_its_commits_and_every_later_one() {
        let (sync, fsyncs, finish) = gated();
        let lost = sync.committed().wait();
        started(&fsyncs);
        finish.send(Err(io::Error::other("disk gone"))).unwrap();
        let err = lost.await.unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");

        let later = sync.committed().wait();
        started(&fsyncs);
        finish.send(Ok(())).unwrap();
        assert!(matches!(later.await, Err(StoreError::NotDurable(_))));
    }
}

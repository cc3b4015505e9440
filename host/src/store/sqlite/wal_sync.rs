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
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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
    /// The store is gone: sync what was asked and stop (at once if the log
    /// cannot be reached).
    closed: bool,
}

#[derive(Debug, Clone, Default)]
struct Synced {
    /// Commits known to be on disk.
    commits: u64,
    /// Set by the first fsync that failed, and kept.
    failed: Option<String>,
}

/// Why a round of the thread did not make its commits durable.
#[derive(Debug)]
pub(super) enum SyncError {
    /// The log could not be reached (say, no file descriptor was left to
    /// open it again): nothing is known yet, so the round is tried again.
    Retry(io::Error),
    /// The fsync failed: the commits may be lost, and so may any later one
    /// (the kernel may have dropped the pages it could not write).
    Failed(io::Error),
}

/// How long a log that cannot be reached is waited for between tries.
const RETRY_AFTER: Duration = Duration::from_millis(100);

impl WalSync {
    /// Starts the thread that fsyncs the log at `wal`, which must exist: a
    /// wrong path would otherwise make every fsync a silent no-op.
    pub(super) fn start(wal: PathBuf) -> io::Result<Self> {
        let mut log = Log::open(wal)?;
        Self::with(move || log.sync())
    }

    /// Starts the thread with `fsync` as what makes the commits durable.
    pub(super) fn with(
        mut fsync: impl FnMut() -> Result<(), SyncError> + Send + 'static,
    ) -> io::Result<Self> {
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

    /// Why commits can no longer be made durable, once an fsync failed.
    pub(super) fn failure(&self) -> Option<String> {
        self.synced.borrow().failed.clone()
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

fn run(
    shared: &Shared,
    fsync: &mut dyn FnMut() -> Result<(), SyncError>,
    report: &watch::Sender<Synced>,
) {
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
        let mut warned = false;
        let result = loop {
            match fsync() {
                Err(SyncError::Retry(e)) => {
                    if !std::mem::replace(&mut warned, true) {
                        tracing::warn!(error = %e, "cannot reach the write-ahead log to fsync it; commits wait until it can");
                    }
                    let (requested, _) = shared
                        .wake
                        .wait_timeout_while(shared.requested(), RETRY_AFTER, |r| !r.closed)
                        .unwrap_or_else(PoisonError::into_inner);
                    if requested.closed {
                        // Its waiters hear that the thread stopped.
                        tracing::error!(error = %e, "the store closed while the write-ahead log was out of reach; the last commits were not acknowledged");
                        return;
                    }
                }
                Err(SyncError::Failed(e)) => break Err(e),
                Ok(()) => break Ok(()),
            }
        };
        done = commits;
        report.send_modify(|synced| {
            synced.commits = commits;
            if let Err(e) = result
                && synced.failed.is_none()
            {
                tracing::error!(error = %e, "fsync of the write-ahead log failed; no more writes are acknowledged");
                synced.failed = Some(format!("fsync of the write-ahead log: {e}"));
            }
        });
    }
}

/// The log, held open for the thread's life: the kernel reports a failed
/// writeback once to each open file, and to a file opened later only if no
/// one has seen it yet, so a descriptor opened per fsync could miss an error
/// that SQLite's own fsync (at a checkpoint) had already taken.
struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    fn open(path: PathBuf) -> io::Result<Self> {
        let file = File::open(&path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the write-ahead log {}: {e}", path.display()),
            )
        })?;
        Ok(Self { path, file })
    }

    fn sync(&mut self) -> Result<(), SyncError> {
        self.follow().map_err(SyncError::Retry)?;
        self.file.sync_data().map_err(SyncError::Failed)
    }

    /// Moves to the file at the log's path if it is no longer the one held.
    /// SQLite deletes the log when its last connection closes, having
    /// checkpointed it into the database and synced that, and creates a new
    /// one when a connection opens again. While there is none, the held one
    /// (already checkpointed) is as good as any.
    fn follow(&mut self) -> io::Result<()> {
        let held = self.file.metadata()?;
        let current = match std::fs::metadata(&self.path) {
            Ok(current) => current,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if (current.dev(), current.ino()) != (held.dev(), held.ino()) {
            match File::open(&self.path) {
                Ok(file) => self.file = file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// An fsync that waits for the test to let it finish, for tests of what
/// waits on the disk.
#[cfg(test)]
pub(crate) struct FsyncGate {
    started: tokio::sync::mpsc::UnboundedReceiver<()>,
    finish: std::sync::mpsc::Sender<io::Result<()>>,
}

#[cfg(test)]
impl FsyncGate {
    /// The gate, and the fsync for [`WalSync::with`] that it holds.
    pub(super) fn new() -> (Self, impl FnMut() -> Result<(), SyncError> + Send + 'static) {
        let (started, fsyncs) = tokio::sync::mpsc::unbounded_channel();
        let (finish, finished) = std::sync::mpsc::channel();
        let fsync = move || {
            // Once the test is over, nobody listens or answers any more.
            let _ = started.send(());
            finished.recv().unwrap_or(Ok(())).map_err(SyncError::Failed)
        };
        let gate = Self {
            started: fsyncs,
            finish,
        };
        (gate, fsync)
    }

    /// Waits for the next fsync to start.
    pub(crate) async fn started(&mut self) {
        tokio::time::timeout(Duration::from_secs(5), self.started.recv())
            .await
            .expect("an fsync started")
            .expect("the fsync thread runs");
    }

    /// Lets the running fsync end with `result`.
    pub(crate) fn finish(&self, result: io::Result<()>) {
        self.finish.send(result).expect("the fsync thread runs");
    }

    /// Checks that `durable` waits for the running fsync, then lets that
    /// end and waits for `durable`.
    pub(crate) async fn holds(&self, durable: Durable) {
        use futures::FutureExt;

        let mut waiting = Box::pin(durable.wait());
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "durable before its fsync ended"
        );
        self.finish(Ok(()));
        waiting.await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn gated() -> (WalSync, FsyncGate) {
        let (gate, fsync) = FsyncGate::new();
        (WalSync::with(fsync).unwrap(), gate)
    }

    #[tokio::test]
    async fn a_commit_is_durable_only_after_an_fsync_that_started_after_it() {
        let (sync, mut gate) = gated();
        let first = sync.committed().wait();
        gate.started().await;
        // Committed while the first fsync runs: that one does not cover it.
        let mut second = Box::pin(sync.committed().wait());
        let mut first = Box::pin(first);

        gate.finish(Ok(()));
        first.as_mut().await.unwrap();
        assert!(second.as_mut().now_or_never().is_none());
        gate.started().await;
        gate.finish(Ok(()));
        second.await.unwrap();
    }

    #[tokio::test]
    async fn one_fsync_covers_every_commit_waiting_for_it() {
        let (sync, mut gate) = gated();
        let first = sync.committed().wait();
        gate.started().await;
        let (second, third) = (sync.committed().wait(), sync.committed().wait());
        gate.finish(Ok(()));
        first.await.unwrap();
        gate.started().await;
        gate.finish(Ok(()));
        second.await.unwrap();
        third.await.unwrap();

        // With nothing to wait for, a third fsync would end at once; the
        // thread stops, and every fsync it started is on the channel.
        let FsyncGate {
            mut started,
            finish,
        } = gate;
        drop((sync, finish));
        while !started.is_closed() {
            tokio::task::yield_now().await;
        }
        assert!(started.try_recv().is_err(), "two fsyncs for three commits");
    }

    #[tokio::test]
    async fn catching_up_waits_for_pending_commits_and_no_longer() {
        let (sync, mut gate) = gated();
        sync.caught_up().wait().await.unwrap();
        let behind = sync.committed().wait();
        let mut caught_up = Box::pin(sync.caught_up().wait());
        gate.started().await;
        // Committed after catching up was asked for: not waited for.
        let mut later = Box::pin(sync.committed().wait());
        assert!(caught_up.as_mut().now_or_never().is_none());

        gate.finish(Ok(()));
        caught_up.await.unwrap();
        behind.await.unwrap();
        gate.started().await;
        assert!(later.as_mut().now_or_never().is_none());
        gate.finish(Ok(()));
        later.await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_its_commits_and_every_later_one() {
        let (sync, mut gate) = gated();
        let lost = sync.committed().wait();
        gate.started().await;
        gate.finish(Err(io::Error::other("disk gone")));
        let err = lost.await.unwrap_err();
        assert!(err.to_string().contains("disk gone"), "{err}");
        assert!(sync.failure().unwrap().contains("disk gone"));

        let later = sync.committed().wait();
        gate.started().await;
        gate.finish(Ok(()));
        assert!(matches!(later.await, Err(StoreError::NotDurable(_))));
    }

    #[tokio::test]
    async fn a_log_out_of_reach_is_tried_again_without_failing_its_commits() {
        let mut tries = 0;
        let sync = WalSync::with(move || {
            tries += 1;
            match tries {
                1 | 2 => Err(SyncError::Retry(io::Error::other("too many open files"))),
                _ => Ok(()),
            }
        })
        .unwrap();
        sync.committed().wait().await.unwrap();
        assert_eq!(sync.failure(), None);
    }

    #[test]
    fn a_log_that_does_not_exist_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = WalSync::start(dir.path().join("missing.db-wal")).unwrap_err();
        assert!(err.to_string().contains("missing.db-wal"), "{err}");
    }

    #[test]
    fn the_log_followed_is_the_one_now_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db-wal");
        std::fs::write(&path, b"old").unwrap();
        let mut log = Log::open(path.clone()).unwrap();
        std::fs::remove_file(&path).unwrap();
        log.sync().unwrap();

        std::fs::write(&path, b"new").unwrap();
        log.sync().unwrap();
        let (held, current) = (
            log.file.metadata().unwrap(),
            std::fs::metadata(&path).unwrap(),
        );
        assert_eq!(held.ino(), current.ino());
    }
}

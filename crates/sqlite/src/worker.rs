//! The writer thread (group commit) and the read-connection pool.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use rusqlite::{Connection, OpenFlags};
use tessera::{StoreError, StoreErrorKind};
use tokio::sync::oneshot;

use crate::codec::db_error;
use crate::schema;

/// Most jobs committed by one transaction.
const MAX_GROUP: usize = 128;
/// Read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Called once the group a job ran in has committed (or failed to).
type Reply = Box<dyn FnOnce(Result<(), &rusqlite::Error>) + Send>;
/// A write step: runs inside a savepoint; says whether it failed and how to answer.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

fn stopped() -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        "the SQLite writer thread has stopped",
    )
}

/// Sends write jobs to the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on its own connection to `path`.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(db_error)?;
        schema::configure(&conn).map_err(db_error)?;
        schema::migrate(&mut conn).map_err(db_error)?;
        let (jobs, rx) = mpsc::channel();
        thread::Builder::new()
            .name("tessera-sqlite-writer".into())
            .spawn(move || run(&conn, &rx))
            .map_err(|e| StoreError::new(StoreErrorKind::Unavailable, e))?;
        Ok(Self { jobs })
    }

    /// Runs `step` in the writer's next transaction; resolves once that transaction committed.
    pub async fn write<R: Send + 'static>(
        &self,
        step: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = step(conn);
            let failed = result.is_err();
            let reply: Reply = Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::new(StoreErrorKind::Unavailable, e.to_string())),
                };
                let _ = tx.send(answer); // the caller may have gone away: nothing to do
            });
            (failed, reply)
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// The writer loop: take every job waiting (up to a group), run each in a savepoint of one
/// transaction, commit once, then answer them all. Ends when every `Writer` is dropped.
fn run(conn: &Connection, rx: &Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            // Dropping the jobs answers every caller with `Unavailable`; nothing was written.
            continue;
        }
        let replies: Vec<Reply> = group.into_iter().map(|job| run_job(conn, job)).collect();
        let commit = conn.execute_batch("COMMIT");
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(commit.as_ref().map(|_| ()));
        }
    }
}

/// Runs one job in its own savepoint, so a failed step leaves the rest of the group intact.
fn run_job(conn: &Connection, job: Job) -> Reply {
    let _ = conn.execute_batch("SAVEPOINT job");
    let (failed, reply) = job(conn);
    if failed {
        let _ = conn.execute_batch("ROLLBACK TO job");
    }
    let _ = conn.execute_batch("RELEASE job");
    reply
}

/// Read connections, opened read-only on demand and reused.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Arc::default(),
        }
    }

    /// Runs `read` on a pooled connection on Tokio's blocking pool.
    pub async fn read<R: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = read(&conn);
            pool.give_back(conn);
            out
        })
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Other, e))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(db_error)?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .map_err(db_error)?;
        conn.pragma_update(None, "cache_size", -16384)
            .map_err(db_error)?;
        schema::map_pages(&conn).map_err(db_error)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

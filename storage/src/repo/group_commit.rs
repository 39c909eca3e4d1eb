//! Group commit: on SQLite, the short write transactions of concurrent requests share one
//! transaction.
//!
//! SQLite takes one writer at a time, and Poort reaches it through one connection whose every
//! statement is a round trip to the driver's thread. A token request on its own spends most of its
//! time in `BEGIN` and `COMMIT` and the thread hops around them. Here, writes queue for one writer
//! task: it takes whatever has queued while the previous transaction ran, runs each write in turn
//! inside one transaction, commits once, and only then answers each request. A request is answered
//! only after its rows are committed, exactly as before; the queue just lets many requests pay
//! for one `BEGIN`/`COMMIT`.
//!
//! The commonest writes, a new grant with its first token (every `client_credentials` request)
//! or with its authorization code (every authorization), are plain inserts: a batch stores all of
//! its new grants with one multi-row `INSERT` per table, so a batch of them costs a handful of
//! statements however many requests it answers.
//!
//! If any write of a batch fails, the batch is rolled back and each of its writes runs again in a
//! transaction of its own, so one request's failure (a conflict, a full disk) is that request's
//! alone. A write's work must therefore only touch the database through the transaction it is
//! given, and may run more than once. PostgreSQL has many connections and its own group commit:
//! there each write simply runs in its own transaction.
//!
//! On a SQLite file, the writer first runs each batch in place, on a connection of its own (see
//! [`crate::in_place`]): no thread switch per statement. Should that fail for any reason (the
//! pool's connection holds the lock, a conflict, a full disk), it is rolled back and the batch
//! runs through the pool as described above.

use super::begin_write;
use crate::StorageError;
use crate::in_place::{Counts, InPlace};
use crate::entity::grants::{authorization_code, grant, token};
use crate::entity::sessions::session_client;
use sea_orm::sea_query::InsertStatement;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QueryTrait};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// At most this many writes share a transaction (a bound on how long one batch holds the lock).
const MAX_BATCH: usize = 64;

/// A write's work: statements on the transaction it is given, and what they found.
pub(crate) type Work<T> =
    Box<dyn for<'t> Fn(&'t DatabaseTransaction) -> Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 't>> + Send + Sync>;

/// A write's work on the in-place connection (see [`crate::in_place`]), inside the batch's
/// transaction there: the statements of its [`Work`], run in place. It must return every error
/// the connection gives, never handle one and go on: a statement that breaks a constraint
/// there has already ended the batch's transaction (`OR ROLLBACK`, see `InPlace::sql_for`), and
/// what ran after it would be committed on its own.
pub(crate) type InPlaceWork<T> = Box<dyn Fn(&InPlace) -> Result<T, StorageError> + Send + Sync>;

/// The queue of writes waiting for the writer task, shared by every clone of a store.
#[derive(Debug, Default)]
pub struct GroupCommit {
    /// The writer of the current runtime; started on first use, and again if its runtime ended
    /// (tests run one runtime after another over one store).
    queue: Mutex<Option<mpsc::UnboundedSender<Queued>>>,
    /// The writer's own connection to a SQLite file, when it has one.
    in_place: Option<InPlace>,
    counts: std::sync::Arc<Counts>,
    /// Held by the writer through each batch; see [`GroupCommit::gate`].
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// What waits in the queue. Moved once into the queue and once out: boxing the grant's rows
/// would cost every new grant an allocation instead.
#[allow(clippy::large_enum_variant)]
enum Queued {
    /// Any write: work run on the shared transaction.
    Work(Box<dyn Job>),
    /// A new grant and what starts it, inserted with the batch's other new grants.
    NewGrant(NewGrantRows),
}

/// The rows of a new grant, all stored or none.
struct NewGrantRows {
    grant: grant::ActiveModel,
    first: FirstRows,
    reply: oneshot::Sender<Result<(), StorageError>>,
}

/// What a new grant is stored with (inside [`Queued`], unboxed for the same reason).
#[allow(clippy::large_enum_variant)]
pub(crate) enum FirstRows {
    /// Its first token (a client's own access token).
    Token(token::ActiveModel),
    /// Its authorization code, and the session's record of having signed in to the client.
    Code { code: authorization_code::ActiveModel, signed_in: session_client::ActiveModel },
}

impl GroupCommit {
    /// A queue whose writer runs its batches on `in_place` first.
    pub(crate) fn new(in_place: Option<InPlace>, counts: std::sync::Arc<Counts>) -> Self {
        Self { queue: Mutex::default(), in_place, counts, gate: Default::default() }
    }

    /// The writer holds this through each batch, from its `BEGIN` to its `COMMIT`. Whoever
    /// else takes it (the checkpointer, to restart the log) has SQLite's write lock to itself
    /// as soon as the batch in progress commits, while the writes that come meanwhile wait in
    /// the queue, not in SQLite's busy handler.
    pub(crate) fn gate(&self) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.gate.clone()
    }

    /// Runs `work` in a write transaction and returns its outcome once committed.
    pub(crate) async fn write<T: Send + 'static>(&self, db: &DatabaseConnection, work: Work<T>) -> Result<T, StorageError> {
        self.submit(db, work, None).await
    }

    /// [`GroupCommit::write`] for a write that can also run in place: its batch runs on the
    /// in-place connection when every write in it can.
    pub(crate) async fn write_in_place_first<T: Send + 'static>(
        &self,
        db: &DatabaseConnection,
        work: Work<T>,
        in_place: InPlaceWork<T>,
    ) -> Result<T, StorageError> {
        self.submit(db, work, Some(in_place)).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        db: &DatabaseConnection,
        work: Work<T>,
        in_place: Option<InPlaceWork<T>>,
    ) -> Result<T, StorageError> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return alone(db, &work).await;
        }
        let (reply, answer) = oneshot::channel();
        let job = Queued::Work(Box::new(Pending { work, in_place, outcome: None, reply }));
        if let Err(job) = self.enqueue(db, job) {
            // No runtime to run a writer on: write here.
            job.run_alone(db).await;
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Inserts a grant and its first rows in one transaction: all or none.
    pub(crate) async fn insert_new_grant(
        &self,
        db: &DatabaseConnection,
        grant: grant::ActiveModel,
        first: FirstRows,
    ) -> Result<(), StorageError> {
        let (reply, answer) = oneshot::channel();
        let job = Queued::NewGrant(NewGrantRows { grant, first, reply });
        if db.get_database_backend() != DbBackend::Sqlite {
            job.run_alone(db).await;
        } else if let Err(job) = self.enqueue(db, job) {
            job.run_alone(db).await;
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Hands `job` to the writer, starting one when there is none (or its runtime is gone).
    /// A refused job comes back whole, to be run alone.
    #[allow(clippy::result_large_err)]
    fn enqueue(&self, db: &DatabaseConnection, job: Queued) -> Result<(), Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let job = match queue.as_ref() {
            Some(sender) => match sender.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return Err(job) };
        let (sender, receiver) = mpsc::unbounded_channel();
        runtime.spawn(writer(db.clone(), self.in_place.clone(), self.counts.clone(), self.gate.clone(), receiver));
        sender.send(job).map_err(|mpsc::error::SendError(job)| job)?;
        *queue = Some(sender);
        Ok(())
    }
}

/// The writer task: one transaction per batch of whatever has queued.
async fn writer(
    db: DatabaseConnection,
    in_place: Option<InPlace>,
    counts: std::sync::Arc<Counts>,
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    while let Some(first) = queue.recv().await {
        let _batch = gate.lock().await;
        let mut batch = vec![first];
        // Requests arrive in waves (their clients were answered together by the last commit):
        // let the tasks that are ready run and queue their writes before this batch closes,
        // for as long as that brings new ones, instead of committing the first one or two alone.
        let mut yielded = false;
        loop {
            let before = batch.len();
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if batch.len() >= MAX_BATCH || (yielded && batch.len() == before) {
                break;
            }
            tokio::task::yield_now().await;
            yielded = true;
        }
        tracing::trace!(writes = batch.len(), "group commit");
        let alone = batch.len() == 1;
        let (mut grants, mut work): (Vec<NewGrantRows>, Vec<Box<dyn Job>>) = (Vec::new(), Vec::new());
        for job in batch {
            match job {
                Queued::NewGrant(rows) => grants.push(rows),
                Queued::Work(job) => work.push(job),
            }
        }
        let committed = match &in_place {
            Some(fast) if work.iter().all(|job| job.runs_in_place()) => {
                let ran = run_in_place(fast, &grants, &mut work).is_ok();
                let count = if ran { &counts.write_batches } else { &counts.write_fallbacks };
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ran
            }
            _ => false,
        };
        if committed || (!alone && run_together(&db, &grants, &mut work).await.is_ok()) {
            for rows in grants {
                let _ = rows.reply.send(Ok(()));
            }
            work.into_iter().for_each(|job| job.committed());
            continue;
        }
        for job in grants.into_iter().map(Queued::NewGrant).chain(work.into_iter().map(Queued::Work)) {
            job.run_alone(&db).await;
        }
    }
}

/// [`run_together`] on the in-place connection, where every job of the batch can run; on any
/// failure the transaction is rolled back (and the caller runs the batch through the pool).
fn run_in_place(fast: &InPlace, grants: &[NewGrantRows], work: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    fast.begin()?;
    let ran = (|| {
        for insert in new_grant_inserts(grants) {
            fast.execute(&DbBackend::Sqlite.build(&insert.statement))?;
        }
        for job in work.iter_mut() {
            job.run_in_place(fast)?;
        }
        Ok(fast.commit()?)
    })();
    if let Err(error) = &ran {
        tracing::debug!(%error, "an in-place write batch failed; writing through the pool");
        fast.rollback();
    }
    ran
}

/// Runs every job of `batch` in one transaction and commits it; the first failure rolls it all
/// back.
async fn run_together(db: &DatabaseConnection, grants: &[NewGrantRows], work: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    let txn = begin_write(db).await?;
    insert_new_grants(&txn, grants).await?;
    for job in work.iter_mut() {
        job.run(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The grants, then their tokens, codes and sessions' clients: each table with one statement.
async fn insert_new_grants(txn: &DatabaseTransaction, grants: &[NewGrantRows]) -> Result<(), StorageError> {
    for insert in new_grant_inserts(grants) {
        txn.execute(&insert.statement).await.map_err(|e| match insert.unique {
            Some(what) => StorageError::conflict_or(e, what),
            None => StorageError::Database(e),
        })?;
    }
    Ok(())
}

/// One multi-row `INSERT` of [`new_grant_inserts`], and what a unique violation would mean.
struct Insert {
    statement: InsertStatement,
    unique: Option<&'static str>,
}

/// The statements that store `grants` and their first rows: one per table that gets rows.
fn new_grant_inserts(grants: &[NewGrantRows]) -> Vec<Insert> {
    if grants.is_empty() {
        return Vec::new();
    }
    let mut inserts = vec![Insert {
        statement: grant::Entity::insert_many(grants.iter().map(|g| g.grant.clone())).into_query(),
        unique: None,
    }];
    let (mut tokens, mut codes, mut signed_in) = (Vec::new(), Vec::new(), Vec::new());
    for rows in grants {
        match &rows.first {
            FirstRows::Token(token) => tokens.push(token.clone()),
            FirstRows::Code { code, signed_in: pair } => {
                codes.push(code.clone());
                signed_in.push(pair.clone());
            }
        }
    }
    if !tokens.is_empty() {
        inserts.push(Insert { statement: token::Entity::insert_many(tokens).into_query(), unique: Some("token") });
    }
    if !codes.is_empty() {
        inserts.push(Insert { statement: authorization_code::Entity::insert_many(codes).into_query(), unique: Some("authorization code") });
        inserts.push(Insert { statement: super::sessions::insert_session_clients_statement(signed_in), unique: None });
    }
    inserts
}

/// One write in its own transaction.
async fn alone<T>(db: &DatabaseConnection, work: &Work<T>) -> Result<T, StorageError> {
    let txn = begin_write(db).await?;
    let outcome = work(&txn).await?;
    txn.commit().await?;
    Ok(outcome)
}

impl Queued {
    /// Runs this write in a transaction of its own and answers with how that went.
    async fn run_alone(self, db: &DatabaseConnection) {
        match self {
            Queued::Work(job) => job.run_alone(db).await,
            Queued::NewGrant(rows) => {
                let outcome = async {
                    let txn = begin_write(db).await?;
                    insert_new_grants(&txn, std::slice::from_ref(&rows)).await?;
                    txn.commit().await?;
                    Ok(())
                }
                .await;
                let _ = rows.reply.send(outcome);
            }
        }
    }
}

fn stopped() -> StorageError {
    StorageError::Unavailable("the database writer stopped (the process is shutting down)".into())
}

/// A queued write, whatever its outcome type.
trait Job: Send {
    /// Runs the work inside a shared transaction, keeping its outcome until the commit.
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send + 'a>>;
    /// Whether the job can run on the in-place connection.
    fn runs_in_place(&self) -> bool;
    /// Runs the work on the in-place connection, inside its transaction, keeping its outcome.
    fn run_in_place(&mut self, fast: &InPlace) -> Result<(), StorageError>;
    /// The shared transaction committed: answer with the kept outcome.
    fn committed(self: Box<Self>);
    /// Runs the work in a transaction of its own and answers with how that went.
    fn run_alone<'a>(self: Box<Self>, db: &'a DatabaseConnection) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

struct Pending<T> {
    work: Work<T>,
    in_place: Option<InPlaceWork<T>>,
    outcome: Option<T>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T: Send + 'static> Job for Pending<T> {
    fn run<'a>(&'a mut self, txn: &'a DatabaseTransaction) -> Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send + 'a>> {
        Box::pin(async move {
            self.outcome = Some((self.work)(txn).await?);
            Ok(())
        })
    }

    fn runs_in_place(&self) -> bool {
        self.in_place.is_some()
    }

    fn run_in_place(&mut self, fast: &InPlace) -> Result<(), StorageError> {
        let work = self.in_place.as_ref().ok_or_else(|| StorageError::Unavailable("no in-place form".into()))?;
        self.outcome = Some(work(fast)?);
        Ok(())
    }

    fn committed(self: Box<Self>) {
        let outcome = self.outcome.ok_or_else(|| StorageError::Corrupt("a committed write kept no outcome".into()));
        // The request may have gone (its client hung up): the rows stay committed all the same.
        let _ = self.reply.send(outcome);
    }

    fn run_alone<'a>(self: Box<Self>, db: &'a DatabaseConnection) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let outcome = alone(db, &self.work).await;
            let _ = self.reply.send(outcome);
        })
    }
}

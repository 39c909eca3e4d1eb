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
//! The commonest write, a new grant with its first token (every `client_credentials` request),
//! is a pair of plain inserts: a batch stores all of its pairs with one multi-row `INSERT` per
//! table, so a batch of them costs four statements however many requests it answers.
//!
//! If any write of a batch fails, the batch is rolled back and each of its writes runs again in a
//! transaction of its own, so one request's failure (a conflict, a full disk) is that request's
//! alone. A write's work must therefore only touch the database through the transaction it is
//! given, and may run more than once. PostgreSQL has many connections and its own group commit:
//! there each write simply runs in its own transaction.

use super::begin_write;
use crate::StorageError;
use crate::entity::grants::{grant, token};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// At most this many writes share a transaction (a bound on how long one batch holds the lock).
const MAX_BATCH: usize = 64;

/// A write's work: statements on the transaction it is given, and what they found.
pub(crate) type Work<T> =
    Box<dyn for<'t> Fn(&'t DatabaseTransaction) -> Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 't>> + Send + Sync>;

/// The queue of writes waiting for the writer task, shared by every clone of a store.
#[derive(Debug, Default)]
pub struct GroupCommit {
    /// The writer of the current runtime; started on first use, and again if its runtime ended
    /// (tests run one runtime after another over one store).
    queue: Mutex<Option<mpsc::UnboundedSender<Queued>>>,
}

/// What waits in the queue.
enum Queued {
    /// Any write: work run on the shared transaction.
    Work(Box<dyn Job>),
    /// A new grant and its first token, inserted with the batch's other pairs.
    GrantWithToken(NewPair),
}

struct NewPair {
    grant: grant::ActiveModel,
    token: token::ActiveModel,
    reply: oneshot::Sender<Result<(), StorageError>>,
}

impl GroupCommit {
    /// Runs `work` in a write transaction and returns its outcome once committed.
    pub(crate) async fn write<T: Send + 'static>(&self, db: &DatabaseConnection, work: Work<T>) -> Result<T, StorageError> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return alone(db, &work).await;
        }
        let (reply, answer) = oneshot::channel();
        let job = Queued::Work(Box::new(Pending { work, outcome: None, reply }));
        if let Err(job) = self.enqueue(db, job) {
            // No runtime to run a writer on: write here.
            job.run_alone(db).await;
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Inserts a grant and its first token in one transaction: both or neither.
    pub(crate) async fn insert_grant_with_token(
        &self,
        db: &DatabaseConnection,
        grant: grant::ActiveModel,
        token: token::ActiveModel,
    ) -> Result<(), StorageError> {
        let (reply, answer) = oneshot::channel();
        let job = Queued::GrantWithToken(NewPair { grant, token, reply });
        if db.get_database_backend() != DbBackend::Sqlite {
            job.run_alone(db).await;
        } else if let Err(job) = self.enqueue(db, job) {
            job.run_alone(db).await;
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Hands `job` to the writer, starting one when there is none (or its runtime is gone).
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
        runtime.spawn(writer(db.clone(), receiver));
        sender.send(job).map_err(|mpsc::error::SendError(job)| job)?;
        *queue = Some(sender);
        Ok(())
    }
}

/// The writer task: one transaction per batch of whatever has queued.
async fn writer(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = queue.recv().await {
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
        if batch.len() == 1
            && let Some(job) = batch.pop()
        {
            job.run_alone(&db).await;
            continue;
        }
        let (mut pairs, mut work): (Vec<NewPair>, Vec<Box<dyn Job>>) = (Vec::new(), Vec::new());
        for job in batch {
            match job {
                Queued::GrantWithToken(pair) => pairs.push(pair),
                Queued::Work(job) => work.push(job),
            }
        }
        match run_together(&db, &pairs, &mut work).await {
            Ok(()) => {
                for pair in pairs {
                    let _ = pair.reply.send(Ok(()));
                }
                work.into_iter().for_each(|job| job.committed());
            }
            Err(_) => {
                for job in pairs.into_iter().map(Queued::GrantWithToken).chain(work.into_iter().map(Queued::Work)) {
                    job.run_alone(&db).await;
                }
            }
        }
    }
}

/// Runs every job of `batch` in one transaction and commits it; the first failure rolls it all
/// back.
async fn run_together(db: &DatabaseConnection, pairs: &[NewPair], work: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    let txn = begin_write(db).await?;
    insert_pairs(&txn, pairs).await?;
    for job in work.iter_mut() {
        job.run(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The grants, then their tokens, each table with one statement.
async fn insert_pairs(txn: &DatabaseTransaction, pairs: &[NewPair]) -> Result<(), StorageError> {
    if pairs.is_empty() {
        return Ok(());
    }
    grant::Entity::insert_many(pairs.iter().map(|p| p.grant.clone())).exec_without_returning(txn).await?;
    token::Entity::insert_many(pairs.iter().map(|p| p.token.clone()))
        .exec_without_returning(txn)
        .await
        .map_err(|e| StorageError::conflict_or(e, "token"))?;
    Ok(())
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
            Queued::GrantWithToken(pair) => {
                let outcome = async {
                    let txn = begin_write(db).await?;
                    insert_pairs(&txn, std::slice::from_ref(&pair)).await?;
                    txn.commit().await?;
                    Ok(())
                }
                .await;
                let _ = pair.reply.send(outcome);
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
    /// The shared transaction committed: answer with the kept outcome.
    fn committed(self: Box<Self>);
    /// Runs the work in a transaction of its own and answers with how that went.
    fn run_alone<'a>(self: Box<Self>, db: &'a DatabaseConnection) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

struct Pending<T> {
    work: Work<T>,
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

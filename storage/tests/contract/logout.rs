//! The back-channel logout outbox: queueing once per session and client, claiming by one node
//! at a time, leases that run out, attempts, retries by an administrator, counts and purging.

use crate::support::{Db, contract, now};
use poort_storage::repo::{AttemptOutcome, DeliveryStatus, NewLogoutDelivery};

contract!(
    enqueue_queues_each_client_once_per_session,
    claims_are_exclusive_until_the_lease_runs_out,
    attempts_move_deliveries_through_their_states,
    failed_deliveries_can_be_retried,
    list_counts_and_purge;
    shared: two_nodes_claiming_at_once_never_share_a_delivery,
);

fn delivery(session: &str, client: &str) -> NewLogoutDelivery {
    NewLogoutDelivery {
        session_id: session.to_string(),
        client_id: client.to_string(),
        user_id: "user-1".to_string(),
        uri: format!("https://{client}.example/backchannel"),
    }
}

async fn enqueue_queues_each_client_once_per_session(db: Db) {
    let outbox = db.store.logout_deliveries();
    let before = now();
    assert_eq!(outbox.enqueue(vec![delivery("s1", "crm"), delivery("s1", "admin")]).await.unwrap(), 2);
    assert_eq!(outbox.enqueue(vec![delivery("s1", "crm"), delivery("s2", "crm")]).await.unwrap(), 1, "s1/crm is queued already");
    assert_eq!(outbox.enqueue(Vec::new()).await.unwrap(), 0);
    let listed = outbox.list(None, 0, 10).await.unwrap();
    assert_eq!(listed.len(), 3);
    let crm = listed.iter().find(|d| d.session_id == "s1" && d.client_id == "crm").unwrap();
    assert_eq!(uuid::Uuid::parse_str(&crm.id).unwrap().get_version_num(), 7);
    assert_eq!(crm.user_id, "user-1");
    assert_eq!(crm.uri, "https://crm.example/backchannel");
    assert_eq!(crm.status, DeliveryStatus::Pending);
    assert_eq!((crm.attempts, crm.lease_until, crm.last_error.as_deref(), crm.finished_at), (0, None, None, None));
    assert!((before..=now()).contains(&crm.created_at));
    assert_eq!(crm.next_attempt_at, crm.created_at, "due at once");
    assert_eq!(outbox.get(&crm.id).await.unwrap().as_ref(), Some(crm));
    assert_eq!(outbox.get("no-such-delivery").await.unwrap(), None);
}

async fn claims_are_exclusive_until_the_lease_runs_out(db: Db) {
    let outbox = db.store.logout_deliveries();
    outbox.enqueue(vec![delivery("s1", "a"), delivery("s1", "b"), delivery("s1", "c")]).await.unwrap();
    let t = now();
    let first = outbox.claim_due(t, 30, 2).await.unwrap();
    assert_eq!(first.len(), 2, "at most the limit");
    assert!(first.iter().all(|d| d.lease_until == Some(t + 30)));
    let second = outbox.claim_due(t, 30, 10).await.unwrap();
    assert_eq!(second.len(), 1, "only the one not leased");
    assert!(first.iter().all(|d| d.id != second[0].id));
    assert!(outbox.claim_due(t + 29, 30, 10).await.unwrap().is_empty(), "every lease still runs");
    // A node that died leaves its lease behind; after it runs out the rows are claimable again.
    assert_eq!(outbox.claim_due(t + 30, 30, 10).await.unwrap().len(), 3);
    assert_eq!(outbox.next_due_at().await.unwrap(), Some(t + 60), "due again when the newest lease ends");
}

async fn attempts_move_deliveries_through_their_states(db: Db) {
    let outbox = db.store.logout_deliveries();
    outbox.enqueue(vec![delivery("s1", "ok"), delivery("s1", "flaky"), delivery("s1", "refuses")]).await.unwrap();
    let t = now();
    let claimed = outbox.claim_due(t, 30, 10).await.unwrap();
    let id = |client: &str| claimed.iter().find(|d| d.client_id == client).unwrap().id.clone();

    outbox.record_attempt(&id("ok"), AttemptOutcome::Delivered, t + 1).await.unwrap();
    outbox.record_attempt(&id("flaky"), AttemptOutcome::Retry { error: "connection refused\nat line 2", retry_at: t + 100 }, t + 1).await.unwrap();
    outbox.record_attempt(&id("refuses"), AttemptOutcome::Failed { error: "HTTP 400" }, t + 1).await.unwrap();

    let ok = outbox.get(&id("ok")).await.unwrap().unwrap();
    assert_eq!((ok.status, ok.attempts, ok.lease_until, ok.finished_at), (DeliveryStatus::Delivered, 1, None, Some(t + 1)));
    let flaky = outbox.get(&id("flaky")).await.unwrap().unwrap();
    assert_eq!((flaky.status, flaky.attempts, flaky.lease_until), (DeliveryStatus::Pending, 1, None));
    assert_eq!(flaky.next_attempt_at, t + 100);
    assert_eq!(flaky.last_error.as_deref(), Some("connection refused at line 2"), "one line");
    let refuses = outbox.get(&id("refuses")).await.unwrap().unwrap();
    assert_eq!((refuses.status, refuses.finished_at), (DeliveryStatus::Failed, Some(t + 1)));
    assert_eq!(refuses.last_error.as_deref(), Some("HTTP 400"));

    assert!(outbox.claim_due(t + 99, 30, 10).await.unwrap().is_empty(), "the retry is not due yet");
    assert_eq!(outbox.next_due_at().await.unwrap(), Some(t + 100));
    let retried = outbox.claim_due(t + 100, 30, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].client_id, "flaky");
    outbox.record_attempt(&retried[0].id, AttemptOutcome::Delivered, t + 101).await.unwrap();
    let flaky = outbox.get(&id("flaky")).await.unwrap().unwrap();
    assert_eq!((flaky.status, flaky.attempts, flaky.last_error), (DeliveryStatus::Delivered, 2, None));

    // A finished delivery is not changed by a late report.
    outbox.record_attempt(&id("ok"), AttemptOutcome::Failed { error: "late" }, t + 200).await.unwrap();
    assert_eq!(outbox.get(&id("ok")).await.unwrap().unwrap(), ok);
    assert_eq!(outbox.next_due_at().await.unwrap(), None, "nothing pending");
}

async fn failed_deliveries_can_be_retried(db: Db) {
    let outbox = db.store.logout_deliveries();
    outbox.enqueue(vec![delivery("s1", "a"), delivery("s1", "b")]).await.unwrap();
    let claimed = outbox.claim_due(now(), 30, 10).await.unwrap();
    let (failed, delivered) = (&claimed[0].id, &claimed[1].id);
    outbox.record_attempt(failed, AttemptOutcome::Failed { error: "gave up" }, now()).await.unwrap();
    outbox.record_attempt(delivered, AttemptOutcome::Delivered, now()).await.unwrap();

    assert!(!outbox.retry_failed(delivered).await.unwrap(), "only failed deliveries");
    assert!(!outbox.retry_failed("no-such-delivery").await.unwrap());
    assert!(outbox.retry_failed(failed).await.unwrap());
    let again = outbox.get(failed).await.unwrap().unwrap();
    assert_eq!((again.status, again.finished_at, again.attempts), (DeliveryStatus::Pending, None, 1));
    assert_eq!(outbox.claim_due(now(), 30, 10).await.unwrap().len(), 1, "due at once");
}

async fn list_counts_and_purge(db: Db) {
    let outbox = db.store.logout_deliveries();
    outbox.enqueue(vec![delivery("s1", "a"), delivery("s1", "b"), delivery("s1", "c")]).await.unwrap();
    let claimed = outbox.claim_due(now(), 30, 10).await.unwrap();
    outbox.record_attempt(&claimed[0].id, AttemptOutcome::Delivered, 1000).await.unwrap();
    outbox.record_attempt(&claimed[1].id, AttemptOutcome::Failed { error: "no" }, 2000).await.unwrap();

    let counts = outbox.count_by_status().await.unwrap();
    assert_eq!(counts, [(DeliveryStatus::Pending, 1), (DeliveryStatus::Delivered, 1), (DeliveryStatus::Failed, 1)]);
    let failed = outbox.list(Some(DeliveryStatus::Failed), 0, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, claimed[1].id);
    assert_eq!(outbox.list(None, 1, 10).await.unwrap().len(), 2, "offset");
    assert_eq!(outbox.list(None, 0, 1).await.unwrap().len(), 1, "limit");

    assert_eq!(outbox.purge_finished(1500).await.unwrap(), 1, "only the delivery finished before");
    assert_eq!(outbox.purge_finished(now() + 1).await.unwrap(), 1);
    let left = outbox.list(None, 0, 10).await.unwrap();
    assert_eq!(left.len(), 1, "pending deliveries are never purged");
    assert_eq!(left[0].status, DeliveryStatus::Pending);
}

/// Two nodes on one database claim the same due rows at once: every row goes to exactly one.
async fn two_nodes_claiming_at_once_never_share_a_delivery(db: Db) {
    let other = db.open_another().await;
    let many: Vec<_> = (0..40).map(|i| delivery(&format!("s{i}"), "crm")).collect();
    db.store.logout_deliveries().enqueue(many).await.unwrap();
    let t = now();
    let (mine, theirs) = tokio::join!(
        async {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(db.store.logout_deliveries().claim_due(t, 30, 8).await.unwrap());
            }
            all
        },
        async {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(other.logout_deliveries().claim_due(t, 30, 8).await.unwrap());
            }
            all
        }
    );
    let mut ids: Vec<_> = mine.iter().chain(theirs.iter()).map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 40, "every delivery claimed");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no delivery claimed twice");
    other.close().await.unwrap();
}

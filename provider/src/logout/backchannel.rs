//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): delivering the queued logout
//! tokens ([`super::ended`] queues them in the database).
//!
//! Every node runs one worker. It claims due deliveries under a lease (so one node at a time
//! delivers each), signs a logout token, and POSTs it as a form to the client's
//! `backchannel_logout_uri`. A 2xx answer delivers it. A 4xx other than 408 and 429 is the client
//! refusing the token: retrying would not change that, so it fails at once. Anything else (no
//! answer, a timeout, a 5xx) is retried with doubling back-off until
//! `logout.backchannel_give_up_after` has passed since the session ended. The token's `jti` is
//! the delivery's id, the same on every attempt, so a client can tell a repeat; `iat` and `exp`
//! are fresh on each, as the token is signed when it is sent.
//!
//! The worker wakes when this node queues something, and otherwise every
//! `logout.backchannel_poll_interval`, to deliver what other nodes queued or what falls due.

use crate::metrics::Gauge;
use crate::oauth::Client;
use crate::state::AppState;
use poort_storage::now;
use poort_storage::repo::{AttemptOutcome, LogoutDeliveryRecord};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The `events` member of every logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is good for once signed.
const TOKEN_LIFETIME_SECS: i64 = 120;
/// Deliveries one worker takes on at once.
const BATCH: u64 = 16;
/// The counter of attempts, by outcome.
const DELIVERIES_COUNTER: &str = "poort_backchannel_logout_deliveries_total";

/// The claims of a logout token for `record`, as `client` knows the user.
pub fn logout_token_claims(state: &AppState, client: &Client, record: &LogoutDeliveryRecord, at: i64) -> Map<String, Value> {
    let subject = crate::oauth::subject::subject_for(client, &record.user_id, &state.hash_key);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(&*state.issuer));
    claims.insert("aud".into(), json!(client.id));
    claims.insert("iat".into(), json!(at));
    claims.insert("exp".into(), json!(at + TOKEN_LIFETIME_SECS));
    claims.insert("jti".into(), json!(record.id));
    claims.insert("sub".into(), json!(subject));
    claims.insert("sid".into(), json!(record.session_id));
    claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    claims
}

/// The wait before retry number `attempt` (1 for the first): doubling from the initial wait,
/// capped.
pub fn backoff(initial: Duration, max: Duration, attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.max(1) - 1).unwrap_or(u32::MAX).min(30);
    initial.saturating_mul(1u32 << doublings).min(max)
}

/// What one POST came to (before retries are considered).
enum Sent {
    Delivered,
    /// The client refused the token.
    Refused(String),
    /// Worth another try.
    Transient(String),
}

async fn post(state: &AppState, uri: &str, token: &str) -> Sent {
    let request = state
        .http
        .post(uri)
        .timeout(state.settings.logout.backchannel_timeout)
        .header(reqwest::header::CACHE_CONTROL, "no-store")
        .form(&[("logout_token", token)]);
    match request.send().await {
        Ok(response) if response.status().is_success() => Sent::Delivered,
        Ok(response) => {
            let status = response.status();
            let what = format!("HTTP {}", status.as_u16());
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Sent::Refused(what)
            } else {
                Sent::Transient(what)
            }
        }
        Err(error) if error.is_timeout() => Sent::Transient("no answer in time".into()),
        Err(error) if error.is_connect() => Sent::Transient("cannot connect".into()),
        Err(error) => Sent::Transient(format!("request failed: {error}")),
    }
}

/// One attempt at `record`: signs, sends, and records the outcome.
async fn deliver(state: &AppState, record: LogoutDeliveryRecord) {
    let at = now();
    let logout = &state.settings.logout;
    let outcome = match crate::oauth::Client::load(&state.store, &record.client_id).await {
        Ok(Some(client)) => {
            // Logout tokens are always signed: a client with unsigned ID tokens gets RS256.
            let alg = match client.id_token_alg() {
                "none" => "RS256",
                alg => alg,
            };
            let claims = logout_token_claims(state, &client, &record, at);
            match crate::tokens::jwt::sign(&state.keyring.snapshot(), alg, Some("logout+jwt"), claims) {
                Ok(token) => post(state, &record.uri, &token).await,
                Err(error) => Sent::Transient(format!("cannot sign: {}", error.description)),
            }
        }
        Ok(None) => Sent::Refused("the client is no longer registered".into()),
        Err(error) => Sent::Transient(format!("cannot load the client: {}", error.description)),
    };
    let attempt = record.attempts + 1;
    let (stored, label) = match &outcome {
        Sent::Delivered => (AttemptOutcome::Delivered, "delivered"),
        Sent::Refused(error) => (AttemptOutcome::Failed { error }, "failed"),
        Sent::Transient(error) => {
            let retry_at = at + backoff(logout.backchannel_retry_initial, logout.backchannel_retry_max, attempt).as_secs() as i64;
            if retry_at > record.created_at + logout.backchannel_give_up_after.as_secs() as i64 {
                (AttemptOutcome::Failed { error }, "failed")
            } else {
                (AttemptOutcome::Retry { error, retry_at }, "retrying")
            }
        }
    };
    match &stored {
        AttemptOutcome::Delivered => {
            tracing::info!(client_id = %record.client_id, delivery = %record.id, attempt, "back-channel logout delivered")
        }
        AttemptOutcome::Retry { error, retry_at } => tracing::warn!(
            client_id = %record.client_id, delivery = %record.id, attempt, error, retry_in_secs = retry_at - at,
            "back-channel logout not delivered; will retry"
        ),
        AttemptOutcome::Failed { error } => tracing::warn!(
            client_id = %record.client_id, delivery = %record.id, attempt, error, "back-channel logout failed; given up"
        ),
    }
    state.metrics.inc(DELIVERIES_COUNTER, &[("outcome", label)]);
    if let Err(error) = state.store.logout_deliveries().record_attempt(&record.id, stored, now()).await {
        // The lease runs out and the delivery is tried again: at least once, never lost.
        tracing::error!(%error, delivery = %record.id, "cannot record a back-channel logout attempt");
    }
}

/// Claims and delivers what is due now, `BATCH` at a time, concurrently. Returns how many.
pub async fn deliver_due(state: &AppState) -> usize {
    // The lease outlasts the slowest attempt, so no other node takes a row still in flight.
    let lease = (state.settings.logout.backchannel_timeout.as_secs() * 2 + 10) as i64;
    let mut total = 0;
    loop {
        let claimed = match state.store.logout_deliveries().claim_due(now(), lease, BATCH).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot look for back-channel logout deliveries; will try again");
                return total;
            }
        };
        if claimed.is_empty() {
            return total;
        }
        total += claimed.len();
        let mut attempts = tokio::task::JoinSet::new();
        for record in claimed {
            let state = state.clone();
            attempts.spawn(async move { deliver(&state, record).await });
        }
        while attempts.join_next().await.is_some() {}
    }
}

/// Starts this node's worker.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = state.settings.logout.backchannel_poll_interval;
        loop {
            deliver_due(&state).await;
            // Sleep until woken, the next due time, or the poll interval, whichever is first.
            let wait = match state.store.logout_deliveries().next_due_at().await {
                Ok(Some(due)) => Duration::from_secs(u64::try_from(due - now()).unwrap_or(0)).min(poll),
                _ => poll,
            };
            tokio::select! {
                () = state.backchannel.notified() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
            }
        }
    })
}

/// The outbox by state, for `/metrics` (read from the database: the same on every node).
pub async fn gauges(state: &AppState) -> Vec<Gauge> {
    match state.store.logout_deliveries().count_by_status().await {
        Ok(counts) => counts
            .into_iter()
            .map(|(status, count)| Gauge {
                name: "poort_backchannel_logout_queue",
                help: "Back-channel logout deliveries in the database, by status (delivered and failed ones are kept 7 days).",
                labels: vec![("status", status.as_str().to_string())],
                value: count as f64,
                counter: false,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot count back-channel logout deliveries for metrics");
            Vec::new()
        }
    }
}

/// One delivery as JSON (`poort logout-deliveries list --json`, the admin API).
pub fn describe(record: &LogoutDeliveryRecord) -> Value {
    use crate::cli::output::time;
    json!({
        "id": record.id,
        "status": record.status.as_str(),
        "client_id": record.client_id,
        "uri": record.uri,
        "sid": record.session_id,
        "user_id": record.user_id,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "created_at": time(record.created_at),
        "next_attempt_at": (record.status == poort_storage::repo::DeliveryStatus::Pending).then(|| time(record.next_attempt_at)),
        "finished_at": record.finished_at.map(time),
    })
}

/// The discovery members of back-channel logout.
pub fn metadata(doc: &mut Map<String, Value>) {
    doc.insert("backchannel_logout_supported".into(), json!(true));
    doc.insert("backchannel_logout_session_supported".into(), json!(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (initial, max) = (Duration::from_secs(10), Duration::from_secs(3600));
        let waits: Vec<u64> = (1..=10).map(|n| backoff(initial, max, n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(backoff(initial, max, i64::MAX), max);
        assert_eq!(backoff(initial, max, 0), initial);
    }
}

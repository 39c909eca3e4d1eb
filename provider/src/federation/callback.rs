//! `GET /federation/callback`: where upstream providers send the browser back. The `state`
//! must name a flow this browser started (its binding cookie), not spent and not expired; then
//! the code is exchanged and the answer checked ([`poort_federation::oidc::finish`]), the
//! account found or linked ([`super::link`]), and the sign-in or activation that sent the
//! person upstream continues. Whatever fails shows its page, is audited, and changes no
//! account.

use super::flow::{self, Resume};
use super::pages::{self, Failed};
use super::{activation, connectors, link};
use crate::accounts::throttle::ClientIp;
use crate::authorize::interaction;
use crate::authorize::ticket;
use crate::crypto::constant_time_eq;
use crate::state::AppState;
use crate::web::cookies;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use poort_federation::oidc::{self, Callback};
use poort_federation::{Failure, Reason};
use poort_storage::now;
use poort_storage::repo::{AuditEvent, SpendOutcome};
use poort_themes::Locale;
use std::collections::HashMap;

/// The longest parameter read from a callback (codes and states are far shorter).
const MAX_PARAMETER: usize = 4096;

pub async fn callback(State(state): State<AppState>, headers: HeaderMap, ip: ClientIp, RawQuery(query): RawQuery) -> Response {
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if value.len() <= MAX_PARAMETER {
            params.entry(name.into_owned()).or_insert_with(|| value.into_owned());
        }
    }
    let locale = crate::web::pages::locale(&state, &headers, None);
    let fail = |reason: Reason, detail: &str| Failed::upstream(None, Failure::new(reason, detail));
    let Some(upstream_state) = params.get("state").filter(|s| !s.is_empty()) else {
        return pages::failure(&state, ip, locale, fail(Reason::StateMismatch, "the callback carries no state")).await;
    };
    let key = flow::state_key(&state, upstream_state);
    let found = match state.store.flows().find(&key).await {
        Ok(found) => found,
        Err(error) => return interaction::server_error(&state, &headers, error),
    };
    let Some(found) = found else {
        return pages::failure(&state, ip, locale, fail(Reason::StateMismatch, "no sign-in started here has this state")).await;
    };
    let binding = cookies::get(&headers, flow::BINDING_COOKIE).map(|b| flow::binding_key(&state, b)).unwrap_or_default();
    if !constant_time_eq(binding.as_bytes(), found.binding_hash.as_bytes()) {
        let failed = fail(Reason::StateMismatch, "the sign-in was started in another browser (its binding cookie does not match)");
        return pages::failure(&state, ip, locale, failed).await;
    }
    let spent = match state.store.flows().spend(&key, now()).await {
        Ok(SpendOutcome::Spent(spent)) => spent,
        Ok(SpendOutcome::AlreadySpent) => {
            return pages::failure(&state, ip, locale, fail(Reason::Replayed, "this callback was used before")).await;
        }
        Ok(SpendOutcome::Expired) => {
            return pages::failure(&state, ip, locale, fail(Reason::Expired, "the sign-in upstream took too long")).await;
        }
        Ok(SpendOutcome::NotFound) => {
            return pages::failure(&state, ip, locale, fail(Reason::StateMismatch, "the flow vanished")).await;
        }
        Err(error) => return interaction::server_error(&state, &headers, error),
    };
    let Some(payload) = flow::open(&state, &spent.payload) else {
        return pages::failure(&state, ip, locale, fail(Reason::StateMismatch, "the flow's sealed payload cannot be opened")).await;
    };
    let locale = Locale::from_tag(&payload.locale).unwrap_or(locale);
    let connector = match connectors::load(&state.store, &state.hash_key, &spent.connector_id).await {
        Ok(Some(connector)) => connector,
        Ok(None) => {
            let detail = format!("connector {} no longer exists", spent.connector_id);
            return pages::failure(&state, ip, locale, fail(Reason::Unavailable, &detail)).await;
        }
        Err(error) => return interaction::server_error(&state, &headers, error),
    };
    let retry_uri = match &payload.resume {
        Resume::Ticket(sealed) => ticket::unseal(&state, sealed).map(|_| format!("/login?ticket={sealed}")),
        Resume::Activation(token) => Some(format!("{}?token={token}", crate::accounts::activation::PATH)),
    };
    let answer = Callback {
        code: params.get("code").cloned(),
        error: params.get("error").cloned(),
        error_description: params.get("error_description").cloned(),
        iss: params.get("iss").cloned(),
    };
    let identity = match oidc::finish(&state.upstreams, &connector, &flow::redirect_uri(&state), answer, &payload.pending).await {
        Ok(identity) => identity,
        Err(failure) => {
            return pages::failure(&state, ip, locale, Failed::upstream(Some(&connector), failure).retry(retry_uri)).await;
        }
    };
    match payload.resume {
        Resume::Ticket(sealed) => {
            let Some(ticket) = ticket::unseal(&state, &sealed) else {
                let failed = fail(Reason::Expired, "the sign-in page's request expired while the person was upstream");
                return pages::failure(&state, ip, locale, failed).await;
            };
            sign_in(&state, &headers, ip, locale, &connector, &identity, ticket).await
        }
        Resume::Activation(token) => activation::complete(&state, &headers, ip, locale, &connector, &identity, &token).await,
    }
}

/// Signs the person in to the account `identity` belongs to and resumes `ticket`.
pub async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    locale: Locale,
    connector: &poort_federation::Connector,
    identity: &poort_federation::UpstreamIdentity,
    ticket: ticket::Ticket,
) -> Response {
    let user = match link::account_for(state, connector, identity).await {
        Ok(Ok(user)) => user,
        Ok(Err(refusal)) => {
            let detail = format!("{} ({} at {})", refusal.as_str(), identity.subject, connector.id());
            return pages::failure(state, ip, locale, Failed::refused(connector, refusal, detail)).await;
        }
        Err(error) => return interaction::server_error(state, headers, error),
    };
    let event = AuditEvent {
        kind: "login.succeeded".into(),
        user_id: Some(user.id.clone()),
        client_id: ticket.return_to.is_none().then(|| ticket.params.get("client_id").cloned()).flatten(),
        ip: ip.0.map(|ip| ip.to_string()),
        detail: serde_json::json!({ "method": "federated", "connector": connector.id(), "upstream_amr": identity.amr }),
    };
    let _ = state.store.audit().record(event).await;
    interaction::complete_sign_in(state, headers, ip, ticket, &user, link::amr(identity)).await
}

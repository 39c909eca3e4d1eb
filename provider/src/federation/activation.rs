//! Activation through single sign-on: the activation link of an invited person whose e-mail
//! domain signs in upstream shows their address and sends them there; on return the upstream
//! identity is linked to the invited account only when the upstream verified that very address
//! ([`super::link::may_activate`]). Then — and only then — the link is spent, the account is
//! active, and the person lands signed in where the invitation pointed.

use super::link;
use super::pages::{self, Failed, Refusal};
use crate::accounts::throttle::ClientIp;
use crate::authorize::interaction::server_error;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::Response;
use poort_federation::{Connector, UpstreamIdentity};
use poort_storage::now;
use poort_storage::repo::{AuditEvent, OneTimePurpose, RedeemOutcome};
use poort_themes::Locale;

/// Finishes an activation whose person came back from upstream as `identity`.
pub async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    locale: Locale,
    connector: &Connector,
    identity: &UpstreamIdentity,
    token: &str,
) -> Response {
    let refuse = |refusal: Refusal, user_id: Option<String>| {
        let detail = format!("{} ({} at {}, upstream address {:?})", refusal.as_str(), identity.subject, connector.id(), identity.email);
        Failed::refused(connector, refusal, detail).for_user(user_id).retry(Some(format!("{}?token={token}", crate::accounts::activation::PATH)))
    };
    let (record, invited) = match crate::accounts::activation::usable_link(state, token).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let failed = refuse(Refusal::LinkExpired, None).retry(None);
            return pages::failure(state, ip, locale, failed).await;
        }
        Err(error) => return server_error(state, headers, error),
    };
    match link::may_activate(state, identity, &invited).await {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return pages::failure(state, ip, locale, refuse(refusal, Some(invited.id.clone()))).await,
        Err(error) => return server_error(state, headers, error),
    }
    match state.store.one_time_tokens().redeem(&record.token_hash, OneTimePurpose::Activation, now()).await {
        Ok(RedeemOutcome::Redeemed(_)) => {}
        Ok(_) => return pages::failure(state, ip, locale, refuse(Refusal::LinkExpired, Some(invited.id.clone())).retry(None)).await,
        Err(error) => return server_error(state, headers, error),
    }
    let user = match link::link_and_adopt(state, connector, identity, invited).await {
        Ok(Ok(user)) => user,
        Ok(Err(refusal)) => return pages::failure(state, ip, locale, refuse(refusal, None)).await,
        Err(error) => return server_error(state, headers, error),
    };
    let event = AuditEvent {
        kind: "account.activated".into(),
        user_id: Some(user.id.clone()),
        client_id: record.client_id.clone(),
        ip: ip.0.map(|ip| ip.to_string()),
        detail: serde_json::json!({ "method": "federated", "connector": connector.id() }),
    };
    let _ = state.store.audit().record(event).await;
    let (client_id, return_to) = (record.client_id.as_deref(), record.return_to.as_deref());
    crate::accounts::landing::land_signed_in(state, headers, ip, &user, client_id, return_to, link::amr(identity)).await
}

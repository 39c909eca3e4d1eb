//! The pages of a federated sign-in that did not work out, in the person's language, each
//! recorded in the audit trail (`federation.failed`, with the detail) and logged for operators.

use crate::accounts::throttle::ClientIp;
use crate::state::AppState;
use crate::web::pages::render;
use axum::http::StatusCode;
use axum::response::Response;
use poort_federation::{Connector, Failure, Reason};
use poort_storage::repo::AuditEvent;
use poort_themes::Locale;
use serde_json::json;

/// Why the person's account could not be used, after the upstream vouched for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No account, and the connector does not create them.
    NotAdded,
    /// The upstream did not confirm the e-mail address (or this connector is not trusted with it).
    EmailUnverified,
    /// Activation: the upstream account's address is not the invited one.
    EmailMismatch,
    AccountDisabled,
    /// The upstream identity belongs to another account.
    LinkedElsewhere,
    /// The activation link was used or expired meanwhile.
    LinkExpired,
}

impl Refusal {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotAdded => "not_added",
            Self::EmailUnverified => "email_unverified",
            Self::EmailMismatch => "email_mismatch",
            Self::AccountDisabled => "account_disabled",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::LinkExpired => "link_expired",
        }
    }
}

/// A failure to show and record.
pub struct Failed<'a> {
    pub connector: Option<&'a Connector>,
    /// The audit trail's name for it (a [`Reason`] or a [`Refusal`]).
    pub reason: &'static str,
    pub detail: String,
    pub user_id: Option<String>,
    /// Where "try again" goes (a sign-in page that is still valid), if anywhere.
    pub retry_uri: Option<String>,
}

impl<'a> Failed<'a> {
    pub fn upstream(connector: Option<&'a Connector>, failure: Failure) -> Self {
        Failed { connector, reason: failure.reason.as_str(), detail: failure.detail, user_id: None, retry_uri: None }
    }

    pub fn refused(connector: &'a Connector, refusal: Refusal, detail: impl Into<String>) -> Self {
        Failed { connector: Some(connector), reason: refusal.as_str(), detail: detail.into(), user_id: None, retry_uri: None }
    }

    pub fn for_user(mut self, user_id: Option<String>) -> Self {
        self.user_id = user_id;
        self
    }

    pub fn retry(mut self, uri: Option<String>) -> Self {
        self.retry_uri = uri;
        self
    }
}

/// Every `federation.error.*` key the code can show.
pub fn message_keys() -> Vec<String> {
    let refusals = [
        Refusal::NotAdded,
        Refusal::EmailUnverified,
        Refusal::EmailMismatch,
        Refusal::AccountDisabled,
        Refusal::LinkedElsewhere,
        Refusal::LinkExpired,
    ];
    Reason::ALL
        .iter()
        .map(Reason::as_str)
        .chain(refusals.iter().map(Refusal::as_str))
        .map(|name| format!("federation.error.{name}"))
        .collect()
}

/// Records the failure and shows its page.
pub async fn failure(state: &AppState, ip: ClientIp, locale: Locale, failed: Failed<'_>) -> Response {
    let connector_id = failed.connector.map(|c| c.id().to_string());
    let detail = &failed.detail;
    tracing::warn!(connector = connector_id.as_deref().unwrap_or("-"), reason = failed.reason, %detail, "a federated sign-in failed");
    let event = AuditEvent {
        kind: "federation.failed".into(),
        user_id: failed.user_id,
        client_id: None,
        ip: ip.0.map(|ip| ip.to_string()),
        detail: json!({ "connector": connector_id, "reason": failed.reason, "detail": detail }),
    };
    let _ = state.store.audit().record(event).await;
    let status = match failed.reason {
        "unavailable" => StatusCode::BAD_GATEWAY,
        "state_mismatch" | "replayed" | "expired" | "link_expired" => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let name = match failed.connector {
        Some(connector) => connector.settings.display_name().to_string(),
        None => state.theme.translate(locale, "federation.upstream", &[]).unwrap_or_default(),
    };
    let data = json!({
        "message_key": format!("federation.error.{}", failed.reason),
        "connector": name,
        "retry_uri": failed.retry_uri,
    });
    render(state, locale, status, "federation_error", &data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_failure_the_code_shows_has_a_listed_text() {
        for key in super::message_keys() {
            assert!(poort_themes::keys::FEDERATION.contains(&key.as_str()), "{key} is missing from poort_themes::keys::FEDERATION");
        }
        assert!(poort_themes::keys::SIGN_IN_MESSAGES.contains(&super::super::sign_in::DIRECTORY_UNAVAILABLE));
    }
}

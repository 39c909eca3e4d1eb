//! Why an upstream sign-in failed: a [`Reason`] the pages turn into a sentence in the person's
//! language, and a detail for the audit trail and the log (never a secret, code or token).

/// What went wrong, as the person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The upstream answered with an error (the person cancelled, it refused them, …).
    UpstreamRefused,
    /// The callback's `state` is unknown here or was started in another browser.
    StateMismatch,
    /// The callback was used before.
    Replayed,
    /// The sign-in took too long and expired.
    Expired,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    /// The ID token has expired (or is not valid yet).
    TokenExpired,
    WrongNonce,
    /// Any other malformed or unverifiable answer (no ID token, a non-JSON body, …).
    InvalidAnswer,
    /// The upstream did not vouch for the person's e-mail address.
    EmailUnverified,
    /// The person's Entra tenant is not allowed.
    TenantNotAllowed,
    /// The person's Google Workspace domain (or e-mail domain) is not allowed.
    DomainNotAllowed,
    /// The upstream (or directory) could not be reached, or took too long.
    Unavailable,
}

impl Reason {
    /// The name used in audit events and the message catalog (`federation.error.<name>`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UpstreamRefused => "upstream_refused",
            Self::StateMismatch => "state_mismatch",
            Self::Replayed => "replayed",
            Self::Expired => "expired",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::TokenExpired => "token_expired",
            Self::WrongNonce => "wrong_nonce",
            Self::InvalidAnswer => "invalid_answer",
            Self::EmailUnverified => "email_unverified",
            Self::TenantNotAllowed => "tenant_not_allowed",
            Self::DomainNotAllowed => "domain_not_allowed",
            Self::Unavailable => "unavailable",
        }
    }

    pub const ALL: &'static [Reason] = &[
        Self::UpstreamRefused,
        Self::StateMismatch,
        Self::Replayed,
        Self::Expired,
        Self::BadSignature,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::TokenExpired,
        Self::WrongNonce,
        Self::InvalidAnswer,
        Self::EmailUnverified,
        Self::TenantNotAllowed,
        Self::DomainNotAllowed,
        Self::Unavailable,
    ];
}

/// A failed upstream sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Failure {
    pub reason: Reason,
    /// What exactly happened, for operators.
    pub detail: String,
}

impl Failure {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }
}

/// A reqwest error as a failure: a timeout or a refused connection is `Unavailable`.
pub(crate) fn from_http(what: &str, error: &reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // The URL is the upstream's endpoint (no secrets); the query is dropped all the same.
    let url = error.url().map(|u| format!("{}{}", u.origin().ascii_serialization(), u.path())).unwrap_or_default();
    Failure::new(Reason::Unavailable, format!("{what} {kind}: {url}: {}", std::error::Error::source(error).map_or(error.to_string(), |s| s.to_string())))
}

//! The terms page of an authorization (`GET /terms?ticket=…`) and its form (`POST /terms`).
//!
//! The page shows the version that applies to the ticket's client and reseals the ticket with
//! that version's id, so accepting records exactly the version the user read (even if a newer
//! one is published meanwhile: the pipeline then shows that one too). Accept, with the box
//! ticked, records the acceptance and resumes the authorization; Decline answers the client
//! `access_denied`.

use super::{current_for, paragraphs};
use crate::authorize::interaction::{
    TicketQuery, csrf_refused, expired, form, locale, server_error, ticket_client, ticket_session, with_cookies,
};
use crate::authorize::params::RawParams;
use crate::authorize::ticket::{self, Ticket};
use crate::authorize::{Progress, deny, pages::client_view, run};
use crate::oauth::Client;
use crate::session;
use crate::state::AppState;
use crate::web::{csrf, pages::render};
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::repo::{AuditEvent, SessionRecord, TermsVersion};
use serde_json::json;

/// Shown when the form is sent without ticking Accept.
const MUST_ACCEPT: &str = "terms.must_accept";

struct TermsForm<'a> {
    client: &'a Client,
    terms: &'a TermsVersion,
    ticket: &'a str,
    csrf: &'a str,
    message_key: Option<&'static str>,
}

fn page(state: &AppState, headers: &HeaderMap, ticket: &Ticket, status: StatusCode, form: TermsForm<'_>) -> Response {
    let data = json!({
        "client": client_view(form.client),
        "terms": { "version": form.terms.version, "paragraphs": paragraphs(&form.terms.body) },
        "ticket": form.ticket,
        "csrf_token": form.csrf,
        "message_key": form.message_key,
        "notice_key": null,
    });
    render(state, locale(state, headers, Some(ticket)), status, "terms", &data)
}

/// What the user has done so far, from the ticket.
fn progress(ticket: &Ticket) -> Progress {
    Progress { login_at: ticket.login_at, session_id: ticket.session_id.clone(), consented: ticket.consented }
}

pub async fn terms_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(ticket) = query.ticket.and_then(|t| ticket::unseal(&state, &t)) else { return expired(&state, &headers) };
    let Some(current) = ticket_session(&state, &headers, &ticket).await else { return expired(&state, &headers) };
    let client = match ticket_client(&state, &headers, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let terms = match current_for(&state, &client).await {
        Ok(Some(terms)) => terms,
        // Nothing to accept any more (the client stopped requiring terms): carry on.
        Ok(None) => return resume(&state, &headers, ticket, current).await,
        Err(error) => return server_error(&state, &headers, error),
    };
    let shown = Ticket { terms_id: Some(terms.id.clone()), ..ticket.clone() };
    let sealed = match ticket::seal(&state, &shown) {
        Ok(sealed) => sealed,
        Err(error) => return server_error(&state, &headers, error),
    };
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let form = TermsForm { client: &client, terms: &terms, ticket: &sealed, csrf: &csrf, message_key: None };
    with_cookies(page(&state, &headers, &ticket, StatusCode::OK, form), set_csrf)
}

pub async fn terms_submit(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    let Some(sealed) = fields.get("ticket") else { return expired(&state, &headers) };
    let Some(ticket) = ticket::unseal(&state, sealed) else { return expired(&state, &headers) };
    let Some(current) = ticket_session(&state, &headers, &ticket).await else { return expired(&state, &headers) };
    if fields.get("decision").map(String::as_str) == Some("decline") {
        let _ = state.store.audit().record(audit("terms.declined", &current, &ticket, None)).await;
        return deny(&state, &headers, RawParams::from_map(ticket.params), "the user declined the terms of service").await;
    }
    // Only a ticket from the page names the version shown.
    let Some(terms_id) = ticket.terms_id.clone() else { return expired(&state, &headers) };
    let terms = match state.store.terms().get(&terms_id).await {
        Ok(Some(terms)) => terms,
        Ok(None) => return expired(&state, &headers),
        Err(error) => return server_error(&state, &headers, error),
    };
    if fields.get("accept").map(String::as_str) != Some("yes") {
        let client = match ticket_client(&state, &headers, &ticket).await {
            Ok(client) => client,
            Err(page) => return page,
        };
        let csrf = fields.get(csrf::CSRF_FIELD).cloned().unwrap_or_default();
        let form = TermsForm { client: &client, terms: &terms, ticket: sealed, csrf: &csrf, message_key: Some(MUST_ACCEPT) };
        return page(&state, &headers, &ticket, StatusCode::BAD_REQUEST, form);
    }
    if let Err(error) = state.store.terms().accept(&current.user_id, &terms.id).await {
        return server_error(&state, &headers, error);
    }
    let _ = state.store.audit().record(audit("terms.accepted", &current, &ticket, Some(&terms))).await;
    resume(&state, &headers, ticket, current).await
}

async fn resume(state: &AppState, headers: &HeaderMap, ticket: Ticket, current: SessionRecord) -> Response {
    let progress = progress(&ticket);
    run(state, headers, RawParams::from_map(ticket.params), Some(current.into()), progress).await
}

fn audit(kind: &str, session: &SessionRecord, ticket: &Ticket, terms: Option<&TermsVersion>) -> AuditEvent {
    AuditEvent {
        kind: kind.into(),
        user_id: Some(session.user_id.clone()),
        client_id: ticket.params.get("client_id").cloned(),
        ip: None,
        detail: match terms {
            Some(terms) => json!({ "terms_id": terms.id, "version": terms.version, "terms_client_id": terms.client_id }),
            None => json!({}),
        },
    }
}

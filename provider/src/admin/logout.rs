//! `/admin/logout-deliveries…`: the back-channel logout outbox — where every delivery stands
//! (pending, delivered, failed; finished ones are kept 7 days), and a retry for a failed one.

use super::auth::Admin;
use super::error::AdminError;
use super::json;
use super::users::Page;
use crate::logout::backchannel;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use poort_storage::repo::{AuditEvent, DeliveryStatus};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct Filter {
    status: Option<String>,
    offset: Option<u64>,
    limit: Option<u64>,
}

/// `GET /admin/logout-deliveries?status=&offset=&limit=`: newest first.
pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(filter) = filter?;
    let (offset, limit) = Page { offset: filter.offset, limit: filter.limit }.bounds()?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<DeliveryStatus>().map_err(|e| AdminError::bad_request(e.to_string()))?),
    };
    let deliveries = state.store.logout_deliveries().list(status, offset, limit).await?;
    Ok(json(StatusCode::OK, Value::Array(deliveries.iter().map(backchannel::describe).collect())))
}

/// `POST /admin/logout-deliveries/{id}/retry`: a failed delivery is due again at once (409 for
/// one that has not failed).
pub async fn retry(admin: Admin, State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, AdminError> {
    let Some(delivery) = state.store.logout_deliveries().get(&id).await? else {
        return Err(AdminError::NotFound(format!("no logout delivery `{id}`")));
    };
    if !state.store.logout_deliveries().retry_failed(&id).await? {
        return Err(AdminError::Conflict(format!("delivery `{id}` is {}, not failed", delivery.status)));
    }
    state.backchannel.notify_one();
    let event = AuditEvent {
        kind: "admin.logout_delivery_retried".into(),
        user_id: Some(delivery.user_id.clone()),
        client_id: Some(admin.client_id.clone()),
        ip: None,
        detail: json!({ "delivery": id, "client": delivery.client_id }),
    };
    if let Err(error) = state.store.audit().record(event).await {
        tracing::warn!(%error, "an admin audit event was not recorded");
    }
    let delivery = state.store.logout_deliveries().get(&id).await?.ok_or_else(|| AdminError::NotFound(id.clone()))?;
    Ok(json(StatusCode::OK, backchannel::describe(&delivery)))
}

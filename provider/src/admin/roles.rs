//! `/admin/roles…`: list, create or replace (`PUT`, with a description and the permissions the
//! role grants), remove (users holding the role lose it) — as `poort role list|set|remove`.

use super::auth::Admin;
use super::error::AdminError;
use super::json;
use crate::accounts::overview::describe_role;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use poort_storage::repo::AuditEvent;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /admin/roles`: a JSON array, as `poort role list --json` prints.
pub async fn list(_admin: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let roles = state.store.roles().list().await?;
    Ok(json(StatusCode::OK, Value::Array(roles.iter().map(describe_role).collect())))
}

/// What `PUT /admin/roles/{name}` sets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    description: Option<String>,
    /// A permission the role grants, such as `settings.login`.
    #[serde(default)]
    permissions: Vec<String>,
}

/// `PUT /admin/roles/{name}`: 201 for a new role, 200 for a replaced one.
pub async fn set(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<Role>, JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(role) = body?;
    if name.trim().is_empty() {
        return Err(AdminError::bad_request("a role needs a name"));
    }
    if role.permissions.iter().any(|p| p.trim().is_empty()) {
        return Err(AdminError::bad_request("a permission must not be empty"));
    }
    let existed = state.store.roles().get(&name).await?.is_some();
    let stored = state.store.roles().upsert(&name, role.description.as_deref(), &role.permissions).await?;
    let detail = json!({ "role": name, "permissions": stored.permissions, "created": !existed });
    audit(&state, &admin, "admin.role_set", detail).await;
    Ok(json(if existed { StatusCode::OK } else { StatusCode::CREATED }, describe_role(&stored)))
}

/// `DELETE /admin/roles/{name}`: 204, or 404 for an unknown role.
pub async fn remove(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    if !state.store.roles().delete(&name).await? {
        return Err(AdminError::NotFound(format!("no role `{name}`")));
    }
    audit(&state, &admin, "admin.role_removed", json!({ "role": name })).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Records an admin change that belongs to no user (roles, connectors).
pub(super) async fn audit(state: &AppState, admin: &Admin, kind: &str, detail: Value) {
    let event =
        AuditEvent { kind: kind.into(), user_id: None, client_id: Some(admin.client_id.clone()), ip: None, detail };
    if let Err(error) = state.store.audit().record(event).await {
        tracing::warn!(%error, kind, "an admin audit event was not recorded");
    }
}

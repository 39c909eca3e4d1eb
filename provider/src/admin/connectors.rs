//! `/admin/connectors…`: list, show, create or replace (`PUT`, the settings of `[[connectors]]`
//! as JSON, secrets included and never shown again), remove — as `poort connector …`.
//! Connectors of the configuration file are shown but changed only there (409).

use super::auth::Admin;
use super::error::AdminError;
use super::json;
use super::roles::audit;
use crate::federation::connectors::{self, SaveError, describe};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use poort_config::ConnectorSettings;
use poort_storage::repo::ConnectorSource;
use serde_json::{Value, json};

/// `GET /admin/connectors`.
pub async fn list(_admin: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let all = state.store.connectors().list().await?;
    Ok(json(StatusCode::OK, Value::Array(all.iter().map(describe).collect())))
}

/// `GET /admin/connectors/{id}`.
pub async fn show(_admin: Admin, State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, AdminError> {
    let record = state.store.connectors().get(&id).await?.ok_or_else(|| no_connector(&id))?;
    Ok(json(StatusCode::OK, describe(&record)))
}

/// `PUT /admin/connectors/{id}`: the connector's settings (`id` may be left out; a secret left
/// out keeps the stored one), and `private_key_pem` for `private_key_jwt`. 201 new, 200 replaced.
pub async fn set(
    admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(mut body) = body?;
    let Some(object) = body.as_object_mut() else { return Err(AdminError::bad_request("the body must be a JSON object")) };
    let private_key_pem = match object.remove("private_key_pem") {
        None | Some(Value::Null) => None,
        Some(Value::String(pem)) => Some(pem),
        Some(_) => return Err(AdminError::bad_request("private_key_pem must be a PEM text")),
    };
    if object.contains_key("private_key_file") {
        return Err(AdminError::bad_request("private_key_file names a file of the configuration; send private_key_pem"));
    }
    match object.entry("id").or_insert_with(|| json!(id)) {
        Value::String(given) if *given == id => {}
        _ => return Err(AdminError::bad_request(format!("id must be `{id}`, as in the path"))),
    }
    let settings: ConnectorSettings = serde_json::from_value(body).map_err(|e| AdminError::bad_request(e.to_string()))?;
    let existing = state.store.connectors().get(&id).await?;
    if existing.as_ref().is_some_and(|c| c.source == ConnectorSource::Config) {
        return Err(AdminError::Conflict(format!("connector `{id}` comes from the configuration file: change it there")));
    }
    let stored = connectors::save(&state.store, &state.hash_key, settings, private_key_pem, ConnectorSource::Admin)
        .await
        .map_err(|error| match error {
            SaveError::Invalid(problem) => AdminError::bad_request(problem),
            SaveError::Storage(poort_storage::StorageError::Conflict(what)) => AdminError::Conflict(format!("the {what} is already taken")),
            SaveError::Storage(error) => error.into(),
        })?;
    audit(&state, &admin, "admin.connector_set", json!({ "connector": id, "created": existing.is_none() })).await;
    Ok(json(if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED }, describe(&stored)))
}

/// `DELETE /admin/connectors/{id}`: 204. Accounts linked through it keep their links (adding it
/// again restores them) but cannot sign in through it meanwhile.
pub async fn remove(admin: Admin, State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, AdminError> {
    match connectors::remove(&state.store, &id).await {
        Ok(true) => {}
        Ok(false) => return Err(no_connector(&id)),
        Err(SaveError::Invalid(problem)) => return Err(AdminError::Conflict(problem)),
        Err(SaveError::Storage(error)) => return Err(error.into()),
    }
    audit(&state, &admin, "admin.connector_removed", json!({ "connector": id })).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn no_connector(id: &str) -> AdminError {
    AdminError::NotFound(format!("no connector `{id}`"))
}

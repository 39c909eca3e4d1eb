//! OpenID Connect Discovery 1.0 and RFC 8414 metadata, derived from the route table and the
//! enabled features — never a hand-kept list.

use crate::routes::Endpoint;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The metadata document for `issuer`, from the endpoints served and the signing algorithms held.
pub fn build(issuer: &str, endpoints: &[Endpoint], signing_algorithms: &[String]) -> Value {
    let mut doc = Map::new();
    doc.insert("issuer".into(), json!(issuer));
    for endpoint in endpoints {
        if let Some(key) = endpoint.advertised_as {
            doc.insert(key.into(), json!(format!("{issuer}{}", endpoint.path)));
        }
    }
    // `none` too: a client may register unsigned ID tokens, which it then only ever receives
    // from the token endpoint (registration refuses it with ID tokens from the authorization
    // endpoint, OpenID Connect Core §2).
    let mut id_token_algs: Vec<&str> = signing_algorithms.iter().map(String::as_str).collect();
    id_token_algs.push("none");
    doc.insert("id_token_signing_alg_values_supported".into(), json!(id_token_algs));
    doc.insert("subject_types_supported".into(), json!(["public", "pairwise"]));
    doc.extend(crate::authorize::metadata());
    doc.extend(crate::token::metadata(signing_algorithms));
    crate::logout::metadata(&mut doc);
    Value::Object(doc)
}

/// Serves the pre-serialized document (both well-known paths serve the same one).
pub async fn document(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")],
        state.discovery_json.clone(),
    )
}

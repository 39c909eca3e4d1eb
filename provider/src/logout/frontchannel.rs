//! Front-channel logout (OpenID Connect Front-Channel Logout 1.0): the "signed out" page loads
//! each client's `frontchannel_logout_uri` of the ended session in a hidden frame, with `iss` and
//! `sid`, so every client can end its own session in this browser. The page's CSP allows
//! exactly those frames.

use crate::oauth::Client;
use crate::state::AppState;
use poort_storage::StorageError;
use poort_storage::repo::SessionRecord;
use serde_json::{Map, Value, json};

/// The frame URLs for the clients `session` signed in to: each front-channel logout URI with
/// `iss` and `sid` added to its own query.
pub async fn frames(state: &AppState, session: &SessionRecord) -> Result<Vec<String>, StorageError> {
    let mut frames = Vec::new();
    for client_id in state.store.sessions().clients_of(&session.id).await? {
        let Ok(Some(client)) = Client::load(&state.store, &client_id).await else { continue };
        let Some(uri) = client.metadata.frontchannel_logout_uri.as_deref() else { continue };
        let Ok(mut url) = url::Url::parse(uri) else { continue };
        url.query_pairs_mut().append_pair("iss", &state.issuer).append_pair("sid", &session.id);
        frames.push(url.to_string());
    }
    Ok(frames)
}

/// The CSP `frame-src` sources for `frames`: each URL without its query (which CSP ignores), so
/// nothing but those documents may be framed.
pub fn frame_sources(frames: &[String]) -> Vec<String> {
    let mut sources: Vec<String> = frames
        .iter()
        .filter_map(|frame| url::Url::parse(frame).ok())
        .map(|mut url| {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        })
        // A source list is split on spaces and ends at `;` or `,`: such URLs cannot be listed.
        .filter(|source| !source.contains([' ', ';', ',']))
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// The discovery members of front-channel logout.
pub fn metadata(doc: &mut Map<String, Value>) {
    doc.insert("frontchannel_logout_supported".into(), json!(true));
    doc.insert("frontchannel_logout_session_supported".into(), json!(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sources_are_the_exact_documents() {
        let frames = vec![
            "https://crm.example/fc?x=1&iss=https%3A%2F%2Fop&sid=s".to_string(),
            "https://admin.example:8443/logout?iss=i&sid=s".to_string(),
            "https://crm.example/fc?iss=i&sid=s".to_string(),
        ];
        assert_eq!(frame_sources(&frames), ["https://admin.example:8443/logout", "https://crm.example/fc"]);
    }
}

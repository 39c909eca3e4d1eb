//! The `sub` a client sees for a user: the user's id (public), or a pairwise pseudonym per
//! sector (OpenID Connect Core §8.1) so that clients of different sectors cannot correlate users.

use super::client::Client;
use crate::crypto::keyed_hash;

/// The sector of a client: the host of its `sector_identifier_uri`, or else of its one
/// redirect URI (registration refuses pairwise clients with several hosts and no sector URI).
pub fn sector_of(client: &Client) -> Option<String> {
    let from = client.metadata.sector_identifier_uri.as_deref().or_else(|| client.metadata.redirect_uris.first().map(String::as_str))?;
    url::Url::parse(from).ok()?.host_str().map(str::to_string)
}

/// The subject identifier for `user_id` as `client` sees it. `salt_key` is the instance's
/// secret hashing key, so pseudonyms cannot be recomputed outside Poort.
pub fn subject_for(client: &Client, user_id: &str, salt_key: &[u8]) -> String {
    if client.metadata.subject_type.as_deref() == Some("pairwise")
        && let Some(sector) = sector_of(client)
    {
        return keyed_hash(salt_key, &format!("pairwise\0{sector}\0{user_id}"));
    }
    user_id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::oauth::client::test_client as client;

    #[test]
    fn public_subjects_are_the_user_id_and_pairwise_ones_differ_per_sector() {
        let public = client(serde_json::json!({ "redirect_uris": ["https://a.example/cb"] }));
        assert_eq!(subject_for(&public, "u1", b"k"), "u1");
        let a = client(serde_json::json!({ "redirect_uris": ["https://a.example/cb"], "subject_type": "pairwise" }));
        let a2 = client(serde_json::json!({ "redirect_uris": ["https://a.example/other"], "subject_type": "pairwise" }));
        let b = client(serde_json::json!({ "redirect_uris": ["https://b.example/cb"], "subject_type": "pairwise" }));
        let s = subject_for(&a, "u1", b"k");
        assert_ne!(s, "u1");
        assert_eq!(s, subject_for(&a2, "u1", b"k"), "same sector, same subject");
        assert_ne!(s, subject_for(&b, "u1", b"k"));
        assert_ne!(s, subject_for(&a, "u2", b"k"));
        let sector = client(serde_json::json!({
            "redirect_uris": ["https://x.example/cb"], "subject_type": "pairwise",
            "sector_identifier_uri": "https://a.example/sector.json"
        }));
        assert_eq!(subject_for(&sector, "u1", b"k"), s, "the sector URI's host is the sector");
    }
}

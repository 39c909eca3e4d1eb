//! JWTs as they arrive: `id_token_hint`s, access tokens, client assertions and request objects
//! are first read without trust (`peek`), then verified, and request objects decoded against a
//! client. None of it may panic, and nothing unsigned may pass as signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poort::oauth::Client;
use poort::tokens::verify;

fn client(request_object_alg: Option<&str>) -> Client {
    Client {
        id: "rp".into(),
        secret_hash: None,
        secret_sealed: None,
        secret_expires_at: 0,
        source: poort_storage::repo::ClientSource::Config,
        metadata: serde_json::from_value(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"],
            "request_object_signing_alg": request_object_alg,
        }))
        .unwrap(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(jwt) = verify::peek(text) {
        let _ = (jwt.alg(), jwt.kid(), jwt.typ(), jwt.claim_str("sub"));
    }
    let verifier = verify::hs256_verifier(b"0123456789abcdef0123456789abcdef").unwrap();
    assert!(verify::verify(text, verifier.as_ref()).is_none() || text.split('.').nth(2).is_some_and(|s| !s.is_empty()));
    for alg in [None, Some("none"), Some("RS256")] {
        if let Ok(claims) = poort::authorize::request_object::decode(text, &client(alg), "https://op.example") {
            let _ = verify::numeric_date(&claims, "exp");
            let _ = verify::audience_contains(&claims, &["https://op.example"]);
        }
    }
});

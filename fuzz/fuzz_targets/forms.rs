//! Form and query decoding of the protocol endpoints: token, revocation and introspection form
//! bodies (repeated parameters refused), the authorization endpoint's query (oversized and
//! repeated parameters found), HTTP Basic client credentials and the `claims` parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poort::authorize::params::RawParams;
use poort::oauth::client_auth::credentials::parse_basic;
use poort::oauth::form::FormParams;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = FormParams::parse(data) {
        let _ = (params.get("grant_type"), params.require("code"));
    }
    let _ = parse_basic(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let params = RawParams::parse(text);
        let _ = (params.oversized(), params.repeated(), params.get("claims"));
        if let Some(claims) = params.get("claims").and_then(|c| serde_json::from_str(c).ok()) {
            for target in [poort::claims::Target::IdToken, poort::claims::Target::Userinfo] {
                let _ = poort::claims::requested(Some(&claims), target);
            }
        }
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = poort::claims::requested(Some(&claims), poort::claims::Target::IdToken);
    }
});

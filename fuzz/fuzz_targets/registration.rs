//! Client registration metadata (RFC 7591 / OpenID Connect Dynamic Registration): any JSON
//! object goes through the same parse and ordered checks as `POST /register`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poort::registration::validate::{Policy, check, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(request)) = serde_json::from_slice(data) else { return };
    let Ok(mut metadata) = parse(&request) else { return };
    let algorithms = ["RS256".to_string(), "ES256".to_string()];
    for allow_loopback_http in [false, true] {
        let policy = Policy { allow_loopback_http, signing_algorithms: &algorithms };
        let _ = check(&mut metadata.clone(), &policy);
    }
    let _ = check(&mut metadata, &Policy { allow_loopback_http: true, signing_algorithms: &algorithms });
});

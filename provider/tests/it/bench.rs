//! The benchmark (`bench/run`) in its CI size: a second of each load against this build of
//! Poort and against the reference provider. It checks that every run works and that no request
//! failed; speed is for the full benchmark to measure, never for a test to assert.

use std::process::Command;

#[test]
fn the_benchmark_smoke_run_completes_without_errors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(root.join("bench/run"))
        .arg("--smoke")
        .env("POORT_BIN", env!("CARGO_BIN_EXE_poort"))
        .env("OUT", out.path())
        .env_remove("POORT_CONFIG")
        .output()
        .expect("bench/run starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench/run --smoke failed:\n{stdout}\n{stderr}");
    for row in ["discovery", "JWKS", "client_credentials, ES256 JWT", "code+PKCE flow", "password sign-in", "idle RSS", "purging"] {
        assert!(stdout.contains(row), "the table lacks `{row}`:\n{stdout}");
    }
    assert!(stdout.contains("\nerrors: 0\n"), "{stdout}");
}

//! The same binary on PostgreSQL: one issuer, and several nodes sharing one key set.

use crate::support::{PgDatabase, Server, http};

#[tokio::test]
async fn two_nodes_started_at_once_on_one_database_share_one_key_set() {
    let db = PgDatabase::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = db.url.clone();
    let url_b = db.url.clone();
    // Start both at the same moment: they race to migrate and to create the first keys.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            Server::start(dir_a.path(), |c| {
                c.env("POORT__STORAGE__DATABASE_URL", &url).env("POORT__SERVER__ISSUER", "https://id.example.com");
            })
        });
        let b = scope.spawn(|| {
            Server::start(dir_b.path(), |c| {
                c.env("POORT__STORAGE__DATABASE_URL", &url_b).env("POORT__SERVER__ISSUER", "https://id.example.com");
            })
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    let client = http();
    let fetch = |base: String, path: &'static str| {
        let client = client.clone();
        async move { client.get(format!("{base}{path}")).send().await.unwrap().text().await.unwrap() }
    };
    let (jwks_a, jwks_b) = (fetch(a.base_url.clone(), "/jwks").await, fetch(b.base_url.clone(), "/jwks").await);
    assert_eq!(jwks_a, jwks_b, "both nodes serve the same keys");
    let jwks: serde_json::Value = serde_json::from_str(&jwks_a).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "one key per algorithm, not one per node: {jwks}");
    let doc_a = fetch(a.base_url.clone(), "/.well-known/openid-configuration").await;
    assert_eq!(doc_a, fetch(b.base_url.clone(), "/.well-known/openid-configuration").await);
    assert!(doc_a.contains("\"issuer\":\"https://id.example.com\""));
    assert_eq!(fetch(a.base_url.clone(), "/readyz").await, "ready");
    assert!(!dir_a.path().join("poort-data/poort.db").exists(), "no SQLite database on PostgreSQL");
}

#[tokio::test]
async fn a_key_rotated_through_one_node_reaches_the_other_through_the_database() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), |c| {
        c.env("POORT__STORAGE__DATABASE_URL", &db.url);
    });
    let before: serde_json::Value =
        http().get(format!("{}/jwks", server.base_url)).send().await.unwrap().json().await.unwrap();
    let output = crate::support::poort()
        .current_dir(dir.path())
        .args(["keys", "rotate", "--json"])
        .env("POORT__STORAGE__DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Another process (a second node, here the CLI) sees both the old and the new keys.
    let store = poort_storage::Store::connect(&db.url, 2).await.unwrap();
    let published = store.keys().published().await.unwrap();
    assert_eq!(published.len(), 4);
    for kid in created["created"].as_array().unwrap() {
        assert!(published.iter().any(|k| k.kid == kid.as_str().unwrap()));
    }
    for key in before["keys"].as_array().unwrap() {
        assert!(published.iter().any(|k| k.kid == key["kid"].as_str().unwrap()), "old keys stay published");
    }
}

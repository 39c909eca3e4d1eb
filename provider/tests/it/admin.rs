//! The admin API through the router in process: a token for a configured client with the
//! `poort.admin` scope, fetched from `/token` with client_credentials, then every endpoint; the
//! refusals (no token, garbage, a token without the scope, a revoked one, a user's token from the
//! authorization-code flow); the invitation mail read from the outbox; conflicts, unknown users,
//! malformed JSON (none of which changes anything); and dynamic registration, which cannot get
//! the scope.

use crate::accounts::read_outbox;
use crate::grant_fixture::{CB, CodeSpec, Op, Reply, SECRET};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use poort_config::{Settings, StaticClient};
use serde_json::{Value, json};

/// A client_credentials client from configuration.
fn configured(id: &str, scope: &str) -> StaticClient {
    let config = json!({
        "client_id": id, "client_secret": SECRET, "redirect_uris": [],
        "grant_types": ["client_credentials"], "scope": scope,
    });
    serde_json::from_value(config).unwrap()
}

/// A provider with the configured clients `admin` (scope `poort.admin`) and `reports` (scope
/// `reports:read`), as `poort serve` writes them to the store at start.
async fn op() -> Op {
    let op = Op::new().await;
    let clients = vec![configured("admin", "poort.admin"), configured("reports", "reports:read")];
    let settings = Settings { clients, ..Settings::default() };
    poort::clients::sync_static_clients(&op.state.store, &settings).await.unwrap();
    op
}

async fn token(op: &Op, client: &str, scope: &str) -> String {
    let reply =
        op.post("/token", &[("grant_type", "client_credentials"), ("scope", scope)], Some((client, SECRET))).await;
    reply.tokens()["access_token"].as_str().unwrap().to_string()
}

async fn call(op: &Op, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    op.send(request.body(body).unwrap()).await
}

#[track_caller]
fn ok(reply: &Reply, status: StatusCode) -> Value {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"));
    reply.json()
}

async fn audit_kinds(op: &Op) -> Vec<(String, Option<String>)> {
    let events = op.state.store.audit().list(None, 1000).await.unwrap();
    events.into_iter().filter(|e| e.kind.starts_with("admin.")).map(|e| (e.kind, e.client_id)).collect()
}

#[tokio::test]
async fn admin_users_invite_show_disable_enable_roles_and_resend() {
    let op = op().await;
    let at = token(&op, "admin", "poort.admin").await;
    let t = Some(at.as_str());

    let invite = json!({
        "email": "ann@example.com", "username": "ann", "name": "Ann Admin", "roles": ["staff"],
        "claims": { "locale": "en" },
    });
    let created = ok(&call(&op, Method::POST, "/admin/users", t, Some(&invite.to_string())).await, StatusCode::CREATED);
    assert_eq!(created["status"], "invited");
    assert_eq!(created["roles"], json!(["staff"]));
    assert_eq!(created["activation_mail"]["sent"], true);
    assert_eq!(created["activation_link"]["state"], "valid");
    assert_eq!(created["sign_in"], "no: the account is not activated yet");
    let id = created["id"].as_str().unwrap().to_string();
    let mails = read_outbox(&op.state.settings.outbox_dir());
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "ann@example.com");
    let first_link = mails[0].link();
    assert!(first_link.starts_with("/activate?token="), "{first_link}");

    // The same JSON as `poort user show --json`, by id, e-mail address or user name.
    let shown = ok(&call(&op, Method::GET, &format!("/admin/users/{id}"), t, None).await, StatusCode::OK);
    let state = op.state.store.users().get(&id).await.unwrap().unwrap();
    let mut expected = poort::accounts::overview::show(&op.state.store, &state).await.unwrap();
    expected["activation_link"] = shown["activation_link"].clone();
    assert_eq!(shown, expected);
    for key in ["ann@example.com", "ann"] {
        let by_login = ok(&call(&op, Method::GET, &format!("/admin/users/{key}"), t, None).await, StatusCode::OK);
        assert_eq!(by_login["id"], id.as_str());
    }

    let list = ok(&call(&op, Method::GET, "/admin/users?offset=0&limit=10", t, None).await, StatusCode::OK);
    let emails: Vec<_> = list.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert!(emails.contains(&"ann@example.com") && emails.contains(&"alice@example.com"), "{emails:?}");
    let page = ok(&call(&op, Method::GET, "/admin/users?offset=1&limit=1", t, None).await, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    call(&op, Method::GET, "/admin/users?limit=0", t, None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    call(&op, Method::GET, "/admin/users?limit=x", t, None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // Resend: a new link, the old one stops working.
    let resent = call(&op, Method::POST, &format!("/admin/users/{id}/resend-activation"), t, None).await;
    assert_eq!(ok(&resent, StatusCode::OK)["activation_mail"]["sent"], true);
    let mails = read_outbox(&op.state.settings.outbox_dir());
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| m.link() != first_link), "a fresh link was mailed");

    // An invited account cannot be enabled; it can be disabled, and that says why.
    let enable = call(&op, Method::POST, &format!("/admin/users/{id}/enable"), t, None).await;
    assert_eq!((enable.status, enable.json()["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let alice = op.user_id.clone();
    let disabled =
        ok(&call(&op, Method::POST, &format!("/admin/users/{alice}/disable"), t, None).await, StatusCode::OK);
    assert_eq!(
        (disabled["status"].as_str(), disabled["sign_in"].as_str()),
        (Some("disabled"), Some("no: the account is disabled"))
    );
    let enabled = ok(&call(&op, Method::POST, "/admin/users/alice/enable", t, None).await, StatusCode::OK);
    assert_eq!(enabled["status"], "active");
    let resend_active = call(&op, Method::POST, "/admin/users/alice/resend-activation", t, None).await;
    assert_eq!(resend_active.status, StatusCode::CONFLICT);

    // Roles are replaced, and cleared with [].
    let body = json!({ "roles": ["auditor", "user level 0"] }).to_string();
    let set = ok(&call(&op, Method::PUT, &format!("/admin/users/{id}/roles"), t, Some(&body)).await, StatusCode::OK);
    assert_eq!(set["roles"], json!(["auditor", "user level 0"]));
    let set = call(&op, Method::PUT, &format!("/admin/users/{id}/roles"), t, Some(r#"{"roles":[]}"#)).await;
    assert_eq!(ok(&set, StatusCode::OK)["roles"], json!([]));

    let kinds: Vec<String> = audit_kinds(&op)
        .await
        .into_iter()
        .map(|(kind, client)| {
            assert_eq!(client.as_deref(), Some("admin"), "{kind} names the acting client");
            kind
        })
        .collect();
    for kind in [
        "admin.user_invited",
        "admin.activation_resent",
        "admin.user_disabled",
        "admin.user_enabled",
        "admin.user_roles_set",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    // Refused changes are not recorded.
    assert_eq!(kinds.iter().filter(|k| *k == "admin.activation_resent").count(), 1);
}

#[tokio::test]
async fn admin_refuses_bad_input_without_changing_anything() {
    let op = op().await;
    let at = token(&op, "admin", "poort.admin").await;
    let t = Some(at.as_str());
    let users_before = op.state.store.users().list(0, 100).await.unwrap().len();

    let taken = json!({ "email": "ALICE@example.com" }).to_string();
    let reply = call(&op, Method::POST, "/admin/users", t, Some(&taken)).await;
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{:?}",
        reply.json()
    );
    assert!(reply.json()["error_description"].as_str().unwrap().contains("e-mail address"));
    let taken_name = json!({ "email": "new@example.com", "username": "alice" }).to_string();
    assert_eq!(call(&op, Method::POST, "/admin/users", t, Some(&taken_name)).await.status, StatusCode::CONFLICT);

    for body in [
        "{not json",
        "[]",
        r#"{"username":"x"}"#,
        r#"{"email":"not-an-address"}"#,
        r#"{"email":"b@example.com","colour":"blue"}"#,
        r#"{"email":"b@example.com","client":"nope"}"#,
        r#"{"email":"b@example.com","roles":[" "]}"#,
        r#"{"email":"b@example.com","username":""}"#,
    ] {
        let reply = call(&op, Method::POST, "/admin/users", t, Some(body)).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(!reply.json()["error_description"].as_str().unwrap().is_empty(), "{body}");
    }
    let no_type = Request::post("/admin/users").header(header::AUTHORIZATION, format!("Bearer {at}"));
    let reply = op.send(no_type.body(Body::from(r#"{"email":"b@example.com"}"#)).unwrap()).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let reply = call(&op, Method::PUT, "/admin/users/alice/roles", t, Some(r#"{"roles":"staff"}"#)).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    for (method, path) in [
        (Method::GET, "/admin/users/nobody@example.com"),
        (Method::POST, "/admin/users/nobody/disable"),
        (Method::POST, "/admin/users/nobody/enable"),
        (Method::POST, "/admin/users/nobody/resend-activation"),
        (Method::DELETE, "/admin/roles/nothing"),
    ] {
        let reply = call(&op, method.clone(), path, t, None).await;
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{method} {path}"
        );
    }
    let reply = call(&op, Method::PUT, "/admin/users/nobody/roles", t, Some(r#"{"roles":[]}"#)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    assert_eq!(op.state.store.users().list(0, 100).await.unwrap().len(), users_before);
    let alice = op.state.store.users().get(&op.user_id).await.unwrap().unwrap();
    assert!(alice.roles.is_empty());
    assert!(read_outbox(&op.state.settings.outbox_dir()).is_empty());
    assert!(audit_kinds(&op).await.is_empty(), "nothing changed, nothing recorded");
}

#[tokio::test]
async fn admin_roles_set_list_and_remove() {
    let op = op().await;
    let at = token(&op, "admin", "poort.admin").await;
    let t = Some(at.as_str());
    let body = json!({ "description": "Settings", "permissions": ["settings.login"] }).to_string();
    let created =
        ok(&call(&op, Method::PUT, "/admin/roles/user%20level%200", t, Some(&body)).await, StatusCode::CREATED);
    assert_eq!(
        created,
        json!({ "name": "user level 0", "description": "Settings", "permissions": ["settings.login"] })
    );
    let body = json!({ "permissions": ["settings.login", "settings.write"] }).to_string();
    let replaced = ok(&call(&op, Method::PUT, "/admin/roles/user%20level%200", t, Some(&body)).await, StatusCode::OK);
    assert_eq!(replaced["permissions"], json!(["settings.login", "settings.write"]));
    let list = ok(&call(&op, Method::GET, "/admin/roles", t, None).await, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "user level 0");
    let bad = call(&op, Method::PUT, "/admin/roles/x", t, Some(r#"{"permissions":[""]}"#)).await;
    bad.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let bad = call(&op, Method::PUT, "/admin/roles/%20", t, Some("{}")).await;
    bad.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    let removed = call(&op, Method::DELETE, "/admin/roles/user%20level%200", t, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(ok(&call(&op, Method::GET, "/admin/roles", t, None).await, StatusCode::OK), json!([]));
    let kinds: Vec<_> = audit_kinds(&op).await.into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "admin.role_set").count(), 2, "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "admin.role_removed"));
}

#[tokio::test]
async fn admin_refuses_callers_without_an_active_admin_token() {
    let op = op().await;
    let challenge = |reply: &Reply| reply.header(header::WWW_AUTHENTICATE).map(str::to_string).unwrap_or_default();

    let reply = call(&op, Method::GET, "/admin/users", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&reply).starts_with("Bearer"), "{}", challenge(&reply));
    // Refused before the body is looked at.
    let reply = call(&op, Method::POST, "/admin/users", None, Some("{not json")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    for garbage in ["garbage", "a.b.c", &"A".repeat(43)] {
        let reply = call(&op, Method::GET, "/admin/users", Some(garbage), None).await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
        assert!(challenge(&reply).contains("error=\"invalid_token\""), "{}", challenge(&reply));
    }

    // A client without the scope can neither get it nor use its own token here.
    let denied = op
        .post("/token", &[("grant_type", "client_credentials"), ("scope", "poort.admin")], Some(("reports", SECRET)))
        .await;
    denied.assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    let reports = token(&op, "reports", "reports:read").await;
    let reply = call(&op, Method::GET, "/admin/users", Some(&reports), None).await;
    reply.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert!(challenge(&reply).contains("insufficient_scope"));
    // The admin client asking for nothing in particular gets (and may use) all it may have.
    let all = op.post("/token", &[("grant_type", "client_credentials")], Some(("admin", SECRET))).await.tokens();
    assert_eq!(all["scope"], "poort.admin");

    // A user's token from the authorization-code flow does not carry the scope.
    op.client("rp", json!({ "token_endpoint_auth_method": "client_secret_basic" })).await;
    let spec = CodeSpec { scope: "openid profile", ..CodeSpec::default() };
    let code = op.code("rp", spec).await;
    let user_token = op.redeem("rp", &code).await.tokens()["access_token"].as_str().unwrap().to_string();
    let reply = call(&op, Method::GET, "/admin/users", Some(&user_token), None).await;
    reply.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");

    // A revoked admin token stops working at once.
    let at = token(&op, "admin", "poort.admin").await;
    assert_eq!(call(&op, Method::GET, "/admin/roles", Some(&at), None).await.status, StatusCode::OK);
    let revoked = op.post("/revoke", &[("token", &at)], Some(("admin", SECRET))).await;
    assert_eq!(revoked.status, StatusCode::OK);
    let reply = call(&op, Method::GET, "/admin/roles", Some(&at), None).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    let reply = call(&op, Method::PUT, "/admin/roles/x", Some(&at), Some("{}")).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(op.state.store.roles().list().await.unwrap().is_empty(), "a refused request changes nothing");

    // Taking the scope from the client's configuration ends its admin tokens.
    let at = token(&op, "admin", "poort.admin").await;
    let settings = Settings { clients: vec![configured("admin", "reports:read")], ..Settings::default() };
    poort::clients::sync_static_clients(&op.state.store, &settings).await.unwrap();
    let reply = call(&op, Method::GET, "/admin/roles", Some(&at), None).await;
    reply.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test]
async fn admin_scope_cannot_be_had_through_dynamic_registration_nor_is_it_advertised() {
    let op = op().await;
    let request = json!({
        "redirect_uris": ["https://rp.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "openid poort.admin",
    });
    let register = Request::post("/register").header(header::CONTENT_TYPE, "application/json");
    let reply = op.send(register.body(Body::from(request.to_string())).unwrap()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["error"], "invalid_client_metadata");

    let discovery = op.send(Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap()).await;
    let document = discovery.json();
    assert!(!document["scopes_supported"].as_array().unwrap().contains(&json!("poort.admin")));
    assert!(!document.to_string().contains("/admin"), "the admin API is not advertised");
}

#[tokio::test]
async fn admin_sets_a_password_under_the_policy_and_ends_the_users_sessions() {
    let op = op().await;
    let admin = token(&op, "admin", "poort.admin").await;
    let path = "/admin/users/alice@example.com/password";
    let weak = call(&op, Method::PUT, path, Some(&admin), Some(r#"{"password":"password123"}"#)).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&weak.body));
    assert!(op.state.store.users().find_by_login("alice").await.unwrap().unwrap().password_hash.is_none(), "a refused password changes nothing");
    assert_eq!(call(&op, Method::PUT, "/admin/users/nobody/password", Some(&admin), Some(r#"{"password":"x"}"#)).await.status, StatusCode::NOT_FOUND);

    let strong = "copper kettle wanders north at dusk";
    let set = call(&op, Method::PUT, path, Some(&admin), Some(&format!(r#"{{"password":"{strong}"}}"#))).await;
    let shown = ok(&set, StatusCode::OK);
    assert_eq!(shown["has_password"], true);
    let alice = op.state.store.users().find_by_login("alice").await.unwrap().unwrap();
    assert!(poort::password::verify(strong, alice.password_hash.as_deref().unwrap()));
    assert!(op.state.store.sessions().get(&op.session_id).await.unwrap().unwrap().ended_at.is_some(), "her sessions end");
    assert!(!String::from_utf8_lossy(&set.body).contains(strong));
    assert!(audit_kinds(&op).await.iter().any(|(kind, client)| kind == "admin.password_set" && client.as_deref() == Some("admin")));
}

#[tokio::test]
async fn admin_sessions_list_and_end_with_back_channel_logout_and_the_outbox_shows_it() {
    use poort_storage::repo::{AttemptOutcome, DeliveryStatus};
    let op = op().await;
    let at = token(&op, "admin", "poort.admin").await;
    let t = Some(at.as_str());
    op.client("bc", json!({ "redirect_uris": [CB], "backchannel_logout_uri": "http://127.0.0.1:9/backchannel" })).await;
    op.state.store.sessions().add_client(&op.session_id, "bc").await.unwrap();

    let listed = ok(&call(&op, Method::GET, "/admin/users/alice@example.com/sessions", t, None).await, StatusCode::OK);
    let sessions = listed.as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["sid"], op.session_id.as_str());
    assert_eq!(sessions[0]["clients"], json!(["bc"]));
    let live = op.state.store.sessions().get(&op.session_id).await.unwrap().unwrap();
    assert_eq!(sessions[0], poort::accounts::sessions::describe(&live, &["bc".to_string()]));

    call(&op, Method::DELETE, "/admin/users/alice@example.com/sessions/no-such-session", t, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    call(&op, Method::GET, "/admin/users/nobody@example.com/sessions", t, None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let ended = call(&op, Method::DELETE, &format!("/admin/users/alice@example.com/sessions/{}", op.session_id), t, None).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert!(!op.state.store.sessions().get(&op.session_id).await.unwrap().unwrap().is_live(poort_storage::now()));
    assert!(ok(&call(&op, Method::GET, "/admin/users/alice/sessions", t, None).await, StatusCode::OK).as_array().unwrap().is_empty());
    assert!(audit_kinds(&op).await.contains(&("admin.session_ended".into(), Some("admin".into()))));

    // The client is told through the outbox, which administrators can read and retry.
    let queued = ok(&call(&op, Method::GET, "/admin/logout-deliveries", t, None).await, StatusCode::OK);
    let queued = queued.as_array().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0]["client_id"].as_str(), queued[0]["status"].as_str()), (Some("bc"), Some("pending")));
    assert_eq!(queued[0]["sid"], op.session_id.as_str());
    let id = queued[0]["id"].as_str().unwrap().to_string();
    let failed_only = ok(&call(&op, Method::GET, "/admin/logout-deliveries?status=failed", t, None).await, StatusCode::OK);
    assert!(failed_only.as_array().unwrap().is_empty());
    call(&op, Method::GET, "/admin/logout-deliveries?status=lost", t, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    call(&op, Method::POST, &format!("/admin/logout-deliveries/{id}/retry"), t, None).await.assert_error(StatusCode::CONFLICT, "conflict");
    let outbox = op.state.store.logout_deliveries();
    outbox.claim_due(poort_storage::now(), 30, 10).await.unwrap();
    outbox.record_attempt(&id, AttemptOutcome::Failed { error: "HTTP 400" }, poort_storage::now()).await.unwrap();
    let failed = ok(&call(&op, Method::GET, "/admin/logout-deliveries?status=failed", t, None).await, StatusCode::OK);
    assert_eq!(failed[0]["last_error"], "HTTP 400");
    let retried = ok(&call(&op, Method::POST, &format!("/admin/logout-deliveries/{id}/retry"), t, None).await, StatusCode::OK);
    assert_eq!(retried["status"], "pending");
    assert_eq!(outbox.get(&id).await.unwrap().unwrap().status, DeliveryStatus::Pending);
    call(&op, Method::POST, "/admin/logout-deliveries/nope/retry", t, None).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Ending them all.
    let again = ok(&call(&op, Method::DELETE, "/admin/users/alice/sessions", t, None).await, StatusCode::OK);
    assert_eq!(again, json!({ "ended": 0 }));
    // Without the admin scope, nothing.
    assert_eq!(call(&op, Method::DELETE, "/admin/users/alice/sessions", None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_connectors_set_show_list_and_remove_without_showing_secrets() {
    let op = op().await;
    let at = token(&op, "admin", "poort.admin").await;
    let t = Some(at.as_str());
    let body = json!({
        "kind": "entra", "name": "Contoso", "tenant": "organizations", "client_id": "poort",
        "client_secret": "a-very-secret-value", "domains": ["contoso.com"], "allowed_tenants": ["t1"],
    });
    let path = "/admin/connectors/contoso";
    let created = ok(&call(&op, Method::PUT, path, t, Some(&body.to_string())).await, StatusCode::CREATED);
    assert_eq!((created["id"].as_str(), created["source"].as_str(), created["has_secrets"].as_bool()), (Some("contoso"), Some("admin"), Some(true)));
    assert!(!created.to_string().contains("a-very-secret-value"), "secrets are never shown: {created}");
    // Replacing without the secret keeps it; the connector signs in contoso.com.
    let mut changed = body.clone();
    changed.as_object_mut().unwrap().remove("client_secret");
    changed["domains"] = json!(["contoso.com", "contoso.nl"]);
    let replaced = ok(&call(&op, Method::PUT, path, t, Some(&changed.to_string())).await, StatusCode::OK);
    assert_eq!(replaced["domains"], json!(["contoso.com", "contoso.nl"]));
    let stored = poort::federation::connectors::load(&op.state.store, &op.state.hash_key, "contoso").await.unwrap().unwrap();
    assert_eq!(stored.secrets.client_secret.as_deref(), Some("a-very-secret-value"));
    let listed = ok(&call(&op, Method::GET, "/admin/connectors", t, None).await, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let shown = ok(&call(&op, Method::GET, path, t, None).await, StatusCode::OK);
    assert_eq!(shown["settings"]["tenant"], "organizations");

    // Bad input names the key and changes nothing.
    let bad = [
        (json!({ "kind": "entra", "client_id": "c", "client_secret": "s" }), "connector.tenant"),
        (json!({ "kind": "saml" }), "saml"),
        (json!({ "id": "other", "kind": "oidc" }), "as in the path"),
        (json!({ "kind": "oidc", "issuer": "https://idp.example", "client_id": "c", "client_secret": "s", "colour": "red" }), "colour"),
        (json!({ "kind": "ldap", "url": "ldaps://dc", "base_dn": "dc=x", "private_key_file": "/etc/key.pem" }), "private_key_pem"),
    ];
    for (body, needle) in bad {
        let reply = call(&op, Method::PUT, "/admin/connectors/second", t, Some(&body.to_string())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(String::from_utf8_lossy(&reply.body).contains(needle), "{needle}: {}", String::from_utf8_lossy(&reply.body));
    }
    // A domain has one connector.
    let taken = json!({ "kind": "google", "client_id": "c", "client_secret": "s", "hosted_domains": ["contoso.com"], "domains": ["contoso.com"] });
    let reply = call(&op, Method::PUT, "/admin/connectors/google", t, Some(&taken.to_string())).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(op.state.store.connectors().list().await.unwrap().len(), 1, "refusals stored nothing");

    assert_eq!(call(&op, Method::DELETE, path, t, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&op, Method::DELETE, path, t, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&op, Method::GET, path, t, None).await.status, StatusCode::NOT_FOUND);
    // Without the admin scope: nothing.
    let other = token(&op, "reports", "reports:read").await;
    assert_eq!(call(&op, Method::GET, "/admin/connectors", Some(&other), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&op, Method::GET, "/admin/connectors", None, None).await.status, StatusCode::UNAUTHORIZED);
    let kinds: Vec<String> = audit_kinds(&op).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["admin.connector_removed", "admin.connector_set", "admin.connector_set"]);
}

//! The data each page and mail is rendered with, by example: the contract between the code that
//! renders and the templates (and any theme that overrides them).
//!
//! The first sample of a template fixes its shape: [`crate::Theme::render_page`] refuses data
//! with a variable missing or one the template does not know (at any depth; lists are checked
//! element by element against the sample's first element). Any value may be `null` where the
//! template tests it with `{{#if}}`. The other samples are variants that exercise other branches;
//! every sample is rendered in every locale when a theme loads, so a broken override stops the
//! start instead of a sign-in.
//!
//! Form actions are fixed in the templates (`/login`, `/consent`, `/terms`, `/activate`,
//! `/activate/resend`, `/password/forgot`, `/password/reset`, `/account/password`, `/logout`);
//! see the crate's README for the fields each form posts.

use serde_json::{Value, json};

fn client() -> Value {
    json!({
        "name": "CRM",
        "logo_uri": "https://crm.example.com/logo.png",
        "policy_uri": "https://crm.example.com/privacy",
        "tos_uri": "https://crm.example.com/terms",
    })
}

fn password_policy() -> Value {
    json!({ "min_length": 10, "max_length": 256, "min_score": 3, "user_inputs": "jan jansen example jan.jansen" })
}

fn password_error() -> Value {
    json!({
        "key": "password.reason.too_weak",
        "warning": "password.warning.common",
        "suggestions": ["password.suggestion.add_words"],
    })
}

/// The sample data of a page, its shape first; empty for an unknown name.
pub fn page_samples(name: &str) -> Vec<Value> {
    match name {
        "sign_in" => {
            let first = json!({
                "client": client(),
                "ticket": "ticket-123",
                "csrf_token": "csrf-123",
                "username": "jan.jansen@example.com",
                "directory_users": true,
                "forgot_password_uri": "/password/forgot",
                "identify": false,
                "change_user_uri": "/login?ticket=ticket-123&other=1",
                "sso": { "connector": "contoso", "name": "Contoso" },
                "message_key": "sign_in.invalid_credentials",
                "notice_key": null,
            });
            let mut identify = first.clone();
            identify["identify"] = json!(true);
            identify["username"] = json!("");
            identify["change_user_uri"] = Value::Null;
            identify["sso"] = Value::Null;
            identify["forgot_password_uri"] = Value::Null;
            identify["message_key"] = Value::Null;
            let mut plain = first.clone();
            plain["client"] = json!({ "name": "CRM", "logo_uri": null, "policy_uri": null, "tos_uri": "https://crm.example.com/terms" });
            plain["username"] = json!("");
            plain["directory_users"] = json!(false);
            plain["forgot_password_uri"] = Value::Null;
            plain["change_user_uri"] = Value::Null;
            plain["sso"] = Value::Null;
            plain["message_key"] = Value::Null;
            vec![first, plain, identify]
        }
        "consent" => vec![json!({
            "client": client(),
            "scopes": ["profile", "email", "offline_access", "crm:read"],
            "claims": ["birthdate"],
            "user": "jan.jansen@example.com",
            "ticket": "ticket-123",
            "csrf_token": "csrf-123",
        })],
        "error" => vec![
            json!({ "message_key": "error.invalid_redirect_uri", "detail": "invalid_request: redirect_uri is not registered" }),
            json!({ "message_key": "error.generic", "detail": null }),
        ],
        "logged_out" => vec![
            json!({
                "client_name": "CRM",
                "return_uri": "https://crm.example.com/signed-out",
                "auto_return": true,
                "frontchannel_logout_uris": ["https://crm.example.com/frontchannel-logout?iss=x&sid=y"],
            }),
            json!({ "client_name": null, "return_uri": null, "auto_return": false, "frontchannel_logout_uris": [] }),
        ],
        "logout_confirm" => vec![
            json!({
                "action": "/session/end",
                "csrf_token": "csrf-123",
                "client_name": "CRM",
                "fields": [
                    { "name": "client_id", "value": "crm" },
                    { "name": "post_logout_redirect_uri", "value": "https://crm.example.com/signed-out" },
                    { "name": "state", "value": "state-123" },
                ],
            }),
            json!({ "action": "/session/end", "csrf_token": "csrf-123", "client_name": null, "fields": [] }),
        ],
        "activate" => {
            let first = json!({
                "token": "activation-token",
                "csrf_token": "csrf-123",
                "email": "jan.jansen@example.com",
                "sso": { "connector": "contoso", "name": "Contoso" },
                "password_form": true,
                "directory": null,
                "password_policy": password_policy(),
                "password_error": password_error(),
                "message_key": "error.csrf",
                "notice_key": null,
            });
            let mut sso_only = first.clone();
            sso_only["password_form"] = json!(false);
            sso_only["password_error"] = Value::Null;
            sso_only["message_key"] = Value::Null;
            let mut directory = sso_only.clone();
            directory["sso"] = Value::Null;
            directory["directory"] = json!("Windows");
            directory["message_key"] = json!("sign_in.invalid_credentials");
            vec![first, sso_only, directory]
        }
        "activation_expired" => vec![
            json!({
                "reason_key": "activation_expired.expired",
                "token": "activation-token",
                "csrf_token": "csrf-123",
                "ask_email": true,
                "sent": false,
                "message_key": null,
                "notice_key": null,
            }),
            json!({
                "reason_key": "activation_expired.used",
                "token": null,
                "csrf_token": "csrf-123",
                "ask_email": false,
                "sent": true,
                "message_key": null,
                "notice_key": null,
            }),
        ],
        "terms" => vec![json!({
            "client": client(),
            "terms": {
                "version": "2025-03",
                "paragraphs": ["These are the terms of service.", "Read them carefully <before> accepting."],
            },
            "ticket": "ticket-123",
            "csrf_token": "csrf-123",
            "message_key": "terms.must_accept",
            "notice_key": null,
        })],
        "change_password" => {
            let first = json!({
                "csrf_token": "csrf-123",
                "username": "jan.jansen@example.com",
                "federated_connector": null,
                "password_policy": password_policy(),
                "password_error": password_error(),
                "message_key": "change_password.current_incorrect",
                "notice_key": null,
            });
            let mut federated = first.clone();
            federated["federated_connector"] = json!("Microsoft 365");
            vec![first, federated]
        }
        "forgot_password" => {
            let first = json!({
                "self_service": true,
                "sent": false,
                "csrf_token": "csrf-123",
                "email": "jan.jansen@example.com",
                "sign_in_uri": "/login?ticket=ticket-123",
                "message_key": "error.too_many_requests",
                "notice_key": null,
            });
            let mut sent = first.clone();
            sent["sent"] = json!(true);
            let mut administrator = first.clone();
            administrator["self_service"] = json!(false);
            administrator["sign_in_uri"] = Value::Null;
            vec![first, sent, administrator]
        }
        "reset_password" => {
            let first = json!({
                "token": "reset-token",
                "csrf_token": "csrf-123",
                "email": "jan.jansen@example.com",
                "link_valid": true,
                "password_policy": password_policy(),
                "password_error": password_error(),
                "message_key": null,
                "notice_key": null,
            });
            let mut invalid = first.clone();
            invalid["link_valid"] = json!(false);
            invalid["password_error"] = Value::Null;
            vec![first, invalid]
        }
        "access_refused" => vec![
            json!({
                "client_name": "Instellingen en onderhoud",
                "user": "jan.jansen@example.com",
                "continue_uri": "https://settings.example.com/callback?error=access_denied",
            }),
            json!({ "client_name": "Settings and maintenance", "user": null, "continue_uri": null }),
        ],
        "account" => {
            let first = json!({
                "user": { "name": "Jan Jansen", "username": "jan.jansen@example.com", "email": "jan.jansen@example.com" },
                "federated_connector": null,
                "csrf_token": "csrf-123",
                "message_key": null,
                "notice_key": "account.password_changed",
                "other_sessions": true,
                "sessions": [
                    {
                        "id": "s-1", "current": true, "device": "Firefox on Linux", "ip": "192.0.2.7",
                        "signed_in": "2026-12-05 09:12 UTC", "last_seen": "2026-12-05 10:40 UTC", "clients": "CRM, Settings",
                    },
                    {
                        "id": "s-2", "current": false, "device": null, "ip": null,
                        "signed_in": "2026-12-04 16:02 UTC", "last_seen": "2026-12-04 17:30 UTC", "clients": "",
                    },
                ],
            });
            let mut federated = first.clone();
            federated["user"] = json!({ "name": null, "username": "jan", "email": null });
            federated["federated_connector"] = json!("Google Workspace");
            federated["notice_key"] = Value::Null;
            federated["other_sessions"] = json!(false);
            federated["sessions"] = json!([first["sessions"][0].clone()]);
            vec![first, federated]
        }
        "federation_error" => vec![
            json!({ "message_key": "federation.error.email_mismatch", "connector": "Contoso", "retry_uri": "/activate?token=abc" }),
            json!({ "message_key": "federation.error.state_mismatch", "connector": "Contoso", "retry_uri": null }),
        ],
        _ => Vec::new(),
    }
}

/// The sample data of a mail, its shape first; empty for an unknown name.
pub fn mail_samples(name: &str) -> Vec<Value> {
    match name {
        "activation" => vec![
            json!({
                "name": "Jan Jansen",
                "user_id": "jan.jansen@example.com",
                "client_name": "CRM",
                "link": "https://id.example.com/activate?token=abc&lang=nl",
                "expires_in_seconds": 604800,
            }),
            json!({
                "name": null,
                "user_id": "jjansen",
                "client_name": null,
                "link": "https://id.example.com/activate?token=abc",
                "expires_in_seconds": 5400,
            }),
        ],
        "reset" => vec![json!({
            "name": "Jan Jansen",
            "link": "https://id.example.com/password/reset?token=abc&lang=nl",
            "expires_in_seconds": 3600,
        })],
        _ => Vec::new(),
    }
}

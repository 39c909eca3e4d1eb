//! The plain pages of the authorization endpoint: errors that must not redirect, sign-in and
//! consent. (The themed, translated pages replace these with the hosted sign-in experience.)

use crate::oauth::Client;
use crate::web::html::{escape, page};
use axum::http::StatusCode;
use axum::response::Response;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}\
label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.4rem}\
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}.links a{margin-right:1rem}img{max-height:4rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>"#,
        escape(title)
    )
}

/// An error shown to the user instead of redirecting (unknown client, bad redirect URI, …).
pub fn error(status: StatusCode, message: &str) -> Response {
    page(status, document("Sign-in error", &format!("<h1>Sign-in error</h1><p class=\"error\">{}</p>", escape(message))))
}

/// The client's name, logo and policy links, shown on the sign-in and consent pages.
fn client_header(client: &Client) -> String {
    let mut html = String::new();
    if let Some(logo) = client.metadata.logo_uri.as_deref().filter(|u| u.starts_with("https://")) {
        html.push_str(&format!(r#"<p><img src="{}" alt="{}"></p>"#, escape(logo), escape(client.display_name())));
    }
    html.push_str(&format!("<p>Sign in to continue to <strong>{}</strong>.</p>", escape(client.display_name())));
    let links: Vec<String> = [("Privacy policy", &client.metadata.policy_uri), ("Terms of service", &client.metadata.tos_uri)]
        .into_iter()
        .filter_map(|(label, uri)| uri.as_deref().map(|u| format!(r#"<a href="{}">{label}</a>"#, escape(u))))
        .collect();
    if !links.is_empty() {
        html.push_str(&format!(r#"<p class="links">{}</p>"#, links.join("")));
    }
    html
}

pub struct LoginForm<'a> {
    pub client: &'a Client,
    pub ticket: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub message: Option<&'a str>,
}

pub fn login(form: LoginForm<'_>) -> Response {
    let message = form.message.map(|m| format!(r#"<p class="error" role="alert">{}</p>"#, escape(m))).unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1>{header}{message}<form method="post" action="/login">
<input type="hidden" name="ticket" value="{ticket}"><input type="hidden" name="csrf_token" value="{csrf}">
<label for="username">E-mail address or user name</label><input type="text" id="username" name="username" value="{username}" autocomplete="username" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>"#,
        header = client_header(form.client),
        ticket = escape(form.ticket),
        csrf = escape(form.csrf),
        username = escape(form.username),
    );
    let status = if form.message.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    page(status, document("Sign in", &body))
}

pub fn consent(client: &Client, scopes: &[String], claims: &[String], ticket: &str, csrf: &str) -> Response {
    let items: String = scopes
        .iter()
        .filter(|s| *s != "openid")
        .map(|s| format!("<li>{}</li>", escape(scope_description(s))))
        .chain(claims.iter().map(|c| format!("<li>{}</li>", escape(c))))
        .collect();
    let body = format!(
        r#"<h1>Allow access?</h1>{header}<p><strong>{name}</strong> asks to:</p><ul><li>know who you are</li>{items}</ul>
<form method="post" action="/consent"><input type="hidden" name="ticket" value="{ticket}"><input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit" name="decision" value="allow">Allow</button> <button type="submit" name="decision" value="deny">Deny</button></form>"#,
        header = client_header(client),
        name = escape(client.display_name()),
        ticket = escape(ticket),
        csrf = escape(csrf),
    );
    page(StatusCode::OK, document("Allow access?", &body))
}

/// The signed-in user may not use this client; the link tells the client so.
pub fn access_refused(client: &Client, back: &str) -> Response {
    let body = format!(
        r#"<h1>Access refused</h1><p>You are signed in, but your account does not have access to <strong>{name}</strong>.</p>
<p>Ask your administrator for a role that grants it.</p><p><a href="{back}">Return to {name}</a></p>"#,
        name = escape(client.display_name()),
        back = escape(back),
    );
    page(StatusCode::FORBIDDEN, document("Access refused", &body))
}

fn scope_description(scope: &str) -> &str {
    match scope {
        "profile" => "see your name and profile",
        "email" => "see your e-mail address",
        "address" => "see your postal address",
        "phone" => "see your phone number",
        "offline_access" => "keep access while you are signed out",
        other => other,
    }
}

//! The route table: every endpoint Poort serves, with the discovery key that advertises it.
//! Both the router and the discovery document are built from this one list, so they cannot
//! drift apart.

use crate::state::AppState;
use crate::{authorize, discovery, health, introspection, jwks, registration, revocation, token, userinfo};
use crate::web::cors;
use axum::routing::{MethodRouter, get, post};
use poort_config::Settings;

/// One endpoint of the provider.
pub struct Endpoint {
    pub path: &'static str,
    /// The metadata member that publishes this endpoint's URL (`jwks_uri`, `token_endpoint`, …).
    pub advertised_as: Option<&'static str>,
    pub handler: MethodRouter<AppState>,
}

/// Every endpoint the settings enable, in the order they are documented.
pub fn endpoints(settings: &Settings) -> Vec<Endpoint> {
    let mut endpoints = vec![
        Endpoint {
            path: discovery::OPENID_CONFIGURATION_PATH,
            advertised_as: None,
            handler: get(discovery::document).layer(cors::api()),
        },
        Endpoint {
            path: discovery::OAUTH_METADATA_PATH,
            advertised_as: None,
            handler: get(discovery::document).layer(cors::api()),
        },
        Endpoint { path: jwks::PATH, advertised_as: Some("jwks_uri"), handler: get(jwks::jwks).layer(cors::api()) },
        Endpoint {
            path: "/authorize",
            advertised_as: Some("authorization_endpoint"),
            handler: get(authorize::authorize_get).post(authorize::authorize_post),
        },
        Endpoint {
            path: "/login",
            advertised_as: None,
            handler: get(authorize::interaction::login_page).post(authorize::interaction::login_submit),
        },
        Endpoint {
            path: "/consent",
            advertised_as: None,
            handler: get(authorize::interaction::consent_page).post(authorize::interaction::consent_submit),
        },
        Endpoint {
            path: token::PATH,
            advertised_as: Some("token_endpoint"),
            handler: post(token::token).fallback(token::method_not_allowed).layer(cors::api()),
        },
        Endpoint {
            path: userinfo::PATH,
            advertised_as: Some("userinfo_endpoint"),
            handler: get(userinfo::get).post(userinfo::post).layer(cors::api()),
        },
        Endpoint {
            path: revocation::PATH,
            advertised_as: Some("revocation_endpoint"),
            handler: post(revocation::revoke).layer(cors::api()),
        },
        Endpoint {
            path: introspection::PATH,
            advertised_as: Some("introspection_endpoint"),
            handler: post(introspection::introspect).layer(cors::api()),
        },
        Endpoint {
            path: "/terms",
            advertised_as: None,
            handler: get(crate::terms::page::terms_page).post(crate::terms::page::terms_submit),
        },
        Endpoint { path: "/refused", advertised_as: None, handler: get(authorize::interaction::refused) },
        Endpoint { path: crate::account::ACCOUNT_PATH, advertised_as: None, handler: get(crate::account::show) },
        Endpoint {
            path: crate::account::PASSWORD_PATH,
            advertised_as: None,
            handler: get(crate::account::password::show).post(crate::account::password::change),
        },
        Endpoint { path: crate::account::sessions::END_PATH, advertised_as: None, handler: post(crate::account::sessions::end) },
        Endpoint { path: crate::logout::ACCOUNT_LOGOUT_PATH, advertised_as: None, handler: post(crate::logout::account_logout) },
        Endpoint {
            path: crate::logout::END_SESSION_PATH,
            advertised_as: Some("end_session_endpoint"),
            handler: get(crate::logout::end_session_get).post(crate::logout::end_session_post),
        },
        Endpoint {
            path: crate::check_session::PATH,
            advertised_as: Some("check_session_iframe"),
            handler: get(crate::check_session::frame),
        },
        Endpoint { path: crate::check_session::SCRIPT_PATH, advertised_as: None, handler: get(crate::check_session::script) },
        Endpoint {
            path: crate::accounts::activation::PATH,
            advertised_as: None,
            handler: get(crate::accounts::activation::page).post(crate::accounts::activation::submit),
        },
        Endpoint {
            path: crate::accounts::activation::RESEND_PATH,
            advertised_as: None,
            handler: post(crate::accounts::activation::resend_submit),
        },
        Endpoint {
            path: crate::accounts::reset::FORGOT_PATH,
            advertised_as: None,
            handler: get(crate::accounts::reset::forgot_page).post(crate::accounts::reset::forgot_submit),
        },
        Endpoint {
            path: crate::accounts::reset::RESET_PATH,
            advertised_as: None,
            handler: get(crate::accounts::reset::reset_page).post(crate::accounts::reset::reset_submit),
        },
        Endpoint { path: "/assets/form-post.js", advertised_as: None, handler: get(authorize::form_post_script) },
        Endpoint { path: "/assets/{name}", advertised_as: None, handler: get(crate::web::pages::asset) },
        Endpoint { path: "/healthz", advertised_as: None, handler: get(health::healthz) },
        Endpoint { path: "/readyz", advertised_as: None, handler: get(health::readyz) },
    ];
    if settings.registration.enabled {
        endpoints.extend(registration::endpoints());
    }
    endpoints.extend(crate::admin::endpoints());
    endpoints.extend(crate::federation::endpoints());
    if settings.metrics.enabled {
        endpoints.push(Endpoint { path: crate::metrics::PATH, advertised_as: None, handler: get(crate::metrics::scrape) });
    }
    endpoints
}

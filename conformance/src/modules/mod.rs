//! The module table: every module of the Config, Basic, RP-Initiated Logout, Dynamic,
//! Front-Channel, Back-Channel and Session Management plans under its exact suite name, in the
//! plans' order, with what setup it needs. The functions live in [`basic`], [`config`],
//! [`logout`], [`dynamic`], [`frontchannel`], [`backchannel`] and [`session`].

pub mod backchannel;
pub mod basic;
pub mod config;
pub mod dynamic;
pub mod frontchannel;
pub mod logout;
pub mod plans;
pub mod session;

use crate::report::Step;
use crate::{AuthMethod, Ctx};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

/// A module's body.
pub type RunFn = for<'a> fn(&'a mut Ctx) -> Pin<Box<dyn Future<Output = Step> + Send + 'a>>;

/// What a module needs before its body runs.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Reads discovery itself (the Config plan).
    Config,
    /// An authorization-flow module: the §2 setup (discovery, JWKS) and the check that the
    /// client's auth method is advertised. `dynamic_only` modules exist only with dynamic
    /// registration.
    Flow {
        auth: AuthMethod,
        dynamic_only: bool,
    },
}

/// One module of the suite.
pub struct ModuleDef {
    pub name: &'static str,
    pub plan: Plan,
    pub kind: Kind,
    pub run: RunFn,
}

impl std::fmt::Debug for ModuleDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleDef")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

/// The certification plans the harness implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// `oidcc-basic-certification-test-plan`.
    Basic,
    /// `oidcc-config-certification-test-plan`.
    Config,
    /// `oidcc-rp-initiated-logout-certification-test-plan`.
    RpLogout,
    /// Every plan: Config, Basic, then RP-Initiated Logout.
    All,
    /// `oidcc-implicit-certification-test-plan`, for one response type ([`plans::plan_for`]).
    Implicit,
    /// `oidcc-hybrid-certification-test-plan`, for one response type ([`plans::plan_for`]).
    Hybrid,
    /// `oidcc-dynamic-certification-test-plan`, for one response type ([`plans::plan_for`]):
    /// needs dynamic registration and, as the suite fixes it, private_key_jwt.
    Dynamic,
    /// `oidcc-frontchannel-rp-initiated-logout-certification-test-plan`.
    FrontchannelLogout,
    /// `oidcc-backchannel-rp-initiated-logout-certification-test-plan`.
    BackchannelLogout,
    /// `oidcc-session-management-certification-test-plan`.
    SessionManagement,
}

impl Plan {
    /// The Front-Channel, Back-Channel and Session Management plans, which `All` leaves out:
    /// each runs with the client configured for it (static clients need its logout URIs).
    fn runs_alone(self) -> bool {
        matches!(self, Plan::FrontchannelLogout | Plan::BackchannelLogout | Plan::SessionManagement)
    }
}

impl std::str::FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "basic" => Ok(Plan::Basic),
            "config" => Ok(Plan::Config),
            "rp-logout" => Ok(Plan::RpLogout),
            "all" => Ok(Plan::All),
            "implicit" => Ok(Plan::Implicit),
            "hybrid" => Ok(Plan::Hybrid),
            "dynamic" => Ok(Plan::Dynamic),
            "frontchannel-logout" => Ok(Plan::FrontchannelLogout),
            "backchannel-logout" => Ok(Plan::BackchannelLogout),
            "session-management" => Ok(Plan::SessionManagement),
            other => Err(format!(
                "unknown plan `{other}` (basic, config, rp-logout, implicit, hybrid, dynamic, \
                 frontchannel-logout, backchannel-logout, session-management or all)"
            )),
        }
    }
}

const BASIC: Kind = Kind::Flow {
    auth: AuthMethod::ClientSecretBasic,
    dynamic_only: false,
};
const POST: Kind = Kind::Flow {
    auth: AuthMethod::ClientSecretPost,
    dynamic_only: false,
};
const DYNAMIC: Kind = Kind::Flow {
    auth: AuthMethod::ClientSecretBasic,
    dynamic_only: true,
};
/// Modules that only make sense with private_key_jwt, whatever the run's client authentication.
const PRIVATE_KEY_JWT: Kind = Kind::Flow {
    auth: AuthMethod::PrivateKeyJwt,
    dynamic_only: true,
};

macro_rules! table {
    ($( $plan:ident $name:literal => $module:path, $kind:expr; )*) => {
        fn build() -> Vec<ModuleDef> {
            vec![$(
                ModuleDef {
                    name: $name,
                    plan: Plan::$plan,
                    kind: $kind,
                    run: {
                        fn run(ctx: &mut Ctx) -> Pin<Box<dyn Future<Output = Step> + Send + '_>> {
                            Box::pin($module(ctx))
                        }
                        run
                    },
                },
            )*]
        }
    };
}

table! {
    Config "oidcc-discovery-endpoint-verification" => config::oidcc_discovery_endpoint_verification, Kind::Config;

    Basic "oidcc-server" => basic::oidcc_server, BASIC;
    Basic "oidcc-response-type-missing" => basic::oidcc_response_type_missing, BASIC;
    Basic "oidcc-idtoken-signature" => basic::oidcc_idtoken_signature, DYNAMIC;
    Basic "oidcc-idtoken-unsigned" => basic::oidcc_idtoken_unsigned, DYNAMIC;
    Basic "oidcc-userinfo-get" => basic::oidcc_userinfo_get, BASIC;
    Basic "oidcc-userinfo-post-header" => basic::oidcc_userinfo_post_header, BASIC;
    Basic "oidcc-userinfo-post-body" => basic::oidcc_userinfo_post_body, BASIC;
    Basic "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => basic::oidcc_ensure_request_without_nonce_succeeds_for_code_flow, BASIC;
    Basic "oidcc-scope-profile" => basic::oidcc_scope_profile, BASIC;
    Basic "oidcc-scope-email" => basic::oidcc_scope_email, BASIC;
    Basic "oidcc-scope-address" => basic::oidcc_scope_address, BASIC;
    Basic "oidcc-scope-phone" => basic::oidcc_scope_phone, BASIC;
    Basic "oidcc-scope-all" => basic::oidcc_scope_all, BASIC;
    Basic "oidcc-alternate-happy-flow" => basic::oidcc_alternate_happy_flow, BASIC;
    Basic "oidcc-display-page" => basic::oidcc_display_page, BASIC;
    Basic "oidcc-display-popup" => basic::oidcc_display_popup, BASIC;
    Basic "oidcc-prompt-login" => basic::oidcc_prompt_login, BASIC;
    Basic "oidcc-prompt-none-not-logged-in" => basic::oidcc_prompt_none_not_logged_in, BASIC;
    Basic "oidcc-prompt-none-logged-in" => basic::oidcc_prompt_none_logged_in, BASIC;
    Basic "oidcc-max-age-1" => basic::oidcc_max_age_1, BASIC;
    Basic "oidcc-max-age-10000" => basic::oidcc_max_age_10000, BASIC;
    Basic "oidcc-ensure-request-with-unknown-parameter-succeeds" => basic::oidcc_ensure_request_with_unknown_parameter_succeeds, BASIC;
    Basic "oidcc-id-token-hint" => basic::oidcc_id_token_hint, BASIC;
    Basic "oidcc-login-hint" => basic::oidcc_login_hint, BASIC;
    Basic "oidcc-ui-locales" => basic::oidcc_ui_locales, BASIC;
    Basic "oidcc-claims-locales" => basic::oidcc_claims_locales, BASIC;
    Basic "oidcc-ensure-request-with-acr-values-succeeds" => basic::oidcc_ensure_request_with_acr_values_succeeds, BASIC;
    Basic "oidcc-codereuse" => basic::oidcc_codereuse, BASIC;
    Basic "oidcc-codereuse-30seconds" => basic::oidcc_codereuse_30seconds, BASIC;
    Basic "oidcc-ensure-registered-redirect-uri" => basic::oidcc_ensure_registered_redirect_uri, BASIC;
    Basic "oidcc-ensure-post-request-succeeds" => basic::oidcc_ensure_post_request_succeeds, BASIC;
    Basic "oidcc-server-client-secret-post" => basic::oidcc_server_client_secret_post, POST;
    Basic "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => basic::oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported, DYNAMIC;
    Basic "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported" => basic::oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported, BASIC;
    Basic "oidcc-claims-essential" => basic::oidcc_claims_essential, BASIC;
    Basic "oidcc-ensure-request-object-with-redirect-uri" => basic::oidcc_ensure_request_object_with_redirect_uri, BASIC;
    Basic "oidcc-refresh-token" => basic::oidcc_refresh_token, BASIC;
    Basic "oidcc-ensure-request-with-valid-pkce-succeeds" => basic::oidcc_ensure_request_with_valid_pkce_succeeds, BASIC;

    RpLogout "oidcc-rp-initiated-logout-discovery-endpoint-verification" => logout::oidcc_rp_initiated_logout_discovery_endpoint_verification, BASIC;
    RpLogout "oidcc-rp-initiated-logout" => logout::oidcc_rp_initiated_logout, BASIC;
    RpLogout "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => logout::oidcc_rp_initiated_logout_bad_post_logout_redirect_uri, BASIC;
    RpLogout "oidcc-rp-initiated-logout-modified-id-token-hint" => logout::oidcc_rp_initiated_logout_modified_id_token_hint, BASIC;
    RpLogout "oidcc-rp-initiated-logout-no-id-token-hint" => logout::oidcc_rp_initiated_logout_no_id_token_hint, BASIC;
    RpLogout "oidcc-rp-initiated-logout-no-params" => logout::oidcc_rp_initiated_logout_no_params, BASIC;
    RpLogout "oidcc-rp-initiated-logout-no-post-logout-redirect-uri" => logout::oidcc_rp_initiated_logout_no_post_logout_redirect_uri, BASIC;
    RpLogout "oidcc-rp-initiated-logout-no-state" => logout::oidcc_rp_initiated_logout_no_state, BASIC;
    RpLogout "oidcc-rp-initiated-logout-only-state" => logout::oidcc_rp_initiated_logout_only_state, BASIC;
    RpLogout "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri" => logout::oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri, BASIC;
    RpLogout "oidcc-rp-initiated-logout-bad-id-token-hint" => logout::oidcc_rp_initiated_logout_bad_id_token_hint, BASIC;

    Implicit "oidcc-ensure-request-without-nonce-fails" => basic::oidcc_ensure_request_without_nonce_fails, BASIC;

    Dynamic "oidcc-idtoken-rs256" => dynamic::oidcc_idtoken_rs256, DYNAMIC;
    Dynamic "oidcc-userinfo-rs256" => dynamic::oidcc_userinfo_rs256, DYNAMIC;
    Dynamic "oidcc-ensure-redirect-uri-in-authorization-request" => dynamic::oidcc_ensure_redirect_uri_in_authorization_request, DYNAMIC;
    Dynamic "oidcc-redirect-uri-query-OK" => dynamic::oidcc_redirect_uri_query_ok, DYNAMIC;
    Dynamic "oidcc-redirect-uri-query-mismatch" => dynamic::oidcc_redirect_uri_query_mismatch, DYNAMIC;
    Dynamic "oidcc-redirect-uri-query-added" => dynamic::oidcc_redirect_uri_query_added, DYNAMIC;
    Dynamic "oidcc-redirect-uri-regfrag" => dynamic::oidcc_redirect_uri_regfrag, DYNAMIC;
    Dynamic "oidcc-registration-logo-uri" => dynamic::oidcc_registration_logo_uri, DYNAMIC;
    Dynamic "oidcc-registration-policy-uri" => dynamic::oidcc_registration_policy_uri, DYNAMIC;
    Dynamic "oidcc-registration-tos-uri" => dynamic::oidcc_registration_tos_uri, DYNAMIC;
    Dynamic "oidcc-registration-jwks-uri" => dynamic::oidcc_registration_jwks_uri, PRIVATE_KEY_JWT;
    Dynamic "oidcc-registration-sector-uri" => dynamic::oidcc_registration_sector_uri, DYNAMIC;
    Dynamic "oidcc-registration-sector-bad" => dynamic::oidcc_registration_sector_bad, DYNAMIC;
    Dynamic "oidcc-server-rotate-keys" => dynamic::oidcc_server_rotate_keys, DYNAMIC;
    Dynamic "oidcc-refresh-token-rp-key-rotation" => dynamic::oidcc_refresh_token_rp_key_rotation, PRIVATE_KEY_JWT;
    Dynamic "oidcc-request-uri-unsigned" => dynamic::oidcc_request_uri_unsigned, DYNAMIC;
    Dynamic "oidcc-request-uri-signed-rs256" => dynamic::oidcc_request_uri_signed_rs256, DYNAMIC;
    Dynamic "oidcc-ensure-client-assertion-with-iss-aud-succeeds" => dynamic::oidcc_ensure_client_assertion_with_iss_aud_succeeds, PRIVATE_KEY_JWT;

    FrontchannelLogout "oidcc-frontchannel-logout-discovery-endpoint-verification" => frontchannel::oidcc_frontchannel_logout_discovery_endpoint_verification, BASIC;
    FrontchannelLogout "oidcc-frontchannel-rp-initiated-logout" => frontchannel::oidcc_frontchannel_rp_initiated_logout, BASIC;

    BackchannelLogout "oidcc-backchannel-logout-discovery-endpoint-verification" => backchannel::oidcc_backchannel_logout_discovery_endpoint_verification, BASIC;
    BackchannelLogout "oidcc-backchannel-rp-initiated-logout" => backchannel::oidcc_backchannel_rp_initiated_logout, BASIC;

    SessionManagement "oidcc-session-management-discovery-endpoint-verification" => session::oidcc_session_management_discovery_endpoint_verification, BASIC;
    SessionManagement "oidcc-session-management-rp-initiated-logout" => session::oidcc_session_management_rp_initiated_logout, BASIC;
}

static MODULES: LazyLock<Vec<ModuleDef>> = LazyLock::new(build);

/// Every module the harness knows, Config plan first, then the Basic and RP-Initiated Logout
/// plans in their order, then the modules only the Implicit, Hybrid and Dynamic plans add.
pub fn all() -> &'static [ModuleDef] {
    &MODULES
}

/// A module by its suite name.
pub fn find(name: &str) -> Option<&'static ModuleDef> {
    all().iter().find(|m| m.name == name)
}

/// The modules of `plan` that run with this kind of client registration: the dynamic-only
/// ones are dropped for static clients, as the suite drops modules whose variant does not apply.
pub fn plan(plan: Plan, dynamic: bool) -> Vec<&'static ModuleDef> {
    all()
        .iter()
        // The Implicit, Hybrid and Dynamic plans reuse the Basic modules: see `plans::plan_for`.
        // The logout-channel and session plans run on their own (static clients need their URIs).
        .filter(|m| {
            (plan == Plan::All && !matches!(m.plan, Plan::Implicit | Plan::Hybrid | Plan::Dynamic) && !m.plan.runs_alone())
                || m.plan == plan
        })
        .filter(|m| {
            dynamic
                || !matches!(
                    m.kind,
                    Kind::Flow {
                        dynamic_only: true,
                        ..
                    }
                )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plans_have_the_suites_module_counts() {
        assert_eq!(plan(Plan::Basic, false).len(), 35);
        assert_eq!(plan(Plan::Basic, true).len(), 38);
        assert_eq!(plan(Plan::Config, false).len(), 1);
        assert_eq!(plan(Plan::RpLogout, false).len(), 11);
        assert_eq!(plan(Plan::RpLogout, true).len(), 11);
        assert_eq!(plan(Plan::All, true).len(), 50);
        let mut names: Vec<&str> = all().iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 75);
    }

    #[test]
    fn the_logout_channel_and_session_plans_have_two_modules_each() {
        for (which, names) in [
            (Plan::FrontchannelLogout, ["oidcc-frontchannel-logout-discovery-endpoint-verification", "oidcc-frontchannel-rp-initiated-logout"]),
            (Plan::BackchannelLogout, ["oidcc-backchannel-logout-discovery-endpoint-verification", "oidcc-backchannel-rp-initiated-logout"]),
            (Plan::SessionManagement, ["oidcc-session-management-discovery-endpoint-verification", "oidcc-session-management-rp-initiated-logout"]),
        ] {
            for dynamic in [false, true] {
                let modules: Vec<&str> = plans::plan_for(which, "code", dynamic).iter().map(|m| m.name).collect();
                assert_eq!(modules, names, "{which:?}, dynamic {dynamic}");
            }
        }
        assert_eq!("frontchannel-logout".parse::<Plan>(), Ok(Plan::FrontchannelLogout));
        assert_eq!("backchannel-logout".parse::<Plan>(), Ok(Plan::BackchannelLogout));
        assert_eq!("session-management".parse::<Plan>(), Ok(Plan::SessionManagement));
    }
}

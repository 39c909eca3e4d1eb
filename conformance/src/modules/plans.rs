//! The plans that reuse other plans' modules (CONFORMANCE.md §3), by name, in the suite's order:
//! Implicit and Hybrid (the Basic plan's modules with another response type,
//! `Config::response_type`, plus `oidcc-ensure-request-without-nonce-fails`), and Dynamic (its
//! own modules, four of the Basic plan's and the Config plan's one, for the response type the
//! user picks).

use super::{Kind, ModuleDef, Plan, find, plan};

/// The Implicit plan's modules, for `id_token` and for `id_token token`.
const IMPLICIT: &[&str] = &[
    "oidcc-server",
    "oidcc-idtoken-signature",
    "oidcc-ensure-request-without-nonce-fails",
    "oidcc-scope-profile",
    "oidcc-scope-email",
    "oidcc-scope-address",
    "oidcc-scope-phone",
    "oidcc-scope-all",
    "oidcc-alternate-happy-flow",
    "oidcc-display-page",
    "oidcc-display-popup",
    "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1",
    "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds",
    "oidcc-id-token-hint",
    "oidcc-login-hint",
    "oidcc-ui-locales",
    "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-claims-essential",
];

/// Added to the Implicit plan for `id_token token` only.
const IMPLICIT_TOKEN: &[&str] = &[
    "oidcc-userinfo-get",
    "oidcc-userinfo-post-header",
    "oidcc-userinfo-post-body",
    "oidcc-response-type-missing",
];

/// The Hybrid plan's run 1 (`code id_token`). Runs 2 (`code token`) and 3
/// (`code id_token token`) drop response-type-missing, alternate-happy-flow and PKCE; run 2 uses
/// without-nonce-succeeds-for-code-flow instead of without-nonce-fails.
const HYBRID: &[&str] = &[
    "oidcc-server",
    "oidcc-response-type-missing",
    "oidcc-idtoken-signature",
    "oidcc-userinfo-get",
    "oidcc-userinfo-post-header",
    "oidcc-userinfo-post-body",
    "oidcc-ensure-request-without-nonce-fails",
    "oidcc-scope-profile",
    "oidcc-scope-email",
    "oidcc-scope-address",
    "oidcc-scope-phone",
    "oidcc-scope-all",
    "oidcc-alternate-happy-flow",
    "oidcc-display-page",
    "oidcc-display-popup",
    "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1",
    "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds",
    "oidcc-id-token-hint",
    "oidcc-login-hint",
    "oidcc-ui-locales",
    "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-codereuse",
    "oidcc-codereuse-30seconds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-server-client-secret-post",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-claims-essential",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-refresh-token",
    "oidcc-ensure-request-with-valid-pkce-succeeds",
];

/// The Dynamic plan (`oidcc-dynamic-certification-test-plan`), for every response type; see
/// [`plan_for`] for those some modules do not apply to.
const DYNAMIC: &[&str] = &[
    "oidcc-idtoken-rs256",
    "oidcc-idtoken-unsigned",
    "oidcc-userinfo-rs256",
    "oidcc-ensure-redirect-uri-in-authorization-request",
    "oidcc-redirect-uri-query-OK",
    "oidcc-redirect-uri-query-mismatch",
    "oidcc-redirect-uri-query-added",
    "oidcc-redirect-uri-regfrag",
    "oidcc-discovery-endpoint-verification",
    "oidcc-server",
    "oidcc-registration-logo-uri",
    "oidcc-registration-policy-uri",
    "oidcc-registration-tos-uri",
    "oidcc-registration-jwks-uri",
    "oidcc-registration-sector-uri",
    "oidcc-registration-sector-bad",
    "oidcc-server-rotate-keys",
    "oidcc-refresh-token-rp-key-rotation",
    "oidcc-request-uri-unsigned",
    "oidcc-request-uri-signed-rs256",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-refresh-token",
    "oidcc-ensure-client-assertion-with-iss-aud-succeeds",
];

/// The modules of `which` for `response_type` (which matters to the Implicit, Hybrid and Dynamic
/// plans only), the dynamic-only ones dropped for static clients.
pub fn plan_for(which: Plan, response_type: &str, dynamic: bool) -> Vec<&'static ModuleDef> {
    let names: Vec<&str> = match which {
        Plan::Implicit => {
            let mut names = IMPLICIT.to_vec();
            if response_type == "id_token token" {
                names.extend(IMPLICIT_TOKEN);
            }
            names
        }
        Plan::Hybrid if response_type == "code id_token" => HYBRID.to_vec(),
        Plan::Hybrid => {
            let nonce = if response_type == "code token" {
                "oidcc-ensure-request-without-nonce-succeeds-for-code-flow"
            } else {
                "oidcc-ensure-request-without-nonce-fails"
            };
            HYBRID
                .iter()
                .copied()
                .filter(|n| {
                    !matches!(
                        *n,
                        "oidcc-response-type-missing"
                            | "oidcc-alternate-happy-flow"
                            | "oidcc-ensure-request-with-valid-pkce-succeeds"
                    )
                })
                .map(|n| {
                    if n == "oidcc-ensure-request-without-nonce-fails" {
                        nonce
                    } else {
                        n
                    }
                })
                .collect()
        }
        Plan::Dynamic => {
            let words: Vec<&str> = response_type.split(' ').collect();
            DYNAMIC
                .iter()
                .copied()
                // As the suite's variants say: no unsigned ID token where one comes from the
                // authorization endpoint, no refresh tokens without a code.
                .filter(|n| !(*n == "oidcc-idtoken-unsigned" && words.contains(&"id_token")))
                .filter(|n| {
                    words.contains(&"code")
                        || !matches!(
                            *n,
                            "oidcc-refresh-token" | "oidcc-refresh-token-rp-key-rotation"
                        )
                })
                .collect()
        }
        _ => return plan(which, dynamic),
    };
    names
        .into_iter()
        .filter_map(find)
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
    fn the_implicit_and_hybrid_plans_have_the_suites_module_counts() {
        // 27 modules (three of them dynamic-only), plus 4 with id_token token.
        assert_eq!(plan_for(Plan::Implicit, "id_token", true).len(), 27);
        assert_eq!(plan_for(Plan::Implicit, "id_token", false).len(), 25);
        assert_eq!(plan_for(Plan::Implicit, "id_token token", true).len(), 31);
        assert_eq!(plan_for(Plan::Hybrid, "code id_token", true).len(), 36);
        assert_eq!(plan_for(Plan::Hybrid, "code token", true).len(), 33);
        assert_eq!(
            plan_for(Plan::Hybrid, "code id_token token", true).len(),
            33
        );
        let names = |rt| {
            plan_for(Plan::Hybrid, rt, false)
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        };
        assert!(
            names("code token")
                .contains(&"oidcc-ensure-request-without-nonce-succeeds-for-code-flow")
        );
        assert!(names("code id_token token").contains(&"oidcc-ensure-request-without-nonce-fails"));
        assert_eq!(plan_for(Plan::Basic, "code", true).len(), 38);
    }

    #[test]
    fn the_dynamic_plan_has_the_suites_modules_for_each_response_type() {
        assert_eq!(plan_for(Plan::Dynamic, "code", true).len(), 23);
        let hybrid: Vec<&str> = plan_for(Plan::Dynamic, "code id_token", true)
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(hybrid.len(), 22);
        assert!(!hybrid.contains(&"oidcc-idtoken-unsigned"));
        assert_eq!(plan_for(Plan::Dynamic, "id_token token", true).len(), 20);
        // Every name resolves, and the Dynamic plan stays out of `--plan all`.
        assert!(DYNAMIC.iter().all(|n| find(n).is_some()));
        assert!(
            plan(Plan::All, true)
                .iter()
                .all(|m| m.plan != Plan::Dynamic)
        );
    }
}

//! The Implicit and Hybrid plans (CONFORMANCE.md §3): the Basic plan's modules run with another
//! response type (`Config::response_type`), in the suite's order for each run, plus
//! `oidcc-ensure-request-without-nonce-fails`.

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

/// The modules of `which` for `response_type` (which matters to the Implicit and Hybrid plans
/// only), the dynamic-only ones dropped for static clients.
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
}

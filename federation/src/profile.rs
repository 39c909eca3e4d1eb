//! What an upstream answer says about the person: the stable subject, the e-mail address and
//! whether it may be trusted, the profile claims mapped to Poort's, and how they signed in —
//! with each kind's own rules (Entra's tenant, Google's Workspace domain).

use crate::connector::Connector;
use crate::error::{Failure, Reason};
use poort_config::ConnectorKind;
use serde_json::{Map, Value};

/// A person as an upstream (or the directory) vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    pub connector: String,
    /// Stable for this person at this connector: `sub`, Entra's `tid/oid`, the directory's id.
    pub subject: String,
    /// As the upstream reported it.
    pub email: Option<String>,
    /// The upstream verified the address and this connector is trusted to say so.
    pub email_verified: bool,
    pub display_name: Option<String>,
    /// Poort's profile claims (`name`, `given_name`, `locale`, …) from the upstream's.
    pub claims: Map<String, Value>,
    /// The upstream's own `amr` values, when it gave them.
    pub amr: Vec<String>,
    /// Roles the directory's groups map to (LDAP with `group_roles`), replacing `managed_roles`.
    pub roles: Option<Vec<String>>,
    /// Every role the group mapping can give: the ones not in `roles` are taken away.
    pub managed_roles: Vec<String>,
}

/// Profile claims copied under their own names unless `claims` maps them otherwise.
pub const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
];

/// The identity in an upstream's claims (the ID token's, with userinfo's merged in).
/// `issuer_template` is the discovery document's issuer (Entra's multi-tenant one contains
/// `{tenantid}`); the ID token's `iss` has been checked against it, except for multi-tenant
/// Entra, whose issuer is checked here against the token's own `tid`.
pub fn identity(connector: &Connector, claims: &Map<String, Value>, issuer_template: &str) -> Result<UpstreamIdentity, Failure> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let sub = text("sub").ok_or_else(|| Failure::new(Reason::InvalidAnswer, "the ID token has no subject"))?;
    let settings = &connector.settings;
    let claimed_verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "true");
    let mut email = text("email");
    let (subject, email_verified) = match settings.kind {
        ConnectorKind::Entra => {
            let tid = text("tid").ok_or_else(|| Failure::new(Reason::InvalidAnswer, "the Entra ID token has no tid"))?;
            let oid = text("oid").ok_or_else(|| Failure::new(Reason::InvalidAnswer, "the Entra ID token has no oid"))?;
            if settings.is_multi_tenant() {
                let expected = issuer_template.replace("{tenantid}", &tid);
                let iss = text("iss").unwrap_or_default();
                if iss != expected {
                    return Err(Failure::new(Reason::WrongIssuer, format!("iss {iss} is not {expected}, the issuer of tenant {tid}")));
                }
            }
            if !settings.allowed_tenants.is_empty() && !settings.allowed_tenants.iter().any(|t| t.eq_ignore_ascii_case(&tid)) {
                return Err(Failure::new(Reason::TenantNotAllowed, format!("tenant {tid} is not among the allowed tenants")));
            }
            if email.is_none() {
                email = text("preferred_username").filter(|u| u.contains('@'));
            }
            // Any tenant's administrator can write any address into a user's profile: an Entra
            // address counts only from a tenant this connector is limited to, or when Microsoft
            // says the tenant owns the domain (`xms_edov`).
            let known_tenant = !settings.is_multi_tenant() || !settings.allowed_tenants.is_empty();
            let domain_owner = matches!(claims.get("xms_edov"), Some(Value::Bool(true)));
            (format!("{tid}/{oid}"), settings.trusts_email() && (known_tenant || domain_owner))
        }
        ConnectorKind::Google => {
            let hd = text("hd").unwrap_or_default();
            if !settings.hosted_domains.iter().any(|d| d.eq_ignore_ascii_case(&hd)) {
                let shown = if hd.is_empty() { "no Workspace domain (a personal account)".to_string() } else { format!("Workspace domain {hd}") };
                return Err(Failure::new(Reason::DomainNotAllowed, format!("{shown} is not among the hosted domains")));
            }
            if !claimed_verified {
                return Err(Failure::new(Reason::EmailUnverified, "Google did not verify the e-mail address (email_verified is not true)"));
            }
            (sub, settings.trusts_email())
        }
        _ => (sub, settings.trusts_email() && claimed_verified),
    };
    let mut mapped = Map::new();
    for claim in PROFILE_CLAIMS {
        if let Some(value) = claims.get(*claim).filter(|v| !v.is_null()) {
            mapped.insert(claim.to_string(), value.clone());
        }
    }
    for (ours, theirs) in &settings.claims {
        match claims.get(theirs).filter(|v| !v.is_null()) {
            Some(value) => mapped.insert(ours.clone(), value.clone()),
            None => mapped.remove(ours),
        };
    }
    let amr = match claims.get("amr") {
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    Ok(UpstreamIdentity {
        connector: connector.id().to_string(),
        subject,
        email,
        email_verified,
        display_name: mapped.get("name").and_then(Value::as_str).map(str::to_string),
        claims: mapped,
        amr,
        roles: None,
        managed_roles: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::Secrets;
    use poort_config::ConnectorSettings;
    use serde_json::json;

    fn connector(kind: ConnectorKind, edit: impl FnOnce(&mut ConnectorSettings)) -> Connector {
        let mut settings = ConnectorSettings::new("up", kind);
        edit(&mut settings);
        Connector { settings, secrets: Secrets::default() }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    #[test]
    fn entra_subject_is_oid_and_tid_and_the_issuer_follows_the_tenant() {
        let multi = connector(ConnectorKind::Entra, |s| s.tenant = Some("common".into()));
        let token = json!({ "sub": "pairwise", "tid": "t1", "oid": "o1", "iss": "https://login.microsoftonline.com/t1/v2.0",
                            "preferred_username": "ann@contoso.com", "name": "Ann", "amr": ["pwd", "mfa"] });
        let id = identity(&multi, &claims(token.clone()), TEMPLATE).unwrap();
        assert_eq!(id.subject, "t1/o1");
        assert_eq!(id.email.as_deref(), Some("ann@contoso.com"));
        assert!(!id.email_verified, "any tenant may claim any address");
        assert_eq!(id.amr, ["pwd", "mfa"]);
        assert_eq!(id.display_name.as_deref(), Some("Ann"));

        let mut other = token.clone();
        other["iss"] = json!("https://login.microsoftonline.com/t2/v2.0");
        assert_eq!(identity(&multi, &claims(other), TEMPLATE).unwrap_err().reason, Reason::WrongIssuer);

        let listed = connector(ConnectorKind::Entra, |s| {
            s.tenant = Some("organizations".into());
            s.allowed_tenants = vec!["T1".into()];
        });
        assert!(identity(&listed, &claims(token.clone()), TEMPLATE).unwrap().email_verified);
        let mut stranger = token.clone();
        stranger["tid"] = json!("t9");
        stranger["iss"] = json!("https://login.microsoftonline.com/t9/v2.0");
        assert_eq!(identity(&listed, &claims(stranger), TEMPLATE).unwrap_err().reason, Reason::TenantNotAllowed);

        let mut owner = token;
        owner["xms_edov"] = json!(true);
        assert!(identity(&multi, &claims(owner), TEMPLATE).unwrap().email_verified);
    }

    #[test]
    fn google_needs_a_listed_workspace_domain_and_a_verified_address() {
        let google = connector(ConnectorKind::Google, |s| s.hosted_domains = vec!["example.com".into()]);
        let token = json!({ "sub": "123", "hd": "example.com", "email": "jan@example.com", "email_verified": true });
        let id = identity(&google, &claims(token.clone()), "").unwrap();
        assert_eq!((id.subject.as_str(), id.email_verified), ("123", true));
        let mut personal = token.clone();
        personal.as_object_mut().unwrap().remove("hd");
        assert_eq!(identity(&google, &claims(personal), "").unwrap_err().reason, Reason::DomainNotAllowed);
        let mut unverified = token;
        unverified["email_verified"] = json!(false);
        assert_eq!(identity(&google, &claims(unverified), "").unwrap_err().reason, Reason::EmailUnverified);
    }

    #[test]
    fn generic_upstreams_are_trusted_only_when_configured_and_claims_are_mapped() {
        let token = json!({ "sub": "u1", "email": "a@b.example", "email_verified": true, "display_name": "Ann A.",
                            "locale": "nl", "given_name": null });
        let untrusted = connector(ConnectorKind::Oidc, |_| {});
        assert!(!identity(&untrusted, &claims(token.clone()), "").unwrap().email_verified);
        let trusted = connector(ConnectorKind::Oidc, |s| {
            s.trust_email = Some(true);
            s.claims.insert("name".into(), "display_name".into());
            s.claims.insert("locale".into(), "missing".into());
        });
        let id = identity(&trusted, &claims(token), "").unwrap();
        assert!(id.email_verified);
        assert_eq!(id.claims, claims(json!({ "name": "Ann A." })));
        assert_eq!(id.display_name.as_deref(), Some("Ann A."));
        assert_eq!(identity(&trusted, &claims(json!({ "email": "x" })), "").unwrap_err().reason, Reason::InvalidAnswer);
    }
}

//! Upstream sign-in connectors (`[[connectors]]`): generic OpenID Connect, Microsoft Entra ID,
//! Google Workspace and Active Directory / LDAP, with the e-mail domains each one signs in
//! (home-realm discovery). One flat shape for every kind, so the file, the CLI and the admin API
//! describe a connector alike; [`ConnectorSettings::validate`] refuses what does not belong to
//! its kind, naming the key.

use crate::ConfigError;
use crate::settings::is_loopback_host;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// What kind of upstream a connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Any OpenID Connect provider, found by issuer discovery.
    Oidc,
    /// Microsoft Entra ID (Microsoft 365), single- or multi-tenant.
    Entra,
    /// Google Workspace: only the configured hosted domains.
    Google,
    /// Active Directory or another LDAP directory: the password is typed on Poort's own page.
    Ldap,
}

impl ConnectorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Entra => "entra",
            Self::Google => "google",
            Self::Ldap => "ldap",
        }
    }

    /// Whether the user signs in at an upstream OpenID provider (every kind but LDAP).
    pub fn is_openid(&self) -> bool {
        !matches!(self, Self::Ldap)
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Oidc, Self::Entra, Self::Google, Self::Ldap].into_iter().find(|k| k.as_str() == text)
    }
}

/// Microsoft's sign-in host, unless `authority` names another (a test upstream on loopback).
pub const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Google's issuer, unless `issuer` names another (a test upstream on loopback).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Entra's tenant names that accept users of any (`common`) or any work (`organizations`) tenant.
pub const ENTRA_MULTI_TENANT: &[&str] = &["common", "organizations"];

/// One connector. Fields are grouped by kind; a field of another kind is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// Stable name (lower-case letters, digits, `-`, `_`, `.`): links to accounts keep it.
    pub id: String,
    pub kind: ConnectorKind,
    /// What people see ("Contoso (Microsoft 365)"); defaults to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail domains whose users sign in through this connector (home-realm discovery).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Users of `domains` may also sign in with a password here ("both"); false: only through
    /// this connector.
    #[serde(default)]
    pub allow_password: bool,
    /// Create an account for an upstream user Poort does not know (off: "your administrator has
    /// not added you").
    #[serde(default)]
    pub jit_provisioning: bool,
    /// Whether this upstream's e-mail addresses may link an identity to an account. Unset: yes
    /// for google, entra and ldap (see README for Entra's tenant rule), no for oidc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_email: Option<bool>,
    /// How long one request to the upstream may take.
    #[serde(default = "default_timeout", with = "crate::duration")]
    pub timeout: Duration,

    // --- OpenID Connect kinds (oidc, entra, google) ---
    /// The issuer (oidc; google only to replace Google's own, for tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `client_secret_basic`; leave out with `private_key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A PEM private key (RSA or EC) for `private_key_jwt` instead of a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// Scopes to ask for; default `openid email profile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Poort's profile claims from upstream claims: `{ name = "name", given_name = "given_name" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// Also read the userinfo endpoint after the code exchange.
    #[serde(default)]
    pub userinfo: bool,

    // --- entra ---
    /// A tenant id or domain (single-tenant), or `common` / `organizations` (multi-tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Microsoft's sign-in host unless set (a loopback upstream in tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Url>,
    /// Multi-tenant: only these tenant ids (`tid`); empty: any tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tenants: Vec<String>,

    // --- google ---
    /// The Workspace domains (`hd`) allowed to sign in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_domains: Vec<String>,

    // --- ldap ---
    /// `ldaps://host:636` or `ldap://host:389` (then `starttls`, or `allow_plain_ldap` on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub starttls: bool,
    /// Plain-text `ldap://` without StartTLS: only to a directory on loopback (tests).
    #[serde(default)]
    pub allow_plain_ldap: bool,
    /// PEM certificates to trust for LDAPS/StartTLS besides the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The service account that searches for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<String>,
    /// Where users are searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dn: Option<String>,
    /// `{login}` is replaced by what the person typed (escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// The attribute that identifies a user for good (`entryUUID`; Active Directory: `objectGUID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_attribute: Option<String>,
    /// Where groups are searched; `{dn}` in `group_filter` is the user's DN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_base_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_filter: Option<String>,
    /// Poort roles from directory groups (by DN or by `cn`), set at every sign-in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_roles: BTreeMap<String, Vec<String>>,
    /// People may type a bare directory user name (no `@domain`) on the sign-in page.
    #[serde(default = "yes")]
    pub user_names: bool,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn yes() -> bool {
    true
}

impl ConnectorSettings {
    /// A connector of `kind` with only its id set; the CLI and tests fill in the rest.
    pub fn new(id: &str, kind: ConnectorKind) -> Self {
        Self {
            id: id.to_string(),
            kind,
            name: None,
            domains: Vec::new(),
            allow_password: false,
            jit_provisioning: false,
            trust_email: None,
            timeout: default_timeout(),
            issuer: None,
            client_id: None,
            client_secret: None,
            private_key_file: None,
            scopes: Vec::new(),
            claims: BTreeMap::new(),
            userinfo: false,
            tenant: None,
            authority: None,
            allowed_tenants: Vec::new(),
            hosted_domains: Vec::new(),
            url: None,
            starttls: false,
            allow_plain_ldap: false,
            ca_file: None,
            bind_dn: None,
            bind_password: None,
            base_dn: None,
            user_filter: None,
            id_attribute: None,
            email_attribute: None,
            name_attribute: None,
            group_base_dn: None,
            group_filter: None,
            group_roles: BTreeMap::new(),
            user_names: true,
        }
    }

    /// The name people see.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// `trust_email` with its default for the kind.
    pub fn trusts_email(&self) -> bool {
        self.trust_email.unwrap_or(self.kind != ConnectorKind::Oidc)
    }

    /// Whether this is an Entra connector for many tenants (`common`, `organizations`).
    pub fn is_multi_tenant(&self) -> bool {
        self.kind == ConnectorKind::Entra
            && self.tenant.as_deref().is_some_and(|t| ENTRA_MULTI_TENANT.contains(&t.to_ascii_lowercase().as_str()))
    }

    /// Checks one connector; `prefix` names it in errors (`connectors[1]`, `connector`). Secrets
    /// may be absent when `secrets_stored` (a stored connector keeps them sealed elsewhere).
    pub fn validate(&self, prefix: &str, secrets_stored: bool) -> Result<(), ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(ConfigError::at(key("id"), "must be 1 to 64 lower-case letters, digits, `-`, `_` or `.`"));
        }
        if self.id == "password" {
            return Err(ConfigError::at(key("id"), "`password` is reserved for password sign-in"));
        }
        for domain in &self.domains {
            if !is_domain(domain) {
                return Err(ConfigError::at(key("domains"), format!("`{domain}` is not a lower-case e-mail domain")));
            }
        }
        if !(1..=60).contains(&self.timeout.as_secs()) {
            return Err(ConfigError::at(key("timeout"), "must be between 1s and 60s"));
        }
        self.refuse_foreign_fields(&key)?;
        match self.kind {
            ConnectorKind::Ldap => self.validate_ldap(&key, secrets_stored),
            _ => self.validate_openid(&key, secrets_stored),
        }
    }

    /// Fields that belong to another kind are refused rather than silently ignored.
    fn refuse_foreign_fields(&self, key: &impl Fn(&str) -> String) -> Result<(), ConfigError> {
        use ConnectorKind::*;
        let set: &[(&str, bool, &[ConnectorKind])] = &[
            ("issuer", self.issuer.is_some(), &[Oidc, Google]),
            ("client_id", self.client_id.is_some(), &[Oidc, Entra, Google]),
            ("client_secret", self.client_secret.is_some(), &[Oidc, Entra, Google]),
            ("private_key_file", self.private_key_file.is_some(), &[Oidc, Entra, Google]),
            ("scopes", !self.scopes.is_empty(), &[Oidc, Entra, Google]),
            ("claims", !self.claims.is_empty(), &[Oidc, Entra, Google]),
            ("userinfo", self.userinfo, &[Oidc, Entra, Google]),
            ("tenant", self.tenant.is_some(), &[Entra]),
            ("authority", self.authority.is_some(), &[Entra]),
            ("allowed_tenants", !self.allowed_tenants.is_empty(), &[Entra]),
            ("hosted_domains", !self.hosted_domains.is_empty(), &[Google]),
            ("url", self.url.is_some(), &[Ldap]),
            ("starttls", self.starttls, &[Ldap]),
            ("allow_plain_ldap", self.allow_plain_ldap, &[Ldap]),
            ("ca_file", self.ca_file.is_some(), &[Ldap]),
            ("bind_dn", self.bind_dn.is_some(), &[Ldap]),
            ("bind_password", self.bind_password.is_some(), &[Ldap]),
            ("base_dn", self.base_dn.is_some(), &[Ldap]),
            ("user_filter", self.user_filter.is_some(), &[Ldap]),
            ("id_attribute", self.id_attribute.is_some(), &[Ldap]),
            ("email_attribute", self.email_attribute.is_some(), &[Ldap]),
            ("name_attribute", self.name_attribute.is_some(), &[Ldap]),
            ("group_base_dn", self.group_base_dn.is_some(), &[Ldap]),
            ("group_filter", self.group_filter.is_some(), &[Ldap]),
            ("group_roles", !self.group_roles.is_empty(), &[Ldap]),
        ];
        for (field, present, kinds) in set {
            if *present && !kinds.contains(&self.kind) {
                let names: Vec<&str> = kinds.iter().map(ConnectorKind::as_str).collect();
                return Err(ConfigError::at(key(field), format!("is only for kind {}", names.join(" or "))));
            }
        }
        if !self.user_names && self.kind != Ldap {
            return Err(ConfigError::at(key("user_names"), "is only for kind ldap"));
        }
        Ok(())
    }

    fn validate_openid(&self, key: &impl Fn(&str) -> String, secrets_stored: bool) -> Result<(), ConfigError> {
        if self.client_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(ConfigError::at(key("client_id"), "is required"));
        }
        match (&self.client_secret, &self.private_key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::at(key("private_key_file"), "give either client_secret or private_key_file"));
            }
            (None, None) if !secrets_stored => {
                return Err(ConfigError::at(key("client_secret"), "is required (or private_key_file)"));
            }
            (Some(secret), None) if secret.is_empty() => {
                return Err(ConfigError::at(key("client_secret"), "must not be empty"));
            }
            _ => {}
        }
        if !self.scopes.is_empty() && !self.scopes.iter().any(|s| s == "openid") {
            return Err(ConfigError::at(key("scopes"), "must include openid"));
        }
        for (ours, theirs) in &self.claims {
            if ours.is_empty() || theirs.is_empty() || PROTOCOL_CLAIMS.contains(&ours.as_str()) {
                return Err(ConfigError::at(key("claims"), format!("`{ours}` cannot be mapped")));
            }
        }
        let issuer_key = if self.kind == ConnectorKind::Entra { "authority" } else { "issuer" };
        let issuer = match self.kind {
            ConnectorKind::Oidc => {
                Some(self.issuer.clone().ok_or_else(|| ConfigError::at(key("issuer"), "is required"))?)
            }
            ConnectorKind::Google => self.issuer.clone(),
            _ => self.authority.clone(),
        };
        if let Some(issuer) = issuer {
            let loopback = issuer.host_str().is_some_and(is_loopback_host);
            if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
                return Err(ConfigError::at(key(issuer_key), "must be an https URL (http only on loopback)"));
            }
            if issuer.query().is_some() || issuer.fragment().is_some() {
                return Err(ConfigError::at(key(issuer_key), "must not have a query or a fragment"));
            }
        }
        match self.kind {
            ConnectorKind::Entra => {
                let tenant = self.tenant.as_deref().unwrap_or("");
                if tenant.is_empty() || !tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')) {
                    return Err(ConfigError::at(key("tenant"), "is required: a tenant id or domain, common or organizations"));
                }
                if !self.allowed_tenants.is_empty() && !self.is_multi_tenant() {
                    return Err(ConfigError::at(key("allowed_tenants"), "is only for tenant common or organizations"));
                }
            }
            ConnectorKind::Google => {
                if self.hosted_domains.is_empty() {
                    return Err(ConfigError::at(key("hosted_domains"), "at least one Workspace domain is required"));
                }
                if let Some(bad) = self.hosted_domains.iter().find(|d| !is_domain(d)) {
                    return Err(ConfigError::at(key("hosted_domains"), format!("`{bad}` is not a lower-case domain")));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn validate_ldap(&self, key: &impl Fn(&str) -> String, secrets_stored: bool) -> Result<(), ConfigError> {
        let url = self.url.as_deref().ok_or_else(|| ConfigError::at(key("url"), "is required"))?;
        let parsed = Url::parse(url).map_err(|e| ConfigError::at(key("url"), format!("`{url}` is not a URL ({e})")))?;
        let loopback = parsed.host_str().is_some_and(is_loopback_host);
        match parsed.scheme() {
            "ldaps" if self.starttls => return Err(ConfigError::at(key("starttls"), "is for ldap:// URLs")),
            "ldaps" => {}
            "ldap" if self.starttls => {}
            "ldap" if self.allow_plain_ldap && loopback => {}
            "ldap" if self.allow_plain_ldap => {
                return Err(ConfigError::at(key("allow_plain_ldap"), "plain ldap:// is only allowed to a directory on loopback"));
            }
            "ldap" => {
                return Err(ConfigError::at(key("url"), "ldap:// needs starttls = true (or use ldaps://)"));
            }
            other => return Err(ConfigError::at(key("url"), format!("`{other}` is not ldap or ldaps"))),
        }
        if self.base_dn.as_deref().is_none_or(|b| b.trim().is_empty()) {
            return Err(ConfigError::at(key("base_dn"), "is required"));
        }
        let password_missing = self.bind_password.is_none() && !secrets_stored;
        if (self.bind_dn.is_some() && password_missing) || (self.bind_dn.is_none() && self.bind_password.is_some()) {
            return Err(ConfigError::at(key("bind_password"), "bind_dn and bind_password go together"));
        }
        if let Some(filter) = &self.user_filter
            && !(filter.contains("{login}") && filter.starts_with('(') && filter.ends_with(')'))
        {
            return Err(ConfigError::at(key("user_filter"), "must be a parenthesized LDAP filter containing {login}"));
        }
        if let Some(filter) = &self.group_filter
            && !(filter.contains("{dn}") && filter.starts_with('(') && filter.ends_with(')'))
        {
            return Err(ConfigError::at(key("group_filter"), "must be a parenthesized LDAP filter containing {dn}"));
        }
        if self.group_filter.is_some() && self.group_base_dn.is_none() {
            return Err(ConfigError::at(key("group_base_dn"), "is required with group_filter"));
        }
        Ok(())
    }
}

/// Claims a mapping may not set: they describe the token, not the person.
const PROTOCOL_CLAIMS: &[&str] =
    &["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid", "email_verified"];

/// A lower-case domain name with at least one dot.
fn is_domain(text: &str) -> bool {
    text.len() <= 253
        && text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Checks every configured connector and that ids and domains are unique.
pub fn validate_connectors(connectors: &[ConnectorSettings]) -> Result<(), ConfigError> {
    let mut ids = std::collections::HashSet::new();
    let mut domains = std::collections::HashMap::new();
    for (index, connector) in connectors.iter().enumerate() {
        let prefix = format!("connectors[{index}]");
        connector.validate(&prefix, false)?;
        if !ids.insert(connector.id.as_str()) {
            return Err(ConfigError::at(format!("{prefix}.id"), format!("`{}` is defined twice", connector.id)));
        }
        for domain in &connector.domains {
            if let Some(other) = domains.insert(domain.as_str(), connector.id.as_str()) {
                return Err(ConfigError::at(
                    format!("{prefix}.domains"),
                    format!("`{domain}` is already signed in by connector `{other}`"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_case_names_with_a_dot() {
        assert!(is_domain("contoso.com") && is_domain("a-b.example.nl"));
        for bad in ["Contoso.com", "contoso", "a..b", "@contoso.com", "contoso.com.", ""] {
            assert!(!is_domain(bad), "{bad}");
        }
    }
}

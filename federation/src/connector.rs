//! A connector as the federation code uses it: its validated settings and its secrets (the
//! provider keeps those sealed at rest and hands them over here in clear).

use poort_config::{ConnectorKind, ConnectorSettings, ENTRA_AUTHORITY, GOOGLE_ISSUER};
use serde::{Deserialize, Serialize};

/// A connector's secrets. Never logged: `Debug` hides them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// PEM private key for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("private_key_pem", &self.private_key_pem.as_ref().map(|_| "***"))
            .field("bind_password", &self.bind_password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Secrets {
    /// Takes the secrets out of `settings` (which then describe the connector without them).
    pub fn take_from(settings: &mut ConnectorSettings) -> Secrets {
        Secrets {
            client_secret: settings.client_secret.take(),
            private_key_pem: None,
            bind_password: settings.bind_password.take(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.client_secret.is_none() && self.private_key_pem.is_none() && self.bind_password.is_none()
    }
}

/// A connector ready to use.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Without secrets (they are in `secrets`).
    pub settings: ConnectorSettings,
    pub secrets: Secrets,
}

/// The scopes asked for when a connector names none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

impl Connector {
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    pub fn kind(&self) -> ConnectorKind {
        self.settings.kind
    }

    /// The issuer whose discovery document describes this upstream. For a multi-tenant Entra
    /// connector this is the `common`/`organizations` document, whose `issuer` is a template.
    pub fn issuer(&self) -> String {
        let s = &self.settings;
        match s.kind {
            ConnectorKind::Entra => {
                let authority = s.authority.as_ref().map_or(ENTRA_AUTHORITY.to_string(), |a| a.as_str().trim_end_matches('/').to_string());
                format!("{authority}/{}/v2.0", s.tenant.as_deref().unwrap_or("common"))
            }
            ConnectorKind::Google => {
                s.issuer.as_ref().map_or(GOOGLE_ISSUER.to_string(), |i| i.as_str().trim_end_matches('/').to_string())
            }
            _ => s.issuer.as_ref().map(|i| trim_bare_slash(i.as_str())).unwrap_or_default(),
        }
    }

    pub fn scopes(&self) -> Vec<String> {
        if self.settings.scopes.is_empty() {
            DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
        } else {
            self.settings.scopes.clone()
        }
    }
}

/// `https://idp.example.com/` → `https://idp.example.com` (as issuers are usually written);
/// a path keeps its trailing slash.
fn trim_bare_slash(url: &str) -> String {
    match url.strip_suffix('/') {
        Some(bare) if !bare["https://".len().min(bare.len())..].contains('/') => bare.to_string(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(kind: ConnectorKind, edit: impl FnOnce(&mut ConnectorSettings)) -> Connector {
        let mut settings = ConnectorSettings::new("c", kind);
        edit(&mut settings);
        Connector { settings, secrets: Secrets::default() }
    }

    #[test]
    fn issuers_by_kind() {
        let entra = connector(ConnectorKind::Entra, |s| s.tenant = Some("organizations".into()));
        assert_eq!(entra.issuer(), "https://login.microsoftonline.com/organizations/v2.0");
        let local = connector(ConnectorKind::Entra, |s| {
            s.tenant = Some("common".into());
            s.authority = Some("http://127.0.0.1:4000/".parse().unwrap());
        });
        assert_eq!(local.issuer(), "http://127.0.0.1:4000/common/v2.0");
        assert_eq!(connector(ConnectorKind::Google, |_| {}).issuer(), "https://accounts.google.com");
        let oidc = connector(ConnectorKind::Oidc, |s| s.issuer = Some("https://idp.example.com/".parse().unwrap()));
        assert_eq!(oidc.issuer(), "https://idp.example.com");
        let path = connector(ConnectorKind::Oidc, |s| s.issuer = Some("https://idp.example.com/realms/a/".parse().unwrap()));
        assert_eq!(path.issuer(), "https://idp.example.com/realms/a/");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secrets = Secrets { client_secret: Some("hunter2".into()), private_key_pem: None, bind_password: Some("pw".into()) };
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("\"pw\""), "{shown}");
    }
}

//! Sign-in against Active Directory or another LDAP directory: the person types their
//! directory user name (or e-mail address) and password on Poort's own page; the service
//! account searches for them under the base DN, then Poort binds as them with that password
//! (over LDAPS or StartTLS; plain `ldap://` only when configured, to loopback). Their e-mail
//! address, name and groups (mapped to Poort roles) come from the directory.
//!
//! A wrong password, an unknown name and an ambiguous one all come back as
//! [`Outcome::WrongCredentials`], so the page cannot tell them apart. A directory that cannot
//! be reached, a refused service account or a timeout is a [`Failure`] with
//! [`Reason::Unavailable`] and a detail precise enough for the operator.

use crate::connector::Connector;
use crate::error::{Failure, Reason};
use crate::profile::UpstreamIdentity;
use crate::realm::ldap_escape;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

pub const DEFAULT_USER_FILTER: &str = "(&(objectClass=person)(|(uid={login})(mail={login})))";
pub const DEFAULT_ID_ATTRIBUTE: &str = "entryUUID";
pub const DEFAULT_EMAIL_ATTRIBUTE: &str = "mail";
pub const DEFAULT_NAME_ATTRIBUTE: &str = "displayName";
pub const DEFAULT_GROUP_FILTER: &str = "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn})))";
/// LDAP's result code for a wrong password (RFC 4511 `invalidCredentials`).
const INVALID_CREDENTIALS: u32 = 49;

/// How a directory sign-in ended, when the directory could be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Authenticated(Box<UpstreamIdentity>),
    /// No such user, several matches, or the wrong password (told apart only in the log).
    WrongCredentials(&'static str),
}

/// Checks `login` and `password` against the directory of `connector`.
pub async fn sign_in(connector: &Connector, login: &str, password: &str) -> Result<Outcome, Failure> {
    let login = login.trim();
    // An empty password would make a simple bind "unauthenticated" — and succeed.
    if login.is_empty() || password.is_empty() {
        return Ok(Outcome::WrongCredentials("an empty user name or password"));
    }
    let settings = &connector.settings;
    let url = settings.url.clone().unwrap_or_default();
    let timeout = settings.timeout;
    let unavailable = |what: &str, error: LdapError| {
        Failure::new(Reason::Unavailable, format!("directory {url}: {what} failed: {}", describe(&error)))
    };
    let mut conn_settings = LdapConnSettings::new().set_conn_timeout(timeout).set_starttls(settings.starttls);
    if url.starts_with("ldaps:") || settings.starttls {
        conn_settings = conn_settings.set_config(tls_config(connector)?);
    }
    let (connection, mut ldap) =
        LdapConnAsync::with_settings(conn_settings, &url).await.map_err(|e| unavailable("connecting", e))?;
    ldap3::drive!(connection);
    let result = run(connector, &mut ldap, login, password, &unavailable).await;
    let _ = ldap.unbind().await;
    result
}

async fn run(
    connector: &Connector,
    ldap: &mut Ldap,
    login: &str,
    password: &str,
    unavailable: &impl Fn(&str, LdapError) -> Failure,
) -> Result<Outcome, Failure> {
    let settings = &connector.settings;
    let timeout = settings.timeout;
    service_bind(connector, ldap, unavailable).await?;
    let id_attribute = settings.id_attribute.as_deref().unwrap_or(DEFAULT_ID_ATTRIBUTE);
    let email_attribute = settings.email_attribute.as_deref().unwrap_or(DEFAULT_EMAIL_ATTRIBUTE);
    let name_attribute = settings.name_attribute.as_deref().unwrap_or(DEFAULT_NAME_ATTRIBUTE);
    let filter = settings.user_filter.as_deref().unwrap_or(DEFAULT_USER_FILTER).replace("{login}", &ldap_escape(login));
    let base = settings.base_dn.clone().unwrap_or_default();
    let attributes = vec![id_attribute, email_attribute, name_attribute, "memberOf"];
    let (entries, _) = ldap
        .with_timeout(timeout)
        .search(&base, Scope::Subtree, &filter, attributes)
        .await
        .and_then(|r| r.success())
        .map_err(|e| unavailable(&format!("searching {base} for the user"), e))?;
    let entry = match entries.len() {
        1 => SearchEntry::construct(entries.into_iter().next().expect("one entry")),
        0 => return Ok(Outcome::WrongCredentials("no directory entry matches the user name")),
        _ => return Ok(Outcome::WrongCredentials("several directory entries match the user name")),
    };
    match ldap.with_timeout(timeout).simple_bind(&entry.dn, password).await.map_err(|e| unavailable("binding as the user", e))?.success() {
        Ok(_) => {}
        Err(LdapError::LdapResult { result }) if result.rc == INVALID_CREDENTIALS => {
            return Ok(Outcome::WrongCredentials("the directory refused the password"));
        }
        Err(error) => return Err(unavailable(&format!("binding as {}", entry.dn), error)),
    }
    let mut groups: BTreeSet<String> = entry.attrs.get("memberOf").into_iter().flatten().map(|g| g.to_lowercase()).collect();
    if !settings.group_roles.is_empty() && settings.group_base_dn.is_some() {
        // Groups are read as the service account again, which may see more than the user.
        service_bind(connector, ldap, unavailable).await?;
        let group_base = settings.group_base_dn.clone().unwrap_or_default();
        let filter = settings.group_filter.as_deref().unwrap_or(DEFAULT_GROUP_FILTER).replace("{dn}", &ldap_escape(&entry.dn));
        let (found, _) = ldap
            .with_timeout(timeout)
            .search(&group_base, Scope::Subtree, &filter, vec!["cn"])
            .await
            .and_then(|r| r.success())
            .map_err(|e| unavailable(&format!("searching {group_base} for groups"), e))?;
        for group in found.into_iter().map(SearchEntry::construct) {
            groups.insert(group.dn.to_lowercase());
            groups.extend(group.attrs.get("cn").into_iter().flatten().map(|cn| cn.to_lowercase()));
        }
    }
    let first = |name: &str| entry.attrs.get(name).and_then(|values| values.first()).cloned();
    let subject = match (first(id_attribute), entry.bin_attrs.get(id_attribute).and_then(|v| v.first())) {
        (Some(text), _) => text,
        (None, Some(bytes)) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        (None, None) => {
            tracing::warn!(connector = connector.id(), attribute = id_attribute, "a directory entry has no id attribute; its DN identifies it instead");
            entry.dn.to_lowercase()
        }
    };
    let display_name = first(name_attribute);
    let mut claims = Map::new();
    if let Some(name) = &display_name {
        claims.insert("name".into(), json!(name));
    }
    let (roles, managed_roles) = if settings.group_roles.is_empty() {
        (None, Vec::new())
    } else {
        let mut granted = BTreeSet::new();
        let mut managed = BTreeSet::new();
        for (group, roles) in &settings.group_roles {
            managed.extend(roles.iter().cloned());
            if groups.contains(&group.to_lowercase()) {
                granted.extend(roles.iter().cloned());
            }
        }
        (Some(granted.into_iter().collect()), managed.into_iter().collect())
    };
    Ok(Outcome::Authenticated(Box::new(UpstreamIdentity {
        connector: connector.id().to_string(),
        subject,
        email: first(email_attribute),
        email_verified: settings.trusts_email(),
        display_name,
        claims: claims.into_iter().collect::<Map<String, Value>>(),
        amr: vec!["pwd".into()],
        roles,
        managed_roles,
    })))
}

async fn service_bind(connector: &Connector, ldap: &mut Ldap, unavailable: &impl Fn(&str, LdapError) -> Failure) -> Result<(), Failure> {
    let Some(dn) = connector.settings.bind_dn.as_deref() else { return Ok(()) };
    let password = connector.secrets.bind_password.as_deref().unwrap_or("");
    ldap.with_timeout(connector.settings.timeout)
        .simple_bind(dn, password)
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| unavailable(&format!("the service account's bind as {dn}"), e))
}

/// The TLS settings: the system's CAs and the connector's `ca_file`, on the ring provider.
fn tls_config(connector: &Connector) -> Result<Arc<rustls::ClientConfig>, Failure> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(file) = &connector.settings.ca_file {
        let certs = CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Failure::new(Reason::Unavailable, format!("connector {}: cannot read ca_file {}: {e}", connector.id(), file.display())))?;
        for cert in certs {
            roots.add(cert).map_err(|e| Failure::new(Reason::Unavailable, format!("ca_file {}: {e}", file.display())))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::new(Reason::Unavailable, format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An LDAP error in words: the result code and the directory's own text, or the I/O problem.
fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => format!("result code {} ({}) {}", result.rc, rc_name(result.rc), result.text).trim_end().to_string(),
        LdapError::Timeout { .. } => "no answer within the connector's timeout".into(),
        other => other.to_string(),
    }
}

fn rc_name(rc: u32) -> &'static str {
    match rc {
        INVALID_CREDENTIALS => "invalid credentials",
        32 => "no such object",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        _ => "error",
    }
}

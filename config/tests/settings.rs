//! The configuration contract: defaults documented in `poort.example.toml`, layering of file and
//! environment, and one clear error naming the key for every kind of bad input.

use poort_config::{ConfigError, LogFormat, Settings, load_from};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../poort.example.toml")
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn error_for(text: &str) -> ConfigError {
    let file = file_with(text);
    load_from(Some(file.path()), &env(&[])).expect_err("the configuration should be refused")
}

/// Every dotted key with a value, leaving out empty lists (the example shows `[[clients]]`
/// only as a commented sample).
fn keys_of(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                keys_of(value, &path, out);
            }
        }
        toml::Value::Array(items) if items.is_empty() => {}
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn the_example_file_lists_every_default_exactly() {
    let example: toml::Value = toml::from_str(&std::fs::read_to_string(example_path()).unwrap()).unwrap();
    let defaults = toml::Value::try_from(Settings::default()).unwrap();
    let (mut documented, mut existing) = (Vec::new(), Vec::new());
    keys_of(&example, "", &mut documented);
    keys_of(&defaults, "", &mut existing);
    documented.sort();
    existing.sort();
    assert_eq!(documented, existing, "poort.example.toml and the defaults in settings.rs list different keys");
    // Written values must be the defaults' own text, so the file reads as the code behaves.
    assert_eq!(example, defaults_without_empty_lists(defaults));
}

fn defaults_without_empty_lists(mut value: toml::Value) -> toml::Value {
    if let toml::Value::Table(table) = &mut value {
        table.retain(|_, v| !matches!(v, toml::Value::Array(items) if items.is_empty()));
    }
    value
}

#[test]
fn the_example_file_loads_to_the_defaults() {
    let (settings, source) = load_from(Some(&example_path()), &env(&[])).unwrap();
    assert_eq!(settings, Settings::default());
    assert_eq!(source.file.as_deref(), Some(example_path().as_path()));
}

#[test]
fn no_configuration_at_all_is_valid_and_embedded() {
    let (settings, source) = load_from(None, &env(&[])).unwrap();
    assert_eq!(settings, Settings::default());
    assert!(source.file.is_none());
    assert!(settings.uses_sqlite());
    assert_eq!(settings.issuer_string(), "http://127.0.0.1:8080");
    assert!(settings.database_url().starts_with("sqlite://poort-data/poort.db"));
}

#[test]
fn environment_overrides_the_file_and_names_nested_keys() {
    let file = file_with("[server]\nlisten = \"127.0.0.1:9000\"\n[log]\nformat = \"human\"\n");
    let (settings, source) = load_from(
        Some(file.path()),
        &env(&[
            ("POORT__SERVER__ISSUER", "https://id.example.com"),
            ("POORT__LOG__FORMAT", "json"),
            ("POORT__STORAGE__MAX_CONNECTIONS", "3"),
            ("POORT__KEYS__ALGORITHMS", "RS256,EdDSA"),
            ("POORT__TOKENS__ACCESS_TOKEN_TTL", "10m"),
            ("UNRELATED", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(settings.server.listen, "127.0.0.1:9000");
    assert_eq!(settings.issuer_string(), "https://id.example.com");
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(settings.storage.max_connections, 3);
    assert_eq!(settings.keys.algorithms, vec!["RS256".to_string(), "EdDSA".to_string()]);
    assert_eq!(settings.tokens.access_token_ttl, Duration::from_secs(600));
    assert!(source.env_keys.contains(&"server.issuer".to_string()));
}

#[test]
fn the_config_file_can_come_from_poort_config() {
    let file = file_with("[server]\nlisten = \"127.0.0.1:9001\"\n");
    let (settings, source) =
        load_from(None, &env(&[("POORT_CONFIG", file.path().to_str().unwrap())])).unwrap();
    assert_eq!(settings.server.listen, "127.0.0.1:9001");
    assert_eq!(source.file.as_deref(), Some(file.path()));
}

#[test]
fn an_issuer_keeps_its_path_and_loses_a_bare_trailing_slash() {
    let file = file_with("[server]\nissuer = \"https://id.example.com/\"\n");
    let (settings, _) = load_from(Some(file.path()), &env(&[])).unwrap();
    assert_eq!(settings.issuer_string(), "https://id.example.com");
    let file = file_with("[server]\nissuer = \"https://example.com/tenant/a\"\n");
    let (settings, _) = load_from(Some(file.path()), &env(&[])).unwrap();
    assert_eq!(settings.issuer_string(), "https://example.com/tenant/a");
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let error = error_for("[server]\nlistne = \"127.0.0.1:1\"\n");
    assert!(error.to_string().contains("listne"), "{error}");
    let error = error_for("[srever]\nlisten = \"127.0.0.1:1\"\n");
    assert!(error.to_string().contains("srever"), "{error}");
    let error = load_from(None, &env(&[("POORT__SERVER__PORT", "1")])).unwrap_err();
    assert!(error.to_string().contains("port"), "{error}");
}

#[test]
fn bad_values_name_the_key_and_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        ("[server]\nissuer = \"not a url\"\n", "issuer", "relative URL"),
        ("[server]\nissuer = \"https://id.example.com/?x=1\"\n", "server.issuer", "query"),
        ("[server]\nissuer = \"ftp://id.example.com\"\n", "server.issuer", "http"),
        ("[server]\nlisten = \"localhost\"\n", "server.listen", "socket address"),
        ("[tokens]\naccess_token_ttl = \"soon\"\n", "access_token_ttl", "not a duration"),
        ("[tokens]\nid_token_ttl = \"0s\"\n", "tokens.id_token_ttl", "longer than zero"),
        ("[tokens]\nauthorization_code_ttl = \"1h\"\n", "tokens.authorization_code_ttl", "10 minutes"),
        ("[storage]\ndatabase_url = \"mysql://x\"\n", "storage.database_url", "sqlite"),
        ("[storage]\nmax_connections = \"many\"\n", "max_connections", "integer"),
        ("[keys]\nalgorithms = [\"HS256\"]\n", "keys.algorithms", "HS256"),
        ("[keys]\nencryption_secret = \"short\"\n", "keys.encryption_secret", "32"),
        ("[keys]\nrotation_interval = \"30m\"\n", "keys.rotation_interval", "longer"),
        ("[log]\nformat = \"xml\"\n", "format", "xml"),
        ("[mail]\nfrom = \"nobody\"\n", "mail.from", "mail address"),
        ("[registration]\ninitial_access_token = \"short\"\n", "registration.initial_access_token", "16"),
        ("[metrics]\nbearer_token = \"short\"\n", "metrics.bearer_token", "16"),
        ("[logout]\nbackchannel_timeout = \"0s\"\n", "logout.backchannel_timeout", "at least 1s"),
        ("[logout]\nbackchannel_retry_initial = \"2h\"\n", "logout.backchannel_retry_max", "at least"),
        ("[registration]\nsecret_lifetime = \"later\"\n", "secret_lifetime", "not a duration"),
        ("[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"\"\n", "mail.smtp.host", "required"),
        ("[mail.smtp]\nhost = \"smtp.example.com\"\nsecurity = \"none\"\n", "mail.smtp.security", "loopback"),
        ("[mail.smtp]\nusername = \"poort\"\n", "mail.smtp.password", "go together"),
        ("[themes]\ndir = \"/nonexistent/theme\"\n", "themes.dir", "not a folder"),
        ("[outbound]\nca_file = \"/nonexistent/ca.pem\"\n", "outbound.ca_file", "not a file"),
        ("[themes]\ndefault_locale = \"de\"\n", "themes.default_locale", "en, nl"),
        ("[server]\nmax_header_bytes = 100\n", "server.max_header_bytes", "between 8192"),
        ("[server]\nheader_timeout = \"0s\"\n", "server.header_timeout", "longer than zero"),
        ("[passwords]\nhash_queue_limit = -1\n", "passwords.hash_queue_limit", ""),
        ("[registration]\nper_ip_window = \"0s\"\n", "registration.per_ip_window", "longer than zero"),
        ("[passwords]\nmin_length = 4\n", "passwords.min_length", "between 8 and 64"),
        ("[passwords]\nmin_score = 5\n", "passwords.min_score", "between 0 and 4"),
        ("[accounts]\nreset_link_ttl = \"0s\"\n", "accounts.reset_link_ttl", "longer than zero"),
        ("[accounts]\nactivation_link_ttl = \"365d\"\n", "accounts.activation_link_ttl", "at most 90d"),
        ("[accounts]\nmax_failed_sign_ins = 1\n", "accounts.max_failed_sign_ins", "at least 3"),
        ("[accounts]\nmax_failures_per_ip = 4\n", "accounts.max_failures_per_ip", "max_failed_sign_ins"),
        ("[accounts]\nfailure_delay = \"1m\"\n", "accounts.failure_delay", "at most 5s"),
        ("[accounts]\ndefault_redirect_uri = \"ftp://crm.example.com\"\n", "accounts.default_redirect_uri", "http"),
        ("[accounts]\ntrusted_proxies = [\"proxy\"]\n", "accounts.trusted_proxies", "not an IP address"),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb#x\"]\n",
            "clients[0].redirect_uris",
            "fragment",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"https://a/cb\"]\n",
            "clients[0].client_secret",
            "required",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb\"]\n\
             [[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb\"]\n",
            "clients[1].client_id",
            "twice",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"https://a/cb\"]\ntoken_endpoint_auth_method = \"magic\"\n",
            "clients[0].token_endpoint_auth_method",
            "one of",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb\"]\naccess_token_format = \"paseto\"\n",
            "clients[0].access_token_format",
            "opaque",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb\"]\nid_token_signed_response_alg = \"EdDSA\"\n",
            "clients[0].id_token_signed_response_alg",
            "has no key",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"0123456789abcdef\"\nredirect_uris = [\"https://a/cb\"]\naccess_token_signed_response_alg = \"PS256\"\n",
            "clients[0].access_token_signed_response_alg",
            "has no key",
        ),
    ];
    for (text, key, problem) in cases {
        let error = error_for(text).to_string();
        assert!(error.contains(key), "expected `{key}` in: {error}\n(config: {text})");
        assert!(error.contains(problem), "expected `{problem}` in: {error}\n(config: {text})");
    }
}

#[test]
fn an_unreadable_or_malformed_file_is_a_clear_error() {
    let error = load_from(Some(std::path::Path::new("/nonexistent/poort.toml")), &env(&[])).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/poort.toml"), "{error}");
    let error = error_for("[server\nlisten = 1");
    assert!(error.to_string().contains("TOML"), "{error}");
}

#[test]
fn tls_makes_the_default_issuer_https() {
    let file = file_with("[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n");
    let (settings, _) = load_from(Some(file.path()), &env(&[])).unwrap();
    assert_eq!(settings.issuer_string(), "https://127.0.0.1:8080");
}

/// A valid connector of each kind, to vary one key at a time.
const ENTRA: &str = "[[connectors]]\nid = \"contoso\"\nkind = \"entra\"\ntenant = \"common\"\nclient_id = \"c\"\nclient_secret = \"s\"\ndomains = [\"contoso.com\"]\n";
const LDAP: &str = "[[connectors]]\nid = \"ad\"\nkind = \"ldap\"\nurl = \"ldaps://dc.corp.example\"\nbase_dn = \"dc=corp,dc=example\"\n";

#[test]
fn connectors_of_every_kind_load() {
    let text = format!(
        "{ENTRA}allowed_tenants = [\"t1\"]\n{LDAP}bind_dn = \"cn=poort\"\nbind_password = \"pw\"\ngroup_base_dn = \"ou=groups\"\n\
         group_filter = \"(member={{dn}})\"\n[connectors.group_roles]\n\"cn=admins\" = [\"user level 0\"]\n\
         [[connectors]]\nid = \"google\"\nkind = \"google\"\nclient_id = \"c\"\nprivate_key_file = \"k.pem\"\nhosted_domains = [\"example.com\"]\n\
         [[connectors]]\nid = \"upstream\"\nkind = \"oidc\"\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"c\"\nclient_secret = \"s\"\ntimeout = \"3s\"\n\
         [connectors.claims]\nname = \"display_name\"\n"
    );
    let file = file_with(&text);
    let (settings, _) = load_from(Some(file.path()), &env(&[])).unwrap();
    assert_eq!(settings.connectors.len(), 4);
    let entra = &settings.connectors[0];
    assert!(entra.is_multi_tenant() && entra.trusts_email() && !entra.allow_password && !entra.jit_provisioning);
    assert_eq!(entra.timeout, Duration::from_secs(10));
    assert_eq!(settings.connectors[1].group_roles["cn=admins"], ["user level 0"]);
    assert!(settings.connectors[1].user_names);
    assert!(!settings.connectors[3].trusts_email(), "generic upstreams are not trusted with e-mail by default");
    assert_eq!(settings.connectors[3].timeout, Duration::from_secs(3));
}

#[test]
fn bad_connectors_name_the_key_and_the_problem() {
    let cases: &[(String, &str, &str)] = &[
        (ENTRA.replace("contoso\"\nkind", "Contoso\"\nkind"), "connectors[0].id", "lower-case"),
        (ENTRA.replace("id = \"contoso\"", "id = \"password\""), "connectors[0].id", "reserved"),
        (ENTRA.replace("kind = \"entra\"", "kind = \"saml\""), "kind", "saml"),
        (ENTRA.replace("tenant = \"common\"\n", ""), "connectors[0].tenant", "required"),
        (ENTRA.replace("client_id = \"c\"\n", ""), "connectors[0].client_id", "required"),
        (ENTRA.replace("client_secret = \"s\"\n", ""), "connectors[0].client_secret", "required"),
        (format!("{ENTRA}private_key_file = \"k.pem\"\n"), "connectors[0].private_key_file", "either"),
        (ENTRA.replace("contoso.com\"]", "Contoso.com\"]"), "connectors[0].domains", "lower-case"),
        (format!("{ENTRA}hosted_domains = [\"x.com\"]\n"), "connectors[0].hosted_domains", "only for kind google"),
        (format!("{ENTRA}url = \"ldaps://x\"\n"), "connectors[0].url", "only for kind ldap"),
        (format!("{ENTRA}scopes = [\"email\"]\n"), "connectors[0].scopes", "openid"),
        (format!("{ENTRA}timeout = \"5m\"\n"), "connectors[0].timeout", "between"),
        (format!("{ENTRA}authority = \"http://login.example.com\"\n"), "connectors[0].authority", "https"),
        (ENTRA.replace("common", "0000-1111") + "allowed_tenants = [\"t\"]\n", "connectors[0].allowed_tenants", "common"),
        (format!("{ENTRA}{}", ENTRA.replace("id = \"contoso\"", "id = \"other\"")), "connectors[1].domains", "contoso"),
        (format!("{ENTRA}{ENTRA}"), "connectors[1].id", "twice"),
        ("[[connectors]]\nid = \"g\"\nkind = \"google\"\nclient_id = \"c\"\nclient_secret = \"s\"\n".into(), "connectors[0].hosted_domains", "required"),
        ("[[connectors]]\nid = \"o\"\nkind = \"oidc\"\nclient_id = \"c\"\nclient_secret = \"s\"\n".into(), "connectors[0].issuer", "required"),
        ("[[connectors]]\nid = \"o\"\nkind = \"oidc\"\nissuer = \"http://idp.example.com\"\nclient_id = \"c\"\nclient_secret = \"s\"\n".into(), "connectors[0].issuer", "https"),
        (LDAP.replace("ldaps://dc.corp.example", "ldap://dc.corp.example"), "connectors[0].url", "starttls"),
        (LDAP.replace("ldaps://dc.corp.example", "ldap://dc.corp.example") + "allow_plain_ldap = true\n", "connectors[0].allow_plain_ldap", "loopback"),
        (LDAP.replace("base_dn = \"dc=corp,dc=example\"\n", ""), "connectors[0].base_dn", "required"),
        (format!("{LDAP}bind_dn = \"cn=poort\"\n"), "connectors[0].bind_password", "together"),
        (format!("{LDAP}user_filter = \"uid=x\"\n"), "connectors[0].user_filter", "{login}"),
        (format!("{LDAP}group_filter = \"(member={{dn}})\"\n"), "connectors[0].group_base_dn", "required"),
        (format!("{LDAP}client_id = \"c\"\n"), "connectors[0].client_id", "only for kind"),
    ];
    for (text, key, problem) in cases {
        let error = error_for(text).to_string();
        assert!(error.contains(key), "expected `{key}` in: {error}\n(config: {text})");
        assert!(error.contains(problem), "expected `{problem}` in: {error}\n(config: {text})");
    }
    // Plain LDAP to loopback, when asked for explicitly, is fine (the tests' directory).
    let file = file_with(&(LDAP.replace("ldaps://dc.corp.example", "ldap://127.0.0.1:3389") + "allow_plain_ldap = true\n"));
    load_from(Some(file.path()), &env(&[])).unwrap();
}

//! Home-realm discovery: which way an identifier typed on the sign-in page goes. The answer
//! depends only on the identifier's e-mail domain and the configuration, never on whether an
//! account exists, so asking tells nobody who has one.

/// The lower-case domain of an e-mail address (`ann@Contoso.com` → `contoso.com`); `None` for a
/// bare user name.
pub fn domain_of(identifier: &str) -> Option<String> {
    let (local, domain) = identifier.trim().rsplit_once('@')?;
    let domain = domain.trim().to_ascii_lowercase();
    (!local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')).then_some(domain)
}

/// Escapes a value for an LDAP search filter (RFC 4515 §3).
pub fn ldap_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_of_identifiers() {
        assert_eq!(domain_of("Ann@Contoso.COM").as_deref(), Some("contoso.com"));
        assert_eq!(domain_of(" ann@contoso.com ").as_deref(), Some("contoso.com"));
        for none in ["ann", "CORP\\ann", "@contoso.com", "ann@localhost", "ann@.com", "ann@contoso."] {
            assert_eq!(domain_of(none), None, "{none}");
        }
    }

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(ldap_escape("a*)(uid=*"), "a\\2a\\29\\28uid=\\2a");
        assert_eq!(ldap_escape("back\\slash\0"), "back\\5cslash\\00");
        assert_eq!(ldap_escape("jan.jansen"), "jan.jansen");
    }
}

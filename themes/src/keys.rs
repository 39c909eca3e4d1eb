//! Which catalog keys are in use: those templates name (`{{t "sign_in.title"}}`) and those Rust
//! code passes to templates by value (`message_key`, a password-policy reason). Every catalog key
//! must be one or the other; a test keeps it so, and the code that chooses keys checks its own
//! against these lists.

use std::collections::BTreeSet;

/// Messages the sign-in code shows as `message_key` on the sign-in page.
pub const SIGN_IN_MESSAGES: &[&str] = &[
    "sign_in.invalid_credentials",
    "sign_in.account_disabled",
    "sign_in.account_not_activated",
    "sign_in.too_many_attempts",
    "sign_in.password_not_available",
    "sign_in.directory_unavailable",
];

/// Why a federated sign-in failed (`message_key` of the `federation_error` page), and the name
/// of an upstream the page cannot name otherwise.
pub const FEDERATION: &[&str] = &[
    "federation.upstream",
    "federation.error.upstream_refused",
    "federation.error.state_mismatch",
    "federation.error.replayed",
    "federation.error.expired",
    "federation.error.bad_signature",
    "federation.error.wrong_issuer",
    "federation.error.wrong_audience",
    "federation.error.token_expired",
    "federation.error.wrong_nonce",
    "federation.error.invalid_answer",
    "federation.error.email_unverified",
    "federation.error.tenant_not_allowed",
    "federation.error.domain_not_allowed",
    "federation.error.unavailable",
    "federation.error.not_added",
    "federation.error.email_mismatch",
    "federation.error.account_disabled",
    "federation.error.linked_elsewhere",
    "federation.error.link_expired",
];

/// Messages of the error page (`message_key`), and general form errors.
pub const ERRORS: &[&str] = &[
    "error.generic",
    "error.request_expired",
    "error.invalid_request",
    "error.unknown_client",
    "error.invalid_redirect_uri",
    "error.invalid_logout_request",
    "error.csrf",
    "error.not_found",
    "error.too_many_requests",
    "error.busy",
    "error.server",
    "error.unavailable",
];

/// Why an activation link cannot be used (`reason_key` of the `activation_expired` page).
pub const ACTIVATION_LINK_STATES: &[&str] =
    &["activation_expired.expired", "activation_expired.used", "activation_expired.invalid"];

/// Other form messages the code chooses (`message_key`, `notice_key`).
pub const FORM_MESSAGES: &[&str] =
    &["terms.must_accept", "change_password.current_incorrect", "account.password_changed", "account.sessions_ended"];

/// Why the server refused a new password (`password_error.key`).
pub const PASSWORD_REASONS: &[&str] = &[
    "password.reason.too_short",
    "password.reason.too_long",
    "password.reason.too_weak",
    "password.reason.personal",
    "password.reason.mismatch",
];

/// zxcvbn's warnings (`password_error.warning`).
pub const PASSWORD_WARNINGS: &[&str] = &[
    "password.warning.straight_rows",
    "password.warning.keyboard_patterns",
    "password.warning.repeats",
    "password.warning.repeated_patterns",
    "password.warning.top10",
    "password.warning.top100",
    "password.warning.common",
    "password.warning.similar_to_common",
    "password.warning.sequences",
    "password.warning.recent_years",
    "password.warning.word_by_itself",
    "password.warning.dates",
    "password.warning.names_by_themselves",
    "password.warning.common_names",
];

/// zxcvbn's suggestions (`password_error.suggestions`).
pub const PASSWORD_SUGGESTIONS: &[&str] = &[
    "password.suggestion.few_words",
    "password.suggestion.no_symbols_needed",
    "password.suggestion.add_words",
    "password.suggestion.capitalization",
    "password.suggestion.all_uppercase",
    "password.suggestion.reversed_words",
    "password.suggestion.substitutions",
    "password.suggestion.keyboard_turns",
    "password.suggestion.avoid_repeats",
    "password.suggestion.avoid_sequences",
    "password.suggestion.avoid_recent_years",
    "password.suggestion.avoid_your_years",
    "password.suggestion.avoid_your_dates",
];

/// Used by this crate itself: mail subjects (`mail.<name>.subject`) and the `duration` helper.
pub const THEME_CODE: &[&str] = &[
    "mail.activation.subject",
    "mail.reset.subject",
    "duration.days_one",
    "duration.days_other",
    "duration.hours_one",
    "duration.hours_other",
    "duration.minutes_one",
    "duration.minutes_other",
];

/// Every key Rust code uses (as opposed to keys templates name).
pub fn code_keys() -> impl Iterator<Item = &'static str> {
    [
        SIGN_IN_MESSAGES,
        FEDERATION,
        ERRORS,
        ACTIVATION_LINK_STATES,
        FORM_MESSAGES,
        PASSWORD_REASONS,
        PASSWORD_WARNINGS,
        PASSWORD_SUGGESTIONS,
        THEME_CODE,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// The catalog keys a template names: `{{t "key" …}}`, `(t "key")`, `title_key="key"` (any hash
/// parameter ending in `_key`), and key prefixes of `{{t_known "prefix" name}}`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TemplateKeys {
    pub keys: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
}

impl TemplateKeys {
    /// Whether a catalog key is named by these templates.
    pub fn uses(&self, key: &str) -> bool {
        self.keys.contains(key)
            || self
                .prefixes
                .iter()
                .any(|prefix| key.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// Collects the keys named in one template's text into `found`.
pub fn scan_template(text: &str, found: &mut TemplateKeys) {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let tag = &after[..close];
        rest = &after[close + 2..];
        if tag.starts_with('!') {
            // A comment: `{{!-- … --}}` may itself contain `}}`, so skip to its real end.
            if tag.starts_with("!--")
                && let Some(end) = after.find("--}}")
            {
                rest = &after[end + 4..];
            }
            continue;
        }
        scan_tag(tag, found);
    }
}

fn scan_tag(tag: &str, found: &mut TemplateKeys) {
    let mut position = 0;
    while let Some(start) = tag[position..].find('"').map(|i| position + i) {
        let Some(length) = tag[start + 1..].find('"') else { return };
        let literal = &tag[start + 1..start + 1 + length];
        position = start + length + 2;
        let before = tag[..start].trim_end();
        if let Some(name) = before.strip_suffix('=') {
            let name = name.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
            if name.ends_with("_key") {
                found.keys.insert(literal.to_string());
            }
            continue;
        }
        match before.rsplit(|c: char| c.is_whitespace() || c == '(' || c == '~' || c == '{').next() {
            Some("t") => {
                found.keys.insert(literal.to_string());
            }
            Some("t_known") => {
                found.prefixes.insert(literal.to_string());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_every_form_and_skips_comments() {
        let mut found = TemplateKeys::default();
        scan_template(
            r#"{{!-- {{t "in.comment"}} --}}<p a="{{t "a.b"}}">{{t "c.d" x=(t "e.f") y="not.a.key"}}</p>
{{#> layout title_key="g.h" meter=true}}{{~t "i.j"~}}{{t_known "k" this}}{{! {{t "short.comment"}} }}{{/layout}}"#,
            &mut found,
        );
        assert_eq!(found.keys.iter().map(String::as_str).collect::<Vec<_>>(), ["a.b", "c.d", "e.f", "g.h", "i.j"]);
        assert!(found.uses("k.profile") && !found.uses("kk.profile") && !found.uses("k"));
    }

    #[test]
    fn code_keys_are_unique() {
        let all: Vec<_> = code_keys().collect();
        let unique: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), unique.len());
    }
}

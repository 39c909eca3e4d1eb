//! The languages of the pages and mails, and how a request chooses one.

use std::fmt;
use std::str::FromStr;

/// A language Poort has a message catalog for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    En,
    Nl,
}

impl Locale {
    /// Every supported locale, in catalog order.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Nl];

    /// The language tag (`en`, `nl`), as used in `lang` attributes and catalog file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Nl => "nl",
        }
    }

    /// The supported locale of a language tag, by its primary subtag: `nl-NL`, `nl_BE` and `NL`
    /// are all Dutch. `None` for languages without a catalog.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        Locale::ALL.into_iter().find(|locale| locale.as_str().eq_ignore_ascii_case(primary))
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Locale {
    type Err = UnknownLocale;

    fn from_str(tag: &str) -> Result<Self, Self::Err> {
        Locale::from_tag(tag).ok_or_else(|| UnknownLocale(tag.to_string()))
    }
}

/// A language tag Poort has no catalog for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported locale (choose from en, nl)")]
pub struct UnknownLocale(pub String);

/// Chooses the language of a page: the first supported tag of the OpenID Connect `ui_locales`
/// parameter (space-separated, in order of preference), else the most preferred supported
/// language of the browser's `Accept-Language` header (q-values honoured, `q=0` meaning "not
/// this one"), else `default` (itself English when it is not supported).
pub fn negotiate_locale(ui_locales: Option<&str>, accept_language: Option<&str>, default: &str) -> Locale {
    let default = Locale::from_tag(default).unwrap_or(Locale::En);
    if let Some(locale) = ui_locales.and_then(|value| value.split_whitespace().find_map(Locale::from_tag)) {
        return locale;
    }
    accept_language.and_then(|header| from_accept_language(header, default)).unwrap_or(default)
}

/// The best supported language of an `Accept-Language` header (RFC 9110 §12.5.4). `*` stands
/// for any language, so it picks `default`. Malformed entries are ignored.
fn from_accept_language(header: &str, default: Locale) -> Option<Locale> {
    let mut ranges: Vec<(u16, usize, &str)> = Vec::new();
    for (position, item) in header.split(',').enumerate() {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        if range.is_empty() {
            continue;
        }
        let mut weight = Some(1000);
        for parameter in parts {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            if name.trim().eq_ignore_ascii_case("q") {
                weight = parse_qvalue(value.trim());
            }
        }
        if let Some(weight) = weight.filter(|w| *w > 0) {
            ranges.push((weight, position, range));
        }
    }
    // Highest weight first; equal weights keep the header's order.
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().find_map(|(_, _, range)| if range == "*" { Some(default) } else { Locale::from_tag(range) })
}

/// A q-value in thousandths (`0.8` → 800), or `None` when it is not one.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_to_locales_by_their_primary_subtag() {
        assert_eq!(Locale::from_tag("nl"), Some(Locale::Nl));
        assert_eq!(Locale::from_tag("nl-NL"), Some(Locale::Nl));
        assert_eq!(Locale::from_tag("nl_BE"), Some(Locale::Nl));
        assert_eq!(Locale::from_tag("EN-gb"), Some(Locale::En));
        assert_eq!(Locale::from_tag("de"), None);
        assert_eq!(Locale::from_tag(""), None);
        assert_eq!(Locale::from_tag("nld"), None);
        assert_eq!("nl-NL".parse::<Locale>(), Ok(Locale::Nl));
        assert!("fr".parse::<Locale>().unwrap_err().to_string().contains("fr"));
    }

    #[test]
    fn ui_locales_win_and_the_first_supported_one_is_taken() {
        assert_eq!(negotiate_locale(Some("nl"), Some("en"), "en"), Locale::Nl);
        assert_eq!(negotiate_locale(Some("de fr-CA nl-NL en"), None, "en"), Locale::Nl);
        assert_eq!(negotiate_locale(Some("en nl"), Some("nl"), "nl"), Locale::En);
        // No supported tag at all: fall through to the browser.
        assert_eq!(negotiate_locale(Some("de fr"), Some("nl"), "en"), Locale::Nl);
        assert_eq!(negotiate_locale(Some("   "), Some("nl"), "en"), Locale::Nl);
    }

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(negotiate_locale(None, Some("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7"), "en"), Locale::Nl);
        assert_eq!(negotiate_locale(None, Some("en;q=0.5, nl;q=0.8"), "en"), Locale::Nl);
        assert_eq!(negotiate_locale(None, Some("de-DE, en;q=0.3, nl;q=0.2"), "nl"), Locale::En);
        assert_eq!(negotiate_locale(None, Some("fr, de"), "nl"), Locale::Nl);
        // Equal weights keep the header's order.
        assert_eq!(negotiate_locale(None, Some("nl;q=0.5, en;q=0.5"), "en"), Locale::Nl);
        // q=0 means "not acceptable".
        assert_eq!(negotiate_locale(None, Some("nl;q=0, en;q=0.1"), "nl"), Locale::En);
        assert_eq!(negotiate_locale(None, Some("nl;q=0.000"), "en"), Locale::En);
        // `*` stands for any language: the default.
        assert_eq!(negotiate_locale(None, Some("de, *;q=0.5, en;q=0.1"), "nl"), Locale::Nl);
    }

    #[test]
    fn malformed_headers_are_ignored_not_fatal() {
        assert_eq!(negotiate_locale(None, Some(""), "nl"), Locale::Nl);
        assert_eq!(negotiate_locale(None, Some(",,;q=,nl;q=2"), "en"), Locale::En);
        assert_eq!(negotiate_locale(None, Some("nl;q=abc, en;q=0.4"), "nl"), Locale::En);
        assert_eq!(negotiate_locale(None, Some("nl;q=1.0001"), "en"), Locale::En);
        assert_eq!(negotiate_locale(None, Some("nl;q=1.000"), "en"), Locale::Nl);
        assert_eq!(negotiate_locale(None, Some("nl ; Q=0.7"), "en"), Locale::Nl);
    }

    #[test]
    fn the_default_applies_last_and_is_itself_checked() {
        assert_eq!(negotiate_locale(None, None, "nl"), Locale::Nl);
        assert_eq!(negotiate_locale(None, None, "nl-BE"), Locale::Nl);
        assert_eq!(negotiate_locale(None, None, "xx"), Locale::En);
    }
}

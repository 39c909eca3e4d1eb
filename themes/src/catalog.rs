//! Message catalogs: every visible text of the pages and mails, per locale, by dotted key.
//!
//! A catalog is a TOML file of nested tables whose leaves are strings (`[sign_in] title = …` is
//! the key `sign_in.title`). A text may hold placeholders such as `{client}`, which the template
//! or the code fills in; a placeholder left unfilled is an error, never an empty gap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One locale's texts by dotted key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    texts: BTreeMap<String, String>,
}

/// Why a catalog text could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown message key `{0}`")]
    UnknownKey(String),
    #[error("message `{key}` needs the parameter `{parameter}`")]
    MissingParameter { key: String, parameter: String },
}

impl Catalog {
    /// Reads a catalog from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Catalog, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| format!("{origin} is not valid TOML: {e}"))?;
        let mut texts = BTreeMap::new();
        flatten(&table, "", &mut texts).map_err(|problem| format!("{origin}: {problem}"))?;
        Ok(Catalog { texts })
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.texts.contains_key(key)
    }

    /// The raw text of a key, placeholders unfilled.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.texts.get(key).map(String::as_str)
    }

    /// Overrides texts with those of `other` (a theme's partial catalog). Every key of `other` must
    /// exist here and use no placeholder the built-in text does not offer.
    pub(crate) fn apply_overrides(&mut self, other: Catalog, origin: &str) -> Result<(), String> {
        for (key, text) in other.texts {
            let Some(current) = self.texts.get(&key) else {
                return Err(format!("{origin}: `{key}` is not a message key of Poort"));
            };
            let offered = placeholders(current);
            if let Some(unknown) = placeholders(&text).into_iter().find(|p| !offered.contains(p)) {
                return Err(format!(
                    "{origin}: `{key}` uses the placeholder {{{unknown}}}, which is not available there"
                ));
            }
            self.texts.insert(key, text);
        }
        Ok(())
    }

    /// The text of `key` with its placeholders filled from `parameters`. Parameters the text does
    /// not use are ignored, so a template may pass the same ones to several texts.
    pub fn format(&self, key: &str, parameters: &HashMap<&str, String>) -> Result<String, CatalogError> {
        let text = self.texts.get(key).ok_or_else(|| CatalogError::UnknownKey(key.to_string()))?;
        fill(text, |name| parameters.get(name).cloned())
            .map_err(|parameter| CatalogError::MissingParameter { key: key.to_string(), parameter })
    }
}

fn flatten(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match value {
            toml::Value::String(text) => {
                out.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(inner, &key, out)?,
            _ => return Err(format!("`{key}` must be a text (a quoted string) or a table")),
        }
    }
    Ok(())
}

/// Whether `name` can be a placeholder: lower-case letters, digits and underscores.
fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The placeholders of a text (`{client}` → `client`). Braces around anything else are text.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let _ = fill(text, |name| {
        found.insert(name.to_string());
        Some(String::new())
    });
    found
}

/// Replaces each `{name}` through `value`; the first name without a value is the error.
fn fill(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_placeholder_name(&after[..close]) => {
                let name = &after[..close];
                out.push_str(&value(name).ok_or_else(|| name.to_string())?);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn nested_tables_become_dotted_keys() {
        let catalog = Catalog::parse("[a]\nb = \"x\"\n[a.c]\nd = \"y\"\n", "test").unwrap();
        assert_eq!(catalog.keys().collect::<Vec<_>>(), ["a.b", "a.c.d"]);
        assert_eq!(catalog.raw("a.c.d"), Some("y"));
    }

    #[test]
    fn only_texts_and_tables_are_allowed() {
        let error = Catalog::parse("[a]\nb = 3\n", "en.toml").unwrap_err();
        assert!(error.contains("en.toml") && error.contains("`a.b`"), "{error}");
        assert!(Catalog::parse("a = ", "en.toml").unwrap_err().contains("TOML"));
    }

    #[test]
    fn placeholders_are_filled_and_required() {
        let catalog = Catalog::parse("hi = \"Hello {name}, {name}! {not a placeholder} {}\"\n", "t").unwrap();
        assert_eq!(
            catalog.format("hi", &params(&[("name", "Jan"), ("unused", "x")])).unwrap(),
            "Hello Jan, Jan! {not a placeholder} {}"
        );
        assert_eq!(
            catalog.format("hi", &params(&[])),
            Err(CatalogError::MissingParameter { key: "hi".into(), parameter: "name".into() })
        );
        assert_eq!(catalog.format("nope", &params(&[])), Err(CatalogError::UnknownKey("nope".into())));
        assert_eq!(placeholders("{a} {b_2} {C} {a"), BTreeSet::from(["a".to_string(), "b_2".to_string()]));
    }

    #[test]
    fn overrides_replace_known_keys_only_with_known_placeholders() {
        let mut catalog = Catalog::parse("[s]\nt = \"Sign in to {client}\"\n", "built-in").unwrap();
        catalog.apply_overrides(Catalog::parse("[s]\nt = \"Welcome to {client}\"\n", "o").unwrap(), "o").unwrap();
        assert_eq!(catalog.raw("s.t"), Some("Welcome to {client}"));
        let unknown = catalog.apply_overrides(Catalog::parse("[s]\nx = \"?\"\n", "o").unwrap(), "theme/en.toml");
        assert!(unknown.unwrap_err().contains("`s.x` is not a message key"));
        let placeholder = catalog.apply_overrides(Catalog::parse("[s]\nt = \"{user}\"\n", "o").unwrap(), "o");
        assert!(placeholder.unwrap_err().contains("{user}"));
    }
}

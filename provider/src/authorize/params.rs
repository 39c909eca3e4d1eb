//! The raw parameters of an authorization request, from the query (GET) or the form body
//! (POST), before anything is trusted. Empty values count as absent (RFC 6749 §3.1); a parameter
//! sent twice is remembered so a check can refuse it (RFC 6749 §3.1: "MUST NOT be included more
//! than once").

use std::collections::BTreeMap;

/// The longest value of an ordinary parameter. Generous for any real `state`, hint or `claims`
/// request, small enough that the sealed request fits in a URL.
pub const MAX_VALUE: usize = 2048;
/// The longest request object.
pub const MAX_REQUEST_OBJECT: usize = 16 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawParams {
    values: BTreeMap<String, String>,
    repeated: Vec<String>,
}

impl RawParams {
    pub fn parse(encoded: &str) -> Self {
        let mut params = Self::default();
        for (key, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if value.is_empty() {
                continue;
            }
            if params.values.insert(key.to_string(), value.to_string()).is_some() && !params.repeated.contains(&key.to_string()) {
                params.repeated.push(key.to_string());
            }
        }
        params
    }

    pub fn from_map(values: BTreeMap<String, String>) -> Self {
        Self { values, repeated: Vec::new() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
    }

    pub fn remove(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// The first parameter longer than its limit: a request object may be up to
    /// [`MAX_REQUEST_OBJECT`] bytes, anything else up to [`MAX_VALUE`].
    pub fn oversized(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|(name, value)| value.len() > if name.as_str() == "request" { MAX_REQUEST_OBJECT } else { MAX_VALUE })
            .map(|(name, _)| name.as_str())
    }

    /// Names of parameters that were sent more than once.
    pub fn repeated(&self) -> &[String] {
        &self.repeated
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_repeats_are_noted() {
        let params = RawParams::parse("a=1&b=&c=x%20y&a=2");
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y"));
        assert_eq!(params.repeated(), ["a".to_string()]);
    }
}

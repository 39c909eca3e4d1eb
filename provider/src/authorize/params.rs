//! The raw parameters of an authorization request, from the query (GET) or the form body
//! (POST), before anything is trusted. Empty values count as absent (RFC 6749 §3.1); a parameter
//! sent twice is remembered so a check can refuse it (RFC 6749 §3.1: "MUST NOT be included more
//! than once").

use std::collections::BTreeMap;

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

//! The one error a configuration problem becomes: which key, and what is wrong with it.

use std::fmt;

/// A configuration problem, named precisely enough for an operator to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The dotted key (`server.issuer`), when the problem belongs to one.
    pub key: Option<String>,
    /// What is wrong, in a sentence.
    pub problem: String,
}

impl ConfigError {
    pub fn at(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { key: Some(key.into()), problem: problem.into() }
    }

    pub fn general(problem: impl Into<String>) -> Self {
        Self { key: None, problem: problem.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "configuration error at `{key}`: {}", self.problem),
            None => write!(f, "configuration error: {}", self.problem),
        }
    }
}

impl std::error::Error for ConfigError {}

//! Reading the layers — defaults, file, environment — into validated [`Settings`].

use crate::{ConfigError, Settings};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The environment variable that names a configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "POORT_CONFIG";
/// Environment overrides are `POORT__SECTION__KEY=value`.
pub const ENV_PREFIX: &str = "POORT";
pub const ENV_SEPARATOR: &str = "__";

/// Where the settings came from, for the start-up banner and `poort check-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: Option<PathBuf>,
    pub env_keys: Vec<String>,
}

/// Loads settings from the file named by `file` (or by `POORT_CONFIG`) and the process
/// environment, then validates them.
pub fn load(file: Option<&Path>) -> Result<(Settings, Source), ConfigError> {
    let env: HashMap<String, String> = std::env::vars().collect();
    load_from(file, &env)
}

/// [`load`] with an explicit environment, so tests need not touch the process's.
pub fn load_from(file: Option<&Path>, env: &HashMap<String, String>) -> Result<(Settings, Source), ConfigError> {
    let file = file.map(Path::to_path_buf).or_else(|| env.get(CONFIG_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
    let mut builder = config::Config::builder();
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::general(format!("cannot read the configuration file {}: {e}", path.display())))?;
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
    }
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let overrides: HashMap<String, String> =
        env.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let env_keys = {
        let mut keys: Vec<String> = overrides.keys().map(|k| env_key_to_dotted(k)).collect();
        keys.sort();
        keys
    };
    builder = builder.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR)
            .list_separator(",")
            .with_list_parse_key("keys.algorithms")
            .with_list_parse_key("accounts.trusted_proxies")
            .try_parsing(true)
            .source(Some(overrides.into_iter().collect())),
    );
    let merged = builder.build().map_err(translate)?;
    let settings: Settings = merged.try_deserialize().map_err(translate)?;
    settings.validate()?;
    Ok((settings, Source { file, env_keys }))
}

/// `POORT__SERVER__LISTEN` → `server.listen`.
fn env_key_to_dotted(key: &str) -> String {
    key.trim_start_matches(ENV_PREFIX).trim_start_matches(ENV_SEPARATOR).to_lowercase().replace(ENV_SEPARATOR, ".")
}

/// The `config` crate's errors carry the key in different places; bring them to one shape.
fn translate(error: config::ConfigError) -> ConfigError {
    match error {
        config::ConfigError::Type { key: Some(key), unexpected, expected, .. } => {
            ConfigError::at(key, format!("expected {expected}, found {unexpected}"))
        }
        config::ConfigError::At { error, key: Some(key), .. } => ConfigError::at(key, error.to_string()),
        config::ConfigError::At { error, key: None, .. } => ConfigError::general(error.to_string()),
        config::ConfigError::FileParse { cause, .. } => ConfigError::general(format!("the file is not valid TOML: {cause}")),
        other => ConfigError::general(other.to_string()),
    }
}

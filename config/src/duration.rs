//! Durations written the human way (`"90s"`, `"15m"`, `"7d"`), for serde.

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
use std::time::Duration;

/// Written in the largest whole unit (`"90d"`, `"1h"`, `"20s"`), as a person would.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    let secs = value.as_secs();
    let text = match secs {
        0 => "0s".to_string(),
        s if value.subsec_nanos() != 0 => humantime::format_duration(Duration::from_secs(s)).to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    };
    serializer.serialize_str(&text)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(text.trim())
        .map_err(|e| D::Error::custom(format!("`{text}` is not a duration ({e}); write e.g. \"90s\", \"15m\", \"7d\"")))
}

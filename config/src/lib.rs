//! Poort's typed settings.
//!
//! Settings are read in two stages (as ripgrep does): the layers — built-in defaults, then a TOML
//! file, then `POORT__SECTION__KEY` environment variables — are merged and deserialized into
//! [`Settings`], and [`Settings::validate`] then checks what types alone cannot (URL shapes,
//! pairs that go together). Every default lives in this crate, in the `Default` impls of
//! `settings.rs`; `poort.example.toml` at the repository root documents each one and a test keeps
//! the two in step.

mod connectors;
mod duration;
mod error;
mod load;
mod settings;

pub use connectors::*;
pub use error::ConfigError;
pub use load::{CONFIG_FILE_ENV, ENV_PREFIX, ENV_SEPARATOR, Source, load, load_from};
pub use settings::*;

//! Poort's page and mail templates, static assets and message catalogs (en, nl).
//!
//! Only this crate knows templates. The provider hands it a page or mail name, a [`Locale`] and
//! the data (a JSON object whose shape [`samples`] documents) and gets HTML or a
//! [`RenderedMail`] back. All visible text comes from the message catalogs (`catalogs/*.toml`);
//! templates name texts with the `t` helper (`{{t "consent.asks" client=client.name}}`).
//! Handlebars runs in strict mode, so a missing variable or message key is an error, never an
//! empty gap, and every page and mail is test-rendered when the theme loads.
//!
//! A theme folder (configuration `themes.dir`) overrides any template, asset or catalog text by
//! file name without rebuilding; see README.md beside this crate.

mod builtin;
pub mod catalog;
pub mod keys;
mod locale;
pub mod samples;
mod theme;

pub use catalog::{Catalog, CatalogError};
pub use locale::{Locale, UnknownLocale, negotiate_locale};
pub use theme::{RenderedMail, Theme, ThemeError};

/// The pages, by template name.
pub const PAGES: &[&str] = &[
    "sign_in",
    "consent",
    "error",
    "logged_out",
    "logout_confirm",
    "activate",
    "activation_expired",
    "terms",
    "change_password",
    "forgot_password",
    "reset_password",
    "access_refused",
    "account",
    "federation_error",
];

/// The mails, by name; each has a text and an HTML template (`NAME.txt`, `NAME.html`) and a
/// subject in the catalogs (`mail.NAME.subject`).
pub const MAILS: &[&str] = &["activation", "reset"];

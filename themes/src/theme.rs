//! The loaded theme: built-in templates, catalogs and assets with a theme folder's overrides,
//! compiled once per locale and checked by rendering every sample before the first request.

use crate::builtin::{ASSETS, CATALOGS, TEMPLATES, content_type_for};
use crate::catalog::{Catalog, CatalogError};
use crate::keys::{TemplateKeys, scan_template};
use crate::locale::{Locale, negotiate_locale};
use crate::samples::{mail_samples, page_samples};
use crate::{MAILS, PAGES};
use bytes::Bytes;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason, ScopedJson, no_escape,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a theme could not be loaded or a page or mail not rendered.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("cannot read the theme folder at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("theme folder {path}: {problem}")]
    Folder { path: PathBuf, problem: String },
    #[error("message catalog {0}")]
    Catalog(String),
    #[error("template `{name}` is not valid: {message}")]
    Template { name: String, message: String },
    #[error("no page or mail is named `{0}`")]
    UnknownTemplate(String),
    #[error("the data for `{name}` does not fit its template: {problem}")]
    Data { name: String, problem: String },
    #[error("`{name}` ({locale}) cannot be rendered: {message}")]
    Render { name: String, locale: Locale, message: String },
    #[error("{0}")]
    Text(#[from] CatalogError),
}

/// A mail ready to send: its subject and both bodies, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// Which mail this is (`activation`, `reset`): safe to log, unlike the bodies.
    pub name: String,
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// The theme: render pages and mails, look up texts, serve assets. Cheap to share behind an
/// `Arc`; nothing in it changes after [`Theme::load`].
pub struct Theme {
    default_locale: Locale,
    locales: Vec<LocaleTheme>,
    assets: BTreeMap<String, (&'static str, Bytes)>,
    asset_version: String,
    overrides: Vec<String>,
}

struct LocaleTheme {
    catalog: Arc<Catalog>,
    /// Pages and HTML mails: every `{{value}}` HTML-escaped.
    html: Handlebars<'static>,
    /// Plain-text mails: nothing escaped.
    text: Handlebars<'static>,
}

impl std::fmt::Debug for Theme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theme")
            .field("default_locale", &self.default_locale)
            .field("assets", &self.assets.keys().collect::<Vec<_>>())
            .field("asset_version", &self.asset_version)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// The files a theme folder overrides or adds.
#[derive(Default)]
struct Overrides {
    templates: HashMap<String, String>,
    assets: Vec<(String, &'static str, Bytes)>,
    catalogs: Vec<(Locale, Catalog, String)>,
    files: Vec<String>,
}

impl Theme {
    /// Loads the built-in theme, with the templates, assets and catalog texts of `dir` (a theme
    /// folder: `templates/NAME.hbs`, `assets/FILE`, `catalogs/LOCALE.toml`) in place of the
    /// built-in ones. Everything is read, compiled and test-rendered now, so a broken theme fails
    /// here with the file at fault rather than later on a user's screen.
    pub fn load(dir: Option<&Path>, default_locale: Locale) -> Result<Theme, ThemeError> {
        let overrides = match dir {
            Some(dir) => read_folder(dir)?,
            None => Overrides::default(),
        };

        let mut catalogs = Vec::new();
        for locale in Locale::ALL {
            let (_, text) = CATALOGS.iter().find(|(tag, _)| *tag == locale.as_str()).expect("a catalog per locale");
            let mut catalog =
                Catalog::parse(text, &format!("catalogs/{locale}.toml (built in)")).map_err(ThemeError::Catalog)?;
            for (_, partial, origin) in overrides.catalogs.iter().filter(|(l, _, _)| *l == locale) {
                catalog.apply_overrides(partial.clone(), origin).map_err(ThemeError::Catalog)?;
            }
            catalogs.push(Arc::new(catalog));
        }

        let templates: Vec<(&str, &str)> = TEMPLATES
            .iter()
            .map(|(name, text)| (*name, overrides.templates.get(*name).map_or(*text, String::as_str)))
            .collect();
        // A key a template names must exist; checked before rendering so that even a branch
        // the samples do not reach cannot show a missing text.
        for (name, text) in &templates {
            let mut found = TemplateKeys::default();
            scan_template(text, &mut found);
            if let Some(key) = found.keys.iter().find(|key| !catalogs[0].contains(key)) {
                return Err(ThemeError::Template {
                    name: (*name).to_string(),
                    message: format!("it uses the unknown message key `{key}`"),
                });
            }
        }

        let mut locales = Vec::new();
        for (locale, catalog) in Locale::ALL.into_iter().zip(catalogs) {
            locales.push(LocaleTheme::compile(&templates, catalog)?);
            debug_assert_eq!(locales.len() - 1, locale.index());
        }

        let mut assets: BTreeMap<String, (&'static str, Bytes)> = ASSETS
            .iter()
            .map(|(name, content_type, bytes)| ((*name).to_string(), (*content_type, Bytes::from_static(bytes))))
            .collect();
        for (name, content_type, bytes) in overrides.assets {
            assets.insert(name, (content_type, bytes));
        }
        let asset_version = version_of(&assets);

        let theme = Theme { default_locale, locales, assets, asset_version, overrides: overrides.files };
        theme.check_samples()?;
        Ok(theme)
    }

    /// The language of pages when neither the request nor the browser chooses one.
    pub fn default_locale(&self) -> Locale {
        self.default_locale
    }

    /// [`negotiate_locale`] with this theme's default.
    pub fn negotiate(&self, ui_locales: Option<&str>, accept_language: Option<&str>) -> Locale {
        negotiate_locale(ui_locales, accept_language, self.default_locale.as_str())
    }

    /// The theme folder's files in use, relative to the folder (for the start-up log).
    pub fn overridden_files(&self) -> &[String] {
        &self.overrides
    }

    /// Renders a page (one of [`PAGES`]) as an HTML document. `data` must have the page's
    /// variables (see [`crate::samples`]); every value is HTML-escaped.
    pub fn render_page(&self, name: &str, locale: Locale, data: &Value) -> Result<String, ThemeError> {
        if !PAGES.contains(&name) {
            return Err(ThemeError::UnknownTemplate(name.to_string()));
        }
        let context = self.context(name, &page_samples(name)[0], data, locale)?;
        self.locales[locale.index()].html.render(name, &context).map_err(|e| render_error(name, locale, &e))
    }

    /// Renders a mail (one of [`MAILS`]): the subject from the catalog (`mail.NAME.subject`,
    /// placeholders filled from `data`), a plain-text body and an HTML body.
    pub fn render_mail(&self, name: &str, locale: Locale, data: &Value) -> Result<RenderedMail, ThemeError> {
        if !MAILS.contains(&name) {
            return Err(ThemeError::UnknownTemplate(name.to_string()));
        }
        let context = self.context(name, &mail_samples(name)[0], data, locale)?;
        let theme = &self.locales[locale.index()];
        let parameters: HashMap<&str, String> = context
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| scalar_text(v).map(|t| (k.as_str(), t)))
            .collect();
        let subject = theme.catalog.format(&format!("mail.{name}.subject"), &parameters)?;
        let text_name = format!("{name}.txt");
        let html_name = format!("{name}.html");
        let text = theme.text.render(&text_name, &context).map_err(|e| render_error(&text_name, locale, &e))?;
        let html = theme.html.render(&html_name, &context).map_err(|e| render_error(&html_name, locale, &e))?;
        Ok(RenderedMail { name: name.to_string(), subject, text: tidy_text(&text), html })
    }

    /// A catalog text with its placeholders filled, for the few texts code shows outside a
    /// template (the key should be listed in [`crate::keys`]).
    pub fn translate(&self, locale: Locale, key: &str, parameters: &[(&str, &str)]) -> Result<String, ThemeError> {
        let parameters = parameters.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
        Ok(self.locales[locale.index()].catalog.format(key, &parameters)?)
    }

    /// Whether the catalogs have `key` (they all have the same keys).
    pub fn has_key(&self, key: &str) -> bool {
        self.locales[0].catalog.contains(key)
    }

    /// A static asset by file name (`style.css`, `logo.svg`, `password-meter.js`, or a file the
    /// theme folder adds): its content type and bytes.
    pub fn asset(&self, name: &str) -> Option<(&'static str, Bytes)> {
        self.assets.get(name).map(|(content_type, bytes)| (*content_type, bytes.clone()))
    }

    /// The names of all assets.
    pub fn asset_names(&self) -> impl Iterator<Item = &str> {
        self.assets.keys().map(String::as_str)
    }

    /// A short fingerprint of all assets, appended to their URLs by the templates
    /// (`/assets/style.css?v=…`) so browsers fetch them again when the theme changes; the same
    /// on every node with the same theme.
    pub fn asset_version(&self) -> &str {
        &self.asset_version
    }

    fn context(&self, name: &str, sample: &Value, data: &Value, locale: Locale) -> Result<Value, ThemeError> {
        let data_error = |problem: String| ThemeError::Data { name: name.to_string(), problem };
        let Value::Object(fields) = data else {
            return Err(data_error("the data must be an object".into()));
        };
        check_shape(sample, data, "").map_err(data_error)?;
        let mut context: Map<String, Value> = fields.clone();
        context.insert("lang".into(), Value::String(locale.as_str().into()));
        context.insert("asset_version".into(), Value::String(self.asset_version.clone()));
        Ok(Value::Object(context))
    }

    /// Renders every sample of every page and mail in every locale.
    fn check_samples(&self) -> Result<(), ThemeError> {
        let as_template_error = |error: ThemeError| match error {
            ThemeError::Render { name, locale, message } => {
                ThemeError::Template { name, message: format!("rendering its sample ({locale}) failed: {message}") }
            }
            other => other,
        };
        for locale in Locale::ALL {
            for name in PAGES {
                for sample in page_samples(name) {
                    self.render_page(name, locale, &sample).map_err(as_template_error)?;
                }
            }
            for name in MAILS {
                for sample in mail_samples(name) {
                    self.render_mail(name, locale, &sample).map_err(as_template_error)?;
                }
            }
        }
        Ok(())
    }
}

impl LocaleTheme {
    fn compile(templates: &[(&str, &str)], catalog: Arc<Catalog>) -> Result<LocaleTheme, ThemeError> {
        let mut html = Handlebars::new();
        let mut text = Handlebars::new();
        text.register_escape_fn(no_escape);
        for registry in [&mut html, &mut text] {
            registry.set_strict_mode(true);
            registry.register_helper("t", Box::new(Translate(catalog.clone())));
            registry.register_helper("t_known", Box::new(TranslateKnown(catalog.clone())));
            registry.register_helper("duration", Box::new(DurationText(catalog.clone())));
        }
        for (name, source) in templates {
            let registry = if name.ends_with(".txt") { &mut text } else { &mut html };
            registry
                .register_template_string(name, *source)
                .map_err(|e| ThemeError::Template { name: (*name).to_string(), message: e.to_string() })?;
        }
        Ok(LocaleTheme { catalog, html, text })
    }
}

fn render_error(name: &str, locale: Locale, error: &RenderError) -> ThemeError {
    ThemeError::Render { name: name.to_string(), locale, message: error.to_string() }
}

/// `{{t "key" name=value …}}`: a catalog text with its placeholders filled. The key may be a
/// literal or a variable holding a key (`{{t message_key}}`).
struct Translate(Arc<Catalog>);

impl HelperDef for Translate {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let key = string_param(h, 0, "t")?;
        let mut parameters = HashMap::new();
        for (name, value) in h.hash() {
            let text = scalar_text(value.value()).ok_or_else(|| {
                helper_error(format!("parameter `{name}` of the text `{key}` is missing, null or not a single value"))
            })?;
            parameters.insert(*name, text);
        }
        let text = self.0.format(&key, &parameters).map_err(|e| helper_error(e.to_string()))?;
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

/// `{{t_known "consent.scope" name}}`: the text of `consent.scope.NAME` when the catalog has
/// one, else `NAME` itself (a scope Poort has no description for).
struct TranslateKnown(Arc<Catalog>);

impl HelperDef for TranslateKnown {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let prefix = string_param(h, 0, "t_known")?;
        let name = string_param(h, 1, "t_known")?;
        let key = format!("{prefix}.{name}");
        let text = match self.0.raw(&key) {
            Some(_) => self.0.format(&key, &HashMap::new()).map_err(|e| helper_error(e.to_string()))?,
            None => name,
        };
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

/// `{{duration seconds}}`: a length of time in words ("7 days", "1 uur", "90 minutes").
struct DurationText(Arc<Catalog>);

impl HelperDef for DurationText {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let seconds = h
            .param(0)
            .and_then(|p| p.value().as_u64())
            .ok_or_else(|| helper_error("duration needs a number of seconds"))?;
        let (unit, n) = duration_parts(seconds);
        let key = format!("duration.{unit}_{}", if n == 1 { "one" } else { "other" });
        let text =
            self.0.format(&key, &HashMap::from([("n", n.to_string())])).map_err(|e| helper_error(e.to_string()))?;
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

/// The largest whole unit a duration is written in: days or hours when it is a whole number of
/// them, else minutes (rounded up, at least one).
fn duration_parts(seconds: u64) -> (&'static str, u64) {
    if seconds >= 86_400 && seconds.is_multiple_of(86_400) {
        ("days", seconds / 86_400)
    } else if seconds >= 3_600 && seconds.is_multiple_of(3_600) {
        ("hours", seconds / 3_600)
    } else {
        ("minutes", seconds.div_ceil(60).max(1))
    }
}

fn helper_error(message: impl Into<String>) -> RenderError {
    RenderErrorReason::Other(message.into()).into()
}

fn string_param(h: &Helper<'_>, index: usize, helper: &'static str) -> Result<String, RenderError> {
    match h.param(index).map(|p| p.value()) {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(RenderErrorReason::ParamNotFoundForIndex(helper, index).into()),
    }
}

/// A string, number or boolean as text; `None` for null, lists and objects.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Checks `actual` against the shape of `expected`: the same object keys at every depth, lists
/// where lists are expected (each element against the first expected one). `null` fits anything.
fn check_shape(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    let at = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match (expected, actual) {
        (_, Value::Null) => Ok(()),
        (Value::Object(expected), Value::Object(actual)) => {
            if let Some(key) = expected.keys().find(|key| !actual.contains_key(*key)) {
                return Err(format!("`{}` is missing (use null for no value)", at(key)));
            }
            if let Some(key) = actual.keys().find(|key| !expected.contains_key(*key)) {
                return Err(format!("`{}` is not a variable of this template", at(key)));
            }
            expected.iter().try_for_each(|(key, value)| check_shape(value, &actual[key], &at(key)))
        }
        (Value::Object(_), _) => Err(format!("`{path}` must be an object")),
        (Value::Array(expected), Value::Array(actual)) => match expected.first() {
            Some(first) => {
                actual.iter().enumerate().try_for_each(|(i, item)| check_shape(first, item, &format!("{path}[{i}]")))
            }
            None => Ok(()),
        },
        (Value::Array(_), _) => Err(format!("`{path}` must be a list")),
        (_, Value::Object(_) | Value::Array(_)) => Err(format!("`{path}` must be a single value")),
        _ => Ok(()),
    }
}

/// Plain-text mail bodies: no trailing spaces, at most one empty line in a row, one final newline.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut empty_lines = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            empty_lines += 1;
            if empty_lines > 1 {
                continue;
            }
        } else {
            empty_lines = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// FNV-1a over the assets' names and bytes: stable across processes and builds.
fn version_of(assets: &BTreeMap<String, (&'static str, Bytes)>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, (_, bytes)) in assets {
        for byte in name.as_bytes().iter().chain([0u8].iter()).chain(bytes.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:012x}", hash >> 16)
}

/// Reads a theme folder: `templates/`, `assets/` and `catalogs/`, each holding only files Poort
/// knows what to do with. Hidden files and a README or LICENSE beside them are ignored.
fn read_folder(dir: &Path) -> Result<Overrides, ThemeError> {
    let folder_error = |problem: String| ThemeError::Folder { path: dir.to_path_buf(), problem };
    let mut overrides = Overrides::default();
    for entry in entries(dir)? {
        let (name, path, is_dir) = entry;
        match (name.as_str(), is_dir) {
            ("templates", true) => {
                for (file, path, is_dir) in entries(&path)? {
                    let template = file.strip_suffix(".hbs").filter(|stem| TEMPLATES.iter().any(|(t, _)| t == stem));
                    let Some(template) = template.filter(|_| !is_dir) else {
                        let known: Vec<String> = TEMPLATES.iter().map(|(t, _)| format!("{t}.hbs")).collect();
                        return Err(folder_error(format!(
                            "templates/{file} is not a template of Poort (known: {})",
                            known.join(", ")
                        )));
                    };
                    let text = read_text(&path)?;
                    overrides.templates.insert(template.to_string(), text);
                    overrides.files.push(format!("templates/{file}"));
                }
            }
            ("assets", true) => {
                for (file, path, is_dir) in entries(&path)? {
                    let builtin =
                        ASSETS.iter().find(|(asset, _, _)| *asset == file).map(|(_, content_type, _)| *content_type);
                    let content_type = builtin.or_else(|| content_type_for(&file));
                    let valid_name = file.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                    let Some(content_type) = content_type.filter(|_| valid_name && !is_dir) else {
                        return Err(folder_error(format!(
                            "assets/{file} cannot be served: assets are files named with letters, digits, '.', '-' \
                             and '_' that are stylesheets, images or fonts"
                        )));
                    };
                    let bytes = std::fs::read(&path).map_err(|source| ThemeError::Io { path: path.clone(), source })?;
                    overrides.assets.push((file.clone(), content_type, Bytes::from(bytes)));
                    overrides.files.push(format!("assets/{file}"));
                }
            }
            ("catalogs", true) => {
                for (file, path, is_dir) in entries(&path)? {
                    let locale =
                        file.strip_suffix(".toml").and_then(|tag| Locale::ALL.into_iter().find(|l| l.as_str() == tag));
                    let Some(locale) = locale.filter(|_| !is_dir) else {
                        return Err(folder_error(format!(
                            "catalogs/{file} is not a catalog (expected en.toml or nl.toml)"
                        )));
                    };
                    let origin = format!("{}", path.display());
                    let catalog = Catalog::parse(&read_text(&path)?, &origin).map_err(ThemeError::Catalog)?;
                    overrides.catalogs.push((locale, catalog, origin));
                    overrides.files.push(format!("catalogs/{file}"));
                }
            }
            _ if name.starts_with('.') => {}
            _ if !is_dir && (name.starts_with("README") || name.starts_with("LICENSE")) => {}
            _ => {
                return Err(folder_error(format!(
                    "`{name}` is not part of a theme (a theme folder holds templates/, assets/ and catalogs/)"
                )));
            }
        }
    }
    overrides.files.sort();
    Ok(overrides)
}

/// A folder's entries (name, path, is a folder), sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, ThemeError> {
    let io_error = |source| ThemeError::Io { path: dir.to_path_buf(), source };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let path = entry.path();
        let is_dir = path.is_dir();
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push((name, path, is_dir));
    }
    found.sort();
    Ok(found)
}

fn read_text(path: &Path) -> Result<String, ThemeError> {
    std::fs::read_to_string(path).map_err(|source| ThemeError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration_parts(7 * 86_400), ("days", 7));
        assert_eq!(duration_parts(86_400), ("days", 1));
        assert_eq!(duration_parts(3_600), ("hours", 1));
        assert_eq!(duration_parts(36 * 3_600), ("hours", 36));
        assert_eq!(duration_parts(5_400), ("minutes", 90));
        assert_eq!(duration_parts(61), ("minutes", 2));
        assert_eq!(duration_parts(0), ("minutes", 1));
    }

    #[test]
    fn shapes_must_match_at_every_depth() {
        let sample = json!({ "a": 1, "o": { "x": "y" }, "l": [{ "k": 1 }], "s": [] });
        assert_eq!(check_shape(&sample, &json!({ "a": "2", "o": null, "l": [], "s": ["z"] }), ""), Ok(()));
        let missing = check_shape(&sample, &json!({ "a": 1, "o": {}, "l": [], "s": [] }), "").unwrap_err();
        assert!(missing.contains("`o.x` is missing"), "{missing}");
        let extra = check_shape(&sample, &json!({ "a": 1, "b": 2, "o": null, "l": [], "s": [] }), "").unwrap_err();
        assert!(extra.contains("`b` is not a variable"), "{extra}");
        let nested = check_shape(&sample, &json!({ "a": 1, "o": null, "l": [{ "k": 1 }, { "j": 1 }], "s": [] }), "");
        assert!(nested.unwrap_err().contains("`l[1].k` is missing"));
        let kind = check_shape(&sample, &json!({ "a": [1], "o": null, "l": [], "s": [] }), "").unwrap_err();
        assert!(kind.contains("`a` must be a single value"), "{kind}");
    }

    #[test]
    fn text_bodies_are_tidied() {
        assert_eq!(tidy_text("\n\nHello,  \n\n\n\nbye\n\n"), "Hello,\n\nbye\n");
    }
}

//! What is compiled into the binary: templates, catalogs and assets. A theme folder overrides
//! any of them by file name (see the crate's README).

/// A template: its name and its built-in text. Pages and mails are rendered by name; partials
/// are used by the others (`{{> password_fields}}`). The file of `name` is `templates/<name>.hbs`.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../templates/layout.hbs")),
    ("client_header", include_str!("../templates/client_header.hbs")),
    ("client_links", include_str!("../templates/client_links.hbs")),
    ("form_messages", include_str!("../templates/form_messages.hbs")),
    ("password_fields", include_str!("../templates/password_fields.hbs")),
    ("sign_in", include_str!("../templates/sign_in.hbs")),
    ("consent", include_str!("../templates/consent.hbs")),
    ("error", include_str!("../templates/error.hbs")),
    ("logged_out", include_str!("../templates/logged_out.hbs")),
    ("logout_confirm", include_str!("../templates/logout_confirm.hbs")),
    ("activate", include_str!("../templates/activate.hbs")),
    ("activation_expired", include_str!("../templates/activation_expired.hbs")),
    ("terms", include_str!("../templates/terms.hbs")),
    ("change_password", include_str!("../templates/change_password.hbs")),
    ("forgot_password", include_str!("../templates/forgot_password.hbs")),
    ("reset_password", include_str!("../templates/reset_password.hbs")),
    ("access_refused", include_str!("../templates/access_refused.hbs")),
    ("account", include_str!("../templates/account.hbs")),
    ("federation_error", include_str!("../templates/federation_error.hbs")),
    ("mail_layout", include_str!("../templates/mail_layout.hbs")),
    ("activation.txt", include_str!("../templates/activation.txt.hbs")),
    ("activation.html", include_str!("../templates/activation.html.hbs")),
    ("reset.txt", include_str!("../templates/reset.txt.hbs")),
    ("reset.html", include_str!("../templates/reset.html.hbs")),
];

/// The catalogs, by locale tag (`catalogs/<tag>.toml`).
pub(crate) const CATALOGS: &[(&str, &str)] =
    &[("en", include_str!("../catalogs/en.toml")), ("nl", include_str!("../catalogs/nl.toml"))];

/// The static assets served under `/assets/`: name, content type, bytes.
pub(crate) const ASSETS: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../assets/style.css")),
    ("logo.svg", "image/svg+xml", include_bytes!("../assets/logo.svg")),
    ("password-meter.js", "text/javascript; charset=utf-8", include_bytes!("../assets/password-meter.js")),
    ("continue-after-frames.js", "text/javascript; charset=utf-8", include_bytes!("../assets/continue-after-frames.js")),
];

/// Content types of the files a theme folder may add under `assets/` beside the built-in ones
/// (images, fonts, stylesheets). Scripts are not among them: the pages' only scripts (the
/// strength meter, the continuation after logout frames) are built in.
pub(crate) fn content_type_for(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

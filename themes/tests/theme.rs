//! The theme's contract: complete catalogs in both languages, pages and mails that render from
//! their documented data (and refuse any other), escaping, the forms' fixed fields, overrides
//! from a theme folder, and the strength meter's estimator.

use poort_themes::keys::{self, TemplateKeys, scan_template};
use poort_themes::{Catalog, Locale, MAILS, PAGES, Theme, ThemeError, samples};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn builtin() -> Theme {
    Theme::load(None, Locale::En).unwrap_or_else(|e| panic!("the built-in theme must load: {e}"))
}

fn catalog(locale: Locale) -> Catalog {
    let path = crate_dir().join(format!("catalogs/{locale}.toml"));
    Catalog::parse(&std::fs::read_to_string(&path).unwrap(), &path.display().to_string()).unwrap()
}

/// Every template file of the crate: (name, text).
fn template_files() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(crate_dir().join("templates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect();
    files.sort();
    files
}

fn template_keys() -> TemplateKeys {
    let mut found = TemplateKeys::default();
    for (_, text) in template_files() {
        scan_template(&text, &mut found);
    }
    found
}

fn page(theme: &Theme, name: &str, locale: Locale) -> String {
    theme.render_page(name, locale, &samples::page_samples(name)[0]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// --- Catalogs ---------------------------------------------------------------------------------

#[test]
fn both_catalogs_have_exactly_the_same_keys() {
    let en: BTreeSet<String> = catalog(Locale::En).keys().map(String::from).collect();
    let nl: BTreeSet<String> = catalog(Locale::Nl).keys().map(String::from).collect();
    let only_en: Vec<_> = en.difference(&nl).collect();
    let only_nl: Vec<_> = nl.difference(&en).collect();
    assert!(only_en.is_empty(), "keys in en.toml but not in nl.toml: {only_en:?}");
    assert!(only_nl.is_empty(), "keys in nl.toml but not in en.toml: {only_nl:?}");
}

#[test]
fn translations_use_the_same_placeholders() {
    let (en, nl) = (catalog(Locale::En), catalog(Locale::Nl));
    for key in en.keys() {
        let a = poort_themes::catalog::placeholders(en.raw(key).unwrap());
        let b = poort_themes::catalog::placeholders(nl.raw(key).unwrap_or_default());
        assert_eq!(a, b, "`{key}` has different placeholders in en and nl");
    }
}

#[test]
fn no_text_is_empty_or_untranslated_by_accident() {
    let (en, nl) = (catalog(Locale::En), catalog(Locale::Nl));
    // Texts that are the same in both languages on purpose.
    let same = ["app.name", "terms.ok", "change_password.submit", "reset_password.submit", "duration.hours_one"];
    for key in en.keys() {
        let (a, b) = (en.raw(key).unwrap(), nl.raw(key).unwrap());
        assert!(!a.trim().is_empty() && !b.trim().is_empty(), "`{key}` is empty");
        if !same.contains(&key) {
            assert_ne!(a, b, "`{key}` is not translated in nl.toml");
        }
    }
}

#[test]
fn every_key_a_template_names_exists() {
    let found = template_keys();
    assert!(!found.keys.is_empty());
    for locale in Locale::ALL {
        let catalog = catalog(locale);
        let missing: Vec<_> = found.keys.iter().filter(|key| !catalog.contains(key)).collect();
        assert!(missing.is_empty(), "templates use keys missing from {locale}.toml: {missing:?}");
        for prefix in &found.prefixes {
            assert!(
                catalog.keys().any(|key| found.uses(key) && key.starts_with(prefix.as_str())),
                "no `{prefix}.*` keys"
            );
        }
    }
}

#[test]
fn every_key_code_uses_exists() {
    for locale in Locale::ALL {
        let catalog = catalog(locale);
        let missing: Vec<_> = keys::code_keys().filter(|key| !catalog.contains(key)).collect();
        assert!(missing.is_empty(), "code uses keys missing from {locale}.toml: {missing:?}");
    }
}

#[test]
fn every_catalog_key_is_used_by_a_template_or_by_code() {
    let found = template_keys();
    let code: BTreeSet<&str> = keys::code_keys().collect();
    let unused: Vec<_> =
        catalog(Locale::En).keys().filter(|key| !found.uses(key) && !code.contains(key)).map(String::from).collect();
    assert!(unused.is_empty(), "catalog keys used nowhere (remove them, or list them in keys.rs): {unused:?}");
}

#[test]
fn dutch_texts_speak_the_language_of_the_help_pages() {
    let nl = catalog(Locale::Nl);
    let expected = [
        ("sign_in.title", "Aanmelden"),
        ("sign_in.submit", "Aanmelden"),
        ("sign_in.user_id", "Gebruikers-ID"),
        ("sign_in.password", "Wachtwoord"),
        ("sign_in.forgot_password", "Wachtwoord vergeten?"),
        ("mail.activation.action", "Nu activeren"),
        ("forgot_password.submit", "Reset wachtwoord"),
        ("change_password.title", "Wachtwoord wijzigen"),
        ("account.change_password", "Wachtwoord wijzigen"),
        ("account.title", "Persoonlijke instellingen"),
        ("password.new", "Nieuw wachtwoord"),
        ("password.confirm", "Wachtwoord bevestigen"),
        ("terms.title", "Servicevoorwaarden"),
        ("terms.accept", "Accepteren"),
        ("terms.ok", "OK"),
        ("change_password.submit", "OK"),
        ("meter.label", "Wachtwoordsterkte"),
        ("forgot_password.contact_admin", "Neem contact op met uw beheerder om een nieuw wachtwoord te ontvangen."),
    ];
    for (key, text) in expected {
        assert_eq!(nl.raw(key), Some(text), "nl `{key}`");
    }
    // Formal address throughout, as in the help pages.
    for key in nl.keys() {
        let text = nl.raw(key).unwrap().to_lowercase();
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
        assert!(!words.contains(&"je") && !words.contains(&"jij") && !words.contains(&"jouw"), "`{key}` is informal");
    }
}

// --- Pages ------------------------------------------------------------------------------------

#[test]
fn every_page_and_mail_renders_every_sample_in_every_language() {
    let theme = builtin();
    for locale in Locale::ALL {
        for name in PAGES {
            let samples = samples::page_samples(name);
            assert!(!samples.is_empty(), "{name} has no sample");
            for sample in samples {
                let html = theme.render_page(name, locale, &sample).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(html.starts_with("<!doctype html>"), "{name}");
                assert!(html.contains(&format!("<html lang=\"{locale}\">")), "{name}");
            }
        }
        for name in MAILS {
            for sample in samples::mail_samples(name) {
                theme.render_mail(name, locale, &sample).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

#[test]
fn the_language_changes_every_text() {
    let theme = builtin();
    let en = page(&theme, "sign_in", Locale::En);
    let nl = page(&theme, "sign_in", Locale::Nl);
    assert!(en.contains("<h1>Sign in</h1>") && en.contains(">User ID</label>") && en.contains("Forgot password?"));
    assert!(
        nl.contains("<h1>Aanmelden</h1>")
            && nl.contains(">Gebruikers-ID</label>")
            && nl.contains("Wachtwoord vergeten?")
    );
    assert!(nl.contains("<title>Aanmelden · Poort</title>"));
}

/// The text of every element: what a person reads. Markup, attributes and comments excluded.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'").replace("&amp;", "&")
}

#[test]
fn all_visible_text_comes_from_the_catalogs() {
    // Render each page with data made only of digits and key names, so any word left in the
    // output must come from a catalog.
    let theme = builtin();
    let (en, nl) = (catalog(Locale::En), catalog(Locale::Nl));
    for name in PAGES {
        let html_en = page(&theme, name, Locale::En);
        let html_nl = page(&theme, name, Locale::Nl);
        let words =
            |html: &str| -> BTreeSet<String> { visible_text(html).split_whitespace().map(String::from).collect() };
        // A word in the English page that is absent from the Dutch one (and vice versa) is text
        // that changes with the language; a word in both is data or punctuation. A template
        // with literal English would show the same word in both.
        let sample_text = samples::page_samples(name)[0].to_string();
        for word in words(&html_en).intersection(&words(&html_nl)) {
            let trimmed = word.trim_matches(|c: char| !c.is_alphanumeric());
            if trimmed.is_empty() || sample_text.contains(trimmed) {
                continue;
            }
            let in_both = en.keys().any(|k| en.raw(k).unwrap().contains(trimmed))
                && nl.keys().any(|k| nl.raw(k).unwrap().contains(trimmed));
            assert!(
                in_both,
                "`{name}` shows `{word}` in both languages, but no catalog has it: literal text in a template?"
            );
        }
    }
}

#[test]
fn sign_in_and_consent_forms_post_the_agreed_fields() {
    let theme = builtin();
    let html = page(&theme, "sign_in", Locale::En);
    for needle in [
        r#"<form method="post" action="/login""#,
        r#"name="ticket" value="ticket-123""#,
        r#"name="csrf_token" value="csrf-123""#,
        r#"name="username" value="jan.jansen@example.com""#,
        r#"type="password" id="password" name="password""#,
    ] {
        assert!(html.contains(needle), "sign_in lacks {needle}");
    }
    let html = page(&theme, "consent", Locale::En);
    for needle in [
        r#"<form method="post" action="/consent""#,
        r#"name="ticket" value="ticket-123""#,
        r#"name="csrf_token" value="csrf-123""#,
        r#"name="decision" value="allow""#,
        r#"name="decision" value="deny""#,
    ] {
        assert!(html.contains(needle), "consent lacks {needle}");
    }
}

#[test]
fn every_form_carries_a_csrf_token() {
    let theme = builtin();
    for name in PAGES {
        for sample in samples::page_samples(name) {
            let html = theme.render_page(name, Locale::En, &sample).unwrap();
            let forms = html.matches("<form ").count();
            let tokens = html.matches(r#"name="csrf_token" value="csrf-123""#).count();
            assert_eq!(forms, tokens, "{name}: every form needs its csrf_token");
            assert!(!html.contains(r#"method="get""#), "{name}: forms post");
        }
    }
}

#[test]
fn pages_escape_every_value() {
    let theme = builtin();
    let mut data = samples::page_samples("sign_in")[0].clone();
    data["username"] = json!(r#""><script>alert(1)</script>"#);
    data["client"]["name"] = json!("<b>Evil & Co</b>");
    data["forgot_password_uri"] = json!(r#"javascript:x" onclick="y"#);
    let html = theme.render_page("sign_in", Locale::En, &data).unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<b>Evil"));
    assert!(
        html.contains("&lt;b&gt;Evil &amp; Co&lt;&#x2F;b&gt;") || html.contains("&lt;b&gt;Evil &amp; Co&lt;/b&gt;")
    );
    assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;"#));
    assert!(!html.contains(r#"" onclick=""#));

    let mut terms = samples::page_samples("terms")[0].clone();
    terms["terms"]["paragraphs"] = json!(["<img src=x onerror=alert(1)>"]);
    let html = theme.render_page("terms", Locale::Nl, &terms).unwrap();
    assert!(html.contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"), "{html}");
}

#[test]
fn pages_have_no_inline_script_or_style() {
    // The pages are served with `script-src 'self'` and `style-src 'self'`.
    let theme = builtin();
    for name in PAGES {
        for sample in samples::page_samples(name) {
            let html = theme.render_page(name, Locale::En, &sample).unwrap();
            assert!(!html.contains("<style"), "{name} has a <style> element");
            assert!(!html.contains(" style="), "{name} has a style attribute");
            for script in html.split("<script").skip(1) {
                let script = script.trim_start();
                assert!(
                    script.starts_with("src=\"/assets/password-meter.js?v=")
                        || script.starts_with("src=\"/assets/continue-after-frames.js?v="),
                    "{name}: inline script"
                );
            }
            let lower = html.to_lowercase();
            for attribute in ["onclick", "onload", "oninput", "onsubmit", "onchange", "onerror", "javascript:"] {
                assert!(!lower.contains(attribute), "{name} has {attribute}");
            }
        }
    }
}

#[test]
fn only_password_pages_load_the_meter() {
    let theme = builtin();
    for name in PAGES {
        let html = page(&theme, name, Locale::En);
        let has_meter = html.contains(r#"id="password-meter""#);
        let has_script = html.contains("/assets/password-meter.js");
        assert_eq!(has_meter, has_script, "{name}: the meter and its script go together");
        assert_eq!(has_meter, ["activate", "reset_password", "change_password"].contains(name), "{name}");
        assert!(html.contains(&format!("/assets/style.css?v={}", theme.asset_version())), "{name}");
        if has_meter {
            // Without JavaScript the meter stays hidden; the script shows it.
            assert!(html.contains("class=\"meter\" id=\"password-meter\" hidden"));
            assert!(html.contains(r#"minlength="10""#) && html.contains(r#"data-min-score="3""#));
            assert!(html.contains(r#"name="password_confirm""#));
        }
    }
}

#[test]
fn password_errors_are_shown_translated_with_their_parameters() {
    let theme = builtin();
    let mut data = samples::page_samples("reset_password")[0].clone();
    data["password_error"] = json!({ "key": "password.reason.too_short", "warning": null, "suggestions": [] });
    let html = theme.render_page("reset_password", Locale::Nl, &data).unwrap();
    assert!(html.contains("Het wachtwoord moet minstens 10 tekens hebben."), "{html}");
    data["password_error"] = json!({
        "key": "password.reason.too_weak",
        "warning": "password.warning.top10",
        "suggestions": ["password.suggestion.add_words", "password.suggestion.avoid_sequences"],
    });
    let html = theme.render_page("reset_password", Locale::En, &data).unwrap();
    assert!(html.contains("This is one of the ten most common passwords."));
    assert!(html.contains("Add another word or two.") && html.contains("Avoid sequences."));
}

#[test]
fn variants_show_what_their_flags_say() {
    let theme = builtin();
    let forgot = samples::page_samples("forgot_password");
    let html = theme.render_page("forgot_password", Locale::Nl, &forgot[2]).unwrap();
    assert!(html.contains("Neem contact op met uw beheerder") && !html.contains("<form"));
    let html = theme.render_page("forgot_password", Locale::Nl, &forgot[1]).unwrap();
    assert!(html.contains("Als er een account bestaat voor dit adres") && !html.contains("<form"));
    let html = theme.render_page("forgot_password", Locale::Nl, &forgot[0]).unwrap();
    assert!(html.contains(r#"action="/password/forgot""#) && html.contains("Reset wachtwoord"));

    let change = samples::page_samples("change_password");
    let html = theme.render_page("change_password", Locale::En, &change[1]).unwrap();
    assert!(html.contains("You sign in through Microsoft 365") && !html.contains("<form"));

    let terms = page(&theme, "terms", Locale::Nl);
    assert!(
        terms.contains("Versie 2025-03") && terms.contains(">Accepteren</label>") && terms.contains(">OK</button>")
    );
    assert!(terms.contains(r#"name="accept" value="yes" required"#) && terms.contains("formnovalidate"));

    let expired = samples::page_samples("activation_expired");
    let html = theme.render_page("activation_expired", Locale::En, &expired[0]).unwrap();
    assert!(html.contains("This activation link has expired.") && html.contains(r#"action="/activate/resend""#));

    let html = page(&theme, "consent", Locale::En);
    assert!(html.contains("<li>see your e-mail address</li>") && html.contains("<li>crm:read</li>"));

    let html = page(&theme, "logged_out", Locale::En);
    assert!(html.contains(
        r#"<iframe class="logout-frame" src="https://crm.example.com/frontchannel-logout?iss&#x3D;x&amp;sid&#x3D;y""#
    ));
}

#[test]
fn data_must_fit_the_template() {
    let theme = builtin();
    let mut data = samples::page_samples("sign_in")[0].clone();
    data.as_object_mut().unwrap().remove("ticket");
    let error = theme.render_page("sign_in", Locale::En, &data).unwrap_err();
    assert!(matches!(error, ThemeError::Data { .. }) && error.to_string().contains("`ticket` is missing"), "{error}");

    let mut data = samples::page_samples("sign_in")[0].clone();
    data["tikcet"] = json!("x");
    let error = theme.render_page("sign_in", Locale::En, &data).unwrap_err();
    assert!(error.to_string().contains("`tikcet` is not a variable"), "{error}");

    let mut data = samples::page_samples("sign_in")[0].clone();
    data["lang"] = json!("de");
    assert!(theme.render_page("sign_in", Locale::En, &data).is_err(), "lang is the theme's own");

    // Strict mode: a value the template prints cannot be null.
    let mut data = samples::page_samples("sign_in")[0].clone();
    data["client"] = Value::Null;
    let error = theme.render_page("sign_in", Locale::En, &data).unwrap_err();
    assert!(matches!(error, ThemeError::Render { .. }), "{error}");

    // A message key that does not exist is an error, not an empty message.
    let mut data = samples::page_samples("error")[0].clone();
    data["message_key"] = json!("error.no_such_key");
    let error = theme.render_page("error", Locale::En, &data).unwrap_err();
    assert!(error.to_string().contains("error.no_such_key"), "{error}");

    assert!(matches!(theme.render_page("nope", Locale::En, &json!({})), Err(ThemeError::UnknownTemplate(_))));
    assert!(matches!(theme.render_mail("sign_in", Locale::En, &json!({})), Err(ThemeError::UnknownTemplate(_))));
    assert!(theme.render_page("error", Locale::En, &json!([])).is_err());
}

// --- Mails ------------------------------------------------------------------------------------

#[test]
fn mails_have_a_subject_a_text_and_an_html_body() {
    let theme = builtin();
    let data = &samples::mail_samples("activation")[0];
    let mail = theme.render_mail("activation", Locale::Nl, data).unwrap();
    assert_eq!(mail.name, "activation");
    assert_eq!(mail.subject, "Activeer uw account");
    // The text body is not HTML: the link is exactly the link.
    assert!(mail.text.contains("\nhttps://id.example.com/activate?token=abc&lang=nl\n"), "{}", mail.text);
    assert!(mail.text.starts_with("Beste Jan Jansen,\n\n"));
    assert!(mail.text.contains("De link is 7 dagen geldig"));
    assert!(!mail.text.contains("&amp;") && !mail.text.contains('<'));
    assert!(mail.html.contains(">Nu activeren</a>"));
    assert!(mail.html.contains(r#"href="https://id.example.com/activate?token&#x3D;abc&amp;lang&#x3D;nl""#));
    assert!(mail.html.contains(r#"<html lang="nl">"#));

    let mail = theme.render_mail("activation", Locale::En, &samples::mail_samples("activation")[1]).unwrap();
    assert!(mail.text.starts_with("Hello,\n\nYour administrator has created an account for you."), "{}", mail.text);
    assert!(mail.text.contains("valid for 90 minutes"));

    let mail = theme.render_mail("reset", Locale::En, &samples::mail_samples("reset")[0]).unwrap();
    assert_eq!(mail.subject, "Reset your password");
    assert!(mail.text.contains("valid for 1 hour"));
    assert!(mail.html.contains(">Choose a new password</a>"));
}

#[test]
fn mail_text_is_not_escaped_but_html_is() {
    let theme = builtin();
    let mut data = samples::mail_samples("reset")[0].clone();
    data["name"] = json!("Jan <Jansen> & \"Zn\"");
    let mail = theme.render_mail("reset", Locale::En, &data).unwrap();
    assert!(mail.text.starts_with("Hello Jan <Jansen> & \"Zn\","), "{}", mail.text);
    assert!(mail.html.contains("Hello Jan &lt;Jansen&gt; &amp; &quot;Zn&quot;,"), "{}", mail.html);
}

// --- Texts for code, locales, assets ----------------------------------------------------------

#[test]
fn code_can_translate_texts() {
    let theme = builtin();
    assert_eq!(theme.translate(Locale::Nl, "sign_in.title", &[]).unwrap(), "Aanmelden");
    assert_eq!(theme.translate(Locale::En, "consent.asks", &[("client", "CRM")]).unwrap(), "CRM would like to:");
    assert!(theme.translate(Locale::En, "consent.asks", &[]).is_err());
    assert!(theme.translate(Locale::En, "no.such.key", &[]).is_err());
    assert!(theme.has_key("password.reason.too_weak") && !theme.has_key("password.reason"));
}

#[test]
fn the_theme_negotiates_with_its_default() {
    let theme = Theme::load(None, Locale::Nl).unwrap();
    assert_eq!(theme.default_locale(), Locale::Nl);
    assert_eq!(theme.negotiate(None, Some("de")), Locale::Nl);
    assert_eq!(theme.negotiate(Some("en"), Some("nl")), Locale::En);
    assert_eq!(theme.negotiate(None, Some("en-GB,nl;q=0.5")), Locale::En);
}

#[test]
fn the_configuration_offers_the_locales_the_theme_has() {
    let tags: Vec<&str> = Locale::ALL.iter().map(|l| l.as_str()).collect();
    assert_eq!(poort_config::SUPPORTED_LOCALES, tags.as_slice());
    assert_eq!(poort_config::Settings::default().themes.default_locale, "en");
}

#[test]
fn assets_are_served_with_their_content_types() {
    let theme = builtin();
    let (content_type, css) = theme.asset("style.css").unwrap();
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert!(std::str::from_utf8(&css).unwrap().contains(".meter.score-4"));
    assert!(!std::str::from_utf8(&css).unwrap().contains("@import"), "no external fonts or stylesheets");
    let (content_type, svg) = theme.asset("logo.svg").unwrap();
    assert_eq!(content_type, "image/svg+xml");
    assert!(svg.starts_with(b"<svg"));
    let (content_type, _) = theme.asset("password-meter.js").unwrap();
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert!(theme.asset("../Cargo.toml").is_none() && theme.asset("nope.css").is_none());
    let (content_type, _) = theme.asset("continue-after-frames.js").unwrap();
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert_eq!(
        theme.asset_names().collect::<Vec<_>>(),
        ["continue-after-frames.js", "logo.svg", "password-meter.js", "style.css"]
    );
    assert_eq!(theme.asset_version().len(), 12);
    assert_eq!(theme.asset_version(), builtin().asset_version(), "the same on every node");
}

#[test]
fn the_theme_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Theme>();
}

// --- Theme folders ----------------------------------------------------------------------------

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_theme_folder_overrides_templates_assets_and_texts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "templates/error.hbs",
        "{{#> layout title_key=\"error.title\"}}<h1 class=\"custom\">{{t message_key}}</h1>{{/layout}}",
    );
    write(root, "assets/style.css", "body { background: hotpink; }");
    write(root, "assets/logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write(root, "assets/background.png", "\u{89}PNG");
    write(root, "catalogs/nl.toml", "[sign_in]\ntitle = \"Inloggen bij Acme\"\n[app]\nname = \"Acme\"\n");
    write(root, "README.md", "Our theme.");
    write(root, ".git/HEAD", "ref");

    let theme = Theme::load(Some(root), Locale::En).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        theme.overridden_files(),
        ["assets/background.png", "assets/logo.svg", "assets/style.css", "catalogs/nl.toml", "templates/error.hbs"]
    );
    let html = theme.render_page("error", Locale::En, &samples::page_samples("error")[0]).unwrap();
    assert!(html.contains("<h1 class=\"custom\">The application asked to return"), "{html}");
    let html = theme.render_page("sign_in", Locale::Nl, &samples::page_samples("sign_in")[0]).unwrap();
    assert!(html.contains("<title>Inloggen bij Acme · Acme</title>"), "{html}");
    assert!(html.contains("<h1>Aanmelden</h1>"), "only the overridden key changes");
    let html = theme.render_page("sign_in", Locale::En, &samples::page_samples("sign_in")[0]).unwrap();
    assert!(html.contains("<title>Sign in · Poort</title>"), "English keeps its texts");

    assert_eq!(&theme.asset("style.css").unwrap().1[..], b"body { background: hotpink; }");
    assert_eq!(theme.asset("background.png").unwrap().0, "image/png");
    assert!(theme.asset("password-meter.js").is_some(), "assets not overridden stay");
    assert_ne!(theme.asset_version(), builtin().asset_version(), "changed assets get new URLs");
}

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in files {
        write(dir.path(), file, text);
    }
    Theme::load(Some(dir.path()), Locale::En).expect_err("the theme should be refused").to_string()
}

#[test]
fn a_broken_theme_folder_is_refused_with_the_file_at_fault() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("templates/sign-in.hbs", "x")], "templates/sign-in.hbs is not a template"),
        (&[("templates/error.html", "x")], "templates/error.html is not a template"),
        (&[("templates/error.hbs", "{{#if}}")], "template `error` is not valid"),
        (&[("templates/error.hbs", "{{t \"error.nope\"}}")], "unknown message key `error.nope`"),
        (&[("templates/error.hbs", "{{t message_key}} {{user.name}}")], "template `error` is not valid"),
        (&[("templates/error.hbs", "{{t \"consent.asks\"}}")], "`consent.asks` needs the parameter `client`"),
        (&[("assets/evil.js", "alert(1)")], "assets/evil.js cannot be served"),
        (&[("assets/page.html", "<p>")], "assets/page.html cannot be served"),
        (&[("catalogs/de.toml", "")], "catalogs/de.toml is not a catalog"),
        (&[("catalogs/en.toml", "[sign_in]\ntitel = \"x\"\n")], "`sign_in.titel` is not a message key"),
        (&[("catalogs/en.toml", "[sign_in]\ntitle = \"{user}\"\n")], "{user}"),
        (&[("catalogs/en.toml", "[sign_in\n")], "not valid TOML"),
        (&[("template/error.hbs", "x")], "`template` is not part of a theme"),
        (&[("notes.txt", "x")], "`notes.txt` is not part of a theme"),
    ];
    for (files, expected) in cases {
        let error = load_error(files);
        assert!(error.contains(expected), "expected `{expected}` in: {error}");
    }
    let missing = Theme::load(Some(Path::new("/nonexistent/theme")), Locale::En).unwrap_err().to_string();
    assert!(missing.contains("/nonexistent/theme"), "{missing}");
}

// --- The strength meter's script --------------------------------------------------------------

#[test]
fn the_meter_script_agrees_with_the_policy_in_obvious_cases() {
    let script = crate_dir().join("assets/password-meter.js");
    let program = format!(
        r#"
const meter = require({script:?});
const personal = ["jan", "jansen", "jan.jansen", "example", "jan.jansen@example.com"];
const cases = [
  ["password123", 0, 1, null], ["wachtwoord", 0, 0, "common"], ["qwertyuiop", 0, 1, "common"],
  ["aaaaaaaaaaaa", 0, 1, "repeat"], ["abcdefghijk", 0, 1, "sequence"], ["Welkom2024!", 0, 1, null],
  ["jan.jansen@example.com", 0, 1, "personal"], ["JanJansen1985", 0, 1, "personal"],
  ["short1", 0, 1, "short"], ["Lantaarn-Kompas-Zeilboot-73", 3, 4, "strong"],
  ["vlinder kompas regen tafel", 3, 4, "strong"], ["Xk9#mQ2$vL7p", 3, 4, "strong"],
];
const failures = [];
for (const [password, low, high, hint] of cases) {{
  const result = meter.assess(password, personal, 10, 3);
  if (result.score < low || result.score > high || (hint && result.hint !== hint)) {{
    failures.push(password + " -> " + JSON.stringify(result));
  }}
}}
if (meter.assess("", [], 10, 3).score !== 0) failures.push("empty");
if (meter.estimate("x".repeat(5000), []).score > 1) failures.push("long input");
if (failures.length) {{ console.error(failures.join("\n")); process.exit(1); }}
console.log("ok " + cases.length);
"#
    );
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(&program)
        .output()
        .unwrap_or_else(|e| panic!("node (Node.js) runs the meter's tests and must be installed: {e}"));
    assert!(
        output.status.success(),
        "the meter script disagrees:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! The HTML the scripted browser needs to read: forms (login, consent, form_post auto-submit),
//! a page's title for messages, and attribute values (a logo's `src`, a link's `href`). Parsing is synchronous and returns owned values, so nothing
//! of the parser is held across an await.

use scraper::{ElementRef, Html, Selector};

/// One `<form>` as a browser would submit it.
#[derive(Clone, Debug, Default)]
pub struct Form {
    /// The raw `action` attribute (absent: the page's own URL).
    pub action: Option<String>,
    /// `get` or `post`, lower-cased (a form without `method` is `get`).
    pub method: String,
    /// The `enctype` attribute, when given.
    pub enctype: Option<String>,
    /// The successful controls (name, value) in document order: inputs (checked ones only for
    /// checkboxes and radios), textareas and selects. Submit buttons are not among them.
    pub fields: Vec<(String, String)>,
    /// Every named submit control (`<button>` or `<input type=submit>`), as (name, value).
    pub buttons: Vec<(String, String)>,
    /// Names of every input of the form, whatever its type.
    pub input_names: Vec<String>,
}

impl Form {
    pub fn has_input(&self, name: &str) -> bool {
        self.input_names.iter().any(|n| n == name)
    }

    pub fn has_button(&self, name: &str, value: &str) -> bool {
        self.buttons.iter().any(|(n, v)| n == name && v == value)
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a valid selector")
}

/// Every form of the document.
pub fn forms(document: &str) -> Vec<Form> {
    let html = Html::parse_document(document);
    let form_selector = selector("form");
    let control_selector = selector("input, button, textarea, select");
    html.select(&form_selector)
        .map(|form| read_form(form, &control_selector))
        .collect()
}

fn read_form(form: ElementRef<'_>, controls: &Selector) -> Form {
    let attrs = form.value();
    let mut out = Form {
        action: attrs.attr("action").map(str::to_string),
        method: attrs
            .attr("method")
            .unwrap_or("get")
            .trim()
            .to_ascii_lowercase(),
        enctype: attrs.attr("enctype").map(str::to_string),
        ..Form::default()
    };
    for control in form.select(controls) {
        let element = control.value();
        let Some(name) = element.attr("name").map(str::to_string) else {
            continue;
        };
        if element.attr("disabled").is_some() {
            continue;
        }
        match element.name() {
            "input" => {
                out.input_names.push(name.clone());
                let kind = element.attr("type").unwrap_or("text").to_ascii_lowercase();
                let value = element.attr("value").unwrap_or("").to_string();
                match kind.as_str() {
                    "submit" | "image" => out.buttons.push((name, value)),
                    "button" | "reset" | "file" => {}
                    "checkbox" | "radio" => {
                        if element.attr("checked").is_some() {
                            out.fields.push((
                                name,
                                if element.attr("value").is_some() {
                                    value
                                } else {
                                    "on".into()
                                },
                            ));
                        }
                    }
                    _ => out.fields.push((name, value)),
                }
            }
            "button" => {
                let kind = element
                    .attr("type")
                    .unwrap_or("submit")
                    .to_ascii_lowercase();
                if kind == "submit" {
                    out.buttons
                        .push((name, element.attr("value").unwrap_or("").to_string()));
                }
            }
            "textarea" => out.fields.push((name, control.text().collect())),
            "select" => {
                let options = selector("option");
                let mut chosen = None;
                for option in control.select(&options) {
                    let value = option
                        .value()
                        .attr("value")
                        .map(str::to_string)
                        .unwrap_or_else(|| option.text().collect());
                    if chosen.is_none() || option.value().attr("selected").is_some() {
                        let selected = option.value().attr("selected").is_some();
                        chosen = Some(value);
                        if selected {
                            break;
                        }
                    }
                }
                if let Some(value) = chosen {
                    out.fields.push((name, value));
                }
            }
            _ => {}
        }
    }
    out
}

/// The values of attribute `attribute` of every element matching `css`, in document order,
/// entities decoded (`iframe` / `src` for the frames a browser loads, `a[href]` / `href` for
/// links, `script` / `src` for external scripts, `img` / `src` for a client's logo).
pub fn attribute_values(document: &str, css: &str, attribute: &str) -> Vec<String> {
    let html = Html::parse_document(document);
    html.select(&selector(css))
        .filter_map(|element| element.value().attr(attribute))
        .map(|value| value.trim().to_string())
        .collect()
}

/// How many `<script>` elements have no `src` (inline scripts).
pub fn inline_scripts(document: &str) -> usize {
    let html = Html::parse_document(document);
    html.select(&selector("script"))
        .filter(|s| s.value().attr("src").is_none())
        .count()
}

/// The page's `<title>`, or its first heading, trimmed: enough to say what an OP showed.
pub fn title(document: &str) -> Option<String> {
    let html = Html::parse_document(document);
    for css in ["title", "h1", "h2"] {
        if let Some(element) = html.select(&selector(css)).next() {
            let text: String = element
                .text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if !text.is_empty() {
                return Some(text);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attribute_values() {
        let page = r#"<p><img src="https://rp/logo.png?a=1&amp;b=2" alt=""><a href="https://rp/tos">t</a><a>x</a></p>"#;
        assert_eq!(
            attribute_values(page, "img", "src"),
            ["https://rp/logo.png?a=1&b=2"]
        );
        assert_eq!(attribute_values(page, "a", "href"), ["https://rp/tos"]);
    }

    #[test]
    fn reads_a_login_form_with_hidden_fields_and_buttons() {
        let page = r#"<html><head><title> Sign in </title></head><body>
            <form method="POST" action="/login?x=1&amp;y=2">
              <input type="hidden" name="ticket" value="t&amp;1">
              <input type="hidden" name="csrf_token" value="c">
              <input name="username" value="">
              <input type="password" name="password">
              <input type="checkbox" name="remember">
              <button name="decision" value="allow">Allow</button>
              <button type="button" name="noop">x</button>
            </form></body></html>"#;
        let forms = forms(page);
        assert_eq!(forms.len(), 1);
        let form = &forms[0];
        assert_eq!(form.method, "post");
        assert_eq!(form.action.as_deref(), Some("/login?x=1&y=2"));
        assert_eq!(form.field("ticket"), Some("t&1"));
        assert!(form.has_input("password") && form.has_input("remember"));
        assert_eq!(form.field("remember"), None);
        assert!(form.has_button("decision", "allow"));
        assert_eq!(form.buttons.len(), 1);
        assert_eq!(title(page).as_deref(), Some("Sign in"));
    }

    #[test]
    fn reads_frames_links_and_scripts() {
        let page = r#"<html><head><script src="/a.js"></script><script>x()</script></head><body>
            <a class="button" href="https://rp/bye?state=a&amp;b">Back</a><a name="x">no link</a>
            <iframe src=" https://rp/fc?iss=i&amp;sid=s " hidden></iframe></body></html>"#;
        assert_eq!(attribute_values(page, "iframe", "src"), ["https://rp/fc?iss=i&sid=s"]);
        assert_eq!(attribute_values(page, "a[href]", "href"), ["https://rp/bye?state=a&b"]);
        assert_eq!(attribute_values(page, "script", "src"), ["/a.js"]);
        assert_eq!(inline_scripts(page), 1);
    }
}

//! Server-rendered HTML: one layout, escaping for every value that is not ours, no inline script
//! or style (the CSP forbids both).

use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is escaped, `body` is trusted HTML built with [`escape`].
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Tessera</title><link rel=\"stylesheet\" href=\"/auth/style.css\"></head>\
         <body><header><span class=\"brand\">Tessera</span></header><main>{body}</main></body></html>",
        escape(title)
    );
    out
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// An error banner (role=alert so screen readers announce it), or nothing.
pub fn alert(message: Option<&str>) -> String {
    message.map_or_else(String::new, |m| {
        format!("<p class=\"alert\" role=\"alert\">{}</p>", escape(m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let p = page("<b>", "<p>ok</p>");
        assert!(p.contains("<title>&lt;b&gt; · Tessera</title>"));
        assert!(!p.contains("<script") && !p.contains("style=\""));
        assert_eq!(
            hidden("_csrf", "a\"b"),
            "<input type=\"hidden\" name=\"_csrf\" value=\"a&quot;b\">"
        );
    }
}

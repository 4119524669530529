//! A tiny XML writer for AWS query-protocol responses.

/// Escapes text for XML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// `<name>text</name>`, escaped.
pub fn el(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

/// `<name>text</name>` when present.
pub fn opt(name: &str, text: Option<&str>) -> String {
    text.map(|t| el(name, t)).unwrap_or_default()
}

/// `<name>inner</name>` with raw (already XML) content.
pub fn wrap(name: &str, inner: &str) -> String {
    format!("<{name}>{inner}</{name}>")
}

/// An EC2 list: `<name><item>..</item>...</name>`.
pub fn items(name: &str, parts: impl IntoIterator<Item = String>) -> String {
    let inner: String = parts.into_iter().map(|p| wrap("item", &p)).collect();
    wrap(name, &inner)
}

/// An EC2 tag set.
pub fn tag_set(tags: &std::collections::BTreeMap<String, String>) -> String {
    items(
        "tagSet",
        tags.iter()
            .map(|(k, v)| format!("{}{}", el("key", k), el("value", v))),
    )
}

/// An RDS tag list.
pub fn tag_list(tags: &std::collections::BTreeMap<String, String>) -> String {
    let inner: String = tags
        .iter()
        .map(|(k, v)| wrap("Tag", &format!("{}{}", el("Key", k), el("Value", v))))
        .collect();
    wrap("TagList", &inner)
}

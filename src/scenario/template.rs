//! `{{name}}` templates in scenario text: variables, captures, and a few built-ins.

use std::collections::HashMap;

/// Text with `{{variable}}` references, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpl {
    source: String,
    parts: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A reference that is not a variable name, with its byte offset in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Tpl {
    pub fn parse(text: &str) -> Result<Tpl, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                return Err(TemplateError { offset: offset + start, message: "`{{` is never closed with `}}`".into() });
            };
            let name = rest[start + 2..start + 2 + len].trim();
            if !valid_name(name) {
                return Err(TemplateError {
                    offset: offset + start,
                    message: format!(
                        "`{{{{{name}}}}}` is not a variable reference (names are letters, digits, `_`, `-`, `.`)"
                    ),
                });
            }
            if start > 0 {
                parts.push(Piece::Text(rest[..start].to_owned()));
            }
            parts.push(Piece::Var(name.to_owned()));
            offset += start + 2 + len + 2;
            rest = &rest[start + 2 + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(Piece::Text(rest.to_owned()));
        }
        Ok(Tpl { source: text.to_owned(), parts })
    }

    /// A template with no references.
    pub fn literal(text: &str) -> Tpl {
        Tpl { source: text.to_owned(), parts: vec![Piece::Text(text.to_owned())] }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables it refers to.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills it in; `escape` is applied to each value (to quote values inside a regex, say).
    pub fn render_with(
        &self,
        vars: &HashMap<String, String>,
        escape: impl Fn(&str) -> String,
    ) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => match vars.get(v) {
                    Some(value) => out.push_str(&escape(value)),
                    None => return Err(format!("variable `{v}` has no value yet")),
                },
            }
        }
        Ok(out)
    }

    pub fn render(&self, vars: &HashMap<String, String>) -> Result<String, String> {
        self.render_with(vars, str::to_owned)
    }

    /// A regular expression matching what this template renders to, the variables `open`
    /// names left open, each a capture group (in the order returned); the others take their
    /// values from `vars`. `regex_text`: its own text is a regex (a `matches:` template) rather
    /// than literal text (an `equals` one, anchored whole).
    pub fn open_pattern(
        &self,
        vars: &HashMap<String, String>,
        open: &dyn Fn(&str) -> bool,
        regex_text: bool,
    ) -> Result<(String, Vec<String>), String> {
        let mut pattern = String::new();
        let mut names = Vec::new();
        for p in &self.parts {
            match p {
                Piece::Text(t) if regex_text => pattern.push_str(t),
                Piece::Text(t) => pattern.push_str(&regex::escape(t)),
                Piece::Var(v) if open(v) => {
                    pattern.push_str("(.+?)");
                    names.push(v.clone());
                }
                Piece::Var(v) => match vars.get(v) {
                    Some(value) => pattern.push_str(&regex::escape(value)),
                    None => return Err(format!("variable `{v}` has no value yet")),
                },
            }
        }
        Ok(if regex_text { (pattern, names) } else { (format!("^{pattern}$"), names) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_a_panic(text in "[{} a-z_|:.\"]{0,30}") {
            let _ = Tpl::parse(&text);
        }
    }

    #[test]
    fn parses_and_renders() {
        let t = Tpl::parse("/api/sessionMngr/?v={{api_version}}&x={{ vm }}").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["api_version", "vm"]);
        let vars =
            HashMap::from([("api_version".to_owned(), "latest".to_owned()), ("vm".to_owned(), "a.b".to_owned())]);
        assert_eq!(t.render(&vars).unwrap(), "/api/sessionMngr/?v=latest&x=a.b");
        assert_eq!(t.render_with(&vars, |v| v.replace('.', "\\.")).unwrap(), "/api/sessionMngr/?v=latest&x=a\\.b");
        assert!(t.render(&HashMap::new()).unwrap_err().contains("api_version"));
    }

    #[test]
    fn an_open_pattern_captures_the_open_variables() {
        let vars = HashMap::from([("v".to_owned(), "a.b".to_owned())]);
        let t = Tpl::parse("^{{vm}}@{{v}}").unwrap();
        let (p, names) = t.open_pattern(&vars, &|n| n == "vm", true).unwrap();
        assert_eq!((p.as_str(), names), ("^(.+?)@a\\.b", vec!["vm".to_owned()]));
        let (p, _) = Tpl::parse("x.{{vm}}").unwrap().open_pattern(&vars, &|_| true, false).unwrap();
        assert_eq!(p, "^x\\.(.+?)$");
    }

    #[test]
    fn rejects_malformed_references() {
        assert_eq!(Tpl::parse("a {{b").unwrap_err().offset, 2);
        assert!(Tpl::parse("{{1x}}").unwrap_err().message.contains("not a variable"));
    }
}

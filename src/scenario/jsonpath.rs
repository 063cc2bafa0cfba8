//! The JSONPath scenarios need: `$`, `.key`, `['key']`, `[n]`, `[-1]`, `[*]`, `..key`, and
//! filters `[?(@.Rel == 'Alternate')]` with `==` and `!=` (`&&` to combine).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPathError {
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Deep(String),
    Index(i64),
    All,
    Filter(Vec<(Vec<String>, bool, Value)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    source: String,
    segs: Vec<Seg>,
}

fn ident_end(s: &str, from: usize) -> usize {
    s[from..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).map_or(s.len(), |i| from + i)
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<JsonPath, JsonPathError> {
        let err = |offset: usize, message: &str| Err(JsonPathError { offset, message: message.to_owned() });
        let s = source.trim();
        if !s.starts_with('$') {
            return err(0, "a JSON path starts with `$`");
        }
        let mut segs = Vec::new();
        let mut i = 1;
        while i < s.len() {
            let rest = &s[i..];
            if let Some(r) = rest.strip_prefix("..") {
                let end = ident_end(s, i + 2);
                if end == i + 2 {
                    return err(i + 2, "expected a key after `..`");
                }
                segs.push(Seg::Deep(r[..end - i - 2].to_owned()));
                i = end;
            } else if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('*') {
                    segs.push(Seg::All);
                    i += 2;
                    continue;
                }
                let end = ident_end(s, i + 1);
                if end == i + 1 {
                    return err(i + 1, "expected a key after `.`");
                }
                segs.push(Seg::Key(s[i + 1..end].to_owned()));
                i = end;
            } else if rest.starts_with('[') {
                let Some(close) = find_close(rest) else {
                    return err(i, "`[` is never closed");
                };
                let inner = rest[1..close].trim();
                segs.push(if inner == "*" {
                    Seg::All
                } else if let Some(q) = inner.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                    Seg::Key(q.to_owned())
                } else if let Some(q) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    Seg::Key(q.to_owned())
                } else if let Ok(n) = inner.parse::<i64>() {
                    Seg::Index(n)
                } else if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
                    Seg::Filter(parse_filter(f).map_err(|m| JsonPathError { offset: i, message: m })?)
                } else {
                    return err(i, "expected `[n]`, `[*]`, `['key']` or `[?(@.key == 'value')]`");
                });
                i += close + 1;
            } else {
                return err(i, "expected `.key`, `..key` or `[...]`");
            }
        }
        Ok(JsonPath { source: source.to_owned(), segs })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn evaluate<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for seg in &self.segs {
            let mut next = Vec::new();
            for v in current {
                match seg {
                    Seg::Key(k) => next.extend(v.get(k)),
                    Seg::Index(n) => {
                        if let Some(a) = v.as_array() {
                            let i = if *n < 0 { a.len() as i64 + n } else { *n };
                            next.extend(usize::try_from(i).ok().and_then(|i| a.get(i)));
                        }
                    }
                    Seg::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                    Seg::Deep(k) => deep(v, k, &mut next),
                    Seg::Filter(conds) => {
                        let items: Vec<&Value> = match v {
                            Value::Array(a) => a.iter().collect(),
                            other => vec![other],
                        };
                        next.extend(items.into_iter().filter(|item| {
                            conds.iter().all(|(path, negate, want)| {
                                let got = path.iter().try_fold(*item, |x, k| x.get(k));
                                (got.map(|g| loose_eq(g, want)).unwrap_or(false)) != *negate
                            })
                        }));
                    }
                }
            }
            current = next;
        }
        current
    }
}

fn find_close(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_filter(f: &str) -> Result<Vec<(Vec<String>, bool, Value)>, String> {
    f.split("&&")
        .map(|cond| {
            let cond = cond.trim();
            let (lhs, negate, rhs) = if let Some((l, r)) = cond.split_once("==") {
                (l, false, r)
            } else if let Some((l, r)) = cond.split_once("!=") {
                (l, true, r)
            } else {
                return Err(format!("filter `{cond}` needs `==` or `!=`"));
            };
            let path = lhs.trim().strip_prefix("@.").ok_or_else(|| format!("filter `{cond}` must start with `@.`"))?;
            let rhs = rhs.trim();
            let value = if let Some(q) = rhs.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                Value::String(q.to_owned())
            } else {
                serde_json::from_str(rhs).map_err(|_| format!("`{rhs}` is not a value; quote strings with '...'"))?
            };
            Ok((path.split('.').map(str::to_owned).collect(), negate, value))
        })
        .collect()
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    a == b || string_value(a) == string_value(b)
}

fn deep<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(key) {
                out.push(x);
            }
            for x in o.values() {
                deep(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| deep(x, key, out)),
        _ => {}
    }
}

/// A JSON value as scenario text: strings bare, everything else as JSON.
pub fn string_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_evaluates_without_a_panic(source in "[$.@\\[\\]()?=!<>&|'\"*:a-zA-Z0-9 ,-]{0,40}") {
            if let Ok(q) = JsonPath::parse(&source) {
                let doc: Value = serde_json::from_str(r#"{"A":[1,{"B":"x"}],"C":{"D":true}}"#).unwrap();
                let _ = q.evaluate(&doc);
            }
        }
    }

    #[test]
    fn evaluates_the_usual_paths() {
        let doc: Value = serde_json::from_str(
            r#"{"TaskId":"task-1","State":"Finished","Result":{"Message":"Ok","Success":true},
                "Links":[{"Rel":"Delete","Href":"a"},{"Rel":"Related","Href":"b","Type":"RestoreSession"}]}"#,
        )
        .unwrap();
        let get =
            |p: &str| JsonPath::parse(p).unwrap().evaluate(&doc).into_iter().map(string_value).collect::<Vec<_>>();
        assert_eq!(get("$.State"), ["Finished"]);
        assert_eq!(get("$.Result.Success"), ["true"]);
        assert_eq!(get("$.Links[1].Href"), ["b"]);
        assert_eq!(get("$.Links[-1].Rel"), ["Related"]);
        assert_eq!(get("$.Links[*].Rel"), ["Delete", "Related"]);
        assert_eq!(get("$..Href"), ["a", "b"]);
        assert_eq!(get("$.Links[?(@.Rel == 'Related')].Type"), ["RestoreSession"]);
        assert_eq!(get("$['Result']['Message']"), ["Ok"]);
        assert_eq!(get("$.Nope"), Vec::<String>::new());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(JsonPath::parse("State").unwrap_err().message, "a JSON path starts with `$`");
        assert_eq!(JsonPath::parse("$.Links[0").unwrap_err().offset, 7);
        assert!(JsonPath::parse("$.Links[?(@.Rel = 'x')]").unwrap_err().message.contains("=="));
    }
}

//! JSONPath as RFC 9535 defines it (`serde_json_path`): `$.Links[?@.Rel == 'Alternate'].Href`,
//! `$..Href`, `$.Refs[-1]`, slices, `length()`, `match()`, `search()`, `count()`, `value()`.
//! What a user copies from the RFC or another RFC implementation means the same here.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPathError {
    /// Where in the expression it went wrong (characters from its start).
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct JsonPath {
    source: String,
    query: serde_json_path::JsonPath,
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<JsonPath, JsonPathError> {
        let text = source.trim();
        if !text.starts_with('$') {
            return Err(JsonPathError { offset: 0, message: "a JSON path starts with `$`".into() });
        }
        let query = serde_json_path::JsonPath::parse(text)
            .map_err(|e| JsonPathError { offset: e.position(), message: e.message().to_owned() })?;
        Ok(JsonPath { source: source.to_owned(), query })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The nodes the query selects, in document order.
    pub fn evaluate<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        self.query.query(root).all()
    }
}

/// A selected value as text: a string as it is, anything else as JSON (`true`, `3`).
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
    fn rejects_what_it_cannot_read_saying_where() {
        assert_eq!(JsonPath::parse("State").unwrap_err().message, "a JSON path starts with `$`");
        assert!(JsonPath::parse("$.Links[0").unwrap_err().offset >= 7);
        assert!(JsonPath::parse("$.Links[?(@.Rel = 'x')]").is_err());
    }

    #[test]
    fn filters_combine_with_and_and_strings_never_equal_booleans() {
        let doc: Value =
            serde_json::from_str(r#"{"A":[{"x":"true","y":1},{"x":true,"y":1},{"x":true,"y":2}]}"#).unwrap();
        let count = |p: &str| JsonPath::parse(p).unwrap().evaluate(&doc).len();
        assert_eq!(count("$.A[?@.x == true && @.y == 1]"), 1, "RFC 9535: `&&` inside a filter");
        assert_eq!(count("$.A[?@.x == 'true']"), 1, "a string is not a boolean");
        assert_eq!(count("$.A[?(@.y > 1 || @.x == 'true')]"), 2);
    }
}

//! An OpenAPI 3.0 document the user gives (`--spec swagger.json`, the one in their VBR install):
//! its operations by method and path template, and whether a request or response body is what
//! the operation's schema says, each violation named by its JSON pointer. Veeam's documents
//! hold circular `oneOf`/`allOf` (a model's `oneOf` names subtypes whose `allOf` names the
//! model): [`schema`] walks them without looping.

pub mod schema;

use std::path::Path;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
pub use schema::Violation;

/// A loaded OpenAPI document.
#[derive(Debug)]
pub struct Spec {
    /// The file it came from, for messages.
    pub file: String,
    /// Its `info.version` (`1.3-rev1` for Veeam's), when it says.
    pub version: Option<String>,
    doc: Value,
    operations: Vec<Operation>,
}

/// One method of one path.
#[derive(Debug)]
struct Operation {
    method: String,
    /// `/api/v1/restorePoints/{id}`, split; `None` for a parameter.
    segments: Vec<Option<String>>,
    /// `/paths/~1api~1v1~1restorePoints~1{id}/get`, a pointer into the document.
    pointer: String,
    template: String,
}

/// What a body was checked against, and what was wrong with it.
#[derive(Debug)]
pub struct Checked {
    /// `GET /api/v1/restorePoints/{id} 200`: the operation and the answer it was checked as.
    pub operation: String,
    pub violations: Vec<Violation>,
}

impl Spec {
    /// Reads a document (JSON, or YAML); a malformed one is named by file, line and column.
    pub fn load(path: &Path) -> Result<Spec, Diagnostic> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::at(&file, "", 1, 1, format!("cannot read the OpenAPI document: {e}")))?;
        Spec::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Spec, Diagnostic> {
        let doc: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| {
                Diagnostic::at(file, text, e.line(), e.column(), format!("not an OpenAPI document: {e}"))
            })?
        } else {
            serde_yaml::from_str(text).map_err(|e| crate::diagnostic::yaml_diagnostic(file, text, &e))?
        };
        let openapi = doc.get("openapi").and_then(Value::as_str);
        if !openapi.is_some_and(|v| v.starts_with('3')) {
            let said = match doc.get("swagger") {
                Some(_) => "a Swagger 2.0 document: convert it to OpenAPI 3 (the VBR install serves 3.0)".to_owned(),
                None => "no `openapi: 3.x` key".to_owned(),
            };
            return Err(Diagnostic::at(file, text, 1, 1, format!("not an OpenAPI 3 document: {said}")));
        }
        let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
            return Err(Diagnostic::at(file, text, 1, 1, "the OpenAPI document has no `paths`"));
        };
        let mut operations = Vec::new();
        for (template, item) in paths {
            let Some(item) = item.as_object() else { continue };
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                if item.contains_key(method) {
                    operations.push(Operation {
                        method: method.to_ascii_uppercase(),
                        segments: split(template)
                            .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                            .collect(),
                        pointer: format!("/paths/{}/{method}", escape(template)),
                        template: template.clone(),
                    });
                }
            }
        }
        // A $ref to nowhere is the document's fault, said at load with where it is.
        let mut dangling = Vec::new();
        dangling_refs(&doc, &doc, "", &mut dangling);
        if let Some((at, r)) = dangling.first() {
            let more = if dangling.len() > 1 { format!(" (and {} more)", dangling.len() - 1) } else { String::new() };
            let message = format!("the OpenAPI document's $ref {r} at #{at} names nothing in it{more}");
            return Err(Diagnostic::at(file, text, 1, 1, message));
        }
        let version = doc.pointer("/info/version").and_then(Value::as_str).map(str::to_owned);
        Ok(Spec { file: file.to_owned(), version, doc, operations })
    }

    /// The number of operations it defines.
    pub fn operation_count(&self) -> usize {
        self.operations.len()
    }

    /// Its operations: method and path template (`GET`, `/api/v1/restorePoints/{id}`).
    pub fn operations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.operations.iter().map(|o| (o.method.as_str(), o.template.as_str()))
    }

    /// Whether an operation takes a parameter of this name (its own or its path's).
    pub fn takes_parameter(&self, method: &str, template: &str, name: &str) -> bool {
        let Some(op) = self.operations.iter().find(|o| o.method == method && o.template == template) else {
            return false;
        };
        let path = op.pointer.rsplit_once('/').map_or("", |(p, _)| p);
        [format!("{}/parameters", op.pointer), format!("{path}/parameters")].iter().any(|at| {
            self.doc
                .pointer(at)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|p| self.resolve(p).get("name").and_then(Value::as_str) == Some(name))
        })
    }

    /// The template of the operation a request goes to.
    pub fn template_of(&self, method: &str, path: &str) -> Option<&str> {
        self.operation(method, path).map(|o| o.template.as_str())
    }

    /// The document itself, where schemas' `$ref`s point.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// The JSON schema of an operation's request body.
    pub fn request_schema(&self, method: &str, template: &str) -> Option<&Value> {
        let op = self.operations.iter().find(|o| o.method == method && o.template == template)?;
        json_schema(self.resolve(self.doc.pointer(&format!("{}/requestBody", op.pointer))?))
    }

    /// The JSON schemas of an operation's successful answers, by status.
    pub fn success_schemas(&self, method: &str, template: &str) -> Vec<(String, &Value)> {
        let Some(op) = self.operations.iter().find(|o| o.method == method && o.template == template) else {
            return Vec::new();
        };
        let responses = self.doc.pointer(&format!("{}/responses", op.pointer)).and_then(Value::as_object);
        responses
            .into_iter()
            .flatten()
            .filter(|(code, _)| code.starts_with('2'))
            .filter_map(|(code, r)| Some((code.clone(), json_schema(self.resolve(r))?)))
            .collect()
    }

    /// The operation a request goes to: the template with the most literal segments that fits.
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = split(path).collect();
        self.operations
            .iter()
            .filter(|o| o.method.eq_ignore_ascii_case(method) && o.segments.len() == parts.len())
            .filter(|o| o.segments.iter().zip(&parts).all(|(s, p)| s.as_deref().is_none_or(|s| s == *p)))
            .max_by_key(|o| o.segments.iter().filter(|s| s.is_some()).count())
    }

    /// Checks a JSON request body against the operation's `requestBody`; `None` when the body
    /// is not JSON, or the document knows no such operation or says nothing of a JSON body.
    pub fn check_request(&self, method: &str, path: &str, body: &[u8]) -> Option<Checked> {
        if !looks_like_json(body) {
            return None;
        }
        let op = self.operation(method, path)?;
        let request = self.resolve(self.doc.pointer(&format!("{}/requestBody", op.pointer))?);
        let schema = json_schema(request)?;
        let shown = format!("{} {} request", op.method, op.template);
        Some(Checked { violations: self.check_body(schema, body), operation: shown })
    }

    /// Checks a JSON response body against the operation's answer for `status` (or its
    /// `default`); `None` as for [`Spec::check_request`].
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Option<Checked> {
        if !looks_like_json(body) {
            return None;
        }
        let op = self.operation(method, path)?;
        let responses = self.doc.pointer(&format!("{}/responses", op.pointer))?.as_object()?;
        let class = format!("{}XX", status / 100);
        let response = [status.to_string(), class, "default".to_owned()].iter().find_map(|k| responses.get(k))?;
        let schema = json_schema(self.resolve(response))?;
        let shown = format!("{} {} {status}", op.method, op.template);
        Some(Checked { violations: self.check_body(schema, body), operation: shown })
    }

    /// Both bodies of an exchange, each checked when it is JSON and the document describes it.
    /// `path` may carry a query.
    pub fn check_exchange(&self, method: &str, path: &str, sent: &[u8], status: u16, answer: &[u8]) -> Vec<Checked> {
        let path = path.split('?').next().unwrap_or(path);
        self.check_request(method, path, sent)
            .into_iter()
            .chain(self.check_response(method, path, status, answer))
            .collect()
    }

    fn check_body(&self, schema: &Value, body: &[u8]) -> Vec<Violation> {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => schema::validate(&self.doc, schema, &value),
            Err(e) => vec![Violation {
                pointer: String::new(),
                schema: String::new(),
                message: format!("the body is not JSON: {e}"),
            }],
        }
    }

    /// A `$ref`'d object (a shared response, request body), followed.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(p) => match self.doc.pointer(p) {
                    Some(next) => v = next,
                    None => break,
                },
                None => break,
            }
        }
        v
    }
}

/// Every local `$ref` of `v` (at JSON pointer `at`) that names nothing in `doc`.
fn dangling_refs(doc: &Value, v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                if let Some(p) = r.strip_prefix('#') {
                    if doc.pointer(p).is_none() {
                        out.push((format!("{at}/$ref"), r.to_owned()));
                    }
                }
            }
            for (k, x) in m {
                dangling_refs(doc, x, &format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                dangling_refs(doc, x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Whether a body starts as JSON does (`{` or `[`, after white space).
fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{' || *b == b'[')
}

/// The schema of the JSON content of a request body or response.
fn json_schema(v: &Value) -> Option<&Value> {
    let content = v.get("content")?.as_object()?;
    content.iter().find(|(k, _)| k.contains("json")).and_then(|(_, c)| c.get("schema"))
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('?').next().unwrap_or(path).trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// A JSON pointer's escaping of one token (`/` as `~1`, `~` as `~0`).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"{"openapi": "3.0.1", "info": {"version": "1.3-rev1"}, "paths": {
        "/api/v1/jobs/{id}": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "object", "required": ["id"]}}}}}}},
        "/api/v1/jobs/states": {"get": {"responses": {"200": {"$ref": "#/components/responses/States"}}}}
      }, "components": {"responses": {"States": {"content": {"application/json": {"schema": {"type": "array"}}}}}}}"##;

    #[test]
    fn a_literal_segment_beats_a_parameter_and_shared_responses_are_followed() {
        let spec = Spec::parse("s.json", DOC).unwrap();
        let states = spec.check_response("GET", "/api/v1/jobs/states", 200, b"{}").unwrap();
        assert_eq!(states.operation, "GET /api/v1/jobs/states 200");
        assert_eq!(states.violations[0].message, "expected an array, found an object");
        let job = spec.check_response("GET", "/api/v1/jobs/5b1e", 200, b"{}").unwrap();
        assert_eq!(job.violations[0].message, "`id` is required");
        assert!(spec.check_response("GET", "/api/v1/nothing", 200, b"{}").is_none());
    }

    #[test]
    fn a_malformed_document_is_named_by_line_and_column() {
        let e = Spec::parse("swagger.json", "{\n  \"openapi\": \"3.0.1\",\n  \"paths\": {,}\n}").unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.column), ("swagger.json", 3, 13), "{e}");
        let e = Spec::parse("s.json", r#"{"swagger": "2.0", "paths": {}}"#).unwrap_err();
        assert!(e.message.contains("Swagger 2.0"), "{e}");
        let e = Spec::parse("s.json", r##"{"openapi": "3.0.1", "paths": {"/x": {"get": {"responses": {"200": {"$ref": "#/components/responses/Gone"}}}}}}"##)
            .unwrap_err();
        assert_eq!(
            e.message,
            "the OpenAPI document's $ref #/components/responses/Gone at #/paths/~1x/get/responses/200/$ref names nothing in it"
        );
    }
}

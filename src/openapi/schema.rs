//! Validating a JSON value against an OpenAPI 3.0 schema: `type` (with `nullable`),
//! `required`, `properties`, `additionalProperties`, `items`, `enum`, the `date-time` and `uuid`
//! formats, `minimum`/`maximum`, `allOf`, `anyOf`, and `oneOf` (by its `discriminator` when it
//! has one). Every violation is named by the JSON pointer of the value and the schema it broke.
//!
//! Schemas may be circular (`BackupObjectModel` has `oneOf: [ViBackupObjectModel]`, whose
//! `allOf` is `[BackupObjectModel]`): a `$ref` already being checked at the same place of the
//! value counts as met there (what is checked above it still is), so a cycle ends.

use std::collections::HashSet;

use serde_json::Value;

/// One way a value breaks its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The JSON pointer of the offending value (`/data/3/platformName`; empty for the root).
    pub pointer: String,
    /// The schema it broke (`#/components/schemas/EPlatformType`).
    pub schema: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() { "(the body)" } else { &self.pointer };
        write!(f, "{at}: {}", self.message)?;
        if !self.schema.is_empty() {
            write!(f, " ({})", self.schema)?;
        }
        Ok(())
    }
}

/// Violations of `value` against `schema`, whose `$ref`s point into `doc`; at most 50.
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Vec<Violation> {
    let mut v = Validator { doc, active: HashSet::new(), out: Vec::new() };
    v.check(schema, "#", value, "");
    v.out.truncate(50);
    v.out
}

struct Validator<'a> {
    doc: &'a Value,
    /// `$ref`s being checked, with the pointer of the value each checks.
    active: HashSet<(String, String)>,
    out: Vec<Violation>,
}

/// A value's kind as messages name it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.char_indices().nth(57).map_or(text.len(), |(i, _)| i)])
    } else {
        text
    }
}

impl Validator<'_> {
    fn fail(&mut self, pointer: &str, schema: &str, message: String) {
        if self.out.len() < 200 {
            self.out.push(Violation { pointer: pointer.to_owned(), schema: schema.to_owned(), message });
        }
    }

    /// Whether `value` meets `schema`, without reporting why not.
    fn meets(&mut self, schema: &Value, at: &str, value: &Value, pointer: &str) -> bool {
        let before = self.out.len();
        self.check(schema, at, value, pointer);
        let met = self.out.len() == before;
        self.out.truncate(before);
        met
    }

    fn check(&mut self, schema: &Value, at: &str, value: &Value, pointer: &str) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let key = (r.to_owned(), pointer.to_owned());
            if self.active.contains(&key) || self.active.len() > 64 {
                return;
            }
            let Some(target) = r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) else {
                self.fail(pointer, at, format!("the schema's $ref {r} names nothing in the document"));
                return;
            };
            self.active.insert(key.clone());
            self.check(target, r, value, pointer);
            self.active.remove(&key);
            return;
        }
        let Some(s) = schema.as_object() else { return };
        if value.is_null() {
            let typed = s.contains_key("type") || s.contains_key("properties") || s.contains_key("enum");
            if typed && s.get("nullable") != Some(&Value::Bool(true)) {
                self.fail(pointer, at, "null where the schema allows no null (no `nullable: true`)".into());
            }
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                let article = if matches!(t, "object" | "array" | "integer") { "an" } else { "a" };
                self.fail(pointer, at, format!("expected {article} {t}, found {}", kind(value)));
                return;
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                let names: Vec<String> =
                    options.iter().map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned)).collect();
                self.fail(pointer, at, format!("{} is not one of {}", shown(value), names.join(", ")));
            }
        }
        if let (Some(format), Some(text)) = (s.get("format").and_then(Value::as_str), value.as_str()) {
            let ok = match format {
                "date-time" => crate::vbr::seconds(text).is_some(),
                "uuid" => crate::codec::is_uuid(text),
                _ => true,
            };
            if !ok {
                self.fail(pointer, at, format!("{} is not a {format}", shown(value)));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = s.get("minimum").and_then(Value::as_f64).filter(|m| n < *m) {
                self.fail(pointer, at, format!("{n} is below the minimum {min}"));
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64).filter(|m| n > *m) {
                self.fail(pointer, at, format!("{n} is above the maximum {max}"));
            }
        }
        if let Some(Value::Object(fields)) = Some(value) {
            for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    self.fail(pointer, at, format!("`{name}` is required"));
                }
            }
            let properties = s.get("properties").and_then(Value::as_object);
            for (name, field) in fields {
                let here = format!("{pointer}/{}", super::escape(name));
                match properties.and_then(|p| p.get(name)) {
                    Some(p) => self.check(p, &format!("{at}/properties/{}", super::escape(name)), field, &here),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            self.fail(&here, at, format!("`{name}` is not a property the schema allows"))
                        }
                        Some(extra @ Value::Object(_)) => {
                            self.check(extra, &format!("{at}/additionalProperties"), field, &here)
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Value::Array(values)) = (s.get("items"), value) {
            for (i, item) in values.iter().enumerate() {
                self.check(items, &format!("{at}/items"), item, &format!("{pointer}/{i}"));
            }
        }
        for (i, part) in s.get("allOf").and_then(Value::as_array).into_iter().flatten().enumerate() {
            self.check(part, &format!("{at}/allOf/{i}"), value, pointer);
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            let met =
                any.iter().enumerate().any(|(i, part)| self.meets(part, &format!("{at}/anyOf/{i}"), value, pointer));
            if !met {
                self.fail(pointer, at, format!("matches none of the {} schemas of anyOf", any.len()));
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            self.one_of(s, one, at, value, pointer);
        }
    }

    /// `oneOf`: the branch the discriminator names, or exactly one branch that fits.
    fn one_of(&mut self, s: &serde_json::Map<String, Value>, one: &[Value], at: &str, value: &Value, pointer: &str) {
        if let Some(d) = s.get("discriminator") {
            let Some(property) = d.get("propertyName").and_then(Value::as_str) else { return };
            let Some(tag) = value.get(property).and_then(Value::as_str) else {
                self.fail(pointer, at, format!("`{property}` is required (it picks the schema of oneOf)"));
                return;
            };
            let mapped = d.get("mapping").and_then(|m| m.get(tag)).and_then(Value::as_str).map(str::to_owned);
            let target = mapped.or_else(|| {
                let implicit = format!("#/components/schemas/{tag}");
                one.iter().any(|b| b.get("$ref").and_then(Value::as_str) == Some(&implicit)).then_some(implicit)
            });
            match target {
                Some(r) => self.check(&serde_json::json!({ "$ref": r }), at, value, pointer),
                None => {
                    let known: Vec<String> = d
                        .get("mapping")
                        .and_then(Value::as_object)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    let listed = if known.is_empty() { String::new() } else { format!(" ({})", known.join(", ")) };
                    self.fail(
                        &format!("{pointer}/{property}"),
                        at,
                        format!("\"{tag}\" names no schema of oneOf{listed}"),
                    );
                }
            }
            return;
        }
        let fits = one
            .iter()
            .enumerate()
            .filter(|(i, part)| self.meets(part, &format!("{at}/oneOf/{i}"), value, pointer))
            .count();
        if fits != 1 {
            self.fail(pointer, at, format!("matches {fits} of the {} schemas of oneOf (exactly one must)", one.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Backup": {"type": "object", "required": ["id", "platformName"], "discriminator": {"propertyName": "platformName", "mapping": {"VMware": "#/components/schemas/ViBackup"}},
                       "oneOf": [{"$ref": "#/components/schemas/ViBackup"}],
                       "properties": {"id": {"type": "string", "format": "uuid"}, "platformName": {"$ref": "#/components/schemas/EPlatform"}, "parent": {"$ref": "#/components/schemas/Backup"}}},
            "ViBackup": {"allOf": [{"$ref": "#/components/schemas/Backup"}], "type": "object", "properties": {"viType": {"type": "string", "enum": ["VirtualMachine"]}}},
            "EPlatform": {"type": "string", "enum": ["VMware", "HyperV"]},
            "List": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Backup"}}}}
        }}})
    }

    #[test]
    fn circular_one_of_and_all_of_end_and_violations_name_their_pointer() {
        let d = doc();
        let list = json!({"$ref": "#/components/schemas/List"});
        let good = json!({"data": [{"id": "2a192b21-4d32-4b94-829e-231e8f0c0355", "platformName": "VMware", "viType": "VirtualMachine",
                                    "parent": {"id": "2a192b21-4d32-4b94-829e-231e8f0c0355", "platformName": "VMware"}}]});
        assert_eq!(validate(&d, &list, &good), []);
        let bad = json!({"data": [{"id": "x", "platformName": "VMware", "viType": "Vm"}, {"id": "2a192b21-4d32-4b94-829e-231e8f0c0355", "platformName": "Vmware"}]});
        let shown: Vec<String> = validate(&d, &list, &bad).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "/data/0/id: \"x\" is not a uuid (#/components/schemas/Backup/properties/id)",
                "/data/0/viType: \"Vm\" is not one of VirtualMachine (#/components/schemas/ViBackup/properties/viType)",
                "/data/1/platformName: \"Vmware\" is not one of VMware, HyperV (#/components/schemas/EPlatform)",
                "/data/1/platformName: \"Vmware\" names no schema of oneOf (VMware) (#/components/schemas/Backup)",
            ]
        );
    }

    #[test]
    fn nulls_types_and_required_fields() {
        let d = json!({});
        let s = json!({"type": "object", "required": ["state"], "properties": {"endTime": {"type": "string", "nullable": true}, "usn": {"type": "integer"}, "parentSessionId": {"type": "string"}}});
        let v = json!({"endTime": null, "usn": 1.5, "parentSessionId": null});
        let shown: Vec<String> = validate(&d, &s, &v).iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "(the body): `state` is required (#)",
                "/usn: expected an integer, found a number (#/properties/usn)",
                "/parentSessionId: null where the schema allows no null (no `nullable: true`) (#/properties/parentSessionId)",
            ]
        );
    }
}

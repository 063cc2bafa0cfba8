//! The `RestoreSpec` a restore POST may carry, checked as EM checks it: an empty body is
//! accepted; otherwise a `RestoreSpec` holding one `VmRestoreSpec` whose elements come in the
//! documented order, booleans that are booleans, and `KeepOriginalVM` true only with
//! `QuickRollback` false.

use crate::em::Repr;
use crate::xml;

/// `VmRestoreSpec`'s elements in order, and whether each is required.
const VM_RESTORE_SPEC: [(&str, bool); 5] = [
    ("PowerOnAfterRestore", true),
    ("HierarchyRootUid", false),
    ("QuickRollback", true),
    ("KeepOriginalVM", false),
    ("VmRestoreParameters", false),
];
const BOOLEANS: [&str; 3] = ["PowerOnAfterRestore", "QuickRollback", "KeepOriginalVM"];
/// The other kinds of spec a `RestoreSpec` may hold; taken as they come.
const OTHER_SPECS: [&str; 3] = ["vCloudVmRestoreSpec", "vCloudVAppRestoreSpec", "SqlItemRestoreSpec"];

/// `Err` is the message of EM's 400.
pub(crate) fn check_restore_spec(body: &[u8], repr: Repr) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err("The request body is not UTF-8 text.".into());
    };
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Ok(());
    }
    let fields = if text.starts_with('<') || repr == Repr::Xml && !text.starts_with('{') {
        xml_fields(text)?
    } else {
        json_fields(text)?
    };
    let Some(fields) = fields else { return Ok(()) };
    let mut expected = VM_RESTORE_SPEC.iter().peekable();
    for (name, value) in &fields {
        loop {
            match expected.next() {
                Some((n, _)) if n == name => break,
                Some((n, true)) => {
                    return Err(format!("Error in RestoreSpec: VmRestoreSpec must have {n} before {name}."));
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "Error in RestoreSpec: VmRestoreSpec has {name} where it is not expected (the order is {}).",
                        VM_RESTORE_SPEC.map(|(n, _)| n).join(", ")
                    ));
                }
            }
        }
        if BOOLEANS.contains(&name.as_str()) && !matches!(value.as_deref(), Some("true" | "false")) {
            return Err(format!(
                "Error in RestoreSpec: {name} must be true or false, not {}.",
                value.as_deref().unwrap_or("a structure")
            ));
        }
    }
    if let Some((n, _)) = expected.find(|(_, required)| *required) {
        return Err(format!("Error in RestoreSpec: VmRestoreSpec must have {n}."));
    }
    let value = |n: &str| fields.iter().find(|(f, _)| f == n).and_then(|(_, v)| v.as_deref());
    if value("KeepOriginalVM") == Some("true") && value("QuickRollback") == Some("true") {
        return Err("Error in RestoreSpec: QuickRollback must be false when KeepOriginalVM is true.".into());
    }
    Ok(())
}

/// The `VmRestoreSpec` fields in order (name, scalar text); `None` for another kind of spec.
type Fields = Option<Vec<(String, Option<String>)>>;

fn xml_fields(text: &str) -> Result<Fields, String> {
    let root = xml::parse(text).map_err(|e| format!("The request body is not well-formed XML: {e}."))?;
    if root.name != "RestoreSpec" {
        return Err(format!("Expected a RestoreSpec, got {}.", root.name));
    }
    let specs: Vec<&xml::Element> = root.elements().collect();
    let [spec] = specs.as_slice() else {
        return Err("Error in RestoreSpec: it must hold exactly one VmRestoreSpec.".into());
    };
    if OTHER_SPECS.contains(&spec.name.as_str()) {
        return Ok(None);
    }
    if spec.name != "VmRestoreSpec" {
        return Err(format!("Error in RestoreSpec: unexpected element {}.", spec.name));
    }
    Ok(Some(
        spec.elements()
            .map(|e| (e.name.clone(), if e.elements().next().is_some() { None } else { Some(e.text()) }))
            .collect(),
    ))
}

/// A member of a JSON RestoreSpec, whatever the case of its key: EM 13 writes camelCase and
/// clients written for 12 send PascalCase; what 13 accepts is not documented [INF: both].
fn member<'a>(map: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> Option<&'a serde_json::Value> {
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn json_fields(text: &str) -> Result<Fields, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("The request body is not valid JSON: {e}."))?;
    let Some(map) = value.as_object() else {
        return Err("Expected a RestoreSpec object.".into());
    };
    if map.keys().any(|k| OTHER_SPECS.iter().any(|o| o.eq_ignore_ascii_case(k))) {
        return Ok(None);
    }
    let Some(spec) = member(map, "VmRestoreSpec").and_then(Value::as_object) else {
        return Err("Error in RestoreSpec: it must hold a VmRestoreSpec object.".into());
    };
    if let Some(other) = map.keys().find(|k| !k.eq_ignore_ascii_case("VmRestoreSpec")) {
        return Err(format!("Error in RestoreSpec: unexpected member {other}."));
    }
    // JSON members have no order; take them in the documented one.
    let mut fields = Vec::new();
    for (name, _) in VM_RESTORE_SPEC {
        if let Some(v) = member(spec, name) {
            let scalar = match v {
                Value::Bool(b) => Some(b.to_string()),
                Value::String(s) => Some(format!("\"{s}\"")),
                Value::Object(_) | Value::Array(_) => None,
                other => Some(other.to_string()),
            };
            let scalar = if name == "HierarchyRootUid" { Some(String::new()) } else { scalar };
            fields.push((name.to_owned(), scalar));
        }
    }
    if let Some(unknown) = spec.keys().find(|k| !VM_RESTORE_SPEC.iter().any(|(n, _)| n == k)) {
        return Err(format!("Error in RestoreSpec: VmRestoreSpec has unknown member {unknown}."));
    }
    Ok(Some(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<RestoreSpec xmlns="http://www.veeam.com/ent/v1.0"><VmRestoreSpec><PowerOnAfterRestore>false</PowerOnAfterRestore><QuickRollback>false</QuickRollback><KeepOriginalVM>true</KeepOriginalVM></VmRestoreSpec></RestoreSpec>"#;

    #[test]
    fn documented_specs_and_empty_bodies_are_accepted() {
        assert_eq!(check_restore_spec(b"", Repr::Xml), Ok(()));
        assert_eq!(check_restore_spec(DOC.as_bytes(), Repr::Xml), Ok(()));
        let json = br#"{"VmRestoreSpec":{"PowerOnAfterRestore":false,"HierarchyRootUid":"urn:veeam:HierarchyRoot:1","QuickRollback":false,"VmRestoreParameters":{"VmRestorePointUid":"x"}}}"#;
        assert_eq!(check_restore_spec(json, Repr::Json), Ok(()));
    }

    #[test]
    fn malformed_specs_are_refused_with_the_reason() {
        let cases = [
            ("<RestoreSpec><VmRestoreSpec>", "well-formed"),
            (&DOC.replace("<QuickRollback>false", "<QuickRollback>yes"), "true or false"),
            (&DOC.replace("<QuickRollback>false", "<QuickRollback>true"), "must be false"),
            (&DOC.replace("<PowerOnAfterRestore>false</PowerOnAfterRestore>", ""), "PowerOnAfterRestore"),
            (
                "<RestoreSpec><VmRestoreSpec><QuickRollback>false</QuickRollback><PowerOnAfterRestore>false</PowerOnAfterRestore></VmRestoreSpec></RestoreSpec>",
                "PowerOnAfterRestore",
            ),
            (r#"{"VmRestoreSpec":{"PowerOnAfterRestore":"no","QuickRollback":false}}"#, "true or false"),
            (r#"{"Spec":{}}"#, "VmRestoreSpec"),
        ];
        for (body, why) in cases {
            let err = check_restore_spec(body.as_bytes(), Repr::Xml).expect_err(body);
            assert!(err.contains(why), "{body}: {err}");
        }
    }
}

//! EM's JSON key spelling. EM through 12 writes PascalCase keys (`VmDisplayName`, `UID`); EM 13
//! writes camelCase (`vmDisplayName`, `uid`), as .NET's camelCase naming policy spells them.

/// A key as .NET's camelCase policy writes it: the leading capitals lowered, except the last of a
/// run that starts the next word (`UID` -> `uid`, `NASJobs` -> `nasJobs`, `VAppX` -> `vAppX`).
pub fn camel(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = chars.clone();
    for i in 0..chars.len() {
        if i == 1 && !chars[i].is_uppercase() {
            break;
        }
        if i > 0 && chars.get(i + 1).is_some_and(|c| !c.is_uppercase()) {
            break;
        }
        out[i] = chars[i].to_ascii_lowercase();
    }
    out.into_iter().collect()
}

/// Whether a JSON body's keys are camelCase: its first key starts with a lower-case letter.
pub fn is_camel(body: &str) -> bool {
    first_key(body).is_some_and(|k| k.starts_with(|c: char| c.is_ascii_lowercase()))
}

fn first_key(body: &str) -> Option<&str> {
    let rest = body.trim_start().strip_prefix('{')?.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(k, _)| k)
}

/// `text` (JSON) with every object key in camelCase; values, layout and order as they were.
/// Text that is not JSON passes through as it is.
pub fn camel_keys(text: &str) -> String {
    rename_keys(text, |k| Some(camel(k)))
}

/// `text` (JSON) with the object keys `rename` gives a new spelling for respelled; values,
/// layout and order as they were.
pub fn rename_keys(text: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        // A string: find its end, then whether a `:` follows it (a key).
        let start = i + 1;
        let mut j = start;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(bytes.len());
        let mut k = end + 1;
        while k < bytes.len() && bytes[k].is_ascii_whitespace() {
            k += 1;
        }
        if bytes.get(k) == Some(&b':') {
            let key = &text[start..end];
            if let Some(renamed) = rename(key).filter(|r| r != key) {
                out.push_str(&text[copied..start]);
                out.push_str(&renamed);
                copied = end;
            }
        }
        i = end + 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_as_dotnets_camel_case_policy_spells_them() {
        let cases = [
            ("UID", "uid"),
            ("CreationTimeUTC", "creationTimeUTC"),
            ("NASJobs", "nasJobs"),
            ("VAppRestorePoints", "vAppRestorePoints"),
            ("VmDisplayName", "vmDisplayName"),
            ("Links", "links"),
            ("already", "already"),
            ("A", "a"),
        ];
        for (pascal, camel_case) in cases {
            assert_eq!(camel(pascal), camel_case, "{pascal}");
        }
    }

    #[test]
    fn only_keys_change_and_values_and_layout_stay() {
        let text = r#"{"Links": [{"Rel": "Up", "Href": "x\"Y\": z"}], "UID": "Name", "Size":1}"#;
        assert_eq!(camel_keys(text), r#"{"links": [{"rel": "Up", "href": "x\"Y\": z"}], "uid": "Name", "size":1}"#);
        assert!(is_camel(&camel_keys(text)) && !is_camel(text));
    }
}

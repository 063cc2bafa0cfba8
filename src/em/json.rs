//! EM's JSON key spelling. EM through 12 writes PascalCase keys (`VmDisplayName`, `UID`); EM 13
//! writes camelCase (`vmDisplayName`, `uid`), as .NET's camelCase naming policy spells them.

/// A key as .NET's camelCase policy writes it: the leading capitals lowered, except the last of a
/// run that starts the next word (`UID` -> `uid`, `NASJobs` -> `nasJobs`, `VAppX` -> `vAppX`).
pub fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    camel_into(key, &mut out);
    out
}

/// [`camel`] written onto `out`.
fn camel_into(key: &str, out: &mut String) {
    let mut chars = key.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let next_starts_word = chars.peek().is_some_and(|(_, n)| !n.is_uppercase());
        if (i == 1 && !c.is_uppercase()) || (i > 0 && next_starts_word) {
            out.push(c);
            out.extend(chars.map(|(_, c)| c));
            return;
        }
        out.push(c.to_ascii_lowercase());
    }
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
    respell_keys(text, camel_into)
}

/// `text` (JSON) with the object keys `rename` gives a new spelling for respelled; values,
/// layout and order as they were.
pub fn rename_keys(text: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    respell_keys(text, |key, out| out.push_str(rename(key).as_deref().unwrap_or(key)))
}

/// `text` with each object key as `respell` writes it onto the output; the rest copied as it
/// is, a run at a time (an answer of the query service is tens of megabytes).
fn respell_keys(text: &str, mut respell: impl FnMut(&str, &mut String)) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(quote) = memchr::memchr(b'"', &bytes[i..]) {
        // A string: find its end, then whether a `:` follows it (a key).
        let start = i + quote + 1;
        let mut j = start;
        loop {
            match memchr::memchr2(b'"', b'\\', bytes.get(j..).unwrap_or_default()) {
                Some(at) if bytes[j + at] == b'\\' => j += at + 2,
                Some(at) => break j += at,
                None => break j = bytes.len(),
            }
        }
        let end = j.min(bytes.len());
        let mut k = end + 1;
        while k < bytes.len() && bytes[k].is_ascii_whitespace() {
            k += 1;
        }
        if bytes.get(k) == Some(&b':') {
            out.push_str(&text[copied..start]);
            respell(&text[start..end], &mut out);
            copied = end;
        }
        i = end + 1;
        if i >= bytes.len() {
            break;
        }
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

    /// What `camel_keys` wrote before it respelled keys in place: the same text, always.
    fn camel_keys_by_parts(text: &str) -> String {
        let bytes = text.as_bytes();
        let (mut out, mut copied, mut i) = (String::new(), 0, 0);
        while i < bytes.len() {
            if bytes[i] != b'"' {
                i += 1;
                continue;
            }
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
                let chars: Vec<char> = key.chars().collect();
                let mut camel = chars.clone();
                for i in 0..chars.len() {
                    if (i == 1 && !chars[i].is_uppercase())
                        || (i > 0 && chars.get(i + 1).is_some_and(|c| !c.is_uppercase()))
                    {
                        break;
                    }
                    camel[i] = chars[i].to_ascii_lowercase();
                }
                out.push_str(&text[copied..start]);
                out.extend(camel);
                copied = end;
            }
            i = end + 1;
        }
        out.push_str(&text[copied.min(text.len())..]);
        out
    }

    /// Pieces of keys and values: escapes, words EM spells, non-ASCII letters, a `": ` in a value.
    const PIECES: [&str; 10] = ["UID", "vAppX", "NASJobs", "Links", "\\\"", "\\\\", "\u{e9}", "\u{130}x", "a", "\": "];

    proptest::proptest! {
        /// Keys respelled as the text is copied, a run at a time, give what respelling each
        /// key by parts gave: escapes, unclosed strings, odd spacing and non-ASCII included.
        #[test]
        fn keys_respelled_in_place_are_those_respelled_by_parts(
            members in proptest::collection::vec(
                (
                    proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..4),
                    proptest::sample::select(vec![":", " : ", ",", ""]),
                    proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..4),
                ),
                0..6,
            ),
            cut in 0usize..200,
        ) {
            let mut text: String = members
                .iter()
                .map(|(key, colon, value)| format!("\"{}\"{colon}\"{}\", ", key.concat(), value.concat()))
                .collect();
            // Cut anywhere (a string left open).
            let cut = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.truncate(cut);
            proptest::prop_assert_eq!(camel_keys(&text), camel_keys_by_parts(&text));
        }
    }

    #[test]
    fn only_keys_change_and_values_and_layout_stay() {
        let text = r#"{"Links": [{"Rel": "Up", "Href": "x\"Y\": z"}], "UID": "Name", "Size":1}"#;
        assert_eq!(camel_keys(text), r#"{"links": [{"rel": "Up", "href": "x\"Y\": z"}], "uid": "Name", "size":1}"#);
        assert!(is_camel(&camel_keys(text)) && !is_camel(text));
    }
}

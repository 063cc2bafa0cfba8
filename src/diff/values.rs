//! What a value is, beyond its text: its kind (so a number turning into text is caught), whether
//! it is volatile (ids, timestamps, hosts, names with dates: never drift), and the template of a
//! link's URL (`/api/vmRestorePoints/{id}?format=Entity`).

use serde::Serialize;

use crate::codec::is_uuid;

/// The kinds a value can be; a change of kind is breaking, a change within one is data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bool,
    Integer,
    Decimal,
    Timestamp,
    Id,
    Url,
    Text,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "boolean",
            Kind::Integer => "integer",
            Kind::Decimal => "decimal",
            Kind::Timestamp => "timestamp",
            Kind::Id => "id",
            Kind::Url => "URL",
            Kind::Text => "text",
        }
    }
}

/// The kind of a value; `None` for an empty one.
pub fn kind(v: &str) -> Option<Kind> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    Some(if v == "true" || v == "false" {
        Kind::Bool
    } else if v.strip_prefix('-').unwrap_or(v).bytes().all(|b| b.is_ascii_digit()) {
        Kind::Integer
    } else if v.parse::<f64>().is_ok()
        && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E' | b'+'))
    {
        Kind::Decimal
    } else if is_timestamp(v) {
        Kind::Timestamp
    } else if is_id(v) {
        Kind::Id
    } else if v.starts_with("http://") || v.starts_with("https://") || v.starts_with("{{origin}}") {
        Kind::Url
    } else {
        Kind::Text
    })
}

/// `2025-10-20T20:04:07.267Z` and the like.
fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
}

/// UUIDs, `urn:` names, `task-N`, placeholders and tokens: identities, not content.
pub fn is_id(v: &str) -> bool {
    is_uuid(v)
        || v.starts_with("urn:")
        || v.starts_with("{{")
        || v.strip_prefix("task-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || (v.len() >= 16 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A value that names one of a small set of states: `Running`, `Incremental`, `RestoreVm`.
pub fn enum_like(v: &str) -> bool {
    let mut chars = v.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && v.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Whether a text embeds a date (`ubuntu88@2025-10-20 20:04:07`, `Nov  2 2025  1:41PM`).
pub fn contains_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        let year = w.iter().all(u8::is_ascii_digit) && (w.starts_with(b"19") || w.starts_with(b"20"));
        let bounded = i == 0 || !b[i - 1].is_ascii_digit();
        let after = b.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        year && bounded && after
    })
}

/// A key of a list item that identifies a member of the contract (`v1_7`), not a piece of
/// data (an id, a name with a date in it).
pub fn stable_key(v: &str) -> bool {
    kind(v) == Some(Kind::Text) && !contains_date(v) && !v.contains(['@', ' ', '\\'])
}

/// The template of a link: no scheme or host, ids as `{id}`, the API version as `{v}`.
pub fn template(href: &str) -> String {
    let rest = href.strip_prefix("{{origin}}").unwrap_or(href);
    let rest = match rest.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |i| &after[i..]),
        None => rest,
    };
    let (path, query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
    let mut out = String::with_capacity(rest.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if !seg.is_empty() && (is_id(seg) || seg.bytes().all(|b| b.is_ascii_digit())) {
            "{id}"
        } else {
            seg
        });
    }
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("v", _)) => "v={v}".to_owned(),
                Some((k, v)) if is_id(v) || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())) => {
                    format!("{k}={{id}}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind("true"), Some(Kind::Bool));
        assert_eq!(kind("100"), Some(Kind::Integer));
        assert_eq!(kind("1.5"), Some(Kind::Decimal));
        assert_eq!(kind("2025-10-20T20:04:07.267Z"), Some(Kind::Timestamp));
        assert_eq!(kind("urn:veeam:VmRestorePoint:6c958531-3177-4055-b0ce-dc4ef1ce6433"), Some(Kind::Id));
        assert_eq!(kind("task-12"), Some(Kind::Id));
        assert_eq!(kind("https://em:9398/api/"), Some(Kind::Url));
        assert_eq!(kind("ubuntu88@2025-10-20 20:04:07"), Some(Kind::Text));
        assert_eq!(kind("  "), None);
    }

    #[test]
    fn volatility() {
        assert!(contains_date("ubuntu88@2025-10-20 20:04:07"));
        assert!(contains_date("Nov  2 2025  1:41PM"));
        assert!(!contains_date("vm-0007-web"));
        assert!(stable_key("v1_7"));
        assert!(!stable_key("sql01-hv@2013-08-21 10:44:36"));
        assert!(!stable_key("urn:veeam:X:1"));
        assert!(enum_like("Incremental") && enum_like("Ok") && !enum_like("ubuntu88") && !enum_like("A"));
    }

    #[test]
    fn templates() {
        assert_eq!(
            template("https://em:9398/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?format=Entity"),
            "/api/vmRestorePoints/{id}?format=Entity"
        );
        assert_eq!(template("{{origin}}/api/logonSessions/{{session-id:1}}"), "/api/logonSessions/{id}");
        assert_eq!(template("/api/tasks/task-1"), "/api/tasks/{id}");
        assert_eq!(template("{{origin}}/api/sessionMngr/?v=v1_4"), "/api/sessionMngr/?v={v}");
        assert_eq!(template("http://localhost:9399/api/query?type=Job&page=2"), "/api/query?type=Job&page={id}");
    }
}

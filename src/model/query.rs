//! The query service's filter language: `field op value` with `== != < > <= >=`, `;` for AND,
//! `,` for OR (AND binds tighter), parentheses, and values bare or in double quotes (a `"` inside
//! doubled). Field names compare without regard to case.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    Compare { field: String, op: Op, value: String },
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// Parses a filter; `Err` says what is wrong and where.
pub(crate) fn parse(text: &str) -> Result<Filter, String> {
    let mut p = Parser { s: text.as_bytes(), text, at: 0, depth: 0 };
    let f = p.or()?;
    p.space();
    if p.at < p.s.len() {
        return Err(p.fail("expected `;`, `,` or the end of the filter"));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    at: usize,
    depth: usize,
}

/// Parentheses nest at most this deep: a filter of thousands of `(` must not exhaust the stack.
const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn fail(&self, what: &str) -> String {
        let rest: String = self.text[self.at.min(self.text.len())..].chars().take(20).collect();
        if rest.is_empty() {
            format!("invalid filter `{}`: {what}, at the end", self.text)
        } else {
            format!("invalid filter `{}`: {what}, at character {} (`{rest}`)", self.text, self.at + 1)
        }
    }

    fn space(&mut self) {
        while self.s.get(self.at).is_some_and(|b| *b == b' ') {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.space();
        if self.s.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut items = vec![self.and()?];
        while self.eat(b',') {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::Or(items) })
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut items = vec![self.primary()?];
        while self.eat(b';') {
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Filter::And(items) })
    }

    fn primary(&mut self) -> Result<Filter, String> {
        if self.eat(b'(') {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.fail(&format!("parentheses nest deeper than {MAX_DEPTH}")));
            }
            let inner = self.or()?;
            self.depth -= 1;
            if !self.eat(b')') {
                return Err(self.fail("expected `)`"));
            }
            return Ok(inner);
        }
        self.space();
        let start = self.at;
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.') {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.fail("expected a field name"));
        }
        let field = self.text[start..self.at].to_owned();
        self.space();
        let op = match (self.s.get(self.at), self.s.get(self.at + 1)) {
            (Some(b'='), Some(b'=')) => Op::Eq,
            (Some(b'!'), Some(b'=')) => Op::Ne,
            (Some(b'<'), Some(b'=')) => Op::Le,
            (Some(b'>'), Some(b'=')) => Op::Ge,
            (Some(b'<'), _) => Op::Lt,
            (Some(b'>'), _) => Op::Gt,
            _ => return Err(self.fail(&format!("expected an operator (== != < > <= >=) after `{field}`"))),
        };
        self.at += if matches!(op, Op::Lt | Op::Gt) { 1 } else { 2 };
        self.space();
        let value = if self.s.get(self.at) == Some(&b'"') {
            self.at += 1;
            let mut value = String::new();
            loop {
                let Some(rel) = self.text[self.at..].find('"') else {
                    return Err(self.fail("a quoted value is not closed"));
                };
                value.push_str(&self.text[self.at..self.at + rel]);
                self.at += rel + 1;
                if self.s.get(self.at) == Some(&b'"') {
                    value.push('"');
                    self.at += 1;
                } else {
                    break;
                }
            }
            value
        } else {
            let start = self.at;
            while self.s.get(self.at).is_some_and(|b| !matches!(b, b';' | b',' | b')' | b'(' | b'"')) {
                self.at += 1;
            }
            let v = self.text[start..self.at].trim_end();
            if v.is_empty() {
                return Err(self.fail(&format!("expected a value after `{field}`")));
            }
            v.to_owned()
        };
        Ok(Filter::Compare { field, op, value })
    }
}

/// Compares two field values: as numbers when both are, as date-times when both are
/// (`2025-10-20T20:04:07.267Z` and `2025-10-20 20:04:07` alike), else as text without case.
/// Allocates nothing: a sort over ten thousand items calls it a hundred thousand times.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().next().is_some_and(|c| c.is_ascii_digit() || c == b'-' || c == b'.');
    if numeric(a) && numeric(b) {
        if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
        }
    }
    if is_datetime(a) && is_datetime(b) {
        return datetime_bytes(a).cmp(datetime_bytes(b));
    }
    let fold = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<Vec<_>>();
    if a.is_ascii() && b.is_ascii() {
        a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        fold(a).cmp(&fold(b))
    }
}

/// ASCII that is neither a number nor a date-time: equal exactly when equal without case.
fn plain_text(s: &str) -> bool {
    s.is_ascii() && !s.bytes().next().is_some_and(|c| c.is_ascii_digit() || c == b'-' || c == b'.')
}

/// A value's text for sorting: a date-time in its full normalised form (so that `2025-10-20`
/// and `2025-10-20T20:04:07.267Z` order as times), anything else lower-cased.
pub(crate) fn sort_text(s: &str) -> String {
    if is_datetime(s) { datetime_bytes(s).map(char::from).collect() } else { s.to_lowercase() }
}

fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..4].iter().chain(&b[5..7]).chain(&b[8..10]).all(u8::is_ascii_digit)
}

/// A date-time's bytes as `yyyy-mm-ddThh:mm:ss.fffffff`, missing parts read as zeros.
fn datetime_bytes(s: &str) -> impl Iterator<Item = u8> + '_ {
    const FULL: &[u8] = b"0000-00-00T00:00:00.0000000";
    let b = s.trim_end_matches('Z').as_bytes();
    FULL.iter().enumerate().map(move |(i, pad)| match b.get(i) {
        Some(b' ') if i == 10 => b'T',
        Some(c) => *c,
        None => *pad,
    })
}

impl Filter {
    /// Every field name the filter uses.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Filter::Compare { field, .. } => vec![field.as_str()],
            Filter::And(items) | Filter::Or(items) => items.iter().flat_map(Filter::fields).collect(),
        }
    }

    /// Whether an item whose fields `get` looks up (by lower-case name) passes.
    /// Field names are lower case after parsing.
    pub fn matches<'a>(&self, get: &impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Filter::And(items) => items.iter().all(|f| f.matches(get)),
            Filter::Or(items) => items.iter().any(|f| f.matches(get)),
            Filter::Compare { field, op, value } => {
                let Some(actual) = get(field) else {
                    return *op == Op::Ne;
                };
                if matches!(op, Op::Eq | Op::Ne) && plain_text(actual) && plain_text(value) {
                    return actual.eq_ignore_ascii_case(value) == (*op == Op::Eq);
                }
                let ord = compare(actual, value);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Le => ord != Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_filter_parser_never_panics(text in ".{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn a_quoted_value_reads_back_as_written(value in "[^\u{0}]{0,30}") {
            let quoted = value.replace('"', "\"\"");
            prop_assert_eq!(
                parse(&format!("Name==\"{quoted}\"")),
                Ok(Filter::Compare { field: "Name".into(), op: Op::Eq, value })
            );
        }

        #[test]
        fn comparison_is_antisymmetric(a in "[0-9a-zA-Z :.-]{0,24}", b in "[0-9a-zA-Z :.-]{0,24}") {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }
    }

    fn cmp(field: &str, op: Op, value: &str) -> Filter {
        Filter::Compare { field: field.into(), op, value: value.into() }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse("a==1;b==2,c==3").unwrap(),
            Filter::Or(vec![Filter::And(vec![cmp("a", Op::Eq, "1"), cmp("b", Op::Eq, "2")]), cmp("c", Op::Eq, "3")])
        );
        assert_eq!(
            parse("a==1;(b==2,c==3)").unwrap(),
            Filter::And(vec![cmp("a", Op::Eq, "1"), Filter::Or(vec![cmp("b", Op::Eq, "2"), cmp("c", Op::Eq, "3")])])
        );
    }

    #[test]
    fn quoted_values_keep_separators_and_doubled_quotes() {
        assert_eq!(parse(r#"Name=="a;b,""c"")""#).unwrap(), cmp("Name", Op::Eq, r#"a;b,"c")"#));
        assert_eq!(parse("CreationTime>=2025-10-20").unwrap(), cmp("CreationTime", Op::Ge, "2025-10-20"));
    }

    #[test]
    fn malformed_filters_say_where() {
        for bad in ["", "Name", "Name=", "Name==\"x", "(Name==x", "Name==x)", "Name=~x", "==x", "a==1;"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse("Name=~x").unwrap_err().contains("operator"));
        let deep = format!("{}a==1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).unwrap_err().contains("nest deeper"));
    }

    #[test]
    fn values_compare_as_numbers_dates_or_text() {
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("2025-10-20T20:04:07.267Z", "2025-10-20 20:04:07"), Ordering::Greater);
        assert_eq!(compare("2025-10-19T20:04:07Z", "2025-10-20"), Ordering::Less);
        assert_eq!(compare("Ubuntu88", "ubuntu88"), Ordering::Equal);
    }
}

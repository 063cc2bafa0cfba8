//! Errors about a place in a file, printed the way rustc prints them: what is wrong, where
//! (`--> file:line:col`), the offending line with a caret, and a hint when there is one.

use std::fmt;

/// A problem at a position in a user's file. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The text of the offending line, when the file could be read.
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `line:column` of `file`, quoting that line from `text`.
    pub fn at(file: &str, text: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        let source_line = line.checked_sub(1).and_then(|i| text.lines().nth(i)).map(str::to_owned);
        Self { message: message.into(), file: file.to_owned(), line, column: column.max(1), source_line, hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        write!(f, "  --> {}:{}:{}", self.file, self.line, self.column)?;
        if let Some(src) = &self.source_line {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let caret = " ".repeat(src.chars().take(self.column - 1).count());
            write!(f, "\n {pad} |\n {num} | {src}\n {pad} | {caret}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Turns a serde_yaml error into a diagnostic: its own message without the trailing position,
/// the position as line and column, and a did-you-mean for unknown keys and values.
pub fn yaml_diagnostic(name: &str, text: &str, e: &serde_yaml::Error) -> Diagnostic {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    let hint = unknown_name_hint(&message);
    let (line, column) = field_position(text, line, &message).unwrap_or((line, column));
    let d = Diagnostic::at(name, text, line, column, message);
    match hint {
        Some(h) => d.with_hint(h),
        None => d,
    }
}

/// Checks of a whole request or response are reported at the start of its exchange; their
/// messages quote the field (`` `status: 999` ``), so look for that field within the exchange.
fn field_position(text: &str, line: usize, message: &str) -> Option<(usize, usize)> {
    if !text.lines().nth(line.checked_sub(1)?)?.starts_with('-') {
        return None;
    }
    let field = message.split('`').nth(1)?.split(':').next()?.trim();
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let key = format!("{field}:");
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        if i + 1 > line && l.starts_with('-') {
            break;
        }
        let found =
            l.match_indices(&key).find(|(at, _)| *at == 0 || matches!(l.as_bytes()[at - 1], b' ' | b'{' | b','));
        if let Some((at, _)) = found {
            let value = l[at + key.len()..].len() - l[at + key.len()..].trim_start().len();
            return Some((i + 1, l[..at + key.len() + value].chars().count() + 1));
        }
    }
    None
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and the same for variants).
fn unknown_name_hint(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1).or_else(|| message.split("unknown variant `").nth(1))?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(word, candidates.iter().copied()).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let d = Diagnostic::at("c.yaml", "a: 1\n  stauts: 200\n", 2, 3, "unknown field `stauts`")
            .with_hint("did you mean `status`?");
        assert_eq!(
            d.to_string(),
            "unknown field `stauts`\n  --> c.yaml:2:3\n   |\n 2 |   stauts: 200\n   |   ^\n  = hint: did you mean `status`?"
        );
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("stauts", ["status", "headers", "body"]), Some("status"));
        assert_eq!(did_you_mean("xyz", ["status", "headers"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}

//! Errors about a place in a file, printed the way rustc prints them: what is wrong, where
//! (`--> file:line:col`), the offending line with a caret, and a hint when there is one.

use std::fmt;

/// A problem at a position in a user's file. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
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

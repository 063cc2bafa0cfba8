//! XPath 1.0 over [`crate::xml`] trees: location paths with `/`, `//`, `@`, `*`, `.`, `..`,
//! `text()`, `node()`, the axes (`child`, `descendant`, `descendant-or-self`, `self`,
//! `attribute`, `parent`, `ancestor`, `ancestor-or-self`, `following-sibling`,
//! `preceding-sibling`, `following`, `preceding`), predicates, filter expressions (`(//Ref)[2]`), unions (`|`), the
//! comparisons `= != < > <= >=` (numbers compared as numbers), `and`, `or`, and the core string,
//! number, boolean and node-set functions.
//!
//! EM puts every element in its default namespace; an unprefixed name here matches the local
//! name in any namespace, so `/Task/State` works without ceremony. A prefixed name
//! (`v11:Ref`) matches only in the namespace the scenario declares for that prefix.

use std::collections::HashMap;

use crate::xml::{Attribute, Element, Node as XmlNode};

/// A parse error at a byte offset of the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XPathError {
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Path(Path),
    Literal(String),
    Number(f64),
    Call(String, Vec<Expr>),
    Compare(Box<Expr>, Op, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Union(Vec<Expr>),
    /// `+ - * div mod` on numbers.
    Arith(Box<Expr>, char, Box<Expr>),
    Negate(Box<Expr>),
    /// `(expr)[predicate]/rest`: a node set filtered, then walked on.
    Filter(Box<Expr>, Vec<Expr>, Vec<Step>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    Itself,
    Attribute,
    Parent,
    Ancestor,
    AncestorOrSelf,
    FollowingSibling,
    PrecedingSibling,
    Following,
    Preceding,
}

const AXES: [(&str, Axis); 12] = [
    ("child", Axis::Child),
    ("descendant", Axis::Descendant),
    ("descendant-or-self", Axis::DescendantOrSelf),
    ("self", Axis::Itself),
    ("attribute", Axis::Attribute),
    ("parent", Axis::Parent),
    ("ancestor", Axis::Ancestor),
    ("ancestor-or-self", Axis::AncestorOrSelf),
    ("following-sibling", Axis::FollowingSibling),
    ("preceding-sibling", Axis::PrecedingSibling),
    ("following", Axis::Following),
    ("preceding", Axis::Preceding),
];

#[derive(Clone, Debug, PartialEq)]
struct Path {
    absolute: bool,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
struct Step {
    /// Reached with `//` rather than `/`.
    deep: bool,
    axis: Axis,
    test: Test,
    predicates: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
enum Test {
    /// A name or `*` (of an element, or on the attribute axis of an attribute).
    Named(Name),
    Text,
    Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Name {
    Any,
    Local(String),
    Qualified { namespace: String, local: String },
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq)]
pub struct XPath {
    source: String,
    expr: Expr,
}

/// A node an expression selected.
#[derive(Clone, Copy, Debug)]
pub enum Found<'a> {
    Element(&'a Element),
    Attribute(&'a Attribute),
    Text(&'a str),
}

impl Found<'_> {
    pub fn string_value(&self) -> String {
        match self {
            Found::Element(e) => e.text(),
            Found::Attribute(a) => a.value.clone(),
            Found::Text(t) => t.trim().to_owned(),
        }
    }
}

/// What an expression evaluates to.
#[derive(Clone, Debug)]
pub enum Value<'a> {
    Nodes(Vec<Found<'a>>),
    String(String),
    Number(f64),
    Bool(bool),
}

impl Value<'_> {
    /// The XPath string value (the first node's, for a node set); `None` for an empty set.
    pub fn as_string(&self) -> Option<String> {
        match self {
            Value::Nodes(n) => n.first().map(Found::string_value),
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format_number(*n)),
            Value::Bool(b) => Some(b.to_string()),
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Nodes(n) => !n.is_empty(),
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::Bool(b) => *b,
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

// ---------------------------------------------------------------- tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Slash,
    DoubleSlash,
    LBracket,
    RBracket,
    LParen,
    RParen,
    At,
    Comma,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Pipe,
    Plus,
    Minus,
    Axis,
    Star,
    Dot,
    DotDot,
    Name(String),
    Literal(String),
    Number(f64),
}

/// The token of punctuation at the start of `rest`, and its length.
fn punctuation(rest: &[u8]) -> Option<(Tok, usize)> {
    let two = match rest.get(..2) {
        Some(b"//") => Some(Tok::DoubleSlash),
        Some(b"!=") => Some(Tok::Ne),
        Some(b"<=") => Some(Tok::Le),
        Some(b">=") => Some(Tok::Ge),
        Some(b"::") => Some(Tok::Axis),
        Some(b"..") => Some(Tok::DotDot),
        _ => None,
    };
    if let Some(tok) = two {
        return Some((tok, 2));
    }
    let one = match rest.first()? {
        b'/' => Tok::Slash,
        b'[' => Tok::LBracket,
        b']' => Tok::RBracket,
        b'(' => Tok::LParen,
        b')' => Tok::RParen,
        b'@' => Tok::At,
        b',' => Tok::Comma,
        b'=' => Tok::Eq,
        b'<' => Tok::Lt,
        b'>' => Tok::Gt,
        b'|' => Tok::Pipe,
        b'+' => Tok::Plus,
        b'-' => Tok::Minus,
        b'*' => Tok::Star,
        // `.5` is a number.
        b'.' if !rest.get(1).is_some_and(u8::is_ascii_digit) => Tok::Dot,
        _ => return None,
    };
    Some((one, 1))
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, XPathError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        if let Some((tok, len)) = punctuation(&b[i..]) {
            out.push((start, tok));
            i += len;
            continue;
        }
        let tok = match c {
            b'\'' | b'"' => {
                let end = s[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| XPathError { offset: i, message: "string literal is never closed".into() })?;
                let lit = s[i + 1..i + 1 + end].to_owned();
                i += end + 2;
                Tok::Literal(lit)
            }
            b'0'..=b'9' | b'.' => {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                Tok::Number(
                    s[start..i].parse().map_err(|_| XPathError { offset: start, message: "bad number".into() })?,
                )
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.' | b':') || b[i] >= 0x80)
                {
                    // `::` ends an axis name.
                    if b[i] == b':' && b.get(i + 1) == Some(&b':') {
                        break;
                    }
                    i += 1;
                }
                Tok::Name(s[start..i].to_owned())
            }
            _ => {
                return Err(XPathError {
                    offset: i,
                    message: format!("unexpected `{}`", &s[i..].chars().next().unwrap_or(' ')),
                });
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    len: usize,
    namespaces: &'a HashMap<String, String>,
}

const FUNCTIONS: [&str; 27] = [
    "contains",
    "starts-with",
    "not",
    "count",
    "last",
    "position",
    "string",
    "normalize-space",
    "string-length",
    "substring",
    "substring-before",
    "substring-after",
    "concat",
    "translate",
    "local-name",
    "name",
    "sum",
    "number",
    "boolean",
    "true",
    "false",
    "floor",
    "ceiling",
    "round",
    "lang",
    "namespace-uri",
    "id",
];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.len, |(o, _)| *o)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, XPathError> {
        Err(XPathError { offset: self.offset(), message: message.into() })
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok, what: &str) -> Result<(), XPathError> {
        if self.eat(t) { Ok(()) } else { self.err(format!("expected {what}")) }
    }

    fn or(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Name("or".into())) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.compare()?;
        while self.peek() == Some(&Tok::Name("and".into())) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.compare()?));
        }
        Ok(left)
    }

    fn compare(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.relational()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Eq) => Op::Eq,
                Some(Tok::Ne) => Op::Ne,
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Compare(Box::new(left), op, Box::new(self.relational()?));
        }
    }

    fn relational(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Lt) => Op::Lt,
                Some(Tok::Gt) => Op::Gt,
                Some(Tok::Le) => Op::Le,
                Some(Tok::Ge) => Op::Ge,
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Compare(Box::new(left), op, Box::new(self.additive()?));
        }
    }

    fn additive(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => '+',
                Some(Tok::Minus) => '-',
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Arith(Box::new(left), op, Box::new(self.multiplicative()?));
        }
    }

    /// After an operand, `*` multiplies and `div` and `mod` are operators, not names.
    fn multiplicative(&mut self) -> Result<Expr, XPathError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => '*',
                Some(Tok::Name(n)) if n == "div" => '/',
                Some(Tok::Name(n)) if n == "mod" => '%',
                _ => return Ok(left),
            };
            self.at += 1;
            left = Expr::Arith(Box::new(left), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, XPathError> {
        if self.eat(&Tok::Minus) {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.union()
    }

    fn union(&mut self) -> Result<Expr, XPathError> {
        let first = self.primary()?;
        if self.peek() != Some(&Tok::Pipe) {
            return Ok(first);
        }
        let mut all = vec![first];
        while self.eat(&Tok::Pipe) {
            all.push(self.primary()?);
        }
        Ok(Expr::Union(all))
    }

    /// Predicates and a path after a parenthesised expression or a call: `(//Ref)[2]/@Name`.
    fn filtered(&mut self, base: Expr) -> Result<Expr, XPathError> {
        let mut predicates = Vec::new();
        while self.eat(&Tok::LBracket) {
            predicates.push(self.or()?);
            self.expect(&Tok::RBracket, "`]`")?;
        }
        let mut rest = Vec::new();
        loop {
            let deep = match self.peek() {
                Some(Tok::Slash) => false,
                Some(Tok::DoubleSlash) => true,
                _ => break,
            };
            self.at += 1;
            rest.push(self.step(deep)?);
        }
        if predicates.is_empty() && rest.is_empty() {
            return Ok(base);
        }
        Ok(Expr::Filter(Box::new(base), predicates, rest))
    }

    fn primary(&mut self) -> Result<Expr, XPathError> {
        match self.peek().cloned() {
            Some(Tok::Literal(s)) => {
                self.at += 1;
                Ok(Expr::Literal(s))
            }
            Some(Tok::Number(n)) => {
                self.at += 1;
                Ok(Expr::Number(n))
            }
            Some(Tok::LParen) => {
                self.at += 1;
                let e = self.or()?;
                self.expect(&Tok::RParen, "`)`")?;
                self.filtered(e)
            }
            Some(Tok::Name(n))
                if self.toks.get(self.at + 1).map(|(_, t)| t) == Some(&Tok::LParen) && n != "text" && n != "node" =>
            {
                if !FUNCTIONS.contains(&n.as_str()) {
                    let hint = crate::diagnostic::did_you_mean(&n, FUNCTIONS)
                        .map(|f| format!("; did you mean `{f}`?"))
                        .unwrap_or_default();
                    return self.err(format!("unknown function `{n}()`{hint}"));
                }
                self.at += 2;
                let mut args = Vec::new();
                if !self.eat(&Tok::RParen) {
                    loop {
                        args.push(self.or()?);
                        if self.eat(&Tok::RParen) {
                            break;
                        }
                        self.expect(&Tok::Comma, "`,` or `)`")?;
                    }
                }
                self.filtered(Expr::Call(n, args))
            }
            Some(_) => Ok(Expr::Path(self.path()?)),
            None => self.err("expected an expression"),
        }
    }

    fn path(&mut self) -> Result<Path, XPathError> {
        let mut steps = Vec::new();
        let (absolute, mut deep) = match self.peek() {
            Some(Tok::Slash) => {
                self.at += 1;
                (true, false)
            }
            Some(Tok::DoubleSlash) => {
                self.at += 1;
                (true, true)
            }
            _ => (false, false),
        };
        if absolute && !deep && !self.starts_step() {
            return Ok(Path { absolute, steps });
        }
        loop {
            steps.push(self.step(deep)?);
            deep = match self.peek() {
                Some(Tok::Slash) => false,
                Some(Tok::DoubleSlash) => true,
                _ => break,
            };
            self.at += 1;
        }
        Ok(Path { absolute, steps })
    }

    fn starts_step(&self) -> bool {
        matches!(self.peek(), Some(Tok::Name(_) | Tok::At | Tok::Star | Tok::Dot | Tok::DotDot))
    }

    fn step(&mut self, deep: bool) -> Result<Step, XPathError> {
        let mut axis = Axis::Child;
        if let (Some(Tok::Name(n)), Some((_, Tok::Axis))) = (self.peek().cloned(), self.toks.get(self.at + 1)) {
            axis = match AXES.iter().find(|(name, _)| *name == n) {
                Some((_, a)) => *a,
                None => {
                    let names = AXES.iter().map(|(n, _)| *n);
                    let hint = crate::diagnostic::did_you_mean(&n, names)
                        .map(|a| format!("; did you mean `{a}`?"))
                        .unwrap_or_default();
                    return self.err(format!("unknown axis `{n}::`{hint}"));
                }
            };
            self.at += 2;
        }
        let call = |p: &Self, name: &str| {
            matches!(p.peek(), Some(Tok::Name(n)) if n == name)
                && p.toks.get(p.at + 1).map(|(_, t)| t) == Some(&Tok::LParen)
        };
        let test = match self.peek().cloned() {
            Some(Tok::At) if axis == Axis::Child => {
                self.at += 1;
                axis = Axis::Attribute;
                Test::Named(self.name()?)
            }
            Some(Tok::Dot) if axis == Axis::Child => {
                self.at += 1;
                axis = Axis::Itself;
                Test::Node
            }
            Some(Tok::DotDot) if axis == Axis::Child => {
                self.at += 1;
                axis = Axis::Parent;
                Test::Node
            }
            _ if call(self, "text") || call(self, "node") => {
                let text = call(self, "text");
                self.at += 2;
                self.expect(&Tok::RParen, "`)`")?;
                if text { Test::Text } else { Test::Node }
            }
            Some(Tok::Name(_) | Tok::Star) => Test::Named(self.name()?),
            _ => return self.err("expected a step: a name, `*`, `@name`, `text()`, `node()`, `.` or `..`"),
        };
        let mut predicates = Vec::new();
        while self.eat(&Tok::LBracket) {
            predicates.push(self.or()?);
            self.expect(&Tok::RBracket, "`]`")?;
        }
        Ok(Step { deep, axis, test, predicates })
    }

    fn name(&mut self) -> Result<Name, XPathError> {
        match self.peek().cloned() {
            Some(Tok::Star) => {
                self.at += 1;
                Ok(Name::Any)
            }
            Some(Tok::Name(n)) => {
                let offset = self.offset();
                self.at += 1;
                match n.split_once(':') {
                    None => Ok(Name::Local(n)),
                    Some((prefix, local)) => match self.namespaces.get(prefix) {
                        Some(ns) => Ok(Name::Qualified { namespace: ns.clone(), local: local.to_owned() }),
                        None => Err(XPathError {
                            offset,
                            message: format!(
                                "prefix `{prefix}` is not declared; unprefixed names already match EM's default namespace, or declare it under `namespaces:`"
                            ),
                        }),
                    },
                }
            }
            _ => self.err("expected a name or `*`"),
        }
    }
}

impl XPath {
    /// Compiles `source`; `namespaces` maps the prefixes a scenario declares to URIs.
    pub fn parse(source: &str, namespaces: &HashMap<String, String>) -> Result<XPath, XPathError> {
        let toks = tokenize(source)?;
        if toks.is_empty() {
            return Err(XPathError { offset: 0, message: "the expression is empty".into() });
        }
        let mut p = Parser { toks, at: 0, len: source.len(), namespaces };
        let expr = p.or()?;
        if p.at < p.toks.len() {
            return p.err("unexpected text after the expression");
        }
        Ok(XPath { source: source.to_owned(), expr })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a document whose root element is `root`.
    pub fn evaluate<'a>(&self, root: &'a Element) -> Value<'a> {
        let ctx = Ctx { node: Ctx::DOC, root, position: 1, size: 1 };
        eval(&self.expr, &ctx)
    }

    /// Evaluates with `item` (an element of the document) as the context node.
    pub fn evaluate_at<'a>(&self, root: &'a Element, item: &'a Element) -> Value<'a> {
        let ctx = Ctx { node: Some(item), root, position: 1, size: 1 };
        eval(&self.expr, &ctx)
    }
}

// ---------------------------------------------------------------- evaluation

struct Ctx<'a> {
    /// `None` is the document node (the parent of the root element).
    node: Option<&'a Element>,
    root: &'a Element,
    position: usize,
    size: usize,
}

impl Ctx<'_> {
    const DOC: Option<&'static Element> = None;
}

/// A node during evaluation: the document, an element, an attribute or text.
#[derive(Clone, Copy)]
enum N<'a> {
    Doc,
    El(&'a Element),
    At(&'a Attribute),
    Tx(&'a str),
}

fn name_matches(name: &Name, namespace: Option<&str>, local: &str) -> bool {
    match name {
        Name::Any => true,
        Name::Local(l) => l == local,
        Name::Qualified { namespace: ns, local: l } => l == local && namespace == Some(ns.as_str()),
    }
}

fn children<'a>(n: N<'a>, root: &'a Element) -> Vec<N<'a>> {
    match n {
        N::Doc => vec![N::El(root)],
        N::El(e) => e
            .children
            .iter()
            .map(|c| match c {
                XmlNode::Element(e) => N::El(e),
                XmlNode::Text(t) => N::Tx(t),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn descendants<'a>(n: N<'a>, root: &'a Element, out: &mut Vec<N<'a>>) {
    for c in children(n, root) {
        out.push(c);
        if matches!(c, N::El(_)) {
            descendants(c, root, out);
        }
    }
}

/// The node holding `n`: an element's parent (the document for the root element), an
/// attribute's or a text's element.
fn parent_of<'a>(n: N<'a>, root: &'a Element) -> Option<N<'a>> {
    fn search<'a>(e: &'a Element, n: N<'a>) -> Option<&'a Element> {
        let holds = match n {
            N::At(a) => e.attributes.iter().any(|x| std::ptr::eq(x, a)),
            N::El(x) => e.children.iter().any(|c| matches!(c, XmlNode::Element(c) if std::ptr::eq(c, x))),
            N::Tx(t) => e.children.iter().any(|c| matches!(c, XmlNode::Text(c) if std::ptr::eq(c.as_str(), t))),
            N::Doc => false,
        };
        if holds {
            return Some(e);
        }
        e.elements().find_map(|c| search(c, n))
    }
    match n {
        N::Doc => None,
        N::El(e) if std::ptr::eq(e, root) => Some(N::Doc),
        _ => search(root, n).map(N::El),
    }
}

fn test_matches(test: &Test, n: N<'_>, attribute_axis: bool) -> bool {
    match (test, n) {
        (Test::Node, _) => true,
        (Test::Text, N::Tx(_)) => true,
        (Test::Named(name), N::El(e)) if !attribute_axis => name_matches(name, e.namespace.as_deref(), &e.name),
        (Test::Named(name), N::At(a)) if attribute_axis => name_matches(name, a.namespace.as_deref(), &a.name),
        _ => false,
    }
}

/// The nodes of `step`'s axis from `n`, in axis order (nearest first on a reverse axis).
fn axis_nodes<'a>(n: N<'a>, axis: Axis, root: &'a Element) -> Vec<N<'a>> {
    match axis {
        Axis::Child => children(n, root),
        Axis::Descendant => {
            let mut out = Vec::new();
            descendants(n, root, &mut out);
            out
        }
        Axis::DescendantOrSelf => {
            let mut out = vec![n];
            descendants(n, root, &mut out);
            out
        }
        Axis::Itself => vec![n],
        Axis::Attribute => match n {
            N::El(e) => e.attributes.iter().filter(|a| !a.name.starts_with("xmlns")).map(N::At).collect(),
            _ => Vec::new(),
        },
        Axis::Parent => parent_of(n, root).into_iter().collect(),
        Axis::Ancestor | Axis::AncestorOrSelf => {
            let mut out = if axis == Axis::AncestorOrSelf { vec![n] } else { Vec::new() };
            let mut at = n;
            while let Some(p) = parent_of(at, root) {
                out.push(p);
                at = p;
            }
            out
        }
        Axis::Following | Axis::Preceding => {
            // Every element and text in document order; what follows `n` (not its
            // descendants), or what precedes it (not its ancestors), nearest first.
            let n = match n {
                N::At(_) => parent_of(n, root).unwrap_or(N::Doc),
                other => other,
            };
            let mut all = Vec::new();
            descendants(N::Doc, root, &mut all);
            let Some(at) = all.iter().position(|x| same(*x, n)) else { return Vec::new() };
            if axis == Axis::Following {
                let mut inside = Vec::new();
                descendants(n, root, &mut inside);
                all[at + 1..].iter().filter(|x| !inside.iter().any(|d| same(*d, **x))).copied().collect()
            } else {
                let ancestors = axis_nodes(n, Axis::Ancestor, root);
                all[..at].iter().rev().filter(|x| !ancestors.iter().any(|a| same(*a, **x))).copied().collect()
            }
        }
        Axis::FollowingSibling | Axis::PrecedingSibling => {
            if matches!(n, N::At(_) | N::Doc) {
                return Vec::new();
            }
            let Some(parent) = parent_of(n, root) else { return Vec::new() };
            let siblings = children(parent, root);
            let Some(at) = siblings.iter().position(|s| same(*s, n)) else { return Vec::new() };
            if axis == Axis::FollowingSibling {
                siblings[at + 1..].to_vec()
            } else {
                siblings[..at].iter().rev().copied().collect()
            }
        }
    }
}

fn step_nodes<'a>(n: N<'a>, step: &Step, root: &'a Element) -> Vec<N<'a>> {
    // `//step` is `/descendant-or-self::node()/step`.
    let scope = if step.deep { axis_nodes(n, Axis::DescendantOrSelf, root) } else { vec![n] };
    let attribute_axis = step.axis == Axis::Attribute;
    let mut out = Vec::new();
    for s in scope {
        out.extend(axis_nodes(s, step.axis, root).into_iter().filter(|c| test_matches(&step.test, *c, attribute_axis)));
    }
    out
}

fn filter<'a>(nodes: Vec<N<'a>>, predicates: &[Expr], root: &'a Element) -> Vec<N<'a>> {
    let mut nodes = nodes;
    for p in predicates {
        let size = nodes.len();
        nodes = nodes
            .into_iter()
            .enumerate()
            .filter(|(i, n)| {
                let ctx = Ctx { node: as_element(*n), root, position: i + 1, size };
                match eval(p, &ctx) {
                    Value::Number(k) => k == (i + 1) as f64,
                    v => v.truthy(),
                }
            })
            .map(|(_, n)| n)
            .collect();
    }
    nodes
}

fn as_element(n: N<'_>) -> Option<&Element> {
    match n {
        N::El(e) => Some(e),
        _ => None,
    }
}

fn eval_path<'a>(path: &Path, ctx: &Ctx<'a>) -> Vec<Found<'a>> {
    let start = if path.absolute { N::Doc } else { ctx.node.map_or(N::Doc, N::El) };
    walk(vec![start], &path.steps, ctx)
}

/// A selected node, back as an evaluation node.
fn node_of(f: Found<'_>) -> N<'_> {
    match f {
        Found::Element(e) => N::El(e),
        Found::Attribute(a) => N::At(a),
        Found::Text(t) => N::Tx(t),
    }
}

/// Nodes of a node-set value, back as evaluation nodes.
fn nodes_of<'a>(found: &[Found<'a>]) -> Vec<N<'a>> {
    found.iter().copied().map(node_of).collect()
}

fn walk<'a>(start: Vec<N<'a>>, steps: &[Step], ctx: &Ctx<'a>) -> Vec<Found<'a>> {
    let mut current = start;
    for step in steps {
        let mut next: Vec<N<'a>> = Vec::new();
        for n in &current {
            let found = filter(step_nodes(*n, step, ctx.root), &step.predicates, ctx.root);
            for f in found {
                if !next.iter().any(|x| same(*x, f)) {
                    next.push(f);
                }
            }
        }
        current = next;
    }
    current
        .into_iter()
        .map(|n| match n {
            N::Doc => Found::Element(ctx.root),
            N::El(e) => Found::Element(e),
            N::At(a) => Found::Attribute(a),
            N::Tx(t) => Found::Text(t),
        })
        .collect()
}

fn same(a: N<'_>, b: N<'_>) -> bool {
    match (a, b) {
        (N::Doc, N::Doc) => true,
        (N::El(x), N::El(y)) => std::ptr::eq(x, y),
        (N::At(x), N::At(y)) => std::ptr::eq(x, y),
        (N::Tx(x), N::Tx(y)) => std::ptr::eq(x, y),
        _ => false,
    }
}

/// XPath's `number()` of a string: a decimal, or NaN.
fn to_number(s: &str) -> f64 {
    let t = s.trim();
    let plain = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if plain { t.parse().unwrap_or(f64::NAN) } else { f64::NAN }
}

impl Value<'_> {
    fn number(&self) -> f64 {
        match self {
            Value::Number(n) => *n,
            Value::Bool(b) => f64::from(u8::from(*b)),
            other => other.as_string().map_or(f64::NAN, |s| to_number(&s)),
        }
    }

    fn strings(&self) -> Vec<String> {
        match self {
            Value::Nodes(n) => n.iter().map(Found::string_value).collect(),
            other => other.as_string().into_iter().collect(),
        }
    }
}

/// XPath 1.0 comparison: a node set compares by any of its nodes; `=`/`!=` between a boolean
/// and anything compare booleans, with a number compare numbers, else strings; `<` and the
/// others always compare numbers.
fn compare(a: &Value<'_>, op: Op, b: &Value<'_>) -> bool {
    let relational = matches!(op, Op::Lt | Op::Gt | Op::Le | Op::Ge);
    let numbers = |x: f64, y: f64| match op {
        Op::Eq => x == y,
        Op::Ne => x != y,
        Op::Lt => x < y,
        Op::Gt => x > y,
        Op::Le => x <= y,
        Op::Ge => x >= y,
    };
    match (a, b) {
        (Value::Bool(_), _) | (_, Value::Bool(_)) if !relational => {
            let (x, y) = (a.truthy(), b.truthy());
            if op == Op::Eq { x == y } else { x != y }
        }
        (Value::Nodes(_), _) | (_, Value::Nodes(_)) => {
            let (l, r) = (a.strings(), b.strings());
            let by_number = relational || matches!(a, Value::Number(_)) || matches!(b, Value::Number(_));
            l.iter().any(|x| {
                r.iter().any(|y| {
                    if by_number {
                        numbers(to_number(x), to_number(y))
                    } else if op == Op::Eq {
                        x == y
                    } else {
                        x != y
                    }
                })
            })
        }
        _ if relational || matches!(a, Value::Number(_)) || matches!(b, Value::Number(_)) => {
            numbers(a.number(), b.number())
        }
        _ => {
            let (x, y) = (a.as_string().unwrap_or_default(), b.as_string().unwrap_or_default());
            if op == Op::Eq { x == y } else { x != y }
        }
    }
}

/// The context node's (or the first node's of a node-set argument) local and full name.
fn names_of(v: Option<Value<'_>>, ctx: &Ctx<'_>) -> (String, String) {
    let found = match v {
        Some(Value::Nodes(n)) => n.first().copied(),
        Some(_) => None,
        None => ctx.node.map(Found::Element),
    };
    match found {
        Some(Found::Element(e)) => (e.name.clone(), e.name.clone()),
        Some(Found::Attribute(a)) => (a.name.clone(), a.name.clone()),
        _ => (String::new(), String::new()),
    }
}

fn eval<'a>(expr: &Expr, ctx: &Ctx<'a>) -> Value<'a> {
    match expr {
        Expr::Path(p) => Value::Nodes(eval_path(p, ctx)),
        Expr::Literal(s) => Value::String(s.clone()),
        Expr::Number(n) => Value::Number(*n),
        Expr::And(a, b) => Value::Bool(eval(a, ctx).truthy() && eval(b, ctx).truthy()),
        Expr::Or(a, b) => Value::Bool(eval(a, ctx).truthy() || eval(b, ctx).truthy()),
        Expr::Compare(a, op, b) => Value::Bool(compare(&eval(a, ctx), *op, &eval(b, ctx))),
        Expr::Arith(a, op, b) => {
            let (x, y) = (eval(a, ctx).number(), eval(b, ctx).number());
            Value::Number(match op {
                '+' => x + y,
                '-' => x - y,
                '*' => x * y,
                '/' => x / y,
                _ => x % y,
            })
        }
        Expr::Negate(a) => Value::Number(-eval(a, ctx).number()),
        Expr::Union(parts) => {
            let mut all: Vec<Found<'a>> = Vec::new();
            for p in parts {
                if let Value::Nodes(n) = eval(p, ctx) {
                    for f in n {
                        if !all.iter().any(|x| same(node_of(*x), node_of(f))) {
                            all.push(f);
                        }
                    }
                }
            }
            Value::Nodes(all)
        }
        Expr::Filter(base, predicates, rest) => match eval(base, ctx) {
            Value::Nodes(n) => {
                let kept = filter(nodes_of(&n), predicates, ctx.root);
                Value::Nodes(walk(kept, rest, ctx))
            }
            other if predicates.is_empty() && rest.is_empty() => other,
            _ => Value::Nodes(Vec::new()),
        },
        Expr::Call(name, args) => {
            let arg = |i: usize| args.get(i).map(|a| eval(a, ctx));
            // A string argument; the context node's string value when it is left out.
            let text = |i: usize| match arg(i) {
                Some(v) => v.as_string().unwrap_or_default(),
                None => ctx.node.map(Element::text).unwrap_or_default(),
            };
            let number = |i: usize| arg(i).map_or(f64::NAN, |v| v.number());
            match name.as_str() {
                "contains" => Value::Bool(text(0).contains(&text(1))),
                "starts-with" => Value::Bool(text(0).starts_with(&text(1))),
                "not" => Value::Bool(!arg(0).is_some_and(|v| v.truthy())),
                "boolean" => Value::Bool(arg(0).is_some_and(|v| v.truthy())),
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "count" => Value::Number(match arg(0) {
                    Some(Value::Nodes(n)) => n.len() as f64,
                    _ => 0.0,
                }),
                "last" => Value::Number(ctx.size as f64),
                "position" => Value::Number(ctx.position as f64),
                "normalize-space" => Value::String(text(0).split_whitespace().collect::<Vec<_>>().join(" ")),
                "string-length" => Value::Number(text(0).chars().count() as f64),
                "substring-before" => {
                    let (s, t) = (text(0), text(1));
                    Value::String(s.find(&t).map(|i| s[..i].to_owned()).unwrap_or_default())
                }
                "substring-after" => {
                    let (s, t) = (text(0), text(1));
                    Value::String(s.find(&t).map(|i| s[i + t.len()..].to_owned()).unwrap_or_default())
                }
                "substring" => {
                    // Characters at positions p with round(start) <= p < round(start) + round(length).
                    let s: Vec<char> = text(0).chars().collect();
                    let start = number(1).round();
                    let end = if args.len() > 2 { start + number(2).round() } else { f64::INFINITY };
                    Value::String(
                        s.iter()
                            .enumerate()
                            .filter(|(i, _)| {
                                let p = (*i + 1) as f64;
                                p >= start && p < end
                            })
                            .map(|(_, c)| *c)
                            .collect(),
                    )
                }
                "concat" => Value::String((0..args.len()).map(text).collect()),
                "translate" => {
                    let (from, to): (Vec<char>, Vec<char>) = (text(1).chars().collect(), text(2).chars().collect());
                    Value::String(
                        text(0)
                            .chars()
                            .filter_map(|c| match from.iter().position(|f| *f == c) {
                                Some(i) => to.get(i).copied(),
                                None => Some(c),
                            })
                            .collect(),
                    )
                }
                "local-name" => Value::String(names_of(arg(0), ctx).0),
                "name" => Value::String(names_of(arg(0), ctx).1),
                "namespace-uri" => Value::String(match arg(0) {
                    Some(Value::Nodes(n)) => match n.first() {
                        Some(Found::Element(e)) => e.namespace.clone().unwrap_or_default(),
                        _ => String::new(),
                    },
                    _ => ctx.node.and_then(|e| e.namespace.clone()).unwrap_or_default(),
                }),
                "sum" => Value::Number(match arg(0) {
                    Some(Value::Nodes(n)) => n.iter().map(|f| to_number(&f.string_value())).sum(),
                    _ => f64::NAN,
                }),
                "number" => Value::Number(match arg(0) {
                    Some(v) => v.number(),
                    None => to_number(&text(0)),
                }),
                "floor" => Value::Number(number(0).floor()),
                "ceiling" => Value::Number(number(0).ceil()),
                "round" => Value::Number((number(0) + 0.5).floor()),
                "lang" => {
                    // The nearest xml:lang on the context node or an ancestor, matched as
                    // XPath says: equal, or a sub-language of it (`en` matches `en-GB`).
                    let wanted = text(0).to_ascii_lowercase();
                    let start = ctx.node.map_or(N::Doc, N::El);
                    let lang = axis_nodes(start, Axis::AncestorOrSelf, ctx.root).into_iter().find_map(|n| match n {
                        N::El(e) => {
                            e.attributes.iter().find(|a| a.name == "lang").map(|a| a.value.to_ascii_lowercase())
                        }
                        _ => None,
                    });
                    Value::Bool(lang.is_some_and(|l| l == wanted || l.starts_with(&format!("{wanted}-"))))
                }
                // Without a DTD no attribute is of type ID: nothing is selected, as in libxml2.
                "id" => Value::Nodes(Vec::new()),
                _ => Value::String(text(0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever a user types as a query is an error or a query, and a query evaluates.
        #[test]
        fn any_text_parses_or_is_refused_and_evaluates_without_a_panic(source in "[-/@\\[\\]()=!<>'\"*.:a-zA-Z0-9 ,|$]{0,40}") {
            if let Ok(q) = XPath::parse(&source, &HashMap::new()) {
                let root = crate::xml::parse(TASK).unwrap();
                let _ = q.evaluate(&root);
            }
        }
    }

    const TASK: &str = r#"<Task xmlns="http://www.veeam.com/ent/v1.0" Type="Task" Href="h/tasks/task-1">
  <Links>
    <Link Rel="Delete" Type="Task" Href="h/tasks/task-1" />
    <Link Rel="Related" Type="RestoreSession" Href="h/restoreSessions/1?format=Entity" />
  </Links>
  <TaskId>task-1</TaskId>
  <State>Finished</State>
  <Result Success="true"><Message>Ok</Message></Result>
</Task>"#;

    fn eval_str(expr: &str) -> Option<String> {
        let doc = crate::xml::parse(TASK).unwrap();
        XPath::parse(expr, &HashMap::new()).unwrap().evaluate(&doc).as_string()
    }

    #[test]
    fn lang_reads_the_nearest_xml_lang() {
        let doc = crate::xml::parse(r#"<a xml:lang="en-GB"><b/><c xml:lang="de"/></a>"#).unwrap();
        let holds = |expr: &str| XPath::parse(expr, &HashMap::new()).unwrap().evaluate(&doc).as_string();
        assert_eq!(holds("boolean(//b[lang('en')])").as_deref(), Some("true"));
        assert_eq!(holds("boolean(//c[lang('en')])").as_deref(), Some("false"));
        assert_eq!(holds("boolean(//c[lang('DE')])").as_deref(), Some("true"));
    }

    #[test]
    fn evaluates_paths_without_namespace_ceremony() {
        assert_eq!(eval_str("/Task/State").as_deref(), Some("Finished"));
        assert_eq!(eval_str("/Task/Result/@Success").as_deref(), Some("true"));
        assert_eq!(eval_str("//Link[@Rel='Related']/@Href").as_deref(), Some("h/restoreSessions/1?format=Entity"));
        assert_eq!(eval_str("//Link[2]/@Rel").as_deref(), Some("Related"));
        assert_eq!(eval_str("//Link[last()]/@Type").as_deref(), Some("RestoreSession"));
        assert_eq!(eval_str("count(//Link)").as_deref(), Some("2"));
        assert_eq!(eval_str("/Task[State='Finished' and Result/@Success='true']/TaskId").as_deref(), Some("task-1"));
        assert_eq!(eval_str("//Link[starts-with(@Href, 'h/rest')]/@Rel").as_deref(), Some("Related"));
        assert_eq!(eval_str("/Task/Result/Message/text()").as_deref(), Some("Ok"));
        assert_eq!(eval_str("/Task/Missing"), None);
        assert_eq!(eval_str("/Task/@Type != 'Job'").as_deref(), Some("true"));
    }

    #[test]
    fn prefixes_need_a_declaration() {
        let ns = HashMap::from([("v10".to_owned(), "http://www.veeam.com/ent/v1.0".to_owned())]);
        let doc = crate::xml::parse(TASK).unwrap();
        assert_eq!(
            XPath::parse("/v10:Task/v10:TaskId", &ns).unwrap().evaluate(&doc).as_string().as_deref(),
            Some("task-1")
        );
        let other = HashMap::from([("v11".to_owned(), "http://www.veeam.com/ent/v1.1".to_owned())]);
        assert_eq!(XPath::parse("/v11:Task", &other).unwrap().evaluate(&doc).as_string(), None);
        assert!(XPath::parse("/e:Task", &HashMap::new()).unwrap_err().message.contains("not declared"));
    }

    #[test]
    fn errors_point_into_the_expression() {
        let e = XPath::parse("/Task[State='x'", &HashMap::new()).unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (15, "expected `]`"));
        let e = XPath::parse("//Link[startswith(@Rel,'R')]", &HashMap::new()).unwrap_err();
        assert_eq!(e.message, "unknown function `startswith()`; did you mean `starts-with`?");
        assert!(XPath::parse("/Task/", &HashMap::new()).is_err());
        assert!(XPath::parse("/Task/'x", &HashMap::new()).unwrap_err().message.contains("never closed"));
    }
}

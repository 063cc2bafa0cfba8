//! Mutation test: the shipped cassettes, the scenario and the response bodies, damaged in
//! thousands of small ways (bytes deleted, lines duplicated or swapped, markup inserted, files
//! cut short), must give an error or a value, never a panic: loaded, parsed, linted, diffed and
//! served. `EMTAPE_MUTATIONS=N` sets the cases per input (default 150); `benches/mutate.sh`
//! runs a long release-mode run and reports cases/s.

use std::panic::{AssertUnwindSafe, catch_unwind};

use emtape::cassette::{Body, Cassette};
use emtape::em::Repr;
use emtape::http::{Headers, Request};
use emtape::mock::{Mock, MockOptions};

/// A small deterministic generator (xorshift64*): every run damages the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const INSERTS: [&str; 16] =
    ["<", ">", "&", "\"", "'", "{{", "}}", ": ", "- ", "\n", "\t", "  ", "%", "é", "\u{0}", "<a><b></a>"];

/// One small damage to `text`, on character boundaries.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len());
    let take = |a: usize, b: usize| chars[a.min(chars.len())..b.min(chars.len())].iter().collect::<String>();
    match rng.below(7) {
        0 => format!("{}{}", take(0, at), take(at + 1 + rng.below(40), chars.len())),
        1 => format!("{}{}{}", take(0, at), INSERTS[rng.below(INSERTS.len())], take(at, chars.len())),
        2 => take(0, at),
        3 | 4 => {
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.len() < 2 {
                return take(0, at);
            }
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            if rng.below(2) == 0 {
                lines.swap(i, j);
            } else {
                let dup = lines[i];
                lines.insert(j, dup);
            }
            lines.join("\n") + "\n"
        }
        5 => {
            // A digit changed: a status, a seq, a port, an id.
            let digits: Vec<usize> =
                chars.iter().enumerate().filter(|(_, c)| c.is_ascii_digit()).map(|(i, _)| i).collect();
            let Some(&i) = digits.get(rng.below(digits.len())) else { return take(0, at) };
            let mut c = chars.clone();
            c[i] = char::from(b'0' + rng.below(10) as u8);
            c.into_iter().collect()
        }
        _ => {
            // Indentation shifted on one line.
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let i = rng.below(lines.len());
            if let Some(l) = lines.get_mut(i) {
                if rng.below(2) == 0 {
                    l.insert(0, ' ');
                } else if l.starts_with(' ') {
                    l.remove(0);
                }
            }
            lines.join("\n") + "\n"
        }
    }
}

fn cases() -> usize {
    std::env::var("EMTAPE_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(150)
}

fn request(method: &str, target: &str, repr: Repr) -> Request {
    let mut headers = Headers::new();
    headers.push("Accept", repr.content_type());
    headers.push("Authorization", "Basic dTpw");
    Request {
        method: method.into(),
        target: target.into(),
        headers,
        body: Default::default(),
        origin: "http://127.0.0.1:9".into(),
        peer: None,
    }
}

/// Runs `check` on `case`; a panic fails the test with the input that caused it kept on disk.
fn must_not_panic(what: &str, case: &str, check: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(check)).is_err() {
        let kept = std::env::temp_dir().join(format!("emtape-mutation-{}.txt", std::process::id()));
        std::fs::write(&kept, case).unwrap();
        panic!("{what} panicked on a mutated input, kept in {}", kept.display());
    }
}

const SHIPPED: [&str; 4] = [
    "cassettes/reference/vm-restore.yaml",
    "cassettes/reference/vm-restore-json.yaml",
    "cassettes/em-9.5/vm-restore.yaml",
    "cassettes/em-12/vm-restore-json.yaml",
];

#[test]
fn damaged_cassettes_load_lint_diff_and_serve_without_a_panic() {
    let mut rng = Rng(0x5eed_cafe);
    let mut loaded = 0;
    for file in SHIPPED {
        let original = std::fs::read_to_string(file).unwrap();
        let base = Cassette::parse(file, &original).unwrap();
        for n in 0..cases() {
            let damaged = mutate(&original, &mut rng);
            let damaged = if n % 3 == 0 { mutate(&damaged, &mut rng) } else { damaged };
            must_not_panic("Cassette::parse", &damaged, || {
                let Ok(c) = Cassette::parse("mutated.yaml", &damaged) else { return };
                loaded += 1;
                let _ = emtape::diff::diff_loaded(&base, &c, &[]);
                // Serving and linting build a model on a thread: every tenth loadable case.
                if n % 10 == 0 {
                    let mock = Mock::new(vec![c.clone()], MockOptions::default());
                    for repr in [Repr::Xml, Repr::Json] {
                        let logon = mock.respond(&request("POST", "/api/sessionMngr/?v=latest", repr));
                        let token = logon.headers.get("x-restsvcsessionid").unwrap_or("").to_owned();
                        let mut r = request("GET", "/api/vmRestorePoints?format=Entity", repr);
                        r.headers.push("X-RestSvcSessionId", &token);
                        mock.respond(&r);
                        r.target = "/api/query?type=VmRestorePoint&filter=Name==\"u*\"".into();
                        mock.respond(&r);
                    }
                    emtape::lint::lint(vec![c]);
                }
            });
        }
    }
    assert!(loaded > 0, "some damage leaves a loadable cassette, and those were served");
}

#[test]
fn a_damaged_scenario_is_an_error_never_a_panic() {
    let mut rng = Rng(0xdec0_de01);
    let original = std::fs::read_to_string("scenarios/vm-restore.yaml").unwrap();
    for _ in 0..cases() * 4 {
        let damaged = mutate(&original, &mut rng);
        must_not_panic("Scenario::parse", &damaged, || {
            let _ = emtape::scenario::Scenario::parse("mutated.yaml", &damaged);
        });
    }
}

#[test]
fn damaged_bodies_parse_and_diff_without_a_panic() {
    let mut rng = Rng(0xb0d1_e500);
    let bodies: Vec<String> = SHIPPED
        .iter()
        .flat_map(|f| Cassette::load(std::path::Path::new(f)).unwrap().cassette.exchanges)
        .filter_map(|x| match x.response.body {
            Body::Text { text, .. } if !text.is_empty() => Some(text.to_string()),
            _ => None,
        })
        .collect();
    let dir = crate::support::temp_dir("mutation-bodies");
    for n in 0..cases() * 4 {
        let body = &bodies[n % bodies.len()];
        let damaged = mutate(body, &mut rng);
        must_not_panic("a body parser", &damaged, || {
            let _ = emtape::xml::parse(&damaged);
            let _ = serde_json::from_str::<serde_json::Value>(&damaged);
            if n % 20 == 0 {
                let ext = if body.trim_start().starts_with('<') { "xml" } else { "json" };
                let (a, b) = (dir.join(format!("a.{ext}")), dir.join(format!("b.{ext}")));
                std::fs::write(&a, body).unwrap();
                std::fs::write(&b, &damaged).unwrap();
                let _ = emtape::diff::diff_files(&a, &b, &[]);
            }
        });
    }
}

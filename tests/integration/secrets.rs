//! Secrets, everywhere: one unique secret in every place a credential can hide, sent through
//! `record`, `run --record` and `crawl`; then every artefact (cassettes, text, JSON, JUnit and
//! HTML reports, `-v` logs) is searched for each of them and for any live session token.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::*;

/// The planted secrets, each unique, by where it hides.
const BASIC_PASSWORD: &str = "pw-basic-7Qx2";
const QUERY_TOKEN: &str = "tok-query-9Lm4";
const XML_PASSWORD: &str = "pw-xml-3Rt8";
const JSON_PASSWORD: &str = "pw-json-5Kd1";
const CUSTOM_HEADER: &str = "key-header-2Wz6";
const CUSTOM_FIELD: &str = "field-json-8Pq3";
const SECRETS: [&str; 6] = [BASIC_PASSWORD, QUERY_TOKEN, XML_PASSWORD, JSON_PASSWORD, CUSTOM_HEADER, CUSTOM_FIELD];

const REDACT: &str = "headers: [X-Api-Key]\njson: [ApiSecret]\n";

/// Every live session token in `text`: the base64 of a session id (a UUID, EM up to 12), or an
/// opaque one (16 bytes in base64, EM 13).
fn live_tokens(text: &str) -> Vec<String> {
    let b64 = regex::Regex::new(r"[A-Za-z0-9+/]{48}|[A-Za-z0-9+/]{22}==").unwrap();
    b64.find_iter(text)
        .map(|m| m.as_str().to_owned())
        .filter(|t| {
            emtape::codec::base64_decode(t).is_some_and(|b| {
                b.len() == 16 || String::from_utf8(b).is_ok_and(|s| s.len() == 36 && s.matches('-').count() == 4)
            })
        })
        .collect()
}

fn assert_clean(files: &[PathBuf], logs: &[(&str, String)]) {
    let mut texts: Vec<(String, String)> =
        files.iter().map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap_or_default())).collect();
    texts.extend(logs.iter().map(|(n, t)| ((*n).to_owned(), t.clone())));
    for (name, text) in &texts {
        assert!(!text.is_empty() || name.ends_with("log"), "{name} was written");
        for s in SECRETS {
            assert!(!text.contains(s), "{s} leaked into {name}:\n{text}");
        }
        assert!(live_tokens(text).is_empty(), "a live session token in {name}: {:?}", live_tokens(text));
    }
}

fn basic() -> String {
    format!("Basic {}", emtape::codec::base64_encode(format!("admin:{BASIC_PASSWORD}").as_bytes()))
}

#[tokio::test]
async fn record_writes_no_planted_secret_and_no_live_token_anywhere() {
    let dir = temp_dir("secrets-record");
    let (cassette, redact) = (dir.join("recorded.yaml"), dir.join("redact.yaml"));
    std::fs::write(&redact, REDACT).unwrap();
    let upstream = Emtape::serve(&[]);
    let proxy = Emtape::start(&[
        "record",
        "--upstream",
        &upstream.url,
        "--out",
        cassette.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--redact",
        redact.to_str().unwrap(),
        "--verbose",
    ]);
    let c = client();
    let logon =
        send(&c, "POST", &format!("{}/api/sessionMngr/?v=latest", proxy.url), &[("Authorization", &basic())], "").await;
    let token = logon.headers.get("x-restsvcsessionid").unwrap().to_owned();
    let cookie = format!("X-RestSvcSessionId={token}");
    let with = [("X-RestSvcSessionId", token.as_str()), ("Cookie", cookie.as_str()), ("X-Api-Key", CUSTOM_HEADER)];
    send(&c, "GET", &format!("{}/api/vmRestorePoints?token={QUERY_TOKEN}", proxy.url), &with, "").await;
    let xml = format!(
        "<RestoreSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><Password>{XML_PASSWORD}</Password></RestoreSpec>"
    );
    let restore = format!("{}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore", proxy.url);
    send(&c, "POST", &restore, &[with[0], ("Content-Type", "application/xml")], &xml).await;
    let json = format!("{{\"Password\": \"{JSON_PASSWORD}\", \"ApiSecret\": \"{CUSTOM_FIELD}\"}}");
    send(&c, "POST", &restore, &[with[0], ("Content-Type", "application/json")], &json).await;
    let session = session_id(&logon);
    send(&c, "DELETE", &format!("{}/api/logonSessions/{session}", proxy.url), &with, "").await;
    let (_, log) = proxy.stop();
    let recorded = std::fs::read_to_string(&cassette).unwrap();
    assert!(recorded.contains("{{redacted}}") && recorded.matches("- seq:").count() == 5, "{recorded}");
    assert!(!recorded.contains(&token) && !recorded.contains(&session), "{recorded}");
    assert_clean(&[cassette], &[("record -v log", log)]);
}

/// A scenario that puts each secret where a client might: the logon's Basic credentials, a
/// custom header, a token in a query, passwords in a body.
const SCENARIO: &str = r#"name: secrets
vars:
  key: none
  token: none
  pw: none
  field: none
headers:
  Accept: application/json
  X-Api-Key: "{{key}}"
steps:
- name: log on
  request: POST /api/sessionMngr/?v=latest
  auth: basic
  expect:
    status: 201
  capture:
    session_token: {header: X-RestSvcSessionId}
  session: "{{session_token}}"
- name: a token in a query
  request: GET /api/vmRestorePoints?token={{token}}
  expect:
    status: 200
- name: passwords in a body
  request: POST /api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore
  body: '{"Password": "{{pw}}", "ApiSecret": "{{field}}"}'
  expect:
    status: 299
"#;

#[test]
fn run_record_and_its_reports_hold_no_planted_secret() {
    let dir = temp_dir("secrets-run");
    let scenario = dir.join("secrets.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let redact = dir.join("redact.yaml");
    std::fs::write(&redact, REDACT).unwrap();
    let files: Vec<PathBuf> =
        ["cassette.yaml", "report.json", "report.xml", "report.html"].map(|f| dir.join(f)).to_vec();
    let path = |i: usize| files[i].to_str().unwrap().to_owned();
    let out = Command::new(BIN)
        .args(["run", scenario.to_str().unwrap(), "--user", "admin", "--password-env", "EMTAPE_SECRET_PW"])
        .args(["--var", &format!("key={CUSTOM_HEADER}"), "--var", &format!("token={QUERY_TOKEN}")])
        .args(["--var", &format!("pw={JSON_PASSWORD}"), "--var", &format!("field={CUSTOM_FIELD}")])
        .args(["--record", &path(0), "--redact", redact.to_str().unwrap()])
        .args(["--json", &path(1), "--junit", &path(2), "--html", &path(3)])
        .env("EMTAPE_SECRET_PW", BASIC_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the last step fails on purpose, so that its body is in the reports");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("passwords in a body"), "{stdout}");
    assert_clean(&files, &[("run stdout", stdout.into_owned()), ("run stderr log", stderr.into_owned())]);
}

#[test]
fn crawl_writes_no_credential_and_no_live_token() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("secrets-crawl").join("crawl.yaml");
    let run = Command::new(BIN)
        .args(["crawl", "--target", &mock.url, "--user", "admin", "--password-env", "EMTAPE_SECRET_PW"])
        .args(["--repr", "both", "--max-requests", "200", "--out", out.to_str().unwrap()])
        .env("EMTAPE_SECRET_PW", BASIC_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let logs = [
        ("crawl stdout", String::from_utf8_lossy(&run.stdout).into_owned()),
        ("crawl stderr log", String::from_utf8_lossy(&run.stderr).into_owned()),
    ];
    assert_clean(&[out], &logs);
}

/// A short password is hidden where it stands alone, not cut out of every word that holds it:
/// `Admin` left `SRV12\(redacted)istrator` in the reports (a hint at the password), and `e`
/// nested the marker into itself, `s(r(redacted)dact(redacted)d)ssionMngr`.
#[test]
fn a_short_password_is_not_cut_out_of_the_words_that_contain_it() {
    let mock = Emtape::serve(&[]);
    let dir = temp_dir("secrets-short");
    let scenario = dir.join("logon.yaml");
    std::fs::write(
        &scenario,
        "name: logon\nsteps:\n- name: log on\n  request: POST /api/sessionMngr/?v=latest\n  auth: basic\n  expect:\n    status: 201\n    body:\n      UserName: nobody\n",
    )
    .unwrap();
    for password in ["Admin", "e"] {
        let report = dir.join("report.json");
        let out = Command::new(BIN)
            .args(["run", scenario.to_str().unwrap(), "--target", &mock.url, "--user", "me"])
            .args(["--password-env", "EMTAPE_SHORT_PW", "--json", report.to_str().unwrap()])
            .env("EMTAPE_SHORT_PW", password)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        for text in [stdout.into_owned(), std::fs::read_to_string(&report).unwrap()] {
            assert!(text.contains(r"SRV12\\Administrator") || text.contains(r"SRV12\Administrator"), "{text}");
            assert!(text.contains("/api/sessionMngr/?v=latest") && !text.contains("(r("), "{text}");
        }
    }
}

//! `emtape lint`: dangling links, secrets and broken bodies found and located; shipped cassettes clean.

use crate::support::*;

#[test]
fn the_shipped_cassettes_lint_clean() {
    let (code, out, err) = run(&["lint", "cassettes/"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("23 cassettes linted: 0 findings, clean\n"), "{out}");
}

#[test]
fn lint_finds_and_locates_a_dangling_link_planted_secrets_and_a_broken_body() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    // No root document: the LogonSession's Up link answers nothing.
    let (start, end) = (reference.find("- seq: 1\n").unwrap(), reference.find("- seq: 2\n").unwrap());
    let mut text = format!("{}{}", &reference[..start], &reference[end..]);
    text = text.replacen("Authorization: Basic {{redacted}}", "Authorization: Basic dXNlcjpodW50ZXIy", 1);
    text = text.replacen(
        "    - X-RestSvcSessionId: \"{{token:1}}\"",
        "    - X-RestSvcSessionId: \"NDRjZmJkYmUtNWE5NS00MTU2\"",
        1,
    );
    text = text.replacen(
        "<JobType>RestoreVm</JobType>",
        "<JobType>RestoreVm</JobType>\n          <Password>hunter2</Password>",
        1,
    );
    text = text.replacen(
        "        <Operation>StartVMRestore</Operation>\n      </Task>",
        "        <Operation>StartVMRestore</Operation>\n      </Tsk>",
        1,
    );
    let dir = temp_dir("lint-planted");
    let file = dir.join("planted.yaml");
    std::fs::write(&file, &text).unwrap();
    let (code, out, err) = run(&["lint", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("emtape: 404"), "the mock inside the library keeps its misses to itself: {err}");
    let findings: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let line_of = |needle: &str| text[..text.find(needle).unwrap()].matches('\n').count() + 1;
    let has = |kind: &str, words: &str| {
        findings.iter().any(|f| {
            f["kind"] == kind && f["message"].as_str().unwrap().contains(words) && f["line"].as_u64().unwrap() > 0
        })
    };
    assert!(has("dangling-link", "GET /api/"), "{out}");
    assert!(has("secret", "Authorization holds a credential"), "{out}");
    assert!(has("secret", "live session token"), "{out}");
    assert!(has("secret", "<Password>"), "{out}");
    assert!(has("unparsable-body", "is not XML"), "{out}");
    let credential = findings.iter().find(|f| f["message"].as_str().unwrap().contains("credential")).unwrap();
    assert_eq!(credential["file"], file.to_str().unwrap());
    let logon_line = line_of("- seq: 2\n");
    assert_eq!(credential["line"].as_u64().unwrap() as usize, logon_line, "located at its exchange");
    let (code, out, _) = run(&[
        "lint",
        file.to_str().unwrap(),
        "--allow",
        "dangling-link",
        "--allow",
        "secret",
        "--allow",
        "unparsable-body",
    ]);
    assert_eq!(code, 0, "--allow accepts kinds on purpose");
    assert!(out.ends_with("1 cassette linted: 0 findings, clean\n"), "one cassette, said so: {out}");
    let (code, _, err) = run(&["lint", file.to_str().unwrap(), "--allow", "secrets"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `secret`?"), "{err}");
}

#[test]
fn an_exchange_another_cassette_always_answers_first_is_found_shadowed() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let dir = temp_dir("lint-shadowed");
    std::fs::write(dir.join("a.yaml"), &reference).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        reference.replace("Name=\"dc01@2025-12-07 11:48:39\"", "Name=\"dc02@2025-12-07 11:48:39\""),
    )
    .unwrap();
    let (code, out, err) = run(&["lint", dir.to_str().unwrap(), "--allow", "unrecorded", "--allow", "derived"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("b.yaml:") && out.contains("shadowed: exchange 4 (GET /api/vmRestorePoints) is never served"),
        "{out}"
    );
    assert!(
        out.ends_with("2 cassettes linted: 1 finding, not clean\n"),
        "only the exchange whose answer differs; identical ones shadow nothing: {out}"
    );
}

/// Files named one by one are served together, so they are linted together wherever they sit:
/// two releases named from their folders were linted apart and called clean, while `serve`
/// answered with the first one's exchanges; `serve` now warns of it too.
#[test]
fn cassettes_named_from_different_folders_are_linted_as_serve_serves_them() {
    let (a, b) = ("cassettes/em-9.5/vm-restore.yaml", "cassettes/reference/vm-restore.yaml");
    let (code, out, _) = run(&["lint", a, b]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cassettes/reference/vm-restore.yaml:") && out.contains("shadowed"), "{out}");
    let (code, out, _) = run(&["lint", "cassettes/"]);
    assert_eq!(code, 0, "a folder of releases is linted release by release: {out}");
    let serve = Emtape::serve(&[a, b]);
    let (_, log) = serve.stop();
    assert!(
        log.contains("recorded exchanges can never be served") && log.contains("serve one release at a time"),
        "{log}"
    );
}

/// A cassette of no exchanges answers nothing: it was called clean.
#[test]
fn an_empty_cassette_is_not_clean() {
    let empty = temp_dir("lint-empty").join("empty.yaml");
    std::fs::write(&empty, "format: emtape/cassette-v1\nexchanges: []\n").unwrap();
    let (code, out, err) = run(&["lint", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("empty.yaml:1: cassette-warning: the cassette holds no exchanges"), "{out}");
}

/// EM's answer to a logon with credentials it does not accept, as a recorder writes it.
const REFUSED_LOGON: &str = r#"format: emtape/cassette-v1
meta:
  product: Veeam Backup Enterprise Manager
  product_version: 13.0.1.1071
  api_version: v1_7
exchanges:
- seq: 1
  request:
    method: POST
    uri: /api/sessionMngr/?v=v1_7
    headers:
    - Accept: application/xml
    - Authorization: Basic {{redacted}}
  response:
    status: 401
    headers:
    - Content-Type: application/xml
    - WWW-Authenticate: Basic Realm=RestSvc
    - Server: Microsoft-HTTPAPI/2.0
    - Date: "{{date}}"
    body: |
      <?xml version="1.0" encoding="utf-8"?>
      <Error xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Message="Logon failed: the user name or password is incorrect." StatusCode="401" xmlns="http://www.veeam.com/ent/v1.0" />
"#;

/// Issue #23: a cassette whose only logon is a recorded 401 was served as "the cassettes hold
/// no exchanges" (404) while lint called it clean. The 401 is EM's answer to the credentials
/// (redacted, so any Basic value is the same request): serve replays it, and lint agrees.
#[tokio::test]
async fn a_recorded_logon_refusal_is_replayed_as_ems_answer_and_lint_agrees() {
    let dir = temp_dir("lint-refused-logon");
    let file = dir.join("refused.yaml");
    std::fs::write(&file, REFUSED_LOGON).unwrap();
    let (code, out, err) = run(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, 0, "serve answers it as EM did, so lint does not call it broken: {out}{err}");
    let mock = Emtape::serve(&[file.to_str().unwrap()]);
    let logon = format!("{}/api/sessionMngr/?v=v1_7", mock.url);
    let basic = [("Accept", "application/xml"), ("Authorization", "Basic YWRtaW46d3Jvbmc=")];
    let r = send(&client(), "POST", &logon, &basic, "").await;
    assert_eq!(r.status, 401, "{}", text(&r));
    assert!(text(&r).contains("Message=\"Logon failed: the user name or password is incorrect.\""), "{}", text(&r));
    assert_eq!(r.headers.get("www-authenticate"), Some("Basic Realm=RestSvc"));
    assert_eq!(r.headers.get("x-restsvcsessionid"), None, "a refused logon starts no session");
    // Beside a logon that succeeded with the same (redacted) request, the refusal is evidence:
    // the logon answers.
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let refusal = &REFUSED_LOGON[REFUSED_LOGON.find("- seq: 1\n").unwrap()..].replace("- seq: 1\n", "- seq: 14\n");
    let both = dir.join("both.yaml");
    std::fs::write(&both, format!("{reference}{refusal}")).unwrap();
    let mock = Emtape::serve(&[both.to_str().unwrap()]);
    let r = send(&client(), "POST", &format!("{}/api/sessionMngr/?v=v1_7", mock.url), &basic, "").await;
    assert_eq!(r.status, 201, "{}", text(&r));
    let (code, out, err) = run(&["lint", both.to_str().unwrap(), "--allow", "unrecorded", "--allow", "derived"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Issue #23: a live token pasted into the logon (and a Basic credential) gave its three
/// `secret` findings and 54 `dangling-link` ones ("answers 401"), one of them at line 0: every
/// link failed for the one reason that the session no longer matched. The secrets stand; the
/// links that could not be checked are one finding at the secret's line; no finding is at line 0.
#[test]
fn a_pasted_live_token_is_reported_as_its_secret_not_as_every_link_it_breaks() {
    let token = "NDRjZmJkYmUtNWE5NS00MTU2LWI0ZjEtMGM4ZDc3YTNlOGQx";
    let text = std::fs::read_to_string("cassettes/reference/vm-restore.yaml")
        .unwrap()
        .replacen("Authorization: Basic {{redacted}}", "Authorization: Basic YWRtaW46c2VjcmV0", 1)
        .replacen("X-RestSvcSessionId: \"{{token:1}}\"", &format!("X-RestSvcSessionId: \"{token}\""), 1)
        .replacen("X-RestSvcSessionId={{token:1}};", &format!("X-RestSvcSessionId={token};"), 1);
    let file = temp_dir("lint-pasted-token").join("pasted.yaml");
    std::fs::write(&file, &text).unwrap();
    let (code, out, err) = run(&["lint", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let findings: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let logon_line = (text[..text.find("- seq: 2\n").unwrap()].matches('\n').count() + 1) as u64;
    let of = |kind: &str| findings.iter().filter(|f| f["kind"] == kind).collect::<Vec<_>>();
    let secrets = of("secret");
    assert_eq!(secrets.len(), 3, "Authorization, the header and the cookie: {out}");
    assert!(secrets.iter().all(|f| f["line"] == logon_line), "{out}");
    let links = of("dangling-link");
    assert_eq!(links.len(), 1, "one finding for the links the secret keeps from being checked: {out}");
    assert!(links[0]["message"].as_str().unwrap().contains("the links could not be checked (XML)"), "{out}");
    assert_eq!(links[0]["line"], logon_line, "at the secret's line: {out}");
    assert_eq!(findings.len(), 4, "{out}");
    assert!(findings.iter().all(|f| f["line"].as_u64().unwrap() > 0), "no finding at line 0: {out}");
}

/// A restore flow recorded alone answers the other points of its listing by derivation (its
/// one recorded point, another VM's identity): lint was clean. It says what rests on it.
#[test]
fn answers_made_from_no_recording_of_their_own_are_a_finding() {
    let (code, out, _) = run(&["lint", "cassettes/reference/vm-restore.yaml", "--allow", "unrecorded"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("derived: ") && out.contains("answers rested on no recording of their own"), "{out}");
    assert!(out.contains("derived from cassettes/reference/vm-restore.yaml exchange 5"), "{out}");
    let (code, out, _) = run(&["lint", "cassettes/reference/", "--allow", "unrecorded"]);
    assert_eq!(code, 0, "with the estate every answer is recorded: {out}");
}

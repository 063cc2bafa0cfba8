//! `emtape run`: the scenario engine against the built-in mock, broken mocks and bad files.

use std::process::Command;

use crate::support::*;

/// Masks what changes from run to run: timings, ports.
fn stable(text: &str) -> String {
    let ms = regex::Regex::new(r"\d+\.\d+ ms").unwrap();
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let time = regex::Regex::new(r#"(time|duration_ms|elapsed_ms)(="|": )[0-9.]+"#).unwrap();
    let text = ms.replace_all(text, "X ms");
    let text = port.replace_all(&text, "127.0.0.1:PORT");
    time.replace_all(&text, "${1}${2}0").into_owned()
}

fn run_fast(extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run", "scenarios/vm-restore.yaml", "--var", "poll_interval=0s"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    (code, stable(&out), err)
}

#[test]
fn the_shipped_scenario_passes_against_the_built_in_mock_in_xml() {
    let (code, out, err) = run_fast(&[]);
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn the_shipped_scenario_passes_in_json() {
    let (code, out, err) = run_fast(&["--var", "accept=application/json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASSED: 8 steps, 8 passed"), "{out}");
}

#[test]
fn with_no_scenario_the_built_in_one_runs() {
    let (code, out, _) = run(&["run", "--var", "poll_interval=0s"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("vm-restore (built-in scenarios/vm-restore.yaml) against http://127.0.0.1:"), "{out}");
}

#[test]
fn the_built_in_scenario_answers_to_its_name_away_from_a_checkout() {
    let elsewhere = temp_dir("builtin-scenario-elsewhere");
    let bin = std::path::Path::new(BIN).canonicalize().unwrap();
    for name in ["scenarios/vm-restore.yaml", "vm-restore"] {
        let out = std::process::Command::new(&bin)
            .args(["run", name, "--var", "poll_interval=0s"])
            .current_dir(&elsewhere)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.starts_with("vm-restore (built-in scenarios/vm-restore.yaml)"), "{text}");
    }
    let out = std::process::Command::new(&bin).args(["run", "vm-restre"]).current_dir(&elsewhere).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read scenario vm-restre"),
        "a typo is still an error"
    );
}

/// A copy of the XML reference cassette with `from` replaced by `to` (each must occur).
fn broken(name: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from} is not in the reference cassette");
        text = text.replace(from, to);
    }
    let path = temp_dir(name).join("broken.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_restore_task_that_fails_is_reported_at_the_polling_step() {
    let cassette = broken(
        "task-failed",
        &[
            ("<Result Success=\"true\">", "<Result Success=\"false\">"),
            ("<Message>Ok</Message>", "<Message>Not enough free space on the datastore</Message>"),
        ],
    );
    let (code, out, _) = run_fast(&["--cassette", &cassette]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out.replace(&cassette, "broken.yaml"));
}

#[test]
fn a_missing_restore_link_fails_the_restore_step() {
    let cassette = broken(
        "no-restore-link",
        &[(
            "        <Link Href=\"{{origin}}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore\" Rel=\"Restore\" />\n",
            "",
        )],
    );
    let (code, out, _) = run_fast(&["--cassette", &cassette]);
    assert_eq!(code, 1);
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("  FAIL")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].contains("start the restore"), "{out}");
    assert!(out.contains("link Rel=\"Restore\" in the response of `open the newest restore point`"), "{out}");
    assert!(out.contains("actual:   links here: Up BackupServerReference, Up RestorePointReference, Up BackupFileReference, Alternate VmRestorePointReference, Down VmRestorePointMountList, Create VmRestorePointMount"), "{out}");
    assert!(out.contains("PASS   log out"), "logout still runs: {out}");
}

#[test]
fn a_root_element_that_breaks_the_link_contract_is_caught() {
    let cassette = broken(
        "wrong-root",
        &[("<RestoreSession xmlns:xsd", "<RestoreJobSession xmlns:xsd"), ("</RestoreSession>", "</RestoreJobSession>")],
    );
    let (code, out, _) = run_fast(&["--cassette", &cassette]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL   read the restore session"), "{out}");
    assert!(out.contains("link contract: Type RestoreSession\n           --> scenarios/vm-restore.yaml:87:26\n           expected: <RestoreSession>\n           actual:   <RestoreJobSession>"), "{out}");
}

#[test]
fn a_task_that_never_finishes_times_out_with_every_attempt_reported() {
    let cassette = broken("never-finishes", &[("<State>Finished</State>", "<State>Running</State>")]);
    let (code, out, _) =
        run_fast(&["--cassette", &cassette, "--var", "poll_timeout=20ms", "--var", "poll_interval=5ms"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL   wait for the restore task"), "{out}");
    assert!(out.contains("attempts: 200 State=Running, 200 State=Running"), "{out}");
    assert!(
        out.contains("poll until\n           --> scenarios/vm-restore.yaml:76:5\n           expected: State Finished\n           actual:   State=Running after"),
        "{out}"
    );
}

#[test]
fn an_unreachable_target_is_a_network_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, out, _) =
        run(&["run", "--target", &format!("http://127.0.0.1:{port}"), "--user", "admin", "--password-env", "PATH"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("ERROR  discover the API"), "{out}");
    assert!(out.contains("cannot connect"), "{out}");
}

#[tokio::test]
async fn a_real_server_is_driven_with_the_users_credentials_which_are_never_shown() {
    let mock = Emtape::serve(&["-v"]);
    let dir = temp_dir("creds");
    let (junit, json, cassette) = (dir.join("r.xml"), dir.join("r.json"), dir.join("rec.yaml"));
    let out = std::process::Command::new(BIN)
        .args([
            "run",
            "scenarios/vm-restore.yaml",
            "--target",
            &format!("{}/api/", mock.url),
            "--user",
            "CORP\\restore",
            "--password-env",
            "EM_PW",
        ])
        .args([
            "--var",
            "poll_interval=0s",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--record",
            cassette.to_str().unwrap(),
        ])
        .env("EM_PW", "hunter2-very-secret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let basic = emtape::codec::base64_encode(b"CORP\\restore:hunter2-very-secret");
    for (what, text) in [
        ("stdout", stdout.clone()),
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("junit", std::fs::read_to_string(&junit).unwrap()),
        ("json", std::fs::read_to_string(&json).unwrap()),
        ("cassette", std::fs::read_to_string(&cassette).unwrap()),
        ("mock log", mock.stderr()),
    ] {
        assert!(!text.contains("hunter2"), "{what} shows the password");
        assert!(!text.contains(&basic), "{what} shows the credentials");
    }
    assert!(
        stdout.contains("DELETE /api/logonSessions/{session-id} -> 204"),
        "the live session id is not shown: {stdout}"
    );
}

#[tokio::test]
async fn a_recorded_run_replays_and_holds_no_live_token() {
    let dir = temp_dir("record-run");
    let cassette = dir.join("em13.yaml");
    let (code, out, err) = run_fast(&["--record", cassette.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("recorded 10 exchanges"), "{err}");
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(text.contains("api_version: v1_7"), "{text}");
    assert!(text.contains("- v1_5\n  - v1_6\n  - v1_7"), "supported versions learnt from the root document");
    assert!(text.contains("X-RestSvcSessionId: \"{{token:1}}\""));
    assert!(text.contains("Authorization: Basic {{redacted}}"));
    assert!(!text.contains("127.0.0.1"), "the recorded origin is a placeholder");
    let loaded = emtape::cassette::Cassette::load(&cassette).unwrap();
    assert_eq!(loaded.cassette.to_yaml(), text, "the recorder writes canonical cassettes");
    // The recording replays: run the scenario against `emtape serve` of it.
    let mock = Emtape::serve(&[cassette.to_str().unwrap(), "--strict"]);
    let (code, out, _) =
        run(&["run", "--target", &mock.url, "--user", "u", "--password-env", "PATH", "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "{out}");
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(0), "every recorded exchange was used: {stderr}");
}

#[test]
fn reports_are_pinned_and_junit_parses() {
    let dir = temp_dir("reports");
    let cassette = broken("reports-task-failed", &[("<Result Success=\"true\">", "<Result Success=\"false\">")]);
    let (junit, json) = (dir.join("r.xml"), dir.join("r.json"));
    let (code, _, _) =
        run_fast(&["--cassette", &cassette, "--junit", junit.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    assert_eq!(code, 1);
    let junit = std::fs::read_to_string(&junit).unwrap();
    let doc = emtape::xml::parse(&junit).expect("JUnit XML parses");
    assert_eq!(doc.name, "testsuites");
    assert_eq!(doc.attribute("failures"), Some("1"));
    insta::assert_snapshot!("junit", stable(&junit).replace(&cassette, "broken.yaml"));
    let json = std::fs::read_to_string(&json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["passed"], false);
    insta::assert_snapshot!("json", stable(&json).replace(&cassette, "broken.yaml"));
}

#[test]
fn colour_follows_no_color_and_the_terminal() {
    let (_, out, _) = run_fast(&[]);
    assert!(!out.contains('\x1b'), "no colour when stdout is not a terminal");
}

fn scenario_error(name: &str, text: &str) -> String {
    let path = temp_dir(name).join("s.yaml");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    err.replace(path.to_str().unwrap(), "s.yaml")
}

#[test]
fn bad_scenarios_get_file_line_column_and_a_hint() {
    let base = "name: s\nvars:\n  vm: x\nsteps:\n- name: root\n  request: GET /api/\n";
    let cases = [
        ("unknown-var", format!("{base}- name: two\n  request: GET /api/{{{{vmm}}}}\n")),
        ("bad-xpath", format!("{base}  expect:\n    body:\n      /Task[State='x': Finished\n")),
        ("unknown-key", format!("{base}  expcet:\n    status: 200\n")),
        ("bad-from", format!("{base}- name: two\n  follow: {{rel: Down, from: rot}}\n")),
        ("bad-regex", format!("{base}  expect:\n    headers:\n      Location: {{matches: \"(unclosed\"}}\n")),
        ("no-action", format!("{base}- name: two\n  expect: {{status: 200}}\n")),
        ("bad-matcher", format!("{base}  expect:\n    body:\n      State: {{machtes: x}}\n")),
        (
            "capture-later",
            format!(
                "{base}- name: two\n  request: GET /api/{{{{token}}}}\n- name: three\n  request: GET /\n  capture:\n    token: {{header: X}}\n"
            ),
        ),
    ];
    let report: Vec<String> = cases.iter().map(|(name, text)| scenario_error(name, text)).collect();
    insta::assert_snapshot!(report.join("\n"));
}

#[test]
fn an_unknown_var_on_the_command_line_gets_a_hint() {
    let (code, _, err) = run(&["run", "scenarios/vm-restore.yaml", "--var", "vmm=sql01"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: --var vmm=sql01: scenario scenarios/vm-restore.yaml has no variable `vmm`; did you mean `vm`?\n"
    );
}

#[test]
fn the_user_without_a_password_variable_is_refused() {
    let (code, _, err) =
        run(&["run", "--target", "http://127.0.0.1:1", "--user", "u", "--password-env", "EMTAPE_NOT_SET_ANYWHERE"]);
    assert_eq!(code, 2);
    assert!(err.contains("EMTAPE_NOT_SET_ANYWHERE: the environment variable is not set"), "{err}");
}

#[test]
fn selection_by_display_name_and_newest_creation_time_works_on_entity_lists() {
    // The entity list of restore points carries VmDisplayName and CreationTimeUTC.
    let cassette = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/vmRestorePoints?format=Entity\n  response:\n    status: 200\n    headers:\n    - Content-Type: application/xml\n    body: |\n      <VmRestorePoints xmlns=\"http://www.veeam.com/ent/v1.0\">\n        <VmRestorePoint Name=\"a@1\" VmDisplayName=\"sql01\"><Links><Link Rel=\"Restore\" Href=\"{{origin}}/api/vmRestorePoints/old?action=restore\" /></Links><CreationTimeUTC>2025-01-01T10:00:00Z</CreationTimeUTC></VmRestorePoint>\n        <VmRestorePoint Name=\"b@2\" VmDisplayName=\"web01\"><Links><Link Rel=\"Restore\" Href=\"{{origin}}/api/vmRestorePoints/web?action=restore\" /></Links><CreationTimeUTC>2025-03-01T10:00:00Z</CreationTimeUTC></VmRestorePoint>\n        <VmRestorePoint Name=\"c@3\" VmDisplayName=\"sql01\"><Links><Link Rel=\"Restore\" Href=\"{{origin}}/api/vmRestorePoints/new?action=restore\" /></Links><CreationTimeUTC>2025-02-01T10:00:00Z</CreationTimeUTC></VmRestorePoint>\n      </VmRestorePoints>\n- seq: 2\n  request:\n    method: POST\n    uri: /api/vmRestorePoints/new?action=restore\n  response:\n    status: 202\n";
    let scenario = "vars: {vm: sql01}\nsteps:\n- name: list\n  request: GET /api/vmRestorePoints?format=Entity\n- name: restore\n  select:\n    items: VmRestorePoint\n    where: {VmDisplayName: \"{{vm}}\"}\n    order_by: CreationTimeUTC\n    descending: true\n  follow: {rel: Restore}\n  expect: {status: 202}\n";
    let dir = temp_dir("select-entities");
    std::fs::write(dir.join("c.yaml"), cassette).unwrap();
    std::fs::write(dir.join("s.yaml"), scenario).unwrap();
    let (code, out, err) =
        run(&["run", dir.join("s.yaml").to_str().unwrap(), "--cassette", dir.join("c.yaml").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("POST /api/vmRestorePoints/new?action=restore -> 202"), "{out}");
}

#[test]
fn a_target_whose_ca_is_in_the_system_trust_store_is_trusted_as_curl_trusts_it() {
    let dir = temp_dir("system-trust");
    let cert = dir.join("em.pem");
    let em = Emtape::serve(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    let args = [
        "run",
        "--target",
        em.url.as_str(),
        "--user",
        "admin",
        "--password-env",
        "EMTAPE_PW",
        "--var",
        "poll_interval=0s",
    ];
    let trusted = Command::new(BIN)
        .args(args)
        .env("EMTAPE_PW", "pw")
        .env("SSL_CERT_FILE", &cert)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert_eq!(trusted.status.code(), Some(0), "{}", String::from_utf8_lossy(&trusted.stdout));
    let empty = dir.join("none.pem");
    std::fs::write(&empty, "").unwrap();
    let untrusted = Command::new(BIN)
        .args(args)
        .env("EMTAPE_PW", "pw")
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.join("no-such-dir"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&untrusted.stdout);
    assert_ne!(untrusted.status.code(), Some(0), "{out}");
    assert!(
        out.contains("neither the system trust store nor --ca holds its CA"),
        "the error says which of the three helps: {out}"
    );
}

#[test]
fn xpath_expressions_that_do_not_start_with_a_slash_work_as_body_keys_and_captures() {
    let dir = temp_dir("xpath-keys");
    let scenario = dir.join("xpath.yaml");
    std::fs::write(
        &scenario,
        r#"name: xpath keys
steps:
- name: log on
  request: POST /api/sessionMngr/?v=latest
  auth: basic
  expect:
    status: 201
    body:
      count(//Link[@Rel='Down']) : "51"
      string-length(//UserName): "19"
      substring-after(//UserName, '\'): Administrator
      (//Link)[last()]/@Rel: Delete
      //Link[@Type='QueryService']/following-sibling::Link[1]/@Type: LookupService
  capture:
    links: {xpath: "count(//Link)"}
    token: {header: X-RestSvcSessionId}
  session: "{{token}}"
- name: list restore points
  request: GET /api/vmRestorePoints
  expect:
    status: 200
    body:
      count(//Ref) > 3: "true"
      count(//Ref) * 2: "8"
"#,
    )
    .unwrap();
    let (code, out, err) = run(&["run", scenario.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_query_with_raw_quotes_in_the_request_line_is_sent_as_curl_sends_it() {
    let path = temp_dir("raw-quotes").join("query.yaml");
    std::fs::write(
        &path,
        r#"name: query by name
steps:
  - name: log on
    request: POST /api/sessionMngr/?v=latest
    auth: basic
    expect:
      status: 201
    capture:
      token: {header: X-RestSvcSessionId}
    session: "{{token}}"
  - name: query
    request: GET /api/query?type=VmRestorePoint&filter=VmDisplayName=="ubuntu88"&pageSize=1
    expect:
      status: 200
      body:
        count(//Ref): 1
"#,
    )
    .unwrap();
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(r#"GET /api/query?type=VmRestorePoint&filter=VmDisplayName=="ubuntu88"&pageSize=1"#), "{out}");
}

#[test]
fn a_json_path_selecting_several_nodes_or_an_xpath_on_json_is_never_checked_silently() {
    let path = temp_dir("several-nodes").join("json.yaml");
    std::fs::write(
        &path,
        r#"name: json checks
headers:
  Accept: application/json
steps:
  - name: log on
    request: POST /api/sessionMngr/?v=latest
    auth: basic
    expect:
      status: 201
      body:
        $.links[*].rel: Up
        $.links[*].href: {exists: true}
        $.links[0].rel: Up
        //SessionId: {exists: true}
    capture:
      rel: {field: "$.links[*].rel"}
"#,
    )
    .unwrap();
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let failed: Vec<&str> =
        out.lines().map(str::trim).filter(|l| l.starts_with("body ") || l.starts_with("capture ")).collect();
    assert_eq!(failed, ["body $.links[*].rel", "body //SessionId", "capture rel"], "{out}");
    assert!(out.contains(r#""sessionId": "{session-id}""#), "an uncaptured session is still live: {out}");
    assert!(out.contains(r#"nodes: "Up", "Down", "Down", …; a check or capture compares one"#), "{out}");
    assert!(out.contains("an XPath reads XML and this body is JSON"), "{out}");
}

#[test]
fn a_json_path_function_after_a_path_gets_a_hint_that_says_how_to_count() {
    let err = scenario_error(
        "length-outside",
        "name: s\nsteps:\n- name: root\n  request: GET /api/\n  expect:\n    body:\n      $.Links.length(): 3\n",
    );
    assert!(err.contains("to check that `$.Links` has 3 items: `$.Links[2]: {exists: true}`"), "{err}");
}

/// `--var poll_interval=fast` used to run five steps, the restore POST among them, and then stop
/// with exit 3: a value that cannot serve where it is used is refused before the first request.
#[test]
fn a_var_that_cannot_serve_where_it_is_used_is_refused_before_the_first_request() {
    let em = Emtape::serve(&["-v"]);
    let refused = |var: &str| {
        let out = Command::new(BIN)
            .args(["run", "scenarios/vm-restore.yaml", "--target", &em.url, "--var", var])
            .args(["--user", "admin", "--password-env", "EMTAPE_TEST_PW"])
            .env("EMTAPE_TEST_PW", "pw")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused("poll_interval=fast");
    assert!(err.contains("the poll interval of step `wait for the restore task` is `fast`, not a duration"), "{err}");
    assert!(err.contains("--> scenarios/vm-restore.yaml:78:16"), "{err}");
    assert!(err.contains("`poll_interval` is `fast`"), "{err}");
    let err = refused("accept=application/xml\r\nX-Injected: 1");
    assert!(
        err.contains(
            "the header `Accept` sent with every request is `application/xml\\r\\nX-Injected: 1`, not a header value"
        ),
        "{err}"
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(!em.stderr().contains("/api/"), "no request reached the server: {}", em.stderr());
}

#[test]
fn a_request_url_made_of_a_var_must_be_a_path_or_an_http_url() {
    let dir = temp_dir("var-url");
    let path = dir.join("s.yaml");
    std::fs::write(&path, "name: s\nvars: {root: /api/}\nsteps:\n- name: root\n  request: GET {{root}}\n").unwrap();
    let (code, _, err) = run(&["run", path.to_str().unwrap(), "--var", "root=api"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the URL of step `root` is `api`, not a URL") && err.contains("s.yaml:5:16"), "{err}");
    let (code, out, err) = run(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_refused_logon_is_one_failure_that_names_the_credentials_and_skips_the_rest_and_the_logout() {
    let em = RefusingEm::start();
    let dir = temp_dir("run-refused");
    let (junit, json) = (dir.join("r.xml"), dir.join("r.json"));
    let (code, out, err) = run(&[
        "run",
        "scenarios/vm-restore.yaml",
        "--target",
        &em.url,
        "--user",
        "admin",
        "--password-env",
        "PATH",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a failed check: {out}{err}");
    insta::assert_snapshot!(stable(&out), @r"
    vm-restore (scenarios/vm-restore.yaml) against http://127.0.0.1:PORT

      PASS   discover the API               GET /api/ -> 200  X ms
      FAIL   log on                         POST /api/sessionMngr/?v=latest -> 401  X ms
             logon refused (401, EM: Authentication failed: wrong user name or password.): check --user / --password-env
      SKIP   list restore points            the logon was refused (401)
      SKIP   open the newest restore point  the logon was refused (401)
      SKIP   start the restore              the logon was refused (401)
      SKIP   wait for the restore task      the logon was refused (401)
      SKIP   read the restore session       the logon was refused (401)
      finally:
      SKIP   log out                        there is no session: the logon was refused (401)

    FAILED: 8 steps, 1 passed, 1 failed, 6 skipped in X ms
    ");
    let junit = std::fs::read_to_string(&junit).unwrap();
    let doc = emtape::xml::parse(&junit).expect("JUnit XML parses");
    assert_eq!((doc.attribute("failures"), doc.attribute("skipped")), (Some("1"), Some("6")), "{junit}");
    assert!(junit.contains("<failure message=\"logon refused (401, EM: "), "{junit}");
    assert!(junit.contains("<skipped message=\"there is no session: the logon was refused (401)\"/>"), "{junit}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let outcomes: Vec<&str> =
        json["steps"].as_array().unwrap().iter().map(|s| s["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["passed", "failed", "skipped", "skipped", "skipped", "skipped", "skipped", "skipped"]);
    let logon = &json["steps"][1];
    assert_eq!(logon["checks"], serde_json::json!([]), "one cause, not six checks: {logon}");
    assert!(logon["message"].as_str().unwrap().starts_with("logon refused (401"), "{logon}");
}

#[test]
fn an_http_target_that_speaks_tls_is_told_to_use_https_by_run_and_crawl() {
    let mock = Emtape::serve(&["--tls"]);
    let https = mock.url.clone();
    let http = https.replacen("https://", "http://", 1);
    let wanted = format!("the server speaks TLS (HTTPS) on this port, not plain HTTP: use {https}");
    let (code, out, _) = run(&["run", "--target", &http, "--user", "u", "--password-env", "PATH"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(&format!("{http}/api/: {wanted}")), "{out}");
    let cassette = temp_dir("crawl-speaks-tls").join("x.yaml");
    let (code, out, _) = run(&[
        "crawl",
        "--target",
        &http,
        "--user",
        "u",
        "--password-env",
        "PATH",
        "--out",
        cassette.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(&wanted), "{out}");
}

/// A map of what a run exercised of what the cassettes serve: the shipped scenario on the
/// built-in EM uses its restore path (the restore point, the Task, the RestoreSession, the
/// Restore action) and none of the monitoring surface, and says so in numbers.
#[test]
fn coverage_maps_what_the_shipped_scenario_exercised_of_the_served_surface() {
    let dir = temp_dir("coverage");
    let (json, html) = (dir.join("coverage.json"), dir.join("coverage.html"));
    let (code, _, err) = run(&[
        "run",
        "--var",
        "poll_interval=0s",
        "--coverage",
        "--coverage-json",
        json.to_str().unwrap(),
        "--coverage-html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("coverage of what the cassettes serve (10 requests):"), "{err}");
    let c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let dimension =
        |name: &str| c["dimensions"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap().clone();
    let used = |name: &str| -> Vec<String> {
        dimension(name)["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["used"].as_u64().unwrap() > 0)
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(used("actions"), ["Create LogonSession", "Delete LogonSession", "Restore VmRestorePoint"]);
    assert!(used("resource types").contains(&"RestoreSession".to_owned()), "{c}");
    assert!(used("links followed").contains(&"Down VmRestorePointReferenceList".to_owned()), "{c}");
    assert_eq!(dimension("query types")["used"], 0);
    assert!(dimension("resource types")["served"].as_u64().unwrap() > 30, "the estate is served: {c}");
    let percent = dimension("actions")["percent"].as_f64().unwrap();
    assert!(percent > 0.0 && percent < 50.0, "{percent}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<li class=\"used\"") && page.contains("Restore VmRestorePoint"),
        "the surface, used parts marked"
    );
}

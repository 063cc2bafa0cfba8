//! `emtape serve`: the mock EM, driven by real clients over loopback.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn prints_listening_on_a_free_port_first() {
    let mock = Emtape::serve(&[]);
    assert!(mock.url.starts_with("http://127.0.0.1:"), "{}", mock.url);
    assert!(!mock.url.ends_with(":0"));
}

#[tokio::test]
async fn an_xml_client_completes_the_restore_flow() {
    let mock = Emtape::serve(&[]);
    let flow = restore_flow(&client(), &mock.url, false).await;
    assert_eq!(flow.task_states, ["Running", "Running", "Running", "Finished"]);
    assert_eq!(flow.restore_session_state, "Stopped");
}

#[tokio::test]
async fn a_json_client_completes_the_restore_flow() {
    let mock = Emtape::serve(&[]);
    let flow = restore_flow(&client(), &mock.url, true).await;
    assert_eq!(flow.task_states, ["Running", "Running", "Running", "Finished"]);
    assert_eq!(flow.restore_session_state, "Stopped");
}

#[tokio::test]
async fn an_https_client_completes_the_flow_trusting_the_minted_certificate() {
    let dir = temp_dir("tls-minted");
    let cert = dir.join("cert.pem");
    let mock = Emtape::serve(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    assert!(mock.url.starts_with("https://127.0.0.1:"), "{}", mock.url);
    let flow = restore_flow(&tls_client(&cert), &mock.url, false).await;
    assert_eq!(flow.task_states.last().map(String::as_str), Some("Finished"));
    let json = restore_flow(&tls_client(&cert), &mock.url.replace("127.0.0.1", "localhost"), true).await;
    assert_eq!(json.restore_session_state, "Stopped");
}

#[tokio::test]
async fn serves_https_with_the_users_own_certificate() {
    let dir = temp_dir("tls-own");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let mock = Emtape::serve(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let root = send(&tls_client(&cert), "GET", &format!("{}/api/", mock.url), &[], "").await;
    assert_eq!(root.status, 200);
    assert!(text(&root).contains(&format!("Href=\"{}/api/logonSessions\"", mock.url)));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let mock = Emtape::serve(&["--tls"]);
    let dir = temp_dir("tls-untrusted");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.join("other.pem"), other.cert.pem()).unwrap();
    let err = tls_client(&dir.join("other.pem"))
        .send("GET", &format!("{}/api/", mock.url), &headers(&[]), Default::default())
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(mock.stderr().contains("TLS handshake with 127.0.0.1"), "{}", mock.stderr());
}

#[tokio::test]
async fn links_point_at_the_address_the_client_used() {
    let mock = Emtape::serve(&[]);
    let r = send(&client(), "GET", &format!("{}/api/", mock.url), &[("Host", "em.example.test:9398")], "").await;
    assert!(text(&r).contains("Href=\"http://em.example.test:9398/api/logonSessions\""), "{}", text(&r));
    let evil = send(&client(), "GET", &format!("{}/api/", mock.url), &[("Host", "x\"><script>")], "").await;
    assert!(
        text(&evil).contains(&format!("Href=\"{}/api/logonSessions\"", mock.url)),
        "a bad Host falls back to the real address"
    );
}

#[tokio::test]
async fn logon_accepts_every_spelling_real_clients_use() {
    let mock = Emtape::serve(&[]);
    let auth = [("Authorization", "Basic dXNlcjpwYXNzd29yZA==")];
    let mut tokens = Vec::new();
    for path in [
        "/api/sessionMngr/?v=v1_7",
        "/api/sessionMngr/?v=latest",
        "/api/sessionMngr/",
        "/api/sessionMngr",
        "//api//sessionMngr",
        "/api/sessionMngr/?v=v1_5",
        "/api/SESSIONMNGR/?v=V1_6",
    ] {
        let r = send(&client(), "POST", &format!("{}{path}", mock.url), &auth, "junk=form&data").await;
        assert_eq!(r.status, 201, "{path}: {}", text(&r));
        tokens.push(r.headers.get("x-restsvcsessionid").unwrap().to_owned());
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 7, "each logon mints a fresh token");
}

#[tokio::test]
async fn logon_with_a_version_the_release_does_not_support_gets_ems_400_naming_the_versions() {
    let mock = Emtape::serve(&[]);
    let r = send(
        &client(),
        "POST",
        &format!("{}/api/sessionMngr/?v=v1_4", mock.url),
        &[("Authorization", "Basic eDp5")],
        "",
    )
    .await;
    assert_eq!(r.status, 400, "EM refuses a version it does not know; it does not lose the resource");
    assert!(
        text(&r).contains(
            "<Error Message=\"The requested API version v1_4 is not supported. Supported versions: v1_5, v1_6, v1_7.\""
        ),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn logon_without_credentials_gets_401_with_the_em_challenge() {
    let mock = Emtape::serve(&[]);
    let r = send(&client(), "POST", &format!("{}/api/sessionMngr/?v=latest", mock.url), &[], "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers.get("www-authenticate"), Some("Basic Realm=RestSvc"));
    assert!(text(&r).contains("<Error Message=\"logon needs credentials"), "{}", text(&r));
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let mock = Emtape::serve(&[]);
    let url = format!("{}/api/vmRestorePoints", mock.url);
    let none = send(&client(), "GET", &url, &[], "").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.headers.get("www-authenticate"), Some("Basic Realm=RestSvc"));
    assert!(text(&none).contains("carries no session token"), "{}", text(&none));
    let forged = send(&client(), "GET", &url, &[("X-RestSvcSessionId", "Zm9yZ2Vk")], "").await;
    assert_eq!(forged.status, 401);
    assert!(text(&forged).contains("never issued"));
    let json = send(&client(), "GET", &url, &[("Accept", "application/json")], "").await;
    let body: serde_json::Value = serde_json::from_str(text(&json)).unwrap();
    assert_eq!(body["StatusCode"], 401);
}

#[tokio::test]
async fn a_token_is_dead_after_logout() {
    let mock = Emtape::serve(&[]);
    let (token, id) = logon_session(&mock.url, &[]).await;
    let url = format!("{}/api/vmRestorePoints", mock.url);
    assert_eq!(send(&client(), "GET", &url, &[("X-RestSvcSessionId", &token)], "").await.status, 200);
    let out = send(
        &client(),
        "DELETE",
        &format!("{}/api/logonSessions/{id}", mock.url),
        &[("X-RestSvcSessionId", &token)],
        "",
    )
    .await;
    assert_eq!(out.status, 204);
    let after = send(&client(), "GET", &url, &[("X-RestSvcSessionId", &token)], "").await;
    assert_eq!(after.status, 401);
    assert!(text(&after).contains("the session was closed"));
}

#[tokio::test]
async fn the_cookie_wins_over_the_header_and_may_be_sent_twice() {
    let mock = Emtape::serve(&[]);
    let token = logon(&mock.url, &[]).await;
    let url = format!("{}/api/vmRestorePoints", mock.url);
    let twice = format!("X-RestSvcSessionId={token}; X-RestSvcSessionId={token}");
    let ok = send(&client(), "GET", &url, &[("Cookie", &twice), ("X-RestSvcSessionId", "c3RhbGU=")], "").await;
    assert_eq!(ok.status, 200, "a live cookie wins over a stale header");
    let stale =
        send(&client(), "GET", &url, &[("Cookie", "X-RestSvcSessionId=c3RhbGU="), ("X-RestSvcSessionId", &token)], "")
            .await;
    assert_eq!(stale.status, 401, "a stale cookie wins over a live header");
}

#[tokio::test]
async fn a_restore_post_is_accepted_with_or_without_a_body_and_extra_v_is_ignored() {
    let mock = Emtape::serve(&[]);
    let token = logon(&mock.url, &[]).await;
    let url = format!("{}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore&v=v1_7", mock.url);
    let bare = send(&client(), "POST", &url, &[("X-RestSvcSessionId", &token)], "").await;
    assert_eq!(bare.status, 202);
    let spec = r#"<RestoreSpec xmlns="http://www.veeam.com/ent/v1.0"><VmRestoreSpec><PowerOnAfterRestore>false</PowerOnAfterRestore><QuickRollback>false</QuickRollback></VmRestoreSpec></RestoreSpec>"#;
    let with_spec =
        send(&client(), "POST", &url, &[("X-RestSvcSessionId", &token), ("Content-Type", "application/xml")], spec)
            .await;
    assert_eq!(with_spec.status, 202);
}

/// Starts the restore of the recorded point: the session's task-1.
async fn start_restore(base: &str, token: &str, json: bool) {
    let mut h = vec![("X-RestSvcSessionId", token)];
    if json {
        h.push(("Accept", "application/json"));
    }
    let url = format!("{base}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore");
    let r = send(&client(), "POST", &url, &h, "").await;
    assert_eq!(r.status, 202, "{}", text(&r));
    assert_eq!(value(text(&r), json, "TaskId").as_deref(), Some("task-1"));
}

#[tokio::test]
async fn polling_repeats_the_last_answer() {
    let mock = Emtape::serve(&[]);
    let token = logon(&mock.url, &[]).await;
    start_restore(&mock.url, &token, false).await;
    let url = format!("{}/api/tasks/task-1", mock.url);
    let mut states = Vec::new();
    for _ in 0..5 {
        let r = send(&client(), "GET", &url, &[("X-RestSvcSessionId", &token)], "").await;
        states.push(value(text(&r), false, "State").unwrap());
    }
    assert_eq!(states, ["Running", "Running", "Finished", "Finished", "Finished"]);
}

#[tokio::test]
async fn two_sessions_polling_at_once_each_see_the_whole_sequence() {
    let mock = Emtape::serve(&[]);
    let (a, b) = (logon(&mock.url, &[]).await, logon(&mock.url, &[("Accept", "application/json")]).await);
    start_restore(&mock.url, &a, false).await;
    start_restore(&mock.url, &b, true).await;
    let url = format!("{}/api/tasks/task-1", mock.url);
    let poll = |token: String, json: bool| {
        let url = url.clone();
        async move {
            let c = client();
            let mut states = Vec::new();
            for _ in 0..4 {
                let mut h = vec![("X-RestSvcSessionId", token.as_str())];
                if json {
                    h.push(("Accept", "application/json"));
                }
                let r = send(&c, "GET", &url, &h, "").await;
                states.push(value(text(&r), json, "State").unwrap());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            states
        }
    };
    let (sa, sb) = tokio::join!(tokio::spawn(poll(a, false)), tokio::spawn(poll(b, true)));
    assert_eq!(sa.unwrap(), ["Running", "Running", "Finished", "Finished"]);
    assert_eq!(sb.unwrap(), ["Running", "Running", "Finished", "Finished"]);
}

#[tokio::test]
async fn two_clients_run_the_whole_flow_concurrently() {
    let mock = Emtape::serve(&[]);
    let (cx, cj) = (client(), client());
    let (x, j) = tokio::join!(restore_flow(&cx, &mock.url, false), restore_flow(&cj, &mock.url, true));
    assert_eq!(x.task_states, j.task_states);
    assert_ne!(x.token, j.token);
}

/// Replaces the random port so snapshots are stable.
fn stable(s: &str, url: &str) -> String {
    s.replace(url, "http://127.0.0.1:PORT")
}

#[tokio::test]
async fn a_near_miss_names_the_closest_request_and_the_part_that_differs() {
    let mock = Emtape::serve(&["cassettes/reference/vm-restore.yaml"]);
    let token = logon(&mock.url, &[]).await;
    let cases = [
        ("GET", "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6434?format=Entity", vec![], ""),
        ("GET", "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?format=Entities", vec![], ""),
        ("PUT", "/api/vmRestorePoints", vec![], ""),
        ("GET", "/api/tasks/task-1", vec![("Accept", "text/html, application/json")], ""),
    ];
    let mut report = String::new();
    for (method, path, mut h, body) in cases {
        h.push(("X-RestSvcSessionId", token.as_str()));
        let r = send(&client(), method, &format!("{}{path}", mock.url), &h, body).await;
        assert_eq!(r.status, if method == "PUT" { 405 } else { 404 });
        let message = if text(&r).starts_with('{') {
            serde_json::from_str::<serde_json::Value>(text(&r)).unwrap()["Message"].as_str().unwrap().to_owned()
        } else {
            emtape::xml::parse(text(&r)).unwrap().attribute("Message").unwrap().to_owned()
        };
        report.push_str(&message);
        report.push_str("\n\n");
    }
    insta::assert_snapshot!(report);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        mock.stderr().contains("emtape: 405 PUT is not allowed on /api/vmRestorePoints: it takes GET"),
        "{}",
        mock.stderr()
    );
}

#[tokio::test]
async fn a_body_that_differs_from_the_recorded_one_is_a_near_miss() {
    let dir = temp_dir("body-miss");
    let path = dir.join("spec.yaml");
    std::fs::write(
        &path,
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: POST\n    uri: /api/vmRestorePoints/1?action=restore\n    \
         body: <RestoreSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><VmRestoreSpec><PowerOnAfterRestore>false</PowerOnAfterRestore></VmRestoreSpec></RestoreSpec>\n  \
         response:\n    status: 202\n",
    )
    .unwrap();
    let mock = Emtape::serve(&[path.to_str().unwrap()]);
    let url = format!("{}/api/vmRestorePoints/1?action=restore", mock.url);
    let same = "<p:RestoreSpec xmlns:p=\"http://www.veeam.com/ent/v1.0\">\n  <p:VmRestoreSpec>\n    <p:PowerOnAfterRestore>false</p:PowerOnAfterRestore>\n  </p:VmRestoreSpec>\n</p:RestoreSpec>";
    assert_eq!(send(&client(), "POST", &url, &[], same).await.status, 202, "prefixes and white space do not matter");
    let other = same.replace(">false<", ">true<");
    let r = send(&client(), "POST", &url, &[], &other).await;
    assert_eq!(r.status, 404);
    let message = emtape::xml::parse(text(&r)).unwrap().attribute("Message").unwrap().to_owned();
    assert_eq!(
        message.lines().last(),
        Some("differs in body: /RestoreSpec/VmRestoreSpec/PowerOnAfterRestore: expected text \"false\", got \"true\"")
    );
}

/// Among thousands of recorded requests, the closest is still the one named (only those a quick
/// comparison finds close are compared letter by letter, or a large estate's 404 took seconds).
#[tokio::test]
async fn a_near_miss_among_thousands_of_recorded_requests_names_the_closest() {
    let dir = temp_dir("near-miss-many");
    let path = dir.join("many.yaml");
    let mut yaml = String::from("format: emtape/cassette-v1\nexchanges:\n");
    let mut uris: Vec<String> = (0..2500).map(|i| format!("/api/jobs/{i}")).collect();
    uris.push("/api/backupServers/b1/jobs".to_owned());
    for (seq, uri) in uris.iter().enumerate() {
        yaml.push_str(&format!(
            "- seq: {}\n  request:\n    method: GET\n    uri: {uri}\n  response:\n    status: 200\n",
            seq + 1
        ));
    }
    std::fs::write(&path, yaml).unwrap();
    let mock = Emtape::serve(&[path.to_str().unwrap()]);
    let r = send(&client(), "GET", &format!("{}/api/backupServers/b2/jobs", mock.url), &[], "").await;
    assert_eq!(r.status, 404);
    assert!(text(&r).contains("closest: GET /api/backupServers/b1/jobs ("), "{}", text(&r));
    assert!(text(&r).contains("many.yaml:15003, exchange 2501)"), "{}", text(&r));
}

/// HEAD is GET without the body, and a method the path does not take is EM's 405 with an
/// `Allow` header, not a 404 saying nothing was recorded (a derived restore point included).
#[tokio::test]
async fn head_is_answered_as_get_and_a_wrong_method_gets_405_with_allow() {
    let mock = Emtape::serve(&[]);
    let token = logon(&mock.url, &[]).await;
    let h = [("X-RestSvcSessionId", token.as_str())];
    let list = format!("{}/api/vmRestorePoints", mock.url);
    let head = send(&client(), "HEAD", &list, &h, "").await;
    let get = send(&client(), "GET", &list, &h, "").await;
    assert_eq!((head.status, head.headers.get("content-length")), (200, get.headers.get("content-length")));
    assert!(head.body.is_empty());
    let derived = format!("{}/api/vmRestorePoints/3b706812-05e7-4e00-a70b-233816202528", mock.url);
    for (method, url, allow) in [("PUT", &list, "GET"), ("DELETE", &derived, "GET"), ("OPTIONS", &list, "GET")] {
        let r = send(&client(), method, url, &h, "").await;
        assert_eq!((r.status, r.headers.get("allow")), (405, Some(allow)), "{method} {url}: {}", text(&r));
        assert!(text(&r).contains("StatusCode=\"405\""), "EM's Error body: {}", text(&r));
    }
    let logon_by_get = send(&client(), "GET", &format!("{}/api/sessionMngr/?v=latest", mock.url), &[], "").await;
    assert_eq!((logon_by_get.status, logon_by_get.headers.get("allow")), (405, Some("POST")));
}

/// The README's plain-serve section: `--running-polls` and `--latency` shape the run without a
/// scenario (they required one), and `POST /__emtape/reset` forgets every session (it was a 404
/// near miss).
#[tokio::test]
async fn plain_serve_takes_running_polls_latency_and_the_reset_endpoint() {
    let mock = Emtape::serve(&["--running-polls", "4", "--latency", "50ms"]);
    let token = logon(&mock.url, &[]).await;
    let h = [("X-RestSvcSessionId", token.as_str())];
    let point = format!("{}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?action=restore", mock.url);
    let started = std::time::Instant::now();
    let task = send(&client(), "POST", &point, &h, "").await;
    assert_eq!(task.status, 202, "{}", text(&task));
    assert!(started.elapsed() >= Duration::from_millis(50), "every answer waits --latency");
    let states: Vec<String> = task_states(&mock.url, &h).await;
    assert_eq!(states, ["Running", "Running", "Running", "Running", "Finished"]);
    let reset = send(&client(), "POST", &format!("{}/__emtape/reset", mock.url), &[], "").await;
    assert_eq!(reset.status, 204);
    let after = send(&client(), "GET", &format!("{}/api/vmRestorePoints", mock.url), &h, "").await;
    assert_eq!(after.status, 401, "the session is forgotten");
}

/// The states of five polls of task-1.
async fn task_states(base: &str, h: &[(&str, &str)]) -> Vec<String> {
    let mut states = Vec::new();
    for _ in 0..5 {
        let r = send(&client(), "GET", &format!("{base}/api/tasks/task-1"), h, "").await;
        states.push(value(text(&r), false, "State").unwrap_or_default());
    }
    states
}

#[tokio::test]
async fn strict_lists_the_exchanges_never_used_and_exits_1() {
    let mock = Emtape::serve(&["--strict", "cassettes/reference/vm-restore.yaml"]);
    let token = logon(&mock.url, &[]).await;
    send(&client(), "GET", &format!("{}/api/vmRestorePoints", mock.url), &[("X-RestSvcSessionId", &token)], "").await;
    let url = mock.url.clone();
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(1));
    let listed = stderr.split_once("emtape: strict:").map(|(_, s)| s).unwrap_or_default();
    insta::assert_snapshot!(stable(&format!("emtape: strict:{listed}"), &url));
}

#[tokio::test]
async fn strict_exits_0_when_every_exchange_was_used() {
    let mock = Emtape::serve(&["--strict", "cassettes/reference/vm-restore.yaml"]);
    restore_flow(&client(), &mock.url, false).await;
    let token = logon(&mock.url, &[]).await;
    for path in [
        "/api/logonSessions",
        "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433",
        "/api/backupServers/a490c017-2c1c-40ee-8bcf-73bcce6ab36f?format=Entity",
    ] {
        send(&client(), "GET", &format!("{}{path}", mock.url), &[("X-RestSvcSessionId", &token)], "").await;
    }
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("every recorded exchange was used"));
}

/// A client that opened another VM's point of a restore-only recording got the recorded
/// point's values under the other's identity, and `--strict` called the run clean. An answer
/// made from no recording of its own is listed, and fails `--strict`.
#[tokio::test]
async fn strict_lists_answers_derived_rather_than_recorded_and_exits_1() {
    let mock = Emtape::serve(&["--strict", "cassettes/reference/vm-restore.yaml"]);
    restore_flow(&client(), &mock.url, false).await;
    let token = logon(&mock.url, &[]).await;
    for path in [
        "/api/logonSessions",
        "/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433",
        "/api/backupServers/a490c017-2c1c-40ee-8bcf-73bcce6ab36f?format=Entity",
        "/api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?format=Entity",
    ] {
        send(&client(), "GET", &format!("{}{path}", mock.url), &[("X-RestSvcSessionId", &token)], "").await;
    }
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("every recorded exchange was used"), "{stderr}");
    assert!(stderr.contains("1 answer rested on no recording of its own"), "{stderr}");
    assert!(
        stderr.contains(
            "GET /api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?format=Entity (XML) (1x): derived from"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let mock = Emtape::serve(&["--max-body", "1000"]);
    let r = send(&client(), "POST", &format!("{}/api/sessionMngr", mock.url), &[], &"x".repeat(5000)).await;
    assert_eq!(r.status, 413);
    assert!(text(&r).contains("larger than 1000 bytes"));
}

#[test]
fn a_malformed_cassette_is_reported_with_file_line_and_column() {
    let dir = temp_dir("bad-cassette");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/\n  response:\n    stauts: 200\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["serve", "--listen", "127.0.0.1:0", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "", "nothing listens");
    insta::assert_snapshot!(stderr.replace(path.to_str().unwrap(), "bad.yaml"));
}

#[test]
fn a_missing_cassette_is_reported_by_name() {
    let (code, _, stderr) = run(&["serve", "--listen", "127.0.0.1:0", "no/such/cassette.yaml"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "error: cannot read cassette no/such/cassette.yaml: No such file or directory (os error 2)\n");
}

#[test]
fn a_port_in_use_is_a_network_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["serve", "--listen", &addr]);
    assert_eq!(code, 3);
    assert!(stderr.starts_with(&format!("error: cannot listen on {addr}: ")), "{stderr}");
}

#[test]
fn headers_are_spelled_on_the_wire_as_em_spells_them() {
    use std::io::{Read, Write};
    let mock = Emtape::serve(&[]);
    let addr = mock.url.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "POST /api/sessionMngr HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic eDp5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.contains("\r\nX-RestSvcSessionId: "), "{head}");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "GET /api/vmRestorePoints HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    raw.clear();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.contains("\r\nWWW-Authenticate: Basic Realm=RestSvc\r\n"), "{raw}");
}

#[test]
fn the_minted_certificate_is_written_only_once_listening_succeeded() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cert = temp_dir("cert-after-listen").join("cert.pem");
    let (code, _, err) = run(&["serve", "--listen", &addr, "--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(!cert.exists(), "no certificate of a server that never listened");
}

#[tokio::test]
async fn strict_counts_only_the_representations_clients_asked_for() {
    let mock = Emtape::serve(&["--strict"]);
    restore_flow(&client(), &mock.url, false).await;
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(1), "the XML cassette's logonSessions list was never asked for: {stderr}");
    let listed = stderr.split_once("emtape: strict:").map(|(_, s)| s).unwrap_or_default();
    assert!(listed.contains("vm-restore.yaml"), "{stderr}");
    assert!(!listed.contains("vm-restore-json.yaml"), "no client asked for JSON: {stderr}");
    assert!(stderr.contains("no client asked for JSON: its exchanges are not counted"), "{stderr}");
}

/// Representations no client asked for are not counted, but with no request at all every
/// exchange is unused: it listed only the two logouts (they have no representation).
#[tokio::test]
async fn strict_with_no_request_at_all_lists_every_exchange() {
    let mock = Emtape::serve(&["--strict"]);
    let (status, stderr) = mock.stop();
    assert_eq!(status.code(), Some(1));
    let count = |name: &str| stderr.lines().filter(|l| l.contains(name)).count();
    assert!(count("vm-restore.yaml:") > 10 && count("vm-restore-json.yaml:") > 10, "{stderr}");
}

#[test]
fn folders_are_taken_wherever_a_cassette_is() {
    let (code, out, err) =
        run(&["run", "--cassette", "tests/fixtures/em-9.5-2013", "--var", "vm=hp_vm1", "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&["fmt", "--check", "cassettes/reference"]);
    assert_eq!(code, 0, "{err}");
    let empty = temp_dir("no-cassettes");
    let (code, _, err) = run(&["run", "--cassette", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("a folder with no cassettes"), "{err}");
}

#[test]
fn a_percent_escape_before_a_multibyte_character_gets_an_answer_not_a_dropped_connection() {
    use std::io::{Read, Write};
    let mock = Emtape::serve(&[]);
    let addr = mock.url.trim_start_matches("http://").to_owned();
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let request = format!("GET /api/vmRestorePoints?x=%a\u{e9} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    let _ = tcp.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 401"), "an answer (no token: 401), not an empty reply: {reply:?}");
}

#[tokio::test]
async fn past_max_sessions_a_logon_gets_ems_503_until_one_sits_idle() {
    let mock = Emtape::serve(&["--max-sessions", "2", "--session-timeout", "1"]);
    let c = client();
    let url = format!("{}/api/sessionMngr/?v=latest", mock.url);
    let auth = [("Authorization", "Basic dXNlcjpwYXNzd29yZA==")];
    for _ in 0..2 {
        assert_eq!(send(&c, "POST", &url, &auth, "").await.status, 201);
    }
    let refused = send(&c, "POST", &url, &auth, "").await;
    assert_eq!(refused.status, 503, "{}", text(&refused));
    assert!(text(&refused).contains("--max-sessions"), "{}", text(&refused));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&c, "POST", &url, &auth, "").await.status, 201, "an idle session gave way");
}

#[test]
fn shell_completions_and_a_manual_page_are_printed() {
    let (code, bash, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(bash.contains("_emtape()") && bash.contains("crawl") && bash.contains("--max-sessions"), "{bash}");
    let (code, zsh, _) = run(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(zsh.starts_with("#compdef emtape"), "{zsh}");
    let (code, man, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH emtape 1") && man.contains("lint"), "{man}");
    // The pages the main one names (emtape-run(1), …) exist: one by name, or all in a folder.
    let (code, page, _) = run(&["man", "run"]);
    assert_eq!(code, 0);
    assert!(page.contains(".TH emtape-run 1") && page.contains("password\\-env"), "{page}");
    let pages = temp_dir("man-pages");
    let (code, _, err) = run(&["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for name in ["emtape.1", "emtape-run.1", "emtape-serve.1", "emtape-record.1", "emtape-matrix.1"] {
        assert!(pages.join(name).exists(), "{name}");
    }
    // Loaded in bash, the completion is registered and completes subcommands.
    let script = temp_dir("completions").join("emtape.bash");
    std::fs::write(&script, &bash).unwrap();
    let loaded = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; complete -p emtape; COMP_WORDS=(emtape ma); COMP_CWORD=1; _emtape emtape ma emtape; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(loaded.status.success() && said.contains("-F _emtape emtape") && said.contains("matrix man"), "{said}");
}

/// Writes one raw request (any request line, any headers) and reads what comes back; `None`
/// when the server closed without an answer.
fn raw_exchange(addr: &str, raw: &[u8], wait: Duration) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(raw).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the server closes, or has said something and then nothing for `wait`.
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn the_http_edge_answers_or_refuses_any_request_line_and_headers_and_keeps_serving() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let mock = Emtape::serve(&[]);
    let addr = mock.url.trim_start_matches("http://").to_owned();
    let line = (
        "[A-Z]{0,8}|GET|POST|DELETE",
        "[ -~é%]{0,60}",
        "HTTP/1\\.[01]|HTTP/2|[ -~]{0,6}",
        proptest::collection::vec(("[!-9;-~]{0,12}", "[ -~é]{0,40}"), 0..6),
    );
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    runner
        .run(&line, |(method, target, version, headers)| {
            let mut raw = format!("{method} {target} {version}\r\n");
            for (n, v) in &headers {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            if let Some(answer) = raw_exchange(&addr, raw.as_bytes(), Duration::from_millis(300)) {
                prop_assert!(answer.starts_with("HTTP/1."), "{answer}");
                prop_assert!(!answer.starts_with("HTTP/1.1 500") || answer.contains("Error"), "{answer}");
            }
            // Whatever that was, the next client is served.
            let valid = b"GET /api/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            let root = raw_exchange(&addr, valid, Duration::from_secs(5));
            prop_assert!(root.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 200")), "{root:?}");
            Ok(())
        })
        .unwrap();
    let (status, stderr) = mock.stop();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = status;
}

/// A logger that keeps what the library logs.
struct Kept(std::sync::Mutex<Vec<String>>);

impl log::Log for Kept {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

static KEPT: Kept = Kept(std::sync::Mutex::new(Vec::new()));

#[test]
fn the_library_hands_its_diagnostics_to_the_log_facade_and_prints_nothing_itself() {
    let _ = log::set_logger(&KEPT);
    log::set_max_level(log::LevelFilter::Info);
    let cassettes = emtape::cassette::reference().unwrap();
    let options = emtape::mock::MockOptions { log_misses: true, ..Default::default() };
    let mock = emtape::mock::Mock::new(cassettes, options);
    let mut headers = emtape::http::Headers::new();
    headers.push("Accept", "application/xml");
    let req = emtape::http::Request {
        method: "PUT".into(),
        target: "/api/nowhere?token=kept-out".into(),
        headers,
        body: Default::default(),
        origin: "http://127.0.0.1:9".into(),
        peer: None,
    };
    assert_eq!(mock.respond(&req).status, 404);
    let kept = KEPT.0.lock().unwrap().join("\n");
    assert!(kept.contains("emtape: 404 no recorded exchange matches PUT /api/nowhere?token={{redacted}}"), "{kept}");
}

/// `--max-sessions 0` let every logon through and `--threads 0` was taken silently: counts that
/// would make a command do nothing are usage errors.
#[test]
fn zero_sessions_threads_or_connections_are_usage_errors() {
    for args in [
        &["serve", "--max-sessions", "0"][..],
        &["serve", "--threads", "0"],
        &["record", "--upstream", "http://127.0.0.1:1", "--out", "x.yaml", "--threads", "0"],
        &["crawl", "--target", "http://127.0.0.1:1", "--out", "x.yaml", "--concurrency", "0"],
        &["crawl", "--target", "http://127.0.0.1:1", "--out", "x.yaml", "--rate", "0"],
        &["matrix", "--jobs", "0"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("must be"), "{args:?}: {err}");
    }
}

/// Another session's LogonSession got a near miss naming an internal placeholder; it is now
/// EM's 404 saying why, without echoing the id (an id is its token in base64).
#[tokio::test]
async fn another_sessions_logon_session_is_a_404_that_says_why_and_echoes_no_id() {
    let mock = Emtape::serve(&["-v"]);
    let ((a, a_id), b) = (logon_session(&mock.url, &[]).await, logon(&mock.url, &[]).await);
    let url = format!("{}/api/logonSessions/{a_id}", mock.url);
    for method in ["GET", "DELETE"] {
        let r = send(&client(), method, &url, &[("X-RestSvcSessionId", &b)], "").await;
        assert_eq!(r.status, 404, "{method}");
        assert!(text(&r).contains("that LogonSession is not this session&apos;s"), "{}", text(&r));
        assert!(!text(&r).contains(&a_id) && !text(&r).contains("{{"), "{}", text(&r));
    }
    let own = send(&client(), "DELETE", &url, &[("X-RestSvcSessionId", &a)], "").await;
    assert_eq!(own.status, 204, "a session still ends itself");
    let (_, log) = mock.stop();
    assert!(!log.contains(&a_id), "the -v log shows no session id: {log}");
}

/// EM's logon takes Basic credentials; `Authorization: Bearer x` got a session.
#[tokio::test]
async fn a_logon_without_basic_credentials_is_refused() {
    let mock = Emtape::serve(&[]);
    let url = format!("{}/api/sessionMngr/?v=latest", mock.url);
    let no_colon = format!("Basic {}", emtape::codec::base64_encode(b"justauser"));
    for auth in ["Bearer x", "Basic !!!", no_colon.as_str()] {
        let r = send(&client(), "POST", &url, &[("Authorization", auth)], "").await;
        assert_eq!(r.status, 401, "{auth}: {}", text(&r));
        assert!(text(&r).contains("send Authorization: Basic base64(user:password)"), "{}", text(&r));
    }
    let basic = send(&client(), "POST", &url, &[("Authorization", "basic dTpw")], "").await;
    assert_eq!(basic.status, 201, "the scheme's case does not matter");
}

/// Issue #23: a cassette with an unclosed element was served without a word. The body is
/// still served as recorded, but serve warns at start, where and as `emtape lint` reports it.
#[test]
fn a_body_that_does_not_parse_is_warned_of_at_start_as_lint_reports_it() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let text = reference.replacen("      </Task>\n", "", 1);
    let file = temp_dir("serve-unclosed").join("unclosed.yaml");
    std::fs::write(&file, &text).unwrap();
    // The restore's Task (exchange 7) is never closed: said where its body ends.
    let restore = text.find("- seq: 7\n").unwrap();
    let last = restore + text[restore..].find("        <Operation>StartVMRestore</Operation>\n").unwrap();
    let line = text[..last].matches('\n').count() + 1;
    let column = "        <Operation>StartVMRestore</Operation>".len() + 1;
    let message = "exchange 7: the response body is not XML as its Content-Type says: <Task> is never closed";
    let mock = Emtape::serve(&[file.to_str().unwrap()]);
    let (_, log) = mock.stop();
    let warning = format!("warning: {}:{line}:{column}: ", file.display());
    let said = log.lines().find(|l| l.starts_with(&warning)).unwrap_or_else(|| panic!("{warning} in {log}"));
    assert!(said.contains(message), "{said}");
    let (code, out, _) = run(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let reported = said.split_once(": ").map(|(_, rest)| rest).unwrap();
    let (place, words) = reported.split_once(": ").unwrap();
    let place = place.rsplit_once(':').map(|(file_line, _column)| file_line).unwrap();
    assert!(out.contains(&format!("{place}: unparsable-body: {words}\n")), "lint says the same: {out}\n{said}");
}

#[test]
fn a_listen_address_that_is_not_host_port_is_bad_usage_naming_the_flag() {
    let out = temp_dir("listen-usage").join("x.yaml");
    for command in [&["serve"][..], &["record", "--upstream", "http://127.0.0.1:9", "--out", out.to_str().unwrap()]] {
        for bad in ["notanaddr", "127.0.0.1:99999"] {
            let mut args = command.to_vec();
            args.extend(["--listen", bad]);
            let (code, _, stderr) = run(&args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(stderr.contains(&format!("invalid value '{bad}' for '--listen <HOST:PORT>'")), "{stderr}");
            assert!(stderr.contains("expected HOST:PORT, like 127.0.0.1:9398"), "{stderr}");
        }
    }
    assert!(!out.exists(), "nothing was started or written");
}

/// Sends `head` over TLS to `url` (trusting `ca`) without ending it, as a client stuck mid-send
/// does, and reads what comes back within 5 s.
async fn send_head_over_tls(url: &str, ca: &std::path::Path, head: &[u8]) -> String {
    use rustls::pki_types::pem::PemObject as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let addr = url.strip_prefix("https://").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.unwrap();
    let mut answer = Vec::new();
    let exchange = async {
        // The server may answer and close before the whole head is written.
        let _ = tls.write_all(head).await;
        let _ = tls.flush().await;
        let _ = tls.read_to_end(&mut answer).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), exchange).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_head_too_large_gets_431_over_tls_as_over_plain_http_and_is_logged() {
    let dir = temp_dir("head-431");
    let cert = dir.join("cert.pem");
    let plain = Emtape::serve(&[]);
    let tls = Emtape::serve(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    let big = "a".repeat(200 << 10);
    let over_plain = send(&client(), "GET", &format!("{}/api/", plain.url), &[("X-Big", big.as_str())], "").await;
    assert_eq!(over_plain.status, 431);
    let whole = format!("GET /api/ HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n");
    let answer = send_head_over_tls(&tls.url, &cert, whole.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{answer:?}");
    // A client that stops sending part way through a big head (curl does, over TLS) is answered
    // too, not left waiting for the header timeout and closed without a word.
    let stuck = format!("GET /api/ HTTP/1.1\r\nHost: localhost\r\nX-Big: {}", "a".repeat(100 << 10));
    let answer = send_head_over_tls(&tls.url, &cert, stuck.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{answer:?}");
    let fine =
        send(&tls_client(&cert), "GET", &format!("{}/api/", tls.url), &[("X-Fine", &"a".repeat(32 << 10))], "").await;
    assert_eq!(fine.status, 200, "a head under 64 KiB is served");
    std::thread::sleep(Duration::from_millis(100));
    for (server, log) in [("plain", plain.stderr()), ("tls", tls.stderr())] {
        assert!(log.contains("had a head (request line and headers) over 64 KiB: answered 431"), "{server}: {log}");
    }
}

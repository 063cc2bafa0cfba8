//! `emtape record`: the recording proxy between real clients and an upstream EM (here
//! `emtape serve` over HTTPS with a minted certificate).

use std::time::Duration;

use emtape::cassette::Cassette;

use crate::support::*;

/// An upstream EM over HTTPS and a recorder in front of it.
struct Loop {
    upstream: Emtape,
    recorder: Emtape,
    dir: std::path::PathBuf,
    cassette: std::path::PathBuf,
}

impl Loop {
    fn start(name: &str, extra: &[&str]) -> Loop {
        let dir = temp_dir(name);
        let pem = dir.join("upstream.pem");
        let upstream = Emtape::serve(&["--tls", "--tls-cert-out", pem.to_str().unwrap(), "-v"]);
        let recorder = record(&dir, &upstream.url, extra);
        let cassette = dir.join("cassettes/em-13/flow.yaml");
        Loop { upstream, recorder, dir, cassette }
    }
}

fn record(dir: &std::path::Path, upstream: &str, extra: &[&str]) -> Emtape {
    let pem = dir.join("upstream.pem");
    let out = dir.join("cassettes/em-13/flow.yaml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut args = vec![
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--upstream-ca",
        pem.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Emtape::start(&args)
}

#[tokio::test]
async fn the_real_loop_records_both_representations_and_the_recording_replays() {
    let l = Loop::start("loop", &[]);
    let xml = restore_flow(&client(), &l.recorder.url, false).await;
    let json = restore_flow(&client(), &l.recorder.url, true).await;
    let (status, stderr) = l.recorder.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("recorded 20 exchanges"), "{stderr}");
    let text = std::fs::read_to_string(&l.cassette).unwrap();
    for secret in [xml.token.as_str(), json.token.as_str(), "dXNlcjpwYXNzd29yZA==", "user:password"] {
        assert!(!text.contains(secret), "the cassette holds {secret}");
    }
    for id in [&xml.session_id, &json.session_id] {
        assert!(!text.to_ascii_lowercase().contains(id.as_str()), "the cassette holds the session id {id}");
    }
    let upstream_address = l.upstream.url.trim_start_matches("https://");
    assert!(!text.contains(upstream_address), "the recorded origin is a placeholder");
    assert!(text.contains("Href=\"{{origin}}/api/vmRestorePoints"), "links are stored with the placeholder");
    assert!(text.contains("\"href\": \"{{origin}}/api/vmRestorePoints"), "JSON links too (EM 13's camelCase)");
    let loaded = Cassette::load(&l.cassette).unwrap();
    assert_eq!(loaded.cassette.to_yaml(), text, "the recorder writes the canonical form");
    // The upstream is EM 13, whose tokens name no session: the replay mints them alike (and the
    // flow below asserts that it gets one).
    assert_eq!(loaded.cassette.meta.session_tokens.as_deref(), Some("opaque"));
    drop(l.upstream);
    // The same client completes the flow against the recording.
    let replay = Emtape::serve(&[l.cassette.to_str().unwrap(), "--strict"]);
    restore_flow(&client(), &replay.url, false).await;
    restore_flow(&client(), &replay.url, true).await;
    let (status, stderr) = replay.stop();
    assert_eq!(status.code(), Some(0), "every recorded exchange replayed: {stderr}");
}

#[tokio::test]
async fn links_are_rewritten_both_ways() {
    let l = Loop::start("both-ways", &[]);
    let base = &l.recorder.url.clone();
    let r = send(&client(), "GET", &format!("{base}/api/"), &[("Referer", &format!("{base}/api/"))], "").await;
    assert!(text(&r).contains(&format!("Href=\"{base}/api/logonSessions\"")), "down: the client sees the proxy");
    let logon =
        send(&client(), "POST", &format!("{base}/api/sessionMngr"), &[("Authorization", "Basic eDp5")], "").await;
    assert!(logon.headers.get("location").unwrap().starts_with(&format!("{base}/api/logonSessions/")));
    let (_, _) = l.recorder.stop();
    let text = std::fs::read_to_string(&l.cassette).unwrap();
    assert!(text.contains("- Referer: \"{{origin}}/api/\""), "up: the upstream saw its own address\n{text}");
    assert!(!text.contains(base.trim_start_matches("http://")), "the proxy's address is not recorded");
}

#[tokio::test]
async fn re_recording_an_unchanged_upstream_gives_the_same_cassette() {
    let mut texts = Vec::new();
    for run in 0..2 {
        let l = Loop::start(&format!("rerecord-{run}"), &[]);
        restore_flow(&client(), &l.recorder.url, false).await;
        l.recorder.stop();
        let text = std::fs::read_to_string(&l.cassette).unwrap();
        texts.push(text.lines().filter(|l| !l.starts_with("  recorded_at:")).collect::<Vec<_>>().join("\n"));
    }
    assert_eq!(texts[0], texts[1]);
}

/// Three exchanges: the root, a logon, the restore points.
async fn open_and_list(base: &str) {
    send(&client(), "GET", &format!("{base}/api/"), &[], "").await;
    let token = logon(base, &[]).await;
    send(&client(), "GET", &format!("{base}/api/vmRestorePoints"), &[("X-RestSvcSessionId", &token)], "").await;
}

#[tokio::test]
async fn a_kill_9_mid_flow_leaves_a_cassette_holding_every_completed_exchange() {
    let l = Loop::start("kill9", &[]);
    open_and_list(&l.recorder.url).await;
    let path = l.cassette;
    l.recorder.kill9();
    let loaded = Cassette::load(&path).unwrap();
    let uris: Vec<&str> = loaded.cassette.exchanges.iter().map(|e| e.request.uri.as_str()).collect();
    assert_eq!(uris, ["/api/", "/api/sessionMngr/?v=latest", "/api/vmRestorePoints"]);
    assert!(loaded.warnings.is_empty());
    // A cassette cut in the middle of an exchange (a kill during a write) still loads.
    let text = std::fs::read_to_string(&path).unwrap();
    let torn = &text[..text.len() - 200];
    let recovered = Cassette::parse("torn.yaml", torn).unwrap();
    assert_eq!(recovered.cassette.exchanges.len(), 2);
    assert_eq!(recovered.warnings.len(), 1);
    assert!(
        recovered.warnings[0]
            .to_string()
            .starts_with("the last exchange is incomplete and was left out\n  --> torn.yaml:")
    );
}

#[tokio::test]
async fn append_mode_answers_from_the_cassette_and_records_only_what_is_missing() {
    let l = Loop::start("append", &[]);
    open_and_list(&l.recorder.url).await;
    l.recorder.stop();
    let before = l.upstream.stderr().matches("GET /api/vmRestorePoints ").count();
    assert_eq!(before, 1);
    let recorder = record(&l.dir, &l.upstream.url, &["--mode", "append", "-v"]);
    let flow = restore_flow(&client(), &recorder.url, false).await;
    assert_eq!(flow.task_states.last().map(String::as_str), Some("Finished"));
    let (_, log) = recorder.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let upstream_log = l.upstream.stderr();
    assert_eq!(upstream_log.matches("GET /api/vmRestorePoints ").count(), 1, "the list came from the cassette: {log}");
    assert_eq!(upstream_log.matches("POST /api/sessionMngr").count(), 2, "logons always reach the upstream");
    let loaded = Cassette::load(&l.cassette).unwrap().cassette;
    let seqs: Vec<u64> = loaded.exchanges.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "numbering continues");
    let lists = loaded.exchanges.iter().filter(|e| e.request.uri == "/api/vmRestorePoints").count();
    assert_eq!(lists, 1, "nothing recorded twice");
    assert!(loaded.exchanges.iter().any(|e| e.request.uri == "/api/tasks/task-1"), "the missing part was added");
    let tokens: std::collections::BTreeSet<&str> =
        loaded.exchanges.iter().filter_map(|e| e.request.headers.get("x-restsvcsessionid")).collect();
    assert_eq!(
        tokens.into_iter().collect::<Vec<_>>(),
        ["{{token:1}}"],
        "the appended exchanges belong to the recorded session"
    );
}

#[tokio::test]
async fn replay_only_never_touches_the_upstream() {
    let l = Loop::start("replay-only", &[]);
    restore_flow(&client(), &l.recorder.url, false).await;
    l.recorder.stop();
    let dir = l.dir.clone();
    let upstream_url = l.upstream.url.clone();
    drop(l.upstream);
    let replay = record(&dir, &upstream_url, &["--mode", "replay-only"]);
    restore_flow(&client(), &replay.url, false).await;
    let miss = send(&client(), "GET", &format!("{}/api/nothingHere", replay.url), &[], "").await;
    assert_eq!(miss.status, 404);
    assert!(text(&miss).contains("no recorded exchange matches GET /api/nothingHere"), "{}", text(&miss));
}

#[tokio::test]
async fn a_dead_upstream_gets_a_502_naming_the_cause_records_nothing_and_exits_1() {
    let dir = temp_dir("dead");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = dir.join("dead.yaml");
    let recorder = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &format!("http://127.0.0.1:{port}"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = send(&client(), "GET", &format!("{}/api/", recorder.url), &[], "").await;
    assert_eq!(r.status, 502);
    let message = emtape::xml::parse(text(&r)).unwrap().attribute("Message").unwrap().to_owned();
    assert!(
        message.starts_with(&format!("emtape could not get an answer from the upstream EM http://127.0.0.1:{port}: ")),
        "{message}"
    );
    assert!(message.contains("cannot connect"), "{message}");
    let json = send(&client(), "GET", &format!("{}/api/", recorder.url), &[("Accept", "application/json")], "").await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(text(&json)).unwrap()["StatusCode"], 502);
    let (status, stderr) = recorder.stop();
    assert!(stderr.contains("emtape: 502 GET /api/: "), "{stderr}");
    assert!(!out.exists(), "a recording of nothing writes no cassette");
    assert_eq!(status.code(), Some(1), "a recording of nothing but failures is a failure: {stderr}");
    assert!(stderr.contains("nothing was recorded: all 2 requests failed to reach the upstream"), "{stderr}");
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_gets_a_502_naming_tls_and_records_own_flags() {
    let upstream = Emtape::serve(&["--tls"]);
    let out = temp_dir("untrusted").join("c.yaml");
    let recorder = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url,
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = send(&client(), "GET", &format!("{}/api/", recorder.url), &[], "").await;
    assert_eq!(r.status, 502);
    assert!(text(&r).contains("TLS handshake failed: the server&apos;s certificate is not trusted"), "{}", text(&r));
    assert!(
        text(&r).contains("pass the CA with --upstream-ca (or add it to the system store), or --insecure-upstream"),
        "the hint names record's own flags: {}",
        text(&r)
    );
    let insecure = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url,
        "--out",
        out.to_str().unwrap(),
        "--insecure-upstream",
    ]);
    assert_eq!(send(&client(), "GET", &format!("{}/api/", insecure.url), &[], "").await.status, 200);
    assert!(insecure.stderr().contains("warning: --insecure-upstream"));
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_with_a_502() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept() {
            held.push(s);
        }
    });
    let out = temp_dir("silent").join("c.yaml");
    let recorder = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &format!("http://{addr}"),
        "--out",
        out.to_str().unwrap(),
        "--timeout",
        "1",
    ]);
    let r = send(&client(), "GET", &format!("{}/api/", recorder.url), &[], "").await;
    assert_eq!(r.status, 502);
    assert!(text(&r).contains("no response within 1 s"), "{}", text(&r));
}

#[tokio::test]
async fn large_bodies_stream_through_and_are_recorded_whole() {
    let dir = temp_dir("large");
    // An upstream serving a 3 MB list whose links name the upstream, recorded in full.
    let mut body = String::from("<EntityReferences xmlns=\"http://www.veeam.com/ent/v1.0\">\n");
    for i in 0..15_000 {
        body.push_str(&format!("  <Ref Href=\"{{{{origin}}}}/api/vmRestorePoints/{i:08}\" Name=\"vm@{i}\" />\n"));
    }
    body.push_str("</EntityReferences>\n");
    let mut cassette = String::from(
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/big\n  response:\n    status: 200\n    headers:\n    - Content-Type: application/xml\n    body: |\n",
    );
    for line in body.lines() {
        cassette.push_str("      ");
        cassette.push_str(line);
        cassette.push('\n');
    }
    std::fs::write(dir.join("big.yaml"), cassette).unwrap();
    let upstream = Emtape::serve(&[dir.join("big.yaml").to_str().unwrap()]);
    let out = dir.join("out.yaml");
    let recorder = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url,
        "--out",
        out.to_str().unwrap(),
        "--max-buffer",
        "65536",
    ]);
    let r = send(&client(), "GET", &format!("{}/api/big", recorder.url), &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("transfer-encoding"), Some("chunked"), "streamed, not held");
    assert_eq!(
        text(&r),
        body.replace("{{origin}}", &recorder.url),
        "every link, across chunk boundaries, points at the proxy"
    );
    recorder.stop();
    let loaded = Cassette::load(&out).unwrap();
    assert_eq!(loaded.cassette.exchanges.len(), 1);
    assert_eq!(loaded.cassette.exchanges[0].response.body.as_text(), Some(body.as_str()));
    assert_eq!(loaded.cassette.to_yaml(), std::fs::read_to_string(&out).unwrap(), "written in canonical form");
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("spool")),
        "no spool left behind"
    );
}

#[tokio::test]
async fn concurrent_clients_are_recorded_with_their_own_numbers() {
    let l = Loop::start("concurrent", &[]);
    let (a, b, c) = (client(), client(), client());
    tokio::join!(
        restore_flow(&a, &l.recorder.url, false),
        restore_flow(&b, &l.recorder.url, true),
        restore_flow(&c, &l.recorder.url, false)
    );
    l.recorder.stop();
    let loaded = Cassette::load(&l.cassette).unwrap().cassette;
    let mut seqs: Vec<u64> = loaded.exchanges.iter().map(|e| e.seq).collect();
    assert_eq!(loaded.exchanges.len(), 30);
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 30, "every exchange has its own seq");
    let logons = loaded.exchanges.iter().filter(|e| e.request.uri.contains("sessionMngr")).count();
    assert_eq!(logons, 3);
}

#[tokio::test]
async fn a_repeated_body_is_stored_once_and_a_changed_one_in_full() {
    let l = Loop::start("repeat", &[]);
    let c = client();
    let root = format!("{}/api/", l.recorder.url);
    for accept in ["application/xml", "application/xml", "application/json", "application/xml"] {
        let r = send(&c, "GET", &root, &[("Accept", accept)], "").await;
        assert_eq!(r.status, 200, "{}", text(&r));
    }
    // The task poll answers Running, then Finished: the same request, a changed body.
    restore_flow(&c, &l.recorder.url, false).await;
    let (status, stderr) = l.recorder.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let loaded = Cassette::load(&l.cassette).unwrap();
    let exchanges = &loaded.cassette.exchanges;
    let same: Vec<Option<u64>> = exchanges[..4].iter().map(|e| e.response.body_same_as).collect();
    let first = exchanges[0].seq;
    assert_eq!(same, [None, Some(first), None, Some(first)], "XML repeats the first; JSON is its own");
    let polls: Vec<_> = exchanges.iter().filter(|e| e.request.uri.starts_with("/api/tasks/")).collect();
    assert!(polls.len() >= 2, "{} task polls", polls.len());
    let last = polls.last().unwrap();
    assert_eq!(last.response.body_same_as, None, "the Finished task is not the Running one");
    assert!(last.response.body.as_text().unwrap().contains("Finished"));
}

#[tokio::test]
async fn an_http_upstream_that_speaks_tls_gets_a_502_that_says_use_https() {
    let upstream = Emtape::serve(&["--tls"]);
    let http = upstream.url.replacen("https://", "http://", 1);
    let out = temp_dir("speaks-tls").join("x.yaml");
    let recorder =
        Emtape::start(&["record", "--listen", "127.0.0.1:0", "--upstream", &http, "--out", out.to_str().unwrap()]);
    let r = send(&client(), "GET", &format!("{}/api/", recorder.url), &[], "").await;
    assert_eq!(r.status, 502);
    let message = emtape::xml::parse(text(&r)).unwrap().attribute("Message").unwrap().to_owned();
    assert!(
        message.ends_with(&format!("the server speaks TLS (HTTPS) on this port, not plain HTTP: use {}", upstream.url)),
        "{message}"
    );
}

/// `emtape ARGS...` given 5 s to exit by itself (a command that wrongly starts serving is
/// killed): (exit code, stderr), -1 when it had to be killed.
fn exits_within_5s(args: &[&str]) -> (i32, String) {
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env("EMTAPE_TEST_PW", "pw")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    (-1, String::new())
}

#[test]
fn an_out_file_in_a_folder_that_does_not_exist_is_refused_naming_it_before_anything_starts() {
    let dir = temp_dir("out-folder");
    let missing = dir.join("no/such/dir");
    let out = missing.join("x.yaml");
    let out = out.to_str().unwrap();
    let pw = ["--user", "u", "--password-env", "EMTAPE_TEST_PW"];
    let commands: [Vec<&str>; 5] = [
        vec!["record", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--out", out],
        vec!["record", "--forward", "--only", "em:9398", "--listen", "127.0.0.1:0", "--out", out],
        [&["crawl", "--target", "http://127.0.0.1:9", "--out", out][..], &pw].concat(),
        vec!["run", "--var", "poll_interval=0s", "--record", out],
        vec!["import", "tests/fixtures/har/mitmproxy.har", "--out", out],
    ];
    let flag = |args: &[&str]| if args[0] == "run" { "--record" } else { "--out" };
    for args in &commands {
        let (code, stderr) = exits_within_5s(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            format!("error: {} {out}: the folder {} does not exist\n", flag(args), missing.display()),
            "{args:?}"
        );
        assert!(!dir.join("no").exists(), "{args:?} made the folder");
    }
}

/// Drift seen live: a client run through `record --compare` in front of EM 12, against EM 13's
/// tape, is told at once and at the end what differs on its path (13's camelCase keys, the
/// fields 13 added), as `matrix --diff` names them; against 12's own tape, nothing.
#[tokio::test]
async fn record_compare_names_the_drift_of_the_clients_path_and_nothing_against_its_own_release() {
    let upstream = Emtape::serve(&["--release", "12"]);
    let dir = temp_dir("record-compare");
    for (reference, drifts) in
        [("cassettes/reference/vm-restore-json.yaml", true), ("cassettes/em-12/vm-restore-json.yaml", false)]
    {
        let out = dir.join(format!("live-{drifts}.yaml"));
        let json = dir.join(format!("drift-{drifts}.json"));
        let recorder = Emtape::start(&[
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.url,
            "--out",
            out.to_str().unwrap(),
            "--compare",
            reference,
            "--json",
            json.to_str().unwrap(),
        ]);
        restore_flow(&client(), &recorder.url, true).await;
        let (status, stdout, stderr) = recorder.stop_with_output();
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let breaking = report["summary"]["breaking"].as_u64().unwrap();
        if drifts {
            assert_eq!(status.code(), Some(1), "breaking drift fails at the default --fail-on: {stdout}{stderr}");
            assert!(stderr.contains("emtape: compare: GET /api/vmRestorePoints (JSON)"), "said at once: {stderr}");
            assert!(stdout.contains("JSON key renamed           uid -> UID"), "{stdout}");
            assert!(stdout.contains("element removed") || stdout.contains("attribute removed"), "{stdout}");
            assert!(breaking > 10, "{report}");
        } else {
            assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
            assert_eq!(breaking, 0, "{stdout}");
            assert!(!stderr.contains("emtape: compare:"), "{stderr}");
        }
    }
}

//! `emtape crawl`: a release's read surface on tape, GET only, bounded, crash-safe.

use std::process::Command;
use std::time::{Duration, Instant};

use emtape::cassette::{Body, Cassette};

use crate::support::*;

fn crawl(target: &str, out: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["crawl", "--target", target, "--user", "admin", "--password-env", "EMTAPE_TEST_PW", "--out"];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = Command::new(BIN).args(&args).env("EMTAPE_TEST_PW", "s3cr3t-crawl-pw").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The root element's name (XML) or the sorted top-level keys (JSON) of a body.
fn shape(body: &str) -> String {
    match emtape::xml::parse(body) {
        Ok(root) => root.name,
        Err(_) => match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect::<Vec<_>>().join(","),
            _ => String::new(),
        },
    }
}

#[tokio::test]
async fn a_crawl_of_the_mock_serves_back_every_link_it_saw_the_same_and_holds_no_secret() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-mock").join("crawl.yaml");
    let (code, stdout, err) = crawl(&mock.url, &out, &[]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("every link answered"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("s3cr3t-crawl-pw") && !text.contains("czNjcjN0"), "the password is nowhere in it");
    let (code, lint, _) = run(&["lint", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{lint}");
    let loaded = Cassette::load(&out).unwrap();
    let methods: Vec<&str> = loaded.cassette.exchanges.iter().map(|x| x.request.method.as_str()).collect();
    assert!(methods.iter().all(|m| ["GET", "POST", "DELETE"].contains(m)));
    assert_eq!(methods.iter().filter(|m| **m == "POST").count(), 2, "only the two logons (XML, JSON)");

    let replay = Emtape::serve(&[out.to_str().unwrap()]);
    let c = client();
    let mut compared = 0;
    for json in [false, true] {
        let accept = if json { "application/json" } else { "application/xml" };
        let (token, id) = logon_session(&replay.url, &[("Accept", accept)]).await;
        for (i, x) in loaded.cassette.exchanges.iter().enumerate() {
            if x.request.method != "GET" || x.request.headers.get("accept") != Some(accept) {
                continue;
            }
            // The crawl's own LogonSession is this client's.
            let uri = x.request.uri.replace("{{session-id:1}}", &id).replace("{{session-id:2}}", &id);
            let r = send(
                &c,
                "GET",
                &format!("{}{uri}", replay.url),
                &[("Accept", accept), ("X-RestSvcSessionId", &token)],
                "",
            )
            .await;
            assert_eq!(r.status, x.response.status, "{}", x.request.uri);
            if let Body::Text { text, .. } = loaded.cassette.response_body(i) {
                assert_eq!(shape(crate::support::text(&r)), shape(text), "{}", x.request.uri);
            }
            compared += 1;
        }
    }
    assert!(compared > 150, "{compared}");
}

/// A crawl reads the root inside its session, but EM answers `GET /api/` to anyone: served
/// back, the cassette must too, or every client's first request is a 401.
#[tokio::test]
async fn a_crawled_cassette_answers_the_root_without_a_session() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-root").join("crawl.yaml");
    let (code, stdout, err) = crawl(&mock.url, &out, &["--max-requests", "20"]);
    assert_eq!(code, 0, "{stdout}{err}");
    let replay = Emtape::serve(&[out.to_str().unwrap()]);
    let root = client().send("GET", &format!("{}/api/", replay.url), &headers(&[]), Default::default()).await.unwrap();
    assert_eq!(root.status, 200, "{}", text(&root));
    let (code, report, _) = run(&["run", "--cassette", out.to_str().unwrap(), "--var", "poll_interval=0s"]);
    assert!(report.contains("PASS   discover the API"), "{code} {report}");
}

#[test]
fn a_crawl_is_bounded_by_max_requests_and_sample() {
    let mock = Emtape::serve(&[]);
    let dir = temp_dir("crawl-bounds");
    let bounded = dir.join("bounded.yaml");
    let (_, stdout, _) = crawl(&mock.url, &bounded, &["--repr", "xml", "--max-requests", "15"]);
    assert!(stdout.contains("stopped at --max-requests 15"), "{stdout}");
    let n = Cassette::load(&bounded).unwrap().cassette.exchanges.len();
    assert!(n <= 16, "15 requests and the logout: {n}");
    // The restore flow alone lists its points in one place (the estate names them in several).
    let restore_only = Emtape::serve(&["cassettes/reference/vm-restore.yaml"]);
    let sampled = dir.join("sampled.yaml");
    let (code, out, err) = crawl(&restore_only.url, &sampled, &["--repr", "xml", "--sample", "1"]);
    assert_eq!(code, 1, "the collections nobody recorded answer 404: {out}{err}");
    let opened: std::collections::BTreeSet<String> = Cassette::load(&sampled)
        .unwrap()
        .cassette
        .exchanges
        .iter()
        .filter(|x| {
            x.request.uri.to_ascii_lowercase().starts_with("/api/vmrestorepoints/")
                && x.request.uri.ends_with("format=Entity")
        })
        .map(|x| x.request.uri.clone())
        .collect();
    assert!(!opened.is_empty() && opened.len() < 4, "--sample 1 opens fewer than the 4 listed points: {opened:?}");
}

#[test]
fn a_rate_limited_crawl_takes_its_time() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-rate").join("rate.yaml");
    let t = Instant::now();
    let (_, stdout, _) = crawl(&mock.url, &out, &["--repr", "xml", "--max-requests", "11", "--rate", "20"]);
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "10 GETs at 20/s take half a second: {:?} {stdout}",
        t.elapsed()
    );
}

#[test]
fn a_target_that_cannot_be_reached_is_a_network_failure_and_says_nothing_was_crawled() {
    let out = temp_dir("crawl-dead").join("crawl.yaml");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, stdout, _) = crawl(&format!("http://127.0.0.1:{port}"), &out, &[]);
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains(": 1 request, 0 exchanges recorded"), "one logon tried, not both: {stdout}");
    assert!(stdout.contains("could not log on: nothing was crawled"), "{stdout}");
}

#[test]
fn max_requests_counts_the_logons_and_only_the_logouts_come_on_top() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-max").join("both.yaml");
    let (_, stdout, _) = crawl(&mock.url, &out, &["--max-requests", "20"]);
    let methods: Vec<String> =
        Cassette::load(&out).unwrap().cassette.exchanges.iter().map(|x| x.request.method.clone()).collect();
    let logouts = methods.iter().filter(|m| *m == "DELETE").count();
    assert_eq!(methods.len() - logouts, 20, "{methods:?} {stdout}");
}

#[test]
fn a_crawl_records_failures_and_keeps_going() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let (start, end) = (reference.find("- seq: 1\n").unwrap(), reference.find("- seq: 2\n").unwrap());
    let dir = temp_dir("crawl-failing");
    let gappy = dir.join("gappy.yaml");
    std::fs::write(&gappy, format!("{}{}", &reference[..start], &reference[end..])).unwrap();
    let mock = Emtape::serve(&[gappy.to_str().unwrap()]);
    let out = dir.join("crawl.yaml");
    let (code, stdout, _) = crawl(&mock.url, &out, &["--repr", "xml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("404 GET"), "the failure is named: {stdout}");
    assert!(Cassette::load(&out).unwrap().cassette.exchanges.len() > 50, "and the crawl went on");
}

#[test]
fn a_crawl_killed_mid_way_leaves_a_cassette_that_loads() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-kill").join("killed.yaml");
    let mut child = Command::new(BIN)
        .args(["crawl", "--target", &mock.url, "--user", "a", "--password-env", "EMTAPE_TEST_PW", "--rate", "30"])
        .arg("--out")
        .arg(&out)
        .env("EMTAPE_TEST_PW", "pw")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    let _ = child.wait();
    let loaded = Cassette::load(&out).expect("an interrupted crawl's cassette loads");
    assert!(!loaded.cassette.exchanges.is_empty());
}

#[test]
fn a_crawl_takes_only_what_include_names_and_never_what_exclude_names() {
    let mock = Emtape::serve(&[]);
    let dir = temp_dir("crawl-filter");
    let uris = |file: &std::path::Path| -> Vec<String> {
        Cassette::load(file).unwrap().cassette.exchanges.iter().map(|x| x.request.uri.to_ascii_lowercase()).collect()
    };
    let excluded = dir.join("excluded.yaml");
    let (code, out, _) = crawl(&mock.url, &excluded, &["--repr", "xml", "--exclude", "VmRestorePoint"]);
    assert_eq!(code, 0, "{out}");
    assert!(uris(&excluded).iter().all(|u| !u.contains("vmrestorepoints")), "{:?}", uris(&excluded));
    let included = dir.join("included.yaml");
    let (code, out, _) = crawl(&mock.url, &included, &["--repr", "xml", "--include", "BackupServer"]);
    assert_eq!(code, 0, "{out}");
    let got = uris(&included);
    assert!(got.iter().any(|u| u.starts_with("/api/backupservers")), "{got:?}");
    assert!(
        got.iter().all(|u| u.starts_with("/api/backupservers")
            || u.starts_with("/api/sessionmngr")
            || u == "/api/"
            || u.starts_with("/api/logonsessions/")),
        "{got:?}"
    );
}

#[test]
fn a_link_answering_500_is_recorded_named_and_the_crawl_goes_on() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let at = reference.find("- seq: 6\n").unwrap();
    let status = at + reference[at..].find("status: 200").unwrap();
    let broken = format!("{}status: 500{}", &reference[..status], &reference[status + "status: 200".len()..]);
    let dir = temp_dir("crawl-500");
    let file = dir.join("broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let mock = Emtape::serve(&[file.to_str().unwrap()]);
    let out = dir.join("crawl.yaml");
    let (code, stdout, _) = crawl(&mock.url, &out, &["--repr", "xml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("500 GET"), "{stdout}");
    let recorded = Cassette::load(&out).unwrap().cassette.exchanges;
    assert!(recorded.iter().any(|x| x.response.status == 500), "the failure is on tape too");
    assert!(recorded.len() > 50, "and the crawl went on: {}", recorded.len());
}

#[test]
fn a_link_that_never_answers_is_named_and_the_crawl_goes_on() {
    let mock =
        Emtape::serve(&["--scenario", "scenarios/vm-restore.yaml", "--fault", "drop-connection@list restore points"]);
    let out = temp_dir("crawl-dropped").join("crawl.yaml");
    let (code, stdout, _) = crawl(&mock.url, &out, &["--repr", "xml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("VmRestorePointReferenceList") && stdout.contains("1 failed"), "{stdout}");
    assert!(Cassette::load(&out).unwrap().cassette.exchanges.len() > 50);
}

/// The built-in mock behind a delay (per path), counting how many requests it answers at once.
struct Slow {
    mock: emtape::mock::Mock,
    delay: Box<dyn Fn(&str) -> Duration + Send + Sync>,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl emtape::http::server::Handler for Slow {
    async fn handle(&self, req: emtape::http::Request) -> emtape::http::server::Reply {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep((self.delay)(req.path())).await;
        self.now.fetch_sub(1, SeqCst);
        self.mock.respond(&req).into()
    }
}

/// Crawls a slow mock (`delay` per answer) with `extra`; the most requests it saw at once.
async fn crawl_slow(delay: Duration, extra: &[&str]) -> (usize, i32, usize) {
    let (most, code, uris) = crawl_delayed(Box::new(move |_| delay), extra).await;
    (most, code, uris.len())
}

/// Crawls a mock that takes `delay(path)` to answer, with `extra`: the most requests it saw at
/// once, the exit code, and the requests recorded (method and URI, in the cassette's order).
async fn crawl_delayed(
    delay: Box<dyn Fn(&str) -> Duration + Send + Sync>,
    extra: &[&str],
) -> (usize, i32, Vec<String>) {
    let mock = emtape::mock::Mock::new(emtape::cassette::reference().unwrap(), Default::default());
    let slow = std::sync::Arc::new(Slow { mock, delay, now: Default::default(), most: Default::default() });
    let server = emtape::http::server::Server::bind("127.0.0.1:0", None).await.unwrap();
    let url = server.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(slow.clone(), Default::default(), async {
        let _ = stopped.await;
    }));
    // A directory per crawl: tests run side by side.
    let out = temp_dir(&format!("crawl-slow{}", extra.join(""))).join("slow.yaml");
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let file = out.clone();
    let (code, _, _) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crawl(&url, &file, &args)
    })
    .await
    .unwrap();
    let _ = stop.send(());
    let _ = serving.await;
    let recorded = Cassette::load(&out).unwrap().cassette.exchanges;
    let recorded = recorded.iter().map(|x| format!("{} {}", x.request.method, x.request.uri)).collect();
    (slow.most.load(std::sync::atomic::Ordering::SeqCst), code, recorded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_stopped_by_its_budget_asks_the_same_requests_at_any_concurrency() {
    // Every other path answers late: answers come back in another order than they were asked.
    let late = || -> Box<dyn Fn(&str) -> Duration + Send + Sync> {
        Box::new(|path: &str| Duration::from_millis(if path.len() % 2 == 0 { 60 } else { 0 }))
    };
    let budget = ["--repr", "xml", "--max-requests", "80"];
    let (_, code, one) = crawl_delayed(late(), &[&budget[..], &["--concurrency", "1"]].concat()).await;
    assert_eq!(code, 0);
    let (_, code, eight) = crawl_delayed(late(), &[&budget[..], &["--concurrency", "8"]].concat()).await;
    assert_eq!(code, 0);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(one.len(), 81, "80 requests and the logout: {one:?}");
    assert_eq!(sorted(one), sorted(eight), "breadth first, in the order the links were found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_never_has_more_requests_in_flight_than_concurrency_allows() {
    let delay = Duration::from_millis(40);
    let (most, code, recorded) =
        crawl_slow(delay, &["--repr", "xml", "--concurrency", "1", "--max-requests", "12"]).await;
    assert_eq!((most, code), (1, 0), "one at a time");
    assert!(recorded >= 12, "{recorded}");
    let (most, code, _) = crawl_slow(delay, &["--repr", "xml", "--concurrency", "3", "--max-requests", "30"]).await;
    assert_eq!(code, 0);
    assert_eq!(most, 3, "three at once, never four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_is_crawled_to_the_end() {
    let (_, code, recorded) = crawl_slow(Duration::from_millis(150), &["--repr", "xml", "--concurrency", "8"]).await;
    assert_eq!(code, 0, "slow answers are answers");
    assert!(recorded > 50, "{recorded}");
}

/// A crawl of `url` into `out` at `rate` requests a second, running.
fn crawling(url: &str, out: &std::path::Path, rate: u32) -> std::process::Child {
    Command::new(BIN)
        .args(["crawl", "--target", url, "--user", "a", "--password-env", "EMTAPE_TEST_PW"])
        .args(["--rate", &rate.to_string()])
        .arg("--out")
        .arg(out)
        .env("EMTAPE_TEST_PW", "pw")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `child` after `times` Ctrl-C (SIGINT), a tenth of a second apart: how it ended, and what it said.
fn interrupted(child: std::process::Child, times: usize) -> (std::process::Output, String) {
    for _ in 0..times {
        let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        std::thread::sleep(Duration::from_millis(100));
    }
    let done = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    (done, said)
}

/// Ctrl-C twice leaves at once, dropping what holds a large body's spool: the crawl removes
/// its spools itself (one is planted, named as the crawl names them, as if a body were coming).
#[test]
fn a_crawl_left_at_once_leaves_no_spool_beside_its_cassette() {
    let mock = Emtape::serve(&[]);
    let dir = temp_dir("crawl-sigint-twice");
    let out = dir.join("left.yaml");
    let child = crawling(&mock.url, &out, 5);
    let spool = dir.join(format!(".emtape-spool-{}-crawl-7", child.id()));
    let other = dir.join(".emtape-spool-1-crawl-7");
    std::fs::write(&spool, "part of a large body").unwrap();
    std::fs::write(&other, "another crawl's").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (done, said) = interrupted(child, 2);
    assert_eq!(done.status.code(), Some(130), "{said}");
    assert!(!spool.exists(), "its spool is removed: {said}");
    assert!(other.exists(), "another process's is not its to remove");
}

#[test]
fn an_interrupted_crawl_stops_saying_so_and_leaves_a_cassette_that_loads() {
    let mock = Emtape::serve(&[]);
    let out = temp_dir("crawl-sigint").join("interrupted.yaml");
    let child = crawling(&mock.url, &out, 30);
    std::thread::sleep(Duration::from_millis(500));
    let (done, said) = interrupted(child, 1);
    assert_eq!(done.status.code(), Some(130), "an interrupted crawl is not a complete one: {said}");
    assert!(said.contains("interrupted"), "{said}");
    let loaded = Cassette::load(&out).expect("an interrupted crawl's cassette loads");
    assert!(!loaded.cassette.exchanges.is_empty());
    assert!(
        loaded.cassette.exchanges.iter().all(|x| x.request.method == "GET"
            || x.request.uri.contains("sessionMngr")
            || x.request.method == "DELETE"),
        "GETs (and the logon, the logout) only"
    );
    let last = loaded.cassette.exchanges.last().unwrap();
    assert_eq!(last.request.method, "DELETE", "the session was logged out before leaving");
}

#[test]
fn a_refused_logon_stops_the_crawl_with_one_line_and_records_nothing() {
    let em = RefusingEm::start();
    let out = temp_dir("crawl-refused").join("crawl.yaml");
    let (code, stdout, stderr) = crawl(&em.url, &out, &[]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1..],
        ["logon refused (401, EM: Authentication failed: wrong user name or password.): check --user / --password-env"],
        "{stdout}"
    );
    assert!(lines[0].ends_with(": 1 request, 0 exchanges recorded"), "one logon tried, none on tape: {stdout}");
    if out.exists() {
        assert!(Cassette::load(&out).unwrap().cassette.exchanges.is_empty());
    }
}

/// The mock, serving the reference cassette and `body` (an XML listing larger than a crawl holds
/// whole) as `GET /api/backupServers`, recorded in `dir`'s `large.yaml`.
fn serve_large_listing(dir: &std::path::Path, body: &str) -> Emtape {
    assert!(body.len() > 8 << 20, "past the size held whole: {}", body.len());
    let mut cassette = String::from(
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /api/backupServers\n  response:\n    status: 200\n    headers:\n    - Content-Type: application/xml\n    body: |\n",
    );
    for line in body.lines() {
        cassette.push_str("      ");
        cassette.push_str(line);
        cassette.push('\n');
    }
    std::fs::write(dir.join("large.yaml"), cassette).unwrap();
    Emtape::serve(&["cassettes/reference/vm-restore.yaml", dir.join("large.yaml").to_str().unwrap()])
}

/// A large listing's links are read from its first part while they fill the crawl's budget; the
/// links of one whose first megabytes name none, read further, are followed all the same.
#[test]
fn the_links_at_the_end_of_a_large_listing_are_followed() {
    let dir = temp_dir("crawl-large-late-links");
    let mut body = String::from("<BackupServers xmlns=\"http://www.veeam.com/ent/v1.0\">\n");
    let note = "x".repeat(800);
    for _ in 0..11_000 {
        body.push_str(&format!("  <Description>{note}</Description>\n"));
    }
    for i in 0..3 {
        body.push_str(&format!(
            "  <Ref Type=\"BackupServerReference\" Href=\"{{{{origin}}}}/api/backupServers/{i:08}\" Name=\"late {i}\" />\n"
        ));
    }
    body.push_str("</BackupServers>\n");
    let mock = serve_large_listing(&dir, &body);
    let out = dir.join("crawl.yaml");
    // Not the entities' list, the mock's own, which names them too.
    let only = ["--repr", "xml", "--include", "backupServers", "--exclude", "BackupServerList"];
    let (code, stdout, err) = crawl(&mock.url, &out, &only);
    assert_eq!(code, 0, "{stdout}{err}");
    let loaded = Cassette::load(&out).unwrap();
    let asked: Vec<&str> = loaded.cassette.exchanges.iter().map(|x| x.request.uri.as_str()).collect();
    for i in 0..3 {
        assert!(asked.contains(&format!("/api/backupServers/{i:08}").as_str()), "late {i}: {asked:?}");
    }
}

/// A list of hundreds of thousands of items is spooled beside the cassette as it arrives and
/// recorded from there a run of lines at a time: it must come out as the small-body writer
/// gives it, redacted, its links placeholders, the crawl must stop reading it where the budget
/// ends, and the spool must be gone.
#[test]
fn a_crawled_list_too_large_to_copy_is_recorded_whole_redacted_and_canonical() {
    let dir = temp_dir("crawl-large");
    let mut body = String::from("<BackupServers xmlns=\"http://www.veeam.com/ent/v1.0\">\n");
    body.push_str("  <Password>p4ss-in-a-large-list</Password>\n");
    // Few items with long lines: the mock learns every item, and this test is about bytes.
    let note = "x".repeat(800);
    for i in 0..11_000 {
        body.push_str(&format!(
            "  <Ref Type=\"BackupServerReference\" Href=\"{{{{origin}}}}/api/backupServers/{i:08}\" Name=\"server {i} {note}\" />\n"
        ));
    }
    body.push_str("</BackupServers>\n");
    let mock = serve_large_listing(&dir, &body);
    let out = dir.join("crawl.yaml");
    let (_, stdout, err) =
        crawl(&mock.url, &out, &["--repr", "xml", "--max-requests", "40", "--include", "backupServers"]);
    assert!(stdout.contains("stopped at --max-requests 40"), "{stdout}{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("p4ss-in-a-large-list"), "the secret was redacted");
    let loaded = Cassette::load(&out).unwrap();
    assert_eq!(loaded.cassette.to_yaml(), text, "written in canonical form");
    let list = loaded.cassette.exchanges.iter().find(|x| x.request.uri == "/api/backupServers").expect("the list");
    let expected = body.replace("p4ss-in-a-large-list", "{{redacted}}");
    assert!(list.response.body.as_text() == Some(expected.as_str()), "the list, whole, its links placeholders");
    let opened = loaded.cassette.exchanges.iter().filter(|x| x.request.uri.starts_with("/api/backupServers/")).count();
    assert!(opened > 20, "the budget went to the list's items: {opened}");
    let mut left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["crawl.yaml", "large.yaml"], "no spool left beside the cassette");
}

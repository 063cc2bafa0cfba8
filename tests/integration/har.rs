//! HAR in and out: a mitmproxy capture imported and served, a cassette exported as HAR 1.2.

use emtape::cassette::Cassette;
use serde_json::Value;

use crate::support::*;

const MITMPROXY: &str = "tests/fixtures/har/mitmproxy.har";

#[test]
fn a_mitmproxy_har_imported_serves_the_restore_flow_and_keeps_no_secret() {
    let out = temp_dir("har-import").join("imported.yaml");
    let (code, stdout, err) = run(&["import", MITMPROXY, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("10 entries of http://127.0.0.1:"), "{stdout}");
    let har: Value = serde_json::from_str(&std::fs::read_to_string(MITMPROXY).unwrap()).unwrap();
    let mut secrets = vec!["har-secret-Pw9".to_owned()];
    for e in har["log"]["entries"].as_array().unwrap() {
        for h in e["request"]["headers"].as_array().unwrap().iter().chain(e["response"]["headers"].as_array().unwrap())
        {
            let name = h["name"].as_str().unwrap().to_ascii_lowercase();
            if name == "authorization" || name == "x-restsvcsessionid" {
                secrets.push(h["value"].as_str().unwrap().trim_start_matches("Basic ").to_owned());
            }
        }
    }
    assert!(secrets.len() > 3, "the capture holds the credential and the live token");
    let cassette = std::fs::read_to_string(&out).unwrap();
    for s in &secrets {
        assert!(!cassette.contains(s.as_str()), "{s} is in the imported cassette");
    }
    assert!(!cassette.contains("127.0.0.1"), "the host is a placeholder");
    let (code, report, _) = run(&["run", "--cassette", out.to_str().unwrap(), "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "the seed flow against the imported cassette: {report}");
}

/// The fields HAR 1.2 requires (http://www.softwareishard.com/blog/har-12-spec/), and their types.
fn assert_har_1_2(har: &Value) {
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert!(log["creator"]["name"].is_string() && log["creator"]["version"].is_string());
    let entries = log["entries"].as_array().expect("log.entries");
    assert!(!entries.is_empty());
    let iso = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$").unwrap();
    let pairs = |v: &Value, what: &str| {
        for p in v.as_array().unwrap_or_else(|| panic!("{what} is an array")) {
            assert!(p["name"].is_string() && p["value"].is_string(), "{what}: {p}");
        }
    };
    for e in entries {
        assert!(iso.is_match(e["startedDateTime"].as_str().unwrap()), "{}", e["startedDateTime"]);
        assert!(e["time"].is_number() && e["cache"].is_object());
        for t in ["send", "wait", "receive"] {
            assert!(e["timings"][t].is_number(), "timings.{t}");
        }
        let q = &e["request"];
        assert!(q["method"].is_string() && q["url"].as_str().unwrap().starts_with("https://em.example:9398/api"));
        assert!(q["httpVersion"].is_string() && q["headersSize"].is_number() && q["bodySize"].is_number());
        for k in ["cookies", "headers", "queryString"] {
            pairs(&q[k], k);
        }
        if let Some(post) = q.get("postData") {
            assert!(post["mimeType"].is_string() && post["text"].is_string());
        }
        let a = &e["response"];
        assert!(a["status"].is_number() && a["statusText"].is_string() && a["httpVersion"].is_string());
        assert!(a["redirectURL"].is_string() && a["headersSize"].is_number() && a["bodySize"].is_number());
        pairs(&a["headers"], "response headers");
        pairs(&a["cookies"], "response cookies");
        assert!(a["content"]["size"].is_number() && a["content"]["mimeType"].is_string());
    }
}

#[test]
fn an_exported_cassette_is_har_1_2_and_imports_back_to_a_cassette_that_serves() {
    let dir = temp_dir("har-export");
    // export makes a folder that is not there yet (import, record, crawl and run refuse one).
    let (har_file, back) = (dir.join("new/reference.har"), dir.join("back.yaml"));
    let (code, out, err) = run(&["export", "cassettes/reference/vm-restore.yaml", "--har", har_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let har: Value = serde_json::from_str(&std::fs::read_to_string(&har_file).unwrap()).unwrap();
    assert_har_1_2(&har);
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        Cassette::load(std::path::Path::new("cassettes/reference/vm-restore.yaml")).unwrap().cassette.exchanges.len()
    );
    let polls: Vec<&str> = entries
        .iter()
        .filter(|e| e["request"]["url"].as_str().unwrap().ends_with("/api/tasks/task-1"))
        .map(|e| e["response"]["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(polls.len(), 3);
    assert!(polls[0] == polls[1] && polls[2].contains("Finished"), "a body stored once is exported each time");
    let (code, out, err) = run(&["import", har_file.to_str().unwrap(), "--out", back.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, report, _) = run(&["run", "--cassette", back.to_str().unwrap(), "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn an_origin_that_is_not_a_url_is_refused() {
    let out = temp_dir("har-origin").join("x.har");
    let (code, _, err) =
        run(&["export", "cassettes/reference/vm-restore.yaml", "--har", out.to_str().unwrap(), "--origin", "notaurl"]);
    assert_eq!(code, 2);
    assert!(err.contains("--origin notaurl: give the EM as http(s)://host:port"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_file_that_is_not_har_is_refused_where_it_breaks_and_foreign_entries_are_counted() {
    let dir = temp_dir("har-bad");
    let bad = dir.join("bad.har");
    std::fs::write(&bad, "{\"log\": {\"entries\": [\n  {\"request\": 3}\n]}}\n").unwrap();
    let (code, _, err) = run(&["import", bad.to_str().unwrap(), "--out", dir.join("x.yaml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.har: line 2, column") && err.contains("not a HAR 1.2 file"), "{err}");
    let mut har: Value = serde_json::from_str(&std::fs::read_to_string(MITMPROXY).unwrap()).unwrap();
    let entries = har["log"]["entries"].as_array_mut().unwrap();
    let mut foreign = entries[0].clone();
    foreign["request"]["url"] = "https://cdn.example.com/app.js".into();
    entries.push(foreign);
    let mut aborted = entries[1].clone();
    aborted["response"]["status"] = 0.into();
    entries.push(aborted);
    let mixed = dir.join("mixed.har");
    std::fs::write(&mixed, har.to_string()).unwrap();
    let (code, out, _) = run(&["import", mixed.to_str().unwrap(), "--out", dir.join("y.yaml").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("2 entries left out") && out.contains("another server") && out.contains("no response (status 0)"),
        "{out}"
    );
}

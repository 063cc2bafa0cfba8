//! The HTML reports, opened in headless Chromium: what the rendered page shows, that a hostile
//! body stays text, that the page loads nothing. `.ci/run` installs Chromium (Debian's package)
//! and sets EMTAPE_REQUIRE_CHROMIUM=1; elsewhere these tests say they were skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("EMTAPE_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].map(PathBuf::from))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("EMTAPE_REQUIRE_CHROMIUM").is_none(),
            "EMTAPE_REQUIRE_CHROMIUM is set and no Chromium was found"
        );
        eprintln!("skipped: no Chromium (install Debian's chromium, or set EMTAPE_CHROMIUM)");
    }
    found
}

/// The page's DOM after its scripts ran, and the URLs Chromium requested while loading it.
fn open(browser: &Path, page: &Path, fragment: &str) -> (String, Vec<String>) {
    let dir = tempdir_for(page);
    let netlog = dir.join("netlog.json");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", page.canonicalize().unwrap().display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let urls = regex::Regex::new(r#""url":"([^"]+)""#)
        .unwrap()
        .captures_iter(&log)
        .map(|c| c[1].to_owned())
        // Chromium's own housekeeping (update checks, time, accounts), not the page's.
        .filter(|u| !["google.com/", "googleapis.com/", "gstatic.com/"].iter().any(|h| u.contains(h)))
        .filter(|u| !u.starts_with("file://"))
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), urls)
}

fn tempdir_for(page: &Path) -> PathBuf {
    let dir = page.with_extension("chromium");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the element with this id.
fn by_id(dom: &str, id: &str) -> String {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &dom[at..];
    rest[rest.find('>').unwrap() + 1..rest.find('<').unwrap()].to_owned()
}

#[test]
fn the_run_report_shows_the_timeline_and_a_failed_checks_expected_and_actual() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-run").join("run.html");
    let (code, _, _) = run(&["run", "--release", "11", "--var", "api_version=v1_7", "--html", page.to_str().unwrap()]);
    assert_eq!(code, 1);
    let (dom, requests) = open(&browser, &page, "");
    assert_eq!(by_id(&dom, "count-steps"), "8");
    assert_eq!(by_id(&dom, "count-passed"), "1");
    assert!(dom.contains("<td class=\"expected\">201</td><td class=\"actual\">400</td>"), "{dom}");
    assert!(dom.contains("The requested API version v1_7 is not supported"), "the response excerpt");
    assert!(requests.is_empty(), "the page loaded {requests:?}");
}

#[test]
fn the_run_report_collapses_polls_and_keeps_bodies_for_the_asking() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-run-pass").join("run.html");
    let (code, _, _) = run(&["run", "--var", "poll_interval=0s", "--html", page.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (dom, _) = open(&browser, &page, "");
    assert!(dom.contains("polled 3 times: State=Running ×2, State=Finished ×1"), "{dom}");
    assert!(dom.contains("<summary>response body</summary><pre class=\"body response\">"), "{dom}");
    assert!(!dom.contains("{{"), "no template left unfilled");
}

#[test]
fn the_diff_report_shows_counts_side_by_side_rows_and_a_filter_hides_the_additive_drifts() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-diff").join("diff.html");
    run(&[
        "diff",
        "tests/fixtures/em-9.5-2013/vm-restore.yaml",
        "cassettes/reference/vm-restore.yaml",
        "--html",
        page.to_str().unwrap(),
    ]);
    let (dom, requests) = open(&browser, &page, "");
    assert_eq!(by_id(&dom, "count-breaking"), "9");
    assert_eq!(by_id(&dom, "count-additive"), "22");
    assert!(
        dom.contains("<td class=\"mark-new\">    &lt;VmName&gt;ubuntu88&lt;/VmName&gt;</td>"),
        "a marked side-by-side row"
    );
    assert!(dom.contains("class=\"edge added\""), "the link graph");
    let additive_rows = dom.matches("<tr data-drift=\"additive\" class=\"drift\">").count();
    assert!(additive_rows > 0 && !dom.contains("data-drift=\"additive\" class=\"drift\" hidden"));
    assert!(requests.is_empty(), "{requests:?}");
    let (filtered, _) = open(&browser, &page, "#hide=additive");
    assert_eq!(filtered.matches("<tr data-drift=\"additive\" class=\"drift\" hidden=\"\">").count(), additive_rows);
    assert!(!filtered.contains("<tr data-drift=\"breaking\" class=\"drift\" hidden"), "breaking drifts stay");
}

#[test]
fn the_matrix_report_is_the_release_grid_with_each_failures_reason() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-matrix").join("matrix.html");
    run(&["matrix", "--var", "api_version=v1_7", "--html", page.to_str().unwrap()]);
    let (dom, requests) = open(&browser, &page, "");
    assert_eq!(by_id(&dom, "count-cells"), "10");
    assert_eq!(by_id(&dom, "count-failed"), "6");
    assert!(dom.contains("<td class=\"cell fail\" data-release=\"9.5\" data-check=\"scenario XML\">"), "{dom}");
    assert!(dom.contains("(EM: The requested API version v1_7 is not supported. Supported versions: v1, v1_1"));
    assert!(requests.is_empty(), "{requests:?}");
}

#[test]
fn the_client_check_report_names_each_sessions_problems() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-check").join("check.html");
    let mock = Emtape::serve(&[
        "--scenario",
        "scenarios/vm-restore.yaml",
        "--until-complete",
        "1",
        "--grace",
        "0s",
        "--html",
        page.to_str().unwrap(),
    ]);
    let status = Command::new("python3")
        .args(["examples/restore_client.py", "--no-poll", "--url", &mock.url])
        .status()
        .expect("python3");
    assert!(status.success());
    let (code, _, _) = mock.wait();
    assert_eq!(code.code(), Some(1));
    let (dom, _) = open(&browser, &page, "");
    assert_eq!(by_id(&dom, "count-sessions"), "1");
    assert!(dom.contains("did not perform step `wait for the restore task`"), "{dom}");
}

#[test]
fn the_coverage_report_marks_the_used_parts_of_the_served_surface() {
    let Some(browser) = chromium() else { return };
    let page = temp_dir("html-coverage").join("coverage.html");
    let (code, _, _) = run(&["run", "--var", "poll_interval=0s", "--coverage-html", page.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (dom, requests) = open(&browser, &page, "");
    assert_eq!(by_id(&dom, "count-requests"), "10");
    assert!(dom.contains("<li class=\"used\" title=\"served 1, used 3\">Task<b>3</b></li>"), "{dom}");
    assert!(dom.contains(">BackupServer</li>"), "an unused part of the surface is shown too: {dom}");
    assert!(requests.is_empty(), "{requests:?}");
}

#[test]
fn a_hostile_body_renders_as_text_and_loads_nothing() {
    let Some(browser) = chromium() else { return };
    // A listener the hostile markup points at: nothing may ever connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let beacon = format!("http://{}/beacon", listener.local_addr().unwrap());
    let hostile = format!(
        "<script>document.body.dataset.pwned = 1</script><img src=\"{beacon}\" onerror=\"document.body.dataset.pwned = 2\"/>"
    );
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    // New elements (drift the diff shows side by side) that are the markup: the XML parses.
    let planted = reference.replacen(
        "<UserName>SRV12\\Administrator</UserName>",
        &format!("<UserName>SRV12\\Administrator</UserName>{hostile}"),
        1,
    );
    assert_ne!(planted, reference);
    let dir = temp_dir("html-hostile");
    let cassette = dir.join("hostile.yaml");
    std::fs::write(&cassette, &planted).unwrap();
    let (run_page, diff_page) = (dir.join("run.html"), dir.join("diff.html"));
    run(&[
        "run",
        "--cassette",
        cassette.to_str().unwrap(),
        "--var",
        "poll_interval=0s",
        "--html",
        run_page.to_str().unwrap(),
    ]);
    run(&[
        "diff",
        "cassettes/reference/vm-restore.yaml",
        cassette.to_str().unwrap(),
        "--fail-on",
        "never",
        "--html",
        diff_page.to_str().unwrap(),
    ]);
    for page in [&run_page, &diff_page] {
        let (dom, requests) = open(&browser, page, "");
        assert!(!dom.contains("data-pwned"), "a body's script ran in {}", page.display());
        assert!(dom.contains("&lt;script&gt;document.body.dataset.pwned"), "shown as text in {}", page.display());
        assert_eq!(dom.matches("<script>").count(), 1, "only the report's own script");
        assert!(requests.is_empty(), "{requests:?}");
    }
    assert!(listener.accept().is_err(), "the page requested {beacon}");
}

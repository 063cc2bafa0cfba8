//! A command that fails, or records nothing, leaves a cassette already at its `--out` byte for
//! byte as it was; a recording replaces it only once its first exchange is complete.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A real cassette (the reference recording) at `DIR/existing.yaml`, and its bytes.
fn existing(name: &str) -> (PathBuf, Vec<u8>) {
    let path = temp_dir(name).join("existing.yaml");
    let bytes = std::fs::read("cassettes/reference/vm-restore.yaml").unwrap();
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

/// The cassette is what it was, and nothing else was left beside it.
fn assert_untouched(path: &Path, before: &[u8], said: &str) {
    let after = std::fs::read(path).unwrap();
    assert!(after == before, "{} changed ({} bytes, was {}): {said}", path.display(), after.len(), before.len());
    let beside: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "existing.yaml")
        .collect();
    assert!(beside.is_empty(), "left beside the cassette: {beside:?}");
}

fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_record_that_cannot_listen_leaves_the_cassette_untouched() {
    let (out, before) = existing("keep-listen");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) =
        run(&["record", "--upstream", "http://127.0.0.1:1", "--listen", &listen, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert_untouched(&out, &before, &stderr);
}

#[test]
fn a_crawl_of_a_dead_target_leaves_the_cassette_untouched() {
    let (out, before) = existing("keep-crawl");
    let output = Command::new(BIN)
        .args(["crawl", "--target", &format!("http://127.0.0.1:{}", dead_port())])
        .args(["--user", "admin", "--password-env", "EMTAPE_TEST_PW", "--out", out.to_str().unwrap()])
        .env("EMTAPE_TEST_PW", "pw")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains(&format!("{} is left as it was", out.display())), "{stdout}");
    assert_untouched(&out, &before, &stdout);
}

#[test]
fn a_run_against_a_dead_target_leaves_the_cassette_it_would_record_untouched() {
    let (out, before) = existing("keep-run");
    let target = format!("http://127.0.0.1:{}", dead_port());
    let output = Command::new(BIN)
        .args(["run", "scenarios/vm-restore.yaml", "--target", &target, "--record", out.to_str().unwrap()])
        .args(["--user", "admin", "--password-env", "EMTAPE_TEST_PW"])
        .env("EMTAPE_TEST_PW", "pw")
        .output()
        .unwrap();
    let (code, stderr) = (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("is left as it was"), "{stderr}");
    assert_untouched(&out, &before, &stderr);
}

#[test]
fn a_record_that_sees_no_traffic_leaves_the_cassette_untouched_and_says_how_to_add_to_it() {
    let (out, before) = existing("keep-idle");
    let upstream = Emtape::serve(&[]);
    let recorder = Emtape::start(&[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url,
        "--out",
        out.to_str().unwrap(),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, stderr) = recorder.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("--mode append adds to it instead"), "{stderr}");
    assert!(stderr.contains(&format!("recorded 0 exchanges: {} is left as it was", out.display())), "{stderr}");
    assert_untouched(&out, &before, &stderr);
}

#[tokio::test]
async fn a_record_replaces_the_cassette_once_an_exchange_is_recorded() {
    let (out, before) = existing("keep-replace");
    let upstream = Emtape::serve(&[]);
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
    assert_eq!(r.status, 200);
    // Written through before the answer reached the client: the old cassette is gone already.
    let now = emtape::cassette::Cassette::load(&out).unwrap();
    assert_eq!(now.cassette.exchanges.len(), 1);
    let (status, stderr) = recorder.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("recorded 1 exchange in"), "{stderr}");
    assert_ne!(std::fs::read(&out).unwrap(), before);
    let beside = std::fs::read_dir(out.parent().unwrap()).unwrap().count();
    assert_eq!(beside, 1, "only the cassette is left in its folder");
}

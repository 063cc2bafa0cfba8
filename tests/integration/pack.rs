//! `emtape pack`: a cassette whose response bodies serve reads by place, answering as the
//! cassette does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const REFERENCE: [&str; 4] = ["vm-restore.yaml", "vm-restore-json.yaml", "estate.yaml", "estate-json.yaml"];

/// The reference cassettes copied to `dir`, and each packed beside its copy.
fn packed_reference(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut yamls, mut packs) = (Vec::new(), Vec::new());
    for name in REFERENCE {
        let yaml = dir.join(name);
        std::fs::copy(Path::new("cassettes/reference").join(name), &yaml).unwrap();
        let (code, _, err) = run(&["pack", yaml.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("response bodies") && err.contains("emtape serve"), "{err}");
        // The reference cassettes pack cleanly: a warning says something went wrong.
        assert_eq!(err.lines().count(), 1, "{err}");
        packs.push(yaml.with_extension("emtape"));
        yamls.push(yaml);
    }
    (yamls, packs)
}

/// Every link of the mock at `url`, followed one at a time, every listed item opened.
fn crawled(url: &str, out: &Path) -> String {
    let out_arg = out.to_str().unwrap();
    let args = ["crawl", "--target", url, "--user", "a", "--password-env", "EMTAPE_TEST_PW", "--out", out_arg];
    let sampling = ["--concurrency", "1", "--sample", "1000", "--max-requests", "5000"];
    let done = Command::new(BIN).args(args).args(sampling).env("EMTAPE_TEST_PW", "pw").output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    std::fs::read_to_string(out).unwrap().lines().filter(|l| !l.contains("recorded_at")).collect::<Vec<_>>().join("\n")
}

fn strs(paths: &[PathBuf]) -> Vec<&str> {
    paths.iter().map(|p| p.to_str().unwrap()).collect()
}

#[tokio::test]
async fn packs_of_the_reference_cassettes_serve_every_link_as_the_cassettes_do() {
    let dir = temp_dir("pack-reference");
    let (yamls, packs) = packed_reference(&dir);
    let from_yaml = Emtape::serve(&strs(&yamls));
    let from_packs = Emtape::serve(&strs(&packs));
    let (a, b) = (crawled(&from_yaml.url, &dir.join("a.yaml")), crawled(&from_packs.url, &dir.join("b.yaml")));
    assert!(a.matches("- seq:").count() > 1000, "{}", a.matches("- seq:").count());
    assert!(a == b, "the packs' crawl differs from the cassettes'");
    for json in [false, true] {
        let flow = restore_flow(&client(), &from_packs.url, json).await;
        assert_eq!(flow.task_states.last().map(String::as_str), Some("Finished"));
        assert_eq!(flow.restore_session_state, "Stopped");
    }
}

#[tokio::test]
async fn a_pack_written_over_while_served_is_answered_500_saying_so() {
    let dir = temp_dir("pack-over");
    let (_, packs) = packed_reference(&dir);
    let mock = Emtape::serve(&strs(&packs));
    let root = send(&client(), "GET", &format!("{}/api/", mock.url), &[], "").await;
    assert_eq!(root.status, 200);
    // Written over in place, as `cp` does: the same length, other bytes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let estate = &packs[2];
    let bytes = std::fs::read(estate).unwrap();
    std::fs::OpenOptions::new().write(true).open(estate).unwrap().write_all(&bytes).unwrap();
    let after = send(&client(), "GET", &format!("{}/api/", mock.url), &[], "").await;
    assert_eq!(after.status, 500);
    let said = text(&after);
    assert!(said.contains("estate.emtape") && said.contains("written over after it was loaded"), "{said}");
}

#[test]
fn pack_refuses_a_broken_cassette_and_its_own_path_writing_nothing() {
    let dir = temp_dir("pack-refuses");
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request: [\n").unwrap();
    let (code, _, err) = run(&["pack", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("broken.yaml:"), "{err}");
    let yaml = dir.join("estate.yaml");
    std::fs::copy("cassettes/reference/estate.yaml", &yaml).unwrap();
    let (code, _, err) = run(&["pack", yaml.to_str().unwrap(), "--out", yaml.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("that is the cassette itself"), "{err}");
    assert_eq!(std::fs::read(&yaml).unwrap(), std::fs::read("cassettes/reference/estate.yaml").unwrap());
    let nowhere = dir.join("no-such-folder").join("estate.emtape");
    let (code, _, err) = run(&["pack", yaml.to_str().unwrap(), "--out", nowhere.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("cannot write {}", nowhere.display())), "{err}");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn fmt_and_record_append_leave_a_pack_as_it_is() {
    let dir = temp_dir("pack-untouched");
    let (_, packs) = packed_reference(&dir);
    let pack = packs[0].to_str().unwrap();
    let before = std::fs::read(pack).unwrap();
    let (code, _, err) = run(&["fmt", pack]);
    assert_eq!(code, 2);
    assert!(err.contains("a pack, which `emtape pack` writes"), "{err}");
    let upstream = Emtape::serve(&[]);
    let args = ["record", "--listen", "127.0.0.1:0", "--upstream", &upstream.url, "--out", pack, "--mode", "append"];
    let (code, _, err) = run(&args);
    assert_eq!(code, 2);
    assert!(err.contains("is a pack"), "{err}");
    assert_eq!(std::fs::read(pack).unwrap(), before);
}

#[test]
fn diff_of_two_packs_reports_what_diff_of_their_cassettes_does() {
    let dir = temp_dir("pack-diff");
    let mut reports = Vec::new();
    for ext in ["yaml", "emtape"] {
        let mut files = Vec::new();
        for (release, from) in [("12", "cassettes/em-12/estate.yaml"), ("13", "cassettes/reference/estate.yaml")] {
            let yaml = dir.join(format!("{release}.yaml"));
            std::fs::copy(from, &yaml).unwrap();
            if ext == "emtape" {
                assert_eq!(run(&["pack", yaml.to_str().unwrap()]).0, 0);
            }
            files.push(yaml.with_extension(ext));
        }
        let (old, new) = (files[0].to_str().unwrap(), files[1].to_str().unwrap());
        let (code, out, err) = run(&["diff", "--format", "json", "--fail-on", "never", old, new]);
        assert_eq!(code, 0, "{err}");
        // The files' names, and where each exchange is in them (a pack's lines are its YAML's),
        // differ: what drifted may not.
        let drift: Vec<&str> = out.lines().filter(|l| !l.contains(old) && !l.contains(new)).collect();
        reports.push(drift.join("\n"));
    }
    assert!(reports[0].contains("\"drifts\""), "{}", reports[0]);
    assert!(reports[0] == reports[1], "the packs' report differs from the cassettes'");
}

#[test]
fn lint_and_diff_read_a_pack_as_its_cassette() {
    let dir = temp_dir("pack-lint-diff");
    let (yamls, packs) = packed_reference(&dir);
    let (code, out, err) = run(&["lint", packs[2].to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&["diff", yamls[2].to_str().unwrap(), packs[2].to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn lint_finds_in_a_pack_what_it_finds_in_its_cassette() {
    let dir = temp_dir("pack-lint-findings");
    let yaml = dir.join("flawed.yaml");
    // A secret in a body, and a body that does not parse.
    let flawed = std::fs::read_to_string("cassettes/reference/estate-json.yaml").unwrap().replacen(
        "\"links\": ",
        "\"password\": \"hunter2\", \"links\": ",
        1,
    );
    let last = flawed.rfind("\"refs\": ").unwrap();
    let flawed = format!("{}\"refs\" {}", &flawed[..last], &flawed[last + "\"refs\": ".len()..]);
    std::fs::write(&yaml, flawed).unwrap();
    let (code, _, err) = run(&["pack", yaml.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let findings = |path: &Path| {
        let mut said = lint_findings(path);
        said.sort();
        said
    };
    let said = findings(&yaml);
    assert!(said.iter().any(|f| f.contains("secret") && f.contains("password")), "{said:?}");
    assert!(said.iter().any(|f| f.contains("unparsable-body")), "{said:?}");
    assert_eq!(findings(&yaml.with_extension("emtape")), said);
}

/// What lint finds in `path`, which has findings: each its kind and message, in order.
fn lint_findings(path: &Path) -> Vec<String> {
    let (code, out, err) = run(&["lint", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    all.iter().map(|f| format!("{} {}", f["kind"], f["message"])).collect()
}

/// A body of a pack too large to hold (a listing of half a million task sessions) is read and
/// filled a block at a time as it is sent: it must arrive as the cassette's own answer does,
/// its links filled across every block boundary, in a body of lines, of one line, with a BOM.
#[tokio::test]
async fn a_pack_body_too_large_to_hold_is_sent_as_it_is_read_and_as_its_cassette_answers() {
    let dir = temp_dir("pack-large-body");
    let mut xml = String::from("<VmRestorePoints xmlns=\"http://www.veeam.com/ent/v1.0\">\n");
    let mut json = String::from("{\"Refs\":[");
    for i in 0..120_000 {
        xml.push_str(&format!("  <Ref Href=\"{{{{origin}}}}/api/vmRestorePoints/{i:08}\" Name=\"vm {i} ünï\" />\n"));
        json.push_str(&format!("{{\"Href\":\"{{{{origin}}}}/api/vmRestorePoints/{i:08}\",\"Name\":\"vm {i} ünï\"}},"));
    }
    xml.push_str("</VmRestorePoints>\n");
    json.push_str("{}]}");
    assert!(xml.len() > 8 << 20 && json.len() > 8 << 20 && !json.contains('\n'));
    let mut cassette = String::from("format: emtape/cassette-v1\nexchanges:\n");
    for (seq, (uri, body, bom)) in
        [("/api/xml", &xml, false), ("/api/json", &json, false), ("/api/bom", &xml, true)].into_iter().enumerate()
    {
        cassette.push_str(&format!(
            "- seq: {}\n  request:\n    method: GET\n    uri: {uri}\n  response:\n    status: 200\n",
            seq + 1
        ));
        if bom {
            cassette.push_str("    body_encoding: utf-8-bom\n");
        }
        if body.contains('\n') {
            cassette.push_str("    body: |\n");
            for line in body.lines() {
                cassette.push_str(&format!("      {line}\n"));
            }
        } else {
            cassette.push_str(&format!("    body: '{body}'\n"));
        }
    }
    let yaml = dir.join("large.yaml");
    std::fs::write(&yaml, cassette).unwrap();
    let (code, _, err) = run(&["pack", yaml.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let from_yaml = Emtape::serve(&[yaml.to_str().unwrap()]);
    let from_pack = Emtape::serve(&[yaml.with_extension("emtape").to_str().unwrap()]);
    let c = client();
    for uri in ["/api/xml", "/api/json", "/api/bom"] {
        let held = send(&c, "GET", &format!("{}{uri}", from_yaml.url), &[], "").await;
        let sent = send(&c, "GET", &format!("{}{uri}", from_pack.url), &[], "").await;
        assert_eq!(sent.status, 200, "{uri}");
        assert_eq!(sent.headers.get("transfer-encoding"), Some("chunked"), "{uri}: sent as read, not held");
        let filled =
            |r: &emtape::http::Response, url: &str| String::from_utf8_lossy(&r.body).replace(url, "{{origin}}");
        assert!(filled(&sent, &from_pack.url) == filled(&held, &from_yaml.url), "{uri}: the pack's answer differs");
        assert!(!text(&sent).contains("{{"), "{uri}: every placeholder filled");
        assert_eq!(sent.body.starts_with("\u{feff}".as_bytes()), uri == "/api/bom", "{uri}");
    }
}

/// Lint walks a pack's large listing by the sample its pack cut it to (its first items): it
/// finds what the walk of its cassette finds, what those items link to included.
#[test]
fn lint_walks_a_large_listing_of_a_pack_by_its_sample_and_finds_what_it_finds_in_its_cassette() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let end = reference.find("      </EntityReferences>\n- seq: 5").unwrap();
    let mut text = reference[..end].to_owned();
    for n in 0..60_000 {
        text.push_str(&format!(
            "        <Ref Type=\"VmRestorePointReference\" Href=\"{{{{origin}}}}/api/vmRestorePoints/{n:08}\" \
             Name=\"vm{n}\"><Links><Link Rel=\"Up\" Type=\"BackupServerReference\" \
             Href=\"{{{{origin}}}}/api/backupServers/a490c017-2c1c-40ee-8bcf-73bcce6ab36f\" /></Links></Ref>\n"
        ));
    }
    text.push_str(&reference[end..]);
    assert!(text.len() > 8 << 20, "larger than a pack sends whole");
    let dir = temp_dir("pack-lint-sampled");
    let yaml = dir.join("large.yaml");
    std::fs::write(&yaml, &text).unwrap();
    let (code, _, err) = run(&["pack", yaml.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let findings = |path: &Path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        lint_findings(path).into_iter().map(|f| f.replace(name, "{file}")).collect::<Vec<_>>()
    };
    let said = findings(&yaml);
    // The restore point only the first item links to is answered from no recording of its own.
    assert!(said.iter().any(|f| f.contains("derived") && f.contains("/api/restorePoints/53601605")), "{said:?}");
    assert!(!said.iter().any(|f| f.contains("/api/vmRestorePoints/00059999")), "past the sample: {said:?}");
    assert_eq!(findings(&yaml.with_extension("emtape")), said);
}

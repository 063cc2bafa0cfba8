//! `emtape matrix`: a scenario or a client against every release on tape, as a table; and what
//! changed from release to release.

use crate::support::*;

const CLIENT: &str = "python3 examples/restore_client.py";

fn lines_of<'a>(out: &'a str, release: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(&format!("  {release} "))).collect()
}

#[test]
fn the_shipped_scenario_passes_on_every_release_in_xml_and_json() {
    let dir = temp_dir("matrix");
    let (json, markdown, junit) = (dir.join("m.json"), dir.join("m.md"), dir.join("m.xml"));
    let (code, out, err) = run(&[
        "matrix",
        "--json",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for release in ["9.5", "10", "11", "12", "13"] {
        let rows = lines_of(&out, release);
        assert_eq!(rows.len(), 2, "{release}: XML and JSON: {out}");
        assert!(rows.iter().all(|r| r.contains("PASS") && r.contains("8/8 steps")), "{out}");
    }
    assert!(out.contains("10 of 10 cells passed"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 10);
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("| 9.5 | scenario JSON | PASS | 8/8 steps |"));
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("tests=\"10\" failures=\"0\"") && junit.contains("name=\"release 11 / scenario XML\""));
}

#[test]
fn a_scenario_that_asks_for_v1_7_fails_where_em_refuses_it_and_says_what_em_said() {
    let (code, out, _) = run(&["matrix", "--var", "api_version=v1_7", "--repr", "xml"]);
    assert_eq!(code, 1, "{out}");
    for old in ["9.5", "10", "11"] {
        let row = lines_of(&out, old).concat();
        assert!(row.contains("FAIL") && row.contains("log on"), "{out}");
        assert!(row.contains("EM: The requested API version v1_7 is not supported"), "EM's own refusal: {out}");
    }
    for new in ["12", "13"] {
        assert!(lines_of(&out, new).concat().contains("PASS"), "{out}");
    }
    let junit = temp_dir("matrix-xfail").join("m.xml");
    let (code, out, _) = run(&[
        "matrix",
        "--var",
        "api_version=v1_7",
        "--repr",
        "xml",
        "--expect-fail",
        "9.5",
        "--expect-fail",
        "10",
        "--expect-fail",
        "11",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "known incompatibilities are tracked without going red: {out}");
    assert!(out.contains("XFAIL") && out.contains("3 failed as expected"), "{out}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("skipped=\"3\""));
}

#[test]
fn a_client_that_reads_a_field_only_13_has_passes_on_13_and_fails_elsewhere_with_its_own_error() {
    let (code, out, err) =
        run(&["matrix", "--client", &format!("{CLIENT} --url {{url}} --read-vm-name"), "--releases", "11,12,13"]);
    assert_eq!(code, 1, "{out}{err}");
    for old in ["11", "12"] {
        let row = lines_of(&out, old).concat();
        assert!(row.contains("FAIL") && row.contains("exit 1"), "{out}");
        assert!(row.contains("error: the restore point ubuntu88@2025-10-20 20:04:07 has no VmName"), "{out}");
    }
    assert!(lines_of(&out, "13").concat().contains("PASS"), "{out}");
    assert!(out.contains("the mock's own time per release"), "{out}");
}

/// A client restoring the first point it lists failed every release: the scenario's default VM
/// was taken for the contract. It passes on all five, each row naming its choice; pinning the
/// VM with --var fails it, naming the pin.
#[test]
fn a_client_restoring_the_first_listed_point_passes_every_release_unless_the_vm_is_pinned() {
    let (code, out, err) = run(&["matrix", "--client", &format!("{CLIENT} --first")]);
    assert_eq!(code, 0, "{out}{err}");
    for release in ["9.5", "10", "11", "12", "13"] {
        let row = lines_of(&out, release).concat();
        assert!(
            row.contains("PASS") && row.contains("oracle03@2025-11-02 13:42:25 (vm=oracle03), the client's choice"),
            "{out}"
        );
    }
    let (code, out, _) =
        run(&["matrix", "--client", &format!("{CLIENT} --first"), "--var", "vm=ubuntu88", "--releases", "13"]);
    assert_eq!(code, 1, "{out}");
    assert!(lines_of(&out, "13").concat().contains("which the run rules out: it pins vm=ubuntu88"), "{out}");
}

/// EM 13 spells its JSON keys in camelCase: a JSON client written against 12 breaks on it, as
/// public monitoring plugins did. The matrix says so on 13's row, naming the renamed keys.
#[test]
fn a_json_client_written_against_12_fails_on_13_and_the_row_names_the_renamed_keys() {
    let (code, out, err) = run(&["matrix", "--client", &format!("{CLIENT} --json"), "--releases", "11,12,13"]);
    assert_eq!(code, 1, "{out}{err}");
    for old in ["11", "12"] {
        assert!(lines_of(&out, old).concat().contains("PASS"), "{out}");
    }
    let start = out.find("\n  13 ").unwrap();
    let row = &out[start..out[start..].find("\n\n").map_or(out.len(), |e| start + e)];
    assert!(row.contains("FAIL") && row.contains("has no key 'Links'"), "{row}");
    assert!(row.contains("changed since 12 on the client's requests: JSON key renamed: Href -> href"), "{row}");
    assert!(row.contains("Links -> links"), "{row}");
}

#[test]
fn a_client_that_never_polls_fails_on_every_release_for_that_reason() {
    let (code, out, _) = run(&["matrix", "--client", &format!("{CLIENT} --no-poll")]);
    assert_eq!(code, 1, "{out}");
    for release in ["9.5", "10", "11", "12", "13"] {
        let row = lines_of(&out, release).concat();
        assert!(row.contains("FAIL") && row.contains("exit 0"), "the client itself thinks it worked: {out}");
        assert!(row.contains("did not perform step `wait for the restore task`"), "{out}");
    }
}

#[test]
fn a_client_over_https_is_given_the_minted_ca_and_the_releases_run_in_parallel() {
    let (code, out, err) = run(&["matrix", "--client", CLIENT, "--tls", "--jobs", "3", "--releases", "9.5,12,13"]);
    assert_eq!(code, 0, "EMTAPE_URL and EMTAPE_CA are enough for a client: {out}{err}");
    assert!(out.contains("3 of 3 cells passed"), "{out}");
}

#[test]
fn a_client_that_cannot_start_or_hangs_is_a_failed_cell_not_a_hung_matrix() {
    let (code, out, _) = run(&["matrix", "--client", "exit 3", "--releases", "13"]);
    assert_eq!(code, 1);
    assert!(out.contains("exit 3") && out.contains("no client session was seen"), "{out}");
    let (code, out, _) = run(&["matrix", "--client", "sleep 30", "--client-timeout", "300ms", "--releases", "13"]);
    assert_eq!(code, 1);
    assert!(out.contains("timed out"), "{out}");
}

#[test]
fn the_changelog_names_what_each_release_changed_and_nothing_about_data() {
    let md = temp_dir("matrix-diff").join("changelog.md");
    let (code, out, err) = run(&["matrix", "--diff", "--markdown", md.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let step = |from: &str, to: &str| -> String {
        let start = out.find(&format!("\n{from} -> {to} ")).unwrap_or_else(|| panic!("{from} -> {to}: {out}"));
        let rest = &out[start + 1..];
        rest[..rest[1..].find("\n\n").map_or(rest.len(), |e| e + 1)].to_owned()
    };
    assert!(
        out.contains("9.5 (EM 9.5.4.2615, API v1_4; advertises v1, v1_1, v1_2, v1_3, v1_4; XML and JSON)"),
        "{out}"
    );
    assert!(out.contains("JSON arrives"), "{out}");
    let to10 = step("9.5", "10");
    assert!(to10.contains("supported version added: v1_5") && to10.contains("link added: Down NasService"), "{to10}");
    let to11 = step("10", "11");
    assert!(to11.contains("breaking supported version removed: v1_4"), "{to11}");
    let to12 = step("11", "12");
    assert!(to12.contains("field added: WcfPort") && to12.contains("field added: VbrCertificateThumbprint"), "{to12}");
    let to13 = step("12", "13");
    // EM 13's JSON spells its keys in camelCase: every renamed key is one breaking change.
    assert!(to13.contains("breaking JSON key renamed: BackedUpVms -> backedUpVms"), "{to13}");
    assert!(to13.contains("breaking JSON key renamed: UID -> uid"), "{to13}");
    assert!(!to13.contains("field removed"), "a renamed key is not also a removed one: {to13}");
    assert!(to13.contains("field added: VmName") && to13.contains("link added: Up BackupFileReference"), "{to13}");
    // Ids, dates and hosts are the same on every release's tape: nothing about them is news.
    for invented in ["ubuntu88", "2025-", "tech.local", "6c958531"] {
        assert!(!out.contains(invented), "{invented} in {out}");
    }
    assert!(std::fs::read_to_string(&md).unwrap().contains("**12 → 13"), "the Markdown changelog");
}

#[test]
fn a_release_not_on_tape_is_refused_naming_those_that_are() {
    let (code, _, err) = run(&["matrix", "--releases", "14"]);
    assert_eq!(code, 2);
    assert!(err.contains("release 14 is not on tape; the EM releases are 9.5, 10, 11, 12, 13"), "{err}");
    for wrong in ["8", "14"] {
        let (code, _, err) = run(&["run", "--release", wrong]);
        assert_eq!(code, 2);
        let want = format!("--release {wrong}: no such release on tape; they are 9.5, 10, 11, 12, 13");
        assert!(err.contains(&want) && !err.contains("did you mean"), "{err}");
    }
}

#[test]
fn run_and_serve_take_a_release_by_name() {
    let (code, out, err) = run(&["run", "--release", "11", "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("release 11 on tape"), "{out}");
    let (code, out, _) = run(&["run", "--release", "11", "--var", "api_version=v1_7", "--var", "poll_interval=0s"]);
    assert_eq!(code, 1);
    assert!(out.contains("The requested API version v1_7 is not supported. Supported versions: v1_5, v1_6."), "{out}");
    let mock = Emtape::serve(&["--release", "9.5"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let root = rt.block_on(send(&client(), "GET", &format!("{}/api/", mock.url), &[], ""));
    assert!(text(&root).contains("SupportedVersion Name=\"v1_4\"") && !text(&root).contains("v1_5"));
}

#[test]
fn a_changelog_of_one_release_is_a_usage_error_not_an_empty_pass() {
    let (code, out, err) = run(&["matrix", "--diff", "--releases", "13"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("--diff compares releases: name two or more"), "{err}");
}

#[test]
#[cfg(unix)]
fn a_client_that_times_out_leaves_no_process_behind() {
    let pids = temp_dir("matrix-orphans").join("pids");
    let client = format!("sleep 60 & echo $! >> {0}; sh -c 'sleep 60' & echo $! >> {0}; wait", pids.display());
    let (code, out, _) = run(&["matrix", "--client", &client, "--client-timeout", "500ms", "--releases", "13"]);
    assert_eq!(code, 1);
    assert!(out.contains("timed out"), "{out}");
    let written = std::fs::read_to_string(&pids).unwrap();
    let alive = || -> Vec<&str> {
        written
            .lines()
            .filter(|pid| {
                // Gone, or a zombie waiting for whoever reaps orphans.
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
                })
            })
            .collect()
    };
    // SIGKILL is sent when the cell ends; a loaded machine may take a moment to carry it out.
    for _ in 0..50 {
        if alive().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(alive(), Vec::<&str>::new(), "the client's children outlived the matrix: {written}");
}

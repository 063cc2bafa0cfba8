//! `emtape diff`: drift between two recordings, on the shipped releases and hand-made pairs.

use crate::support::*;

const OLD: &str = "tests/fixtures/em-9.5-2013/vm-restore.yaml";
const NEW: &str = "cassettes/reference/vm-restore.yaml";

#[test]
fn the_shipped_releases_differ_by_what_changed_and_not_by_ids_or_dates() {
    let (code, out, err) = run(&["diff", OLD, NEW]);
    assert_eq!(code, 1, "breaking drift fails by default: {err}");
    for wanted in [
        "item removed               v1_4",
        "item added                 v1_7",
        "link removed               Down CloudConnectService /api/cloud",
        "link added                 Up BackupFileReference /api/backupFiles/{id}",
        "element added              VmName",
        "element added              HierarchyObjRef",
        "link added                 Related VmRestorePointReference /api/vmRestorePoints/{id}",
    ] {
        assert!(out.contains(wanted), "missing `{wanted}` in\n{out}");
    }
    for noise in ["UID", "CreationTimeUTC", "Name=\"", "sql01-hv", "localhost:", "task-1"] {
        assert!(
            !out.lines().any(|l| l.starts_with("  ") && !l.starts_with("      ") && l.contains(noise)),
            "`{noise}` is data, not drift:\n{out}"
        );
    }
    insta::assert_snapshot!("shipped_text", out);
}

#[test]
fn the_shipped_json_releases_differ_in_the_same_ways() {
    let (_, xml, _) = run(&["diff", "--format", "json", OLD, NEW]);
    let (_, json, _) = run(&[
        "diff",
        "--format",
        "json",
        "tests/fixtures/em-9.5-2013/vm-restore-json.yaml",
        "cassettes/reference/vm-restore-json.yaml",
    ]);
    let kinds = |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut k: Vec<String> = v["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["drifts"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap().to_owned()))
            .collect();
        k.sort();
        (k, v["summary"].clone())
    };
    let (xk, xs) = kinds(&xml);
    let (jk, mut js) = kinds(&json);
    // EM 13's JSON keys are camelCase: one more breaking drift per renamed key, and else the same.
    let renamed = jk.iter().filter(|k| *k == "key-renamed").count();
    assert!(renamed > 5, "{jk:?}");
    let jk: Vec<String> = jk.into_iter().filter(|k| k != "key-renamed").collect();
    js["breaking"] = (js["breaking"].as_u64().unwrap() - renamed as u64).into();
    assert_eq!(xs, js);
    // XML elements are JSON members: `element added VmName` is `attribute added VmName`.
    let normalise = |k: Vec<String>| k.into_iter().map(|s| s.replace("element", "attribute")).collect::<Vec<_>>();
    let (mut xk, mut jk) = (normalise(xk), normalise(jk));
    xk.sort();
    jk.sort();
    assert_eq!(xk, jk);
}

#[test]
fn every_report_format_is_pinned() {
    let dir = temp_dir("diff-formats");
    let junit = dir.join("drift.xml");
    let (_, json, _) = run(&["diff", "--format", "json", OLD, NEW]);
    insta::assert_snapshot!("shipped_json", json);
    let (_, markdown, _) = run(&["diff", "--format", "markdown", OLD, NEW, "--junit", junit.to_str().unwrap()]);
    insta::assert_snapshot!("shipped_markdown", markdown);
    let junit = std::fs::read_to_string(&junit).unwrap();
    let doc = emtape::xml::parse(&junit).expect("the JUnit report parses");
    assert_eq!(doc.attribute("failures"), Some("5"));
    insta::assert_snapshot!("shipped_junit", junit);
}

fn pair(name: &str, old: &str, new: &str) -> (String, String) {
    let dir = temp_dir(name);
    let ext = if old.trim_start().starts_with('<') { "xml" } else { "json" };
    let (a, b) = (dir.join(format!("old.{ext}")), dir.join(format!("new.{ext}")));
    std::fs::write(&a, old).unwrap();
    std::fs::write(&b, new).unwrap();
    (a.to_str().unwrap().to_owned(), b.to_str().unwrap().to_owned())
}

const ENTITY: &str = r#"<VmRestorePoint xmlns="http://www.veeam.com/ent/v1.0" Type="VmRestorePoint" Href="https://em:9398/api/vmRestorePoints/1?format=Entity" Name="vm@2025-10-20 20:04:07" UID="urn:veeam:VmRestorePoint:1">
  <Links>
    <Link Rel="Restore" Href="https://em:9398/api/vmRestorePoints/1?action=restore" />
    <Link Rel="Alternate" Type="VmRestorePointReference" Href="https://em:9398/api/vmRestorePoints/1" />
  </Links>
  <CreationTimeUTC>2025-10-20T20:04:07Z</CreationTimeUTC>
  <Algorithm>Incremental</Algorithm>
</VmRestorePoint>"#;

#[test]
fn shuffled_attributes_other_prefixes_and_other_ids_are_no_drift() {
    let shuffled = "<v:VmRestorePoint xmlns:v=\"http://www.veeam.com/ent/v1.0\" UID=\"urn:veeam:VmRestorePoint:2\" Name=\"vm@2026-01-01 00:00:00\" Href=\"http://other:1/api/vmRestorePoints/2?format=Entity\" Type=\"VmRestorePoint\"><v:Links><v:Link Href=\"http://other:1/api/vmRestorePoints/2\" Type=\"VmRestorePointReference\" Rel=\"Alternate\"/><v:Link Href=\"http://other:1/api/vmRestorePoints/2?action=restore\" Rel=\"Restore\"/></v:Links><v:CreationTimeUTC>2026-01-01T00:00:00.5Z</v:CreationTimeUTC><v:Algorithm>Incremental</v:Algorithm></v:VmRestorePoint>";
    let (a, b) = pair("shuffled", ENTITY, shuffled);
    let (code, out, _) = run(&["diff", &a, &b, "--fail-on", "additive"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("  cosmetic  namespace prefix changed"), "only the prefix shows, as cosmetic: {out}");
}

#[test]
fn a_removed_restore_link_is_breaking_link_drift() {
    let (a, b) = pair(
        "no-restore",
        ENTITY,
        &ENTITY.replace(
            "    <Link Rel=\"Restore\" Href=\"https://em:9398/api/vmRestorePoints/1?action=restore\" />\n",
            "",
        ),
    );
    let (code, out, _) = run(&["diff", "--format", "json", &a, &b]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drifts = &v["exchanges"][0]["drifts"];
    assert_eq!(drifts.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(drifts[0]["kind"], "link-removed");
    assert_eq!(drifts[0]["severity"], "breaking");
    assert_eq!(drifts[0]["old"], "Restore /api/vmRestorePoints/{id}?action=restore");
    assert_eq!(drifts[0]["path"], "/VmRestorePoint/Links/Link[@Rel='Restore']");
}

#[test]
fn a_new_optional_element_is_additive_and_fails_only_when_asked() {
    let (a, b) = pair("new-element", ENTITY, &ENTITY.replace("  <Algorithm>", "  <VmName>vm</VmName>\n  <Algorithm>"));
    let (code, out, _) = run(&["diff", &a, &b]);
    assert_eq!(code, 0, "additive drift passes by default: {out}");
    assert!(
        out.contains("additive  element added              VmName  (schema, element-added) /VmRestorePoint/VmName"),
        "{out}"
    );
    assert!(out.contains("      +   <VmName>vm</VmName>"), "with a snippet of the change: {out}");
    assert_eq!(run(&["diff", &a, &b, "--fail-on", "additive"]).0, 1);
    assert_eq!(run(&["diff", &a, &b, "--fail-on", "never"]).0, 0);
    let (code, out, _) = run(&["diff", &a, &b, "--ignore", "//VmName", "--fail-on", "any"]);
    assert_eq!((code, out.contains("no drift")), (0, true), "{out}");
}

#[test]
fn a_changed_value_kind_is_breaking() {
    let (a, b) =
        pair("kind", ENTITY, &ENTITY.replace("<Algorithm>Incremental</Algorithm>", "<Algorithm>3</Algorithm>"));
    let (code, out, _) = run(&["diff", &a, &b]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "breaking  value kind changed         text (Incremental) -> integer (3)  (schema, kind-changed) /VmRestorePoint/Algorithm"
        ),
        "{out}"
    );
}

#[test]
fn unreadable_input_is_reported_with_file_line_and_column() {
    let (a, b) = pair("broken", ENTITY, "<VmRestorePoint>\n  <Links>\n</VmRestorePoint>");
    let (code, _, err) = run(&["diff", &a, &b]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err.replace(&b, "new.xml"));
    let (code, _, err) = run(&["diff", &a, NEW]);
    assert_eq!(code, 2);
    assert!(err.contains("are not the same kind of input"), "{err}");
    let (code, _, err) = run(&["diff", "no/such.xml", &a]);
    assert_eq!((code, err.as_str()), (2, "error: cannot read no/such.xml: No such file or directory (os error 2)\n"));
}

#[test]
fn json_type_changes_that_break_typed_clients_are_breaking() {
    let old = r#"{"PowerOnAfterRestore": true, "Port": 9392, "Message": null, "Name": "a",
        "Links": [{"Rel": "Up", "Href": "https://em:9398/api/"}], "Result": {"Success": true}, "Tags": ["x"]}"#;
    let new = r#"{"PowerOnAfterRestore": "true", "Port": "9392", "Message": "now set", "Name": "a",
        "Links": {"Rel": "Up", "Href": "https://em:9398/api/"}, "Result": [{"Success": true}], "Tags": "x"}"#;
    let (a, b) = pair("json-types", old, new);
    let (code, out, _) = run(&["diff", "--format", "json", &a, &b]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drifts = v["exchanges"][0]["drifts"].as_array().unwrap();
    let typed: Vec<(String, String, String)> = drifts
        .iter()
        .filter(|d| d["kind"] == "json-type-changed")
        .map(|d| {
            assert_eq!(d["severity"], "breaking");
            (
                d["path"].as_str().unwrap().to_owned(),
                d["old"].as_str().unwrap().to_owned(),
                d["new"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |p: &str, o: &str, n: &str| (p.to_owned(), o.to_owned(), n.to_owned());
    assert_eq!(
        typed,
        [
            expect("/Links", "array of object", "object"),
            expect("/Port", "number", "string"),
            expect("/PowerOnAfterRestore", "boolean", "string"),
            expect("/Result", "object", "array of object"),
            expect("/Tags", "array of string", "string"),
        ],
        "{out}"
    );
    assert_eq!(drifts.len(), typed.len(), "nothing but the type changes: {out}");
    let (code, out, _) = run(&["diff", &a, &a]);
    assert_eq!(code, 0, "{out}");
}

/// The reference XML cassette without its `GET /api/logonSessions` exchange, and with a 404 for
/// a restore point id nobody lists appended: what re-recording with another client gives.
fn rerecorded() -> String {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let (start, end) = (reference.find("- seq: 3\n").unwrap(), reference.find("- seq: 4\n").unwrap());
    format!(
        "{}{}{}",
        &reference[..start],
        &reference[end..],
        r#"- seq: 99
  request:
    method: GET
    uri: /api/vmRestorePoints/00000000-0000-0000-0000-000000000001?format=Entity
    headers:
    - Accept: application/xml
    - X-RestSvcSessionId: "{{token:1}}"
  response:
    status: 404
    headers:
    - Content-Type: application/xml
    body: |
      <Error xmlns="http://www.veeam.com/ent/v1.0" Message="VmRestorePoint was not found." StatusCode="404" />
"#
    )
}

#[test]
fn exchanges_pair_by_what_they_ask_and_what_one_recording_lacks_is_coverage() {
    let dir = temp_dir("coverage");
    let new = dir.join("rerecorded.yaml");
    std::fs::write(&new, rerecorded()).unwrap();
    let new = new.to_str().unwrap();
    let old = "cassettes/reference/vm-restore.yaml";
    let (code, out, err) = run(&["diff", "--format", "json", old, new]);
    assert_eq!(code, 0, "no drift at the default --fail-on: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["breaking"], 0, "a 404 for another id is not a changed 200: {out}");
    assert_eq!(v["summary"]["coverage"], 2, "{out}");
    let kinds: Vec<&str> = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["drifts"].as_array().unwrap())
        .map(|d| d["severity"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["coverage", "coverage"], "{out}");
    assert_eq!(run(&["diff", old, new, "--fail-on", "coverage"]).0, 1);
    let (code, out, _) = run(&[
        "diff",
        old,
        new,
        "--ignore",
        "GET /api/logonSessions",
        "--ignore",
        "GET /api/vmRestorePoints/*",
        "--fail-on",
        "coverage",
    ]);
    assert_eq!(code, 0, "exchange patterns leave exchanges out: {out}");
}

#[test]
fn fail_on_never_writes_a_junit_file_without_failures() {
    let junit = temp_dir("never-junit").join("diff.xml");
    let (code, _, _) = run(&[
        "diff",
        "tests/fixtures/em-9.5-2013/vm-restore.yaml",
        "cassettes/reference/vm-restore.yaml",
        "--fail-on",
        "never",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let root = emtape::xml::parse(&std::fs::read_to_string(&junit).unwrap()).unwrap();
    assert_eq!(root.attribute("failures"), Some("0"));
}

#[test]
fn ignore_patterns_without_a_slash_match_anywhere_and_unmatched_ones_are_warned_about() {
    let (old, new) = ("tests/fixtures/em-9.5-2013/vm-restore.yaml", "cassettes/reference/vm-restore.yaml");
    let (_, all, _) = run(&["diff", old, new]);
    assert!(all.contains("SupportedVersion"), "{all}");
    let (_, out, err) = run(&["diff", old, new, "--ignore", "SupportedVersions", "--ignore", "//SuportedVersions"]);
    assert!(!out.contains("/SupportedVersions"), "{out}");
    assert!(err.contains("warning: --ignore //SuportedVersions matched nothing"), "{err}");
    assert!(!err.contains("--ignore //SupportedVersions matched"), "{err}");
}

#[test]
fn folders_diff_file_by_file_xml_with_xml_and_json_with_json() {
    let (code, out, err) = run(&["diff", "--format", "json", "cassettes/em-9.5", "cassettes/reference"]);
    assert_eq!(code, 1, "the releases differ: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v["exchanges"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert!(keys.iter().any(|k| k.ends_with("(XML)")) && keys.iter().any(|k| k.ends_with("(JSON)")), "{keys:?}");
    // Same files, same exchanges, but for NAS, which EM 10 brought.
    let coverage: Vec<&str> = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["drifts"].as_array().unwrap().iter().any(|d| d["severity"] == "coverage"))
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(!coverage.is_empty() && coverage.iter().all(|k| k.contains("/api/nas")), "{coverage:?}");
}

#[test]
fn an_xml_cassette_against_a_json_one_is_a_usage_error() {
    let (code, out, err) =
        run(&["diff", "cassettes/reference/vm-restore.yaml", "cassettes/reference/vm-restore-json.yaml"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("hold different representations"), "{err}");
}

#[test]
fn a_baseline_accepts_todays_drift_and_fails_only_on_new_drift() {
    let dir = temp_dir("baseline");
    let baseline = dir.join("baseline.yaml");
    let (old, new) = ("tests/fixtures/em-9.5-2013/vm-restore.yaml", "cassettes/reference/vm-restore.yaml");
    let (code, _, err) = run(&["diff", old, new, "--write-baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 1, "today's drift is breaking: {err}");
    assert!(err.contains("accepted drifts to"), "{err}");
    let (code, out, err) = run(&["diff", old, new, "--baseline", baseline.to_str().unwrap(), "--fail-on", "any"]);
    assert_eq!(code, 0, "everything accepted: {out}{err}");
    assert!(out.contains("0 breaking, 0 additive, 0 cosmetic"), "{out}");
    // A baseline entry that no longer occurs is named; drift not in the baseline fails.
    let (code, out, err) = run(&["diff", new, new, "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(err.contains("no longer occurs: item-removed"), "{err}");
}

#[test]
fn a_severity_file_raises_or_lowers_a_kind_of_drift_by_its_id() {
    let dir = temp_dir("severity");
    let file = dir.join("severity.yaml");
    std::fs::write(&file, "item-removed: additive\nlink-removed: additive\n").unwrap();
    let (old, new) = ("tests/fixtures/em-9.5-2013/vm-restore.yaml", "cassettes/reference/vm-restore.yaml");
    let (_, before, _) = run(&["diff", "--format", "json", old, new]);
    let (code, after, err) = run(&["diff", "--format", "json", old, new, "--severity", file.to_str().unwrap()]);
    let (b, a): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&before).unwrap(), serde_json::from_str(&after).unwrap());
    assert!(a["summary"]["breaking"].as_u64() < b["summary"]["breaking"].as_u64(), "{err}");
    assert_eq!(code, i32::from(a["summary"]["breaking"].as_u64() != Some(0)));
    std::fs::write(&file, "item-remove: additive\n").unwrap();
    let (code, _, err) = run(&["diff", old, new, "--severity", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `item-removed`?"), "{err}");
}

#[test]
fn another_value_in_another_resource_is_data_not_a_new_enum_value() {
    let other_point = ENTITY
        .replace("VmRestorePoint:1", "VmRestorePoint:2")
        .replace("vmRestorePoints/1", "vmRestorePoints/2")
        .replace("<Algorithm>Incremental</Algorithm>", "<Algorithm>Full</Algorithm>");
    let (a, b) = pair("enum-other", ENTITY, &other_point);
    let (code, out, _) = run(&["diff", &a, &b, "--fail-on", "additive"]);
    assert_eq!(code, 0, "two restore points holding different algorithms is data: {out}");
    let same_point = ENTITY.replace("<Algorithm>Incremental</Algorithm>", "<Algorithm>Full</Algorithm>");
    let (a, b) = pair("enum-same", ENTITY, &same_point);
    let (_, out, _) = run(&["diff", &a, &b]);
    assert!(out.contains("enum-value-changed"), "the same point holding another state is: {out}");
}

#[test]
fn re_recording_the_reference_flow_diffs_to_no_drift_at_the_default_fail_on() {
    let out = temp_dir("rerecord").join("flow.yaml");
    let (code, stdout, err) = run(&["run", "--var", "poll_interval=0s", "--record", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{err}");
    let (code, report, err) = run(&["diff", "cassettes/reference/vm-restore.yaml", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("0 breaking, 0 additive, 0 cosmetic"), "{report}");
}

#[test]
fn nothing_to_compare_is_never_no_drift() {
    let dir = temp_dir("diff-nothing");
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (code, out, err) = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("nothing to compare"), "{err}");
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "format: emtape/cassette-v1\nexchanges: []\n").unwrap();
    let (code, out, _) = run(&["diff", empty.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(!out.contains("no drift"), "{out}");
}

#[test]
fn a_success_status_that_changed_for_the_same_request_is_breaking() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let changed = reference.replacen("    status: 202\n", "    status: 201\n", 1);
    assert_ne!(changed, reference);
    let new = temp_dir("status-changed").join("new.yaml");
    std::fs::write(&new, changed).unwrap();
    let (code, out, _) =
        run(&["diff", "--format", "json", "cassettes/reference/vm-restore.yaml", new.to_str().unwrap()]);
    assert_eq!(code, 1, "a client waiting for 202 Accepted gets 201: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drifts: Vec<&serde_json::Value> =
        v["exchanges"].as_array().unwrap().iter().flat_map(|e| e["drifts"].as_array().unwrap()).collect();
    assert_eq!(drifts.len(), 1, "one status change, not two exchanges only one side has: {out}");
    assert_eq!((drifts[0]["kind"].as_str(), drifts[0]["old"].as_str()), (Some("status-changed"), Some("202")));
    assert_eq!(drifts[0]["new"], "201");
}

#[test]
fn xml_text_that_became_child_elements_is_breaking() {
    let (a, b) = pair(
        "text-to-elements",
        ENTITY,
        &ENTITY.replace("<Algorithm>Incremental</Algorithm>", "<Algorithm><Name>Incremental</Name></Algorithm>"),
    );
    let (code, out, _) = run(&["diff", &a, &b]);
    assert_eq!(code, 1, "a client reading the text of Algorithm gets nothing: {out}");
    assert!(out.contains("kind-changed) /VmRestorePoint/Algorithm"), "{out}");
    assert!(out.contains("text (Incremental) -> elements (Name)"), "{out}");
}

#[test]
fn an_xml_element_that_now_repeats_is_breaking() {
    let (a, b) = pair(
        "repeated",
        ENTITY,
        &ENTITY.replace(
            "  <Algorithm>Incremental</Algorithm>",
            "  <Algorithm>Incremental</Algorithm>\n  <Algorithm>Full</Algorithm>",
        ),
    );
    let (code, out, _) = run(&["diff", &a, &b]);
    assert_eq!(code, 1, "a client reading one Algorithm now has two: {out}");
    assert!(out.contains("element-repeated) /VmRestorePoint/Algorithm"), "{out}");
    let (code, out, _) = run(&["diff", &b, &a, "--fail-on", "additive"]);
    assert_eq!(code, 0, "a repeated element now single fits a client that reads a list: {out}");
}

#[test]
fn a_renamed_enum_value_is_breaking_and_a_new_one_beside_the_old_is_additive() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let dir = temp_dir("enum-renamed");
    let renamed = dir.join("renamed.yaml");
    std::fs::write(&renamed, reference.replace("<State>Finished</State>", "<State>Completed</State>")).unwrap();
    let (code, out, _) = run(&["diff", "cassettes/reference/vm-restore.yaml", renamed.to_str().unwrap()]);
    assert_eq!(code, 1, "a client waiting for Finished waits for ever: {out}");
    assert!(out.contains("enum-value-changed) /Task/State"), "{out}");
    assert!(out.contains("Finished -> Completed"), "{out}");
    let queued = dir.join("queued.yaml");
    std::fs::write(&queued, reference.replacen("<State>Running</State>", "<State>Queued</State>", 1)).unwrap();
    let (code, out, _) = run(&["diff", "cassettes/reference/vm-restore.yaml", queued.to_str().unwrap()]);
    assert_eq!(code, 0, "Running is still answered, Queued comes first: {out}");
    assert!(out.contains("enum-value-added) /Task/State"), "{out}");
}

/// Issue #23: a cassette whose body was cut mid-element was reported at the body's own line
/// (`cut.yaml:2:3`, a comment line of the file) with no exchange: the place is the file's
/// line and column within the body block, and the exchange is named.
#[test]
fn a_cut_body_is_reported_at_its_line_in_the_cassette_and_names_the_exchange() {
    let reference = std::fs::read_to_string("cassettes/reference/vm-restore.yaml").unwrap();
    let (start, end) = (reference.find("- seq: 4\n").unwrap(), reference.find("- seq: 5\n").unwrap());
    let body = start + reference[start..].find("    body: |\n").unwrap() + "    body: |\n".len();
    let second = body + reference[body..].find('\n').unwrap() + 1;
    // The body's second line cut in the middle of its first element's attributes.
    let cut_at = second + "        <Ref Type=\"VmRestorePointReference\" Href=\"{{origin}}".len();
    let text = format!("{}\n{}", &reference[..cut_at], &reference[end..]);
    let cut = temp_dir("diff-cut").join("cut.yaml");
    std::fs::write(&cut, &text).unwrap();
    let (code, _, err) = run(&["diff", "cassettes/reference/vm-restore.yaml", cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let line = text[..second].matches('\n').count() + 1;
    assert!(err.starts_with("error: exchange 4: the response XML does not parse: "), "{err}");
    // Column 3 of the body's line 2 is column 9 of the file: the block is indented 6.
    assert!(err.contains(&format!("--> {}:{line}:9\n", cut.display())), "{err}");
    assert!(
        err.contains(&format!(" {line} |         <Ref Type=\"VmRestorePointReference\" Href=\"{{{{origin}}}}\n")),
        "{err}"
    );
}

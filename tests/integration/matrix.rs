//! `emtape matrix`: a scenario against every release on tape, as a table.

use crate::support::*;

#[test]
fn the_matrix_tells_which_releases_a_scenario_works_with() {
    let dir = temp_dir("matrix");
    let (json, markdown) = (dir.join("m.json"), dir.join("m.md"));
    let (code, out, err) = run(&["matrix", "--json", json.to_str().unwrap(), "--markdown", markdown.to_str().unwrap()]);
    assert_eq!(code, 1, "ubuntu88 is not on the 9.5 tape: {out}{err}");
    assert!(out.contains("  13       XML   PASS      8/8"), "{out}");
    assert!(out.contains("  9.5      JSON  FAIL      4/8  open the newest restore point"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 4);
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("| 13 | JSON | PASS | 8/8 |"));
    let (code, out, _) = run(&["matrix", "--expect-fail", "9.5"]);
    assert_eq!(code, 0, "a known incompatibility is tracked without going red: {out}");
    assert!(out.contains("XFAIL"), "{out}");
    let (code, out, _) = run(&["matrix", "--releases", "9.5", "--var", "vm=sql01-hv", "--repr", "json"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = run(&["matrix", "--releases", "11"]);
    assert_eq!(code, 2);
    assert!(err.contains("release 11 is not on tape; the releases are 9.5, 13"), "{err}");
}

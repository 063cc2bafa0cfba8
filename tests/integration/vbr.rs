//! VBR REST (port 9419): the mock server of each shipped revision, its errors, its tokens, and a
//! recording of it that replays.

use std::sync::Arc;
use std::time::Duration;

use emtape::clock::ManualClock;
use emtape::http::Request;
use emtape::vbr::{VbrMock, VbrOptions};
use serde_json::Value;

use crate::support::*;

fn json(r: &emtape::http::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", text(r)))
}

/// A client of one revision: its token and its headers.
struct Vbr {
    base: String,
    revision: &'static str,
    token: String,
}

impl Vbr {
    async fn log_on(base: &str, revision: &'static str) -> Vbr {
        let form = "grant_type=password&username=TECH%5Crestore&password=secret";
        let h = [("x-api-version", revision), ("Content-Type", "application/x-www-form-urlencoded")];
        let r = send(&client(), "POST", &format!("{base}/api/oauth2/token"), &h, form).await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let token = json(&r)["access_token"].as_str().unwrap().to_owned();
        Vbr { base: base.to_owned(), revision, token }
    }

    async fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.token);
        let h = [
            ("x-api-version", self.revision),
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ];
        let r = send(&client(), method, &format!("{}{path}", self.base), &h, body).await;
        let v = if r.body.is_empty() { Value::Null } else { json(&r) };
        (r.status, v)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call("GET", path, "").await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Polls a session until it stops: the states it went through.
    async fn wait(&self, session: &str) -> (Vec<String>, Value) {
        let mut states = Vec::new();
        loop {
            let s = self.get(&format!("/api/v1/sessions/{session}")).await;
            states.push(s["state"].as_str().unwrap().to_owned());
            if s["state"] == "Stopped" || states.len() > 10 {
                return (states, s);
            }
        }
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_vbr_client_restores_a_vm_and_runs_instant_recovery_on_every_shipped_revision() {
    for (revision, points, restore, ir, point_key) in [
        ("1.1-rev0", "objectRestorePoints", "vmRestore/vmware/", "instantRecovery/vmware/vm", "objectRestorePointId"),
        ("1.2-rev1", "restorePoints", "vmRestore/vSphere", "instantRecovery/vSphere/vm", "restorePointId"),
        ("1.3-rev1", "restorePoints", "vmRestore/vSphere", "instantRecovery/vSphere/vm", "restorePointId"),
    ] {
        let em = Emtape::serve(&["--release", &format!("vbr-{revision}")]);
        let c = Vbr::log_on(&em.url, revision).await;
        let all = c.get(&format!("/api/v1/{points}")).await;
        assert_eq!(all["pagination"]["total"], 35, "{revision}");
        // Paging: two pages of 20 hold every point once.
        let first = c.get(&format!("/api/v1/{points}?skip=0&limit=20")).await;
        let second = c.get(&format!("/api/v1/{points}?skip=20&limit=20")).await;
        assert_eq!((ids(&first).len(), ids(&second).len()), (20, 15));
        assert_eq!(first["pagination"], serde_json::json!({"total": 35, "count": 20, "skip": 0, "limit": 20}));
        let mut paged = [ids(&first), ids(&second)].concat();
        paged.sort();
        paged.dedup();
        assert_eq!(paged.len(), 35);
        // Filters and order, as the spec defines them.
        let newest =
            c.get(&format!("/api/v1/{points}?nameFilter=WIN*&orderColumn=CreationTime&orderAsc=false&limit=1")).await;
        let point = &newest["data"][0];
        assert_eq!((point["name"].as_str(), newest["pagination"]["total"].as_u64()), (Some("winsrv88"), Some(7)));
        let later =
            c.get(&format!("/api/v1/{points}?nameFilter=winsrv88&createdAfterFilter=2025-12-05T00:00:00Z")).await;
        assert_eq!(later["pagination"]["total"], 2, "{revision}: {later}");
        let objects = c.get("/api/v1/backupObjects").await;
        let object = objects["data"].as_array().unwrap().iter().find(|o| o["name"] == "winsrv88").unwrap();
        let of_object =
            c.get(&format!("/api/v1/{points}?backupObjectIdFilter={}", object["id"].as_str().unwrap())).await;
        assert_eq!(of_object["pagination"]["total"], 7);
        // Every id a list names answers as its entity.
        for backup in ids(&c.get("/api/v1/backups").await) {
            c.get(&format!("/api/v1/backups/{backup}")).await;
            for o in ids(&c.get(&format!("/api/v1/backups/{backup}/objects")).await) {
                assert_eq!(c.get(&format!("/api/v1/backupObjects/{o}")).await["id"], o.as_str());
            }
        }
        for p in ids(&all) {
            c.get(&format!("/api/v1/{points}/{p}")).await;
        }

        // The entire VM restore: 201, a session that works, then stops with success.
        let id = point["id"].as_str().unwrap();
        let spec = format!(r#"{{"type":"OriginalLocation","{point_key}":"{id}","powerUp":true,"reason":"test"}}"#);
        let (status, session) = c.call("POST", &format!("/api/v1/restore/{restore}"), &spec).await;
        assert_eq!(
            (status, session["state"].as_str(), session["sessionType"].as_str()),
            (201, Some("Starting"), Some("RestoreVm"))
        );
        // The session model is the revision's: 1.1 names an activity, later ones a job.
        assert_eq!(session.get("activityId").is_some(), revision == "1.1-rev0", "{session}");
        let (states, done) = c.wait(session["id"].as_str().unwrap()).await;
        assert_eq!(states, ["Working", "Stopped"]);
        assert_eq!(done["result"]["result"], "Success");
        let listed = c.get("/api/v1/sessions?typeFilter=RestoreVm").await;
        assert_eq!(ids(&listed), [session["id"].as_str().unwrap()]);

        // Instant recovery: mount, migrate; mount, unmount.
        let base = format!("/api/v1/restore/{ir}");
        assert_eq!(c.get(&base).await["pagination"]["total"], 0);
        for then in ["migrate", "unmount"] {
            let spec =
                format!(r#"{{"type":"OriginalLocation","{point_key}":"{id}","secureRestore":{{}},"powerUp":true}}"#);
            let (status, mounting) = c.call("POST", &base, &spec).await;
            assert_eq!((status, mounting["sessionType"].as_str()), (201, Some("InstantRecovery")), "{mounting}");
            let mount = mounting["resourceId"].as_str().unwrap().to_owned();
            assert_eq!(c.get(&format!("{base}/{mount}")).await["state"], "Mounting");
            c.wait(mounting["id"].as_str().unwrap()).await;
            let mounted = c.get(&format!("{base}/{mount}")).await;
            assert_eq!((mounted["state"].as_str(), mounted["vmName"].as_str()), (Some("Mounted"), Some("winsrv88")));
            assert_eq!(mounted.get("jobName").is_some(), revision == "1.3-rev1", "{mounted}");
            assert_eq!(ids(&c.get(&base).await), std::slice::from_ref(&mount));
            let body = if then == "migrate" { r#"{"destinationHost":{"name":"esx02"}}"# } else { "" };
            let (status, action) = c.call("POST", &format!("{base}/{mount}/{then}"), body).await;
            assert_eq!(status, 200, "{action}");
            assert_eq!(c.get(&format!("{base}/{mount}")).await["state"], "Dismounting");
            let (_, stopped) = c.wait(action["id"].as_str().unwrap()).await;
            assert_eq!(stopped["result"]["result"], "Success");
            let (status, gone) = c.call("GET", &format!("{base}/{mount}"), "").await;
            assert_eq!((status, gone["errorCode"].as_str()), (404, Some("NotFound")), "{gone}");
        }

        let (status, _) = c.call("POST", "/api/oauth2/logout", "").await;
        assert_eq!(status, 200);
        let (status, refused) = c.call("GET", "/api/v1/backups", "").await;
        assert_eq!((status, refused["errorCode"].as_str()), (401, Some("InvalidToken")));
    }
}

#[tokio::test]
async fn requests_the_api_would_refuse_get_its_error_model_naming_what_is_wrong() {
    let em = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let form = "grant_type=password&username=u&password=p";
    let plain = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = send(&client(), "POST", &format!("{}/api/oauth2/token", em.url), &plain, form).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        json(&r),
        serde_json::json!({"errorCode": "NotImplemented", "message": "Missing required header x-api-version. The following versions are supported: 1.3-rev1."})
    );
    let old = [("x-api-version", "1.1-rev0"), ("Content-Type", "application/x-www-form-urlencoded")];
    let r = send(&client(), "POST", &format!("{}/api/oauth2/token", em.url), &old, form).await;
    assert_eq!(
        (r.status, json(&r)["message"].as_str()),
        (400, Some("Unsupported RESTAPI version 1.1-rev0. The following versions are supported: 1.3-rev1."))
    );
    let h = [("x-api-version", "1.3-rev1")];
    let r = send(&client(), "GET", &format!("{}/api/v1/backups", em.url), &h, "").await;
    assert_eq!((r.status, json(&r)["errorCode"].as_str()), (401, Some("AccessDenied")));
    let stranger = [("x-api-version", "1.3-rev1"), ("Authorization", "Bearer not-one-of-ours")];
    let r = send(&client(), "GET", &format!("{}/api/v1/backups", em.url), &stranger, "").await;
    assert_eq!((r.status, json(&r)["errorCode"].as_str()), (401, Some("InvalidToken")));
    let r = send(
        &client(),
        "POST",
        &format!("{}/api/oauth2/token", em.url),
        &old[1..],
        "grant_type=password&username=u&password=",
    )
    .await;
    assert_eq!(r.status, 400, "the version is checked first");

    let c = Vbr::log_on(&em.url, "1.3-rev1").await;
    let missing = "0b6e7f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
    let (status, e) = c.call("GET", &format!("/api/v1/restorePoints/{missing}"), "").await;
    assert_eq!(status, 404);
    assert_eq!(
        e,
        serde_json::json!({"errorCode": "NotFound", "message": format!("The restorePoint with ID {missing} was not found."), "resourceId": missing})
    );
    let spec = format!(r#"{{"type":"OriginalLocation","restorePointId":"{missing}"}}"#);
    let (status, e) = c.call("POST", "/api/v1/restore/vmRestore/vSphere", &spec).await;
    assert_eq!((status, e["resourceId"].as_str()), (404, Some(missing)), "{e}");
    let (status, e) = c.call("POST", "/api/v1/restore/vmRestore/vSphere", "{not json").await;
    assert_eq!((status, e["errorCode"].as_str()), (400, Some("UnexpectedContent")), "{e}");
    let (status, e) = c.call("GET", "/api/v1/restorePoints?limit=ten", "").await;
    assert_eq!((status, e["message"].as_str()), (400, Some("limit=ten is not a non-negative integer.")));
    let (status, e) = c.call("GET", "/api/v1/replicas", "").await;
    assert_eq!(status, 404);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("Nothing recorded answers GET /api/v1/replicas (what is recorded: /api/v1/backupObjects,"),
        "{message}"
    );
    let (status, e) = c.call("POST", "/api/v1/jobs/x/start", "").await;
    assert_eq!((status, e["errorCode"].as_str()), (404, Some("NotFound")), "{e}");
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
    Request {
        method: method.into(),
        target: target.into(),
        headers: crate::support::headers(headers),
        body: body.to_owned().into(),
        origin: "http://vbr".into(),
        peer: None,
    }
}

#[test]
fn an_expired_access_token_is_refused_and_its_refresh_token_serves_once() {
    let clock = Arc::new(ManualClock::default());
    let cassettes = emtape::cassette::release("vbr-1.2-rev1").unwrap().unwrap();
    let mock = VbrMock::new(cassettes, VbrOptions { clock: clock.clone(), ..VbrOptions::default() });
    let form = [("x-api-version", "1.2-rev1")];
    let r = mock.respond(&request("POST", "/api/oauth2/token", &form, "grant_type=password&username=u&password=p"));
    let token: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(token["expires_in"], 900);
    let keys: Vec<&str> = token.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "token_type", "refresh_token", "expires_in", ".issued", ".expires"]);
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let get = |bearer: &str| {
        mock.respond(&request(
            "GET",
            "/api/v1/serverInfo",
            &[("x-api-version", "1.2-rev1"), ("Authorization", bearer)],
            "",
        ))
        .status
    };
    assert_eq!(get(&bearer), 200);
    clock.advance(Duration::from_secs(901));
    let r = mock.respond(&request(
        "GET",
        "/api/v1/serverInfo",
        &[("x-api-version", "1.2-rev1"), ("Authorization", &bearer)],
        "",
    ));
    assert_eq!(
        (r.status, serde_json::from_slice::<Value>(&r.body).unwrap()["errorCode"].clone()),
        (401, "ExpiredToken".into())
    );
    let refresh = format!("grant_type=refresh_token&refresh_token={}", token["refresh_token"].as_str().unwrap());
    let renewed = mock.respond(&request("POST", "/api/oauth2/token", &form, &refresh));
    assert_eq!(renewed.status, 200);
    let renewed: Value = serde_json::from_slice(&renewed.body).unwrap();
    assert_eq!(get(&format!("Bearer {}", renewed["access_token"].as_str().unwrap())), 200);
    let again = mock.respond(&request("POST", "/api/oauth2/token", &form, &refresh));
    assert_eq!(again.status, 401, "a refresh token serves once");
    let users: Arc<[emtape::mock::User]> = Arc::from(vec![emtape::mock::User::parse_arg("TECH\\ops:s3cret").unwrap()]);
    let strict = VbrMock::new(
        emtape::cassette::release("vbr-1.2-rev1").unwrap().unwrap(),
        VbrOptions { users, ..VbrOptions::default() },
    );
    let log_on = |body: &str| strict.respond(&request("POST", "/api/oauth2/token", &form, body)).status;
    assert_eq!(log_on("grant_type=password&username=TECH%5Cops&password=nope"), 401);
    assert_eq!(log_on("grant_type=password&username=tech%5Cops&password=s3cret"), 200, "user names are any case");
}

#[tokio::test]
async fn a_recording_in_front_of_the_vbr_mock_keeps_no_secret_and_replays_the_same_answers() {
    let upstream = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let dir = temp_dir("vbr-record");
    let out = dir.join("vbr.yaml");
    let recorder = Emtape::record(&upstream.url, &out, &[]);
    let c = Vbr::log_on(&recorder.url, "1.3-rev1").await;
    let listed = c.get("/api/v1/restorePoints?nameFilter=sql01&limit=3").await;
    let info = c.get("/api/v1/serverInfo").await;
    let (status, _) = c.call("POST", "/api/oauth2/logout", "").await;
    assert_eq!(status, 200);
    let token = c.token.clone();
    drop(recorder.stop());
    let cassette = std::fs::read_to_string(&out).unwrap();
    assert!(!cassette.contains(&token) && !cassette.contains("password=secret"), "{cassette}");
    assert!(cassette.contains("api: vbr") && cassette.contains("api_version: 1.3-rev1"), "{cassette}");
    assert!(cassette.contains("Authorization: Bearer {{token:1}}"), "{cassette}");
    let (code, lint, _) = run(&["lint", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{lint}");

    let replay = Emtape::serve(&[out.to_str().unwrap()]);
    let again = Vbr::log_on(&replay.url, "1.3-rev1").await;
    assert_eq!(again.get("/api/v1/restorePoints?nameFilter=sql01&limit=3").await, listed);
    assert_eq!(again.get("/api/v1/serverInfo").await, info);
}

#[test]
fn the_shipped_vbr_scenarios_pass_on_their_revisions_and_a_13_client_is_refused_by_12_0() {
    for scenario in ["scenarios/vbr-vm-restore.yaml", "scenarios/vbr-instant-recovery.yaml"] {
        for revision in ["1.2-rev1", "1.3-rev1"] {
            let release = format!("vbr-{revision}");
            let version = format!("api_version={revision}");
            let args = ["run", scenario, "--release", &release, "--var", &version, "--var", "poll_interval=10ms"];
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{scenario} on {revision}:\n{out}{err}");
        }
    }
    // A 1.1 client (its paths and its restore spec's key as 1.1 names them) on 1.1-rev0.
    for (scenario, path) in [
        ("scenarios/vbr-vm-restore.yaml", "vm_restore=vmRestore/vmware/"),
        ("scenarios/vbr-instant-recovery.yaml", "mounts=instantRecovery/vmware/vm"),
    ] {
        let (code, out, err) = run(&[
            "run",
            scenario,
            "--release",
            "vbr-1.1-rev0",
            "--var",
            "api_version=1.1-rev0",
            "--var",
            "points=objectRestorePoints",
            "--var",
            path,
            "--var",
            "point_key=objectRestorePointId",
            "--var",
            "poll_interval=10ms",
        ]);
        assert_eq!(code, 0, "{scenario}:\n{out}{err}");
    }
    // A failing token step shows its answer: the tokens in it as placeholders, never as issued.
    let dir = temp_dir("vbr-run");
    let scenario = dir.join("strict.yaml");
    let text = std::fs::read_to_string("scenarios/vbr-vm-restore.yaml").unwrap();
    std::fs::write(&scenario, text.replacen("token_type: bearer", "token_type: mac", 1)).unwrap();
    let report = dir.join("report.json");
    let (code, out, _) =
        run(&["run", scenario.to_str().unwrap(), "--release", "vbr-1.3-rev1", "--json", report.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let json = std::fs::read_to_string(&report).unwrap();
    assert!(out.contains("{session-token}") && out.contains("{refresh-token}"), "{out}");
    assert!(json.contains("{session-token}") && !json.contains("password=emtape"), "{json}");

    let (code, out, _) = run(&["run", "scenarios/vbr-vm-restore.yaml", "--release", "vbr-1.1-rev0"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("logon refused (400 NotImplemented: Unsupported RESTAPI version 1.3-rev1. The following versions are supported: 1.1-rev0.): check the x-api-version the scenario sends (vars: api_version)"),
        "{out}"
    );
}

#[test]
fn a_scenario_logging_on_with_oauth2_and_a_body_of_its_own_is_refused_at_load() {
    let dir = temp_dir("vbr-scenario");
    let path = dir.join("s.yaml");
    std::fs::write(&path, "api: vbr\nsteps:\n- name: token\n  request: POST /api/oauth2/token\n  auth: oauth2\n  body: grant_type=password\n").unwrap();
    let (code, _, err) = run(&["run", path.to_str().unwrap(), "--release", "vbr-1.3-rev1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a step with `auth: oauth2` sends the password grant as its body"), "{err}");
    assert!(err.contains("s.yaml:6:"), "{err}");
    std::fs::write(&path, "api: vrb\nsteps:\n- name: x\n  request: GET /api/v1/serverInfo\n").unwrap();
    let (code, _, err) = run(&["run", path.to_str().unwrap(), "--release", "vbr-1.3-rev1"]);
    assert_eq!(code, 2);
    assert!(err.contains("`api: vrb` is not an API emtape knows") && err.contains("s.yaml:1:"), "{err}");
}

#[test]
fn the_diff_of_1_1_rev0_and_1_3_rev1_names_moved_paths_and_request_fields_no_longer_sent() {
    let (code, out, err) = run(&["diff", "cassettes/vbr-1.1-rev0/vbr.yaml", "cassettes/vbr-1.3-rev1/vbr.yaml"]);
    assert_eq!(code, 1, "breaking drift fails the diff:\n{out}{err}");
    for line in [
        "breaking  path renamed               /api/v1/objectRestorePoints -> /api/v1/restorePoints",
        "breaking  path renamed               /api/v1/restore/vmRestore/vmware/ -> /api/v1/restore/vmRestore/vSphere",
        "breaking  path renamed               /api/v1/restore/instantRecovery/vmware/vm/{id}/migrate -> /api/v1/restore/instantRecovery/vSphere/vm/{id}/migrate",
        "breaking  request field no longer sent /objectRestorePointId",
        "breaking  enum value changed         Job -> BackupJob",
        "breaking  attribute removed          activityId=",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    assert!(!out.contains("only in the"), "every exchange of the flow has its counterpart:\n{out}");
}

#[test]
fn the_matrix_of_the_vbr_restore_fails_on_1_1_rev0_naming_where_the_restore_points_moved() {
    let (code, out, err) = run(&["matrix", "scenarios/vbr-vm-restore.yaml", "--var", "poll_interval=10ms"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("vbr-1.2-rev1 scenario JSON  PASS   5/5 steps"), "{out}");
    assert!(out.contains("vbr-1.3-rev1 scenario JSON  PASS   5/5 steps"), "{out}");
    assert!(
        out.contains("vbr-1.1-rev0 scenario JSON  FAIL   2/5 steps              find the newest restore point of the VM: status: expected 200, got 404 (VBR: Nothing recorded answers GET /api/v1/restorePoints (recorded in its place: /api/v1/objectRestorePoints).)"),
        "{out}"
    );
    let args =
        ["matrix", "scenarios/vbr-vm-restore.yaml", "--var", "poll_interval=10ms", "--expect-fail", "vbr-1.1-rev0"];
    assert_eq!(run(&args).0, 0);
    let (code, out, _) = run(&["matrix", "--diff", "--releases", "vbr-1.1-rev0,vbr-1.3-rev1"]);
    assert_eq!(code, 0);
    assert!(out.contains("vbr-1.1-rev0 -> vbr-1.3-rev1 (VBR 13.0.1.180, API 1.3-rev1; JSON)"), "{out}");
    assert!(out.contains("breaking path renamed: /api/v1/objectRestorePoints -> /api/v1/restorePoints"), "{out}");
    assert!(out.contains("breaking request field no longer sent: /objectRestorePointId"), "{out}");
    let (code, _, err) = run(&["matrix", "scenarios/vbr-vm-restore.yaml", "--releases", "12"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("release 12 is not on tape; the VBR REST releases are vbr-1.1-rev0, vbr-1.2-rev1, vbr-1.3-rev1"),
        "{err}"
    );
}

fn python_client(url: &str) -> (i32, String, String) {
    let out = std::process::Command::new("python3")
        .args(["examples/vbr_client.py", "--url", url, "--instant-recovery", "--interval", "0.01"])
        .output()
        .expect("python3 runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_python_client_written_from_the_spec_restores_and_recovers_and_its_recording_replays_alike() {
    let mock = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let (code, direct, err) = python_client(&mock.url);
    assert_eq!(code, 0, "{direct}{err}");
    assert!(direct.contains("restore of winsrv88: Success\n") && direct.contains("linbase01: Mounted\n"), "{direct}");
    assert!(direct.ends_with("migration of linbase01 to esx01.tech.local: Success\nOK\n"), "{direct}");

    let dir = temp_dir("vbr-python");
    let out = dir.join("client.yaml");
    let recorder = Emtape::record(&mock.url, &out, &[]);
    let (code, through, err) = python_client(&recorder.url);
    assert_eq!((code, &through), (0, &direct), "{err}");
    drop(recorder.stop());
    drop(mock);
    let replay = Emtape::serve(&[out.to_str().unwrap()]);
    let (code, replayed, err) = python_client(&replay.url);
    assert_eq!((code, &replayed), (0, &direct), "the recording gives the client the same verdicts: {err}");
}

const SPEC: &str = "tests/fixtures/vbr-openapi-mini.json";

#[test]
fn run_checks_every_body_against_the_spec_given_and_names_each_violation_by_its_pointer() {
    let args = ["run", "scenarios/vbr-vm-restore.yaml", "--release", "vbr-1.3-rev1", "--var", "poll_interval=10ms"];
    let (code, out, err) = run(&[&args[..], &["--spec", SPEC]].concat());
    assert_eq!(code, 0, "the shipped flow meets the document (whose restore spec is circular):\n{out}{err}");
    let dir = temp_dir("vbr-spec");
    let scenario = dir.join("typo.yaml");
    let text = std::fs::read_to_string("scenarios/vbr-vm-restore.yaml").unwrap();
    std::fs::write(&scenario, text.replace(r#""type": "OriginalLocation""#, r#""type": "Original""#)).unwrap();
    let (code, out, _) = run(&["run", scenario.to_str().unwrap(), "--release", "vbr-1.3-rev1", "--spec", SPEC]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("spec POST /api/v1/restore/vmRestore/vSphere request"), "{out}");
    assert!(
        out.contains(r#"/type: "Original" is not one of OriginalLocation, Customized (#/components/schemas/EntireViVMRestoreSpec/properties/type)"#),
        "{out}"
    );
    assert!(out.contains(r#"/type: "Original" names no schema of oneOf (OriginalLocation, Customized)"#), "{out}");

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"openapi\": \"3.0.1\",\n  \"paths\": {\"/x\": }\n}\n").unwrap();
    let (code, _, err) =
        run(&["run", "scenarios/vbr-vm-restore.yaml", "--release", "vbr-1.3-rev1", "--spec", broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.json:3:"), "{err}");
}

#[tokio::test]
async fn serve_with_a_spec_refuses_a_request_body_that_breaks_it_naming_the_pointer() {
    let em = Emtape::serve(&["--release", "vbr-1.3-rev1", "--spec", SPEC]);
    let c = Vbr::log_on(&em.url, "1.3-rev1").await;
    let (status, e) =
        c.call("POST", "/api/v1/restore/vmRestore/vSphere", r#"{"type": "Customized", "powerUp": "yes"}"#).await;
    assert_eq!((status, e["errorCode"].as_str()), (400, Some("UnexpectedContent")), "{e}");
    let message = e["message"].as_str().unwrap();
    for part in [
        "The request body breaks tests/fixtures/vbr-openapi-mini.json (POST /api/v1/restore/vmRestore/vSphere request): ",
        "(the body): `restorePointId` is required (#/components/schemas/EntireViVMRestoreSpec)",
        "/powerUp: expected a boolean, found a string (#/components/schemas/EntireViVMRestoreSpec/properties/powerUp)",
        "(the body): `destinationHost` is required (#/components/schemas/EntireViVMCustomizedRestoreSpec/allOf/1)",
    ] {
        assert!(message.contains(part), "{part}\n{message}");
    }
}

#[test]
fn diff_compares_two_documents_and_a_recording_with_a_document() {
    let old = "tests/fixtures/vbr-openapi-mini-old.json";
    let (code, out, err) = run(&["diff", old, SPEC]);
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "breaking  path renamed               /api/v1/objectRestorePoints -> /api/v1/restorePoints",
        "breaking  path renamed               /api/v1/restore/vmRestore/vmware/ -> /api/v1/restore/vmRestore/vSphere",
        "breaking  request field no longer sent /objectRestorePointId",
        "additive  request field now sent     /restorePointId",
        "breaking  attribute removed          /activityId",
        "breaking  enum value changed         Job -> BackupJob",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let (code, out, err) = run(&["diff", SPEC, "cassettes/vbr-1.3-rev1/vbr.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("breaking  operation not documented   GET /api/v1/serverInfo (JSON)"), "{out}");
    assert!(!out.contains("breaks the document"), "the recorded bodies meet the document:\n{out}");
    let (_, out, _) = run(&["diff", old, "cassettes/vbr-1.3-rev1/vbr.yaml"]);
    assert!(out.contains("breaking  operation not documented   GET /api/v1/restorePoints (JSON)"), "{out}");
    assert!(
        out.contains("breaking  operation not documented   POST /api/v1/restore/vmRestore/vSphere (JSON)"),
        "{out}"
    );
    // A body that breaks the document is named by its pointer and the schema it breaks.
    let dir = temp_dir("vbr-spec-diff");
    let cassette = dir.join("typo.yaml");
    let text = std::fs::read_to_string("cassettes/vbr-1.3-rev1/vbr.yaml").unwrap();
    std::fs::write(&cassette, text.replace(r#""platformName": "VMware""#, r#""platformName": "Vmware""#)).unwrap();
    let (_, out, _) = run(&["diff", SPEC, cassette.to_str().unwrap()]);
    assert!(
        out.contains(r#"breaking  breaks the document        #/components/schemas/ObjectRestorePointModel/properties/platformName -> "Vmware" is not one of VMware, HyperV"#),
        "{out}"
    );
}

#[test]
fn a_har_of_vbr_traffic_imports_without_its_tokens_or_password() {
    let dir = temp_dir("vbr-har");
    let har = dir.join("vbr.har");
    let (code, out, err) = run(&["export", "cassettes/vbr-1.3-rev1/vbr.yaml", "--har", har.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // A browser's capture holds what the server really sent.
    let real = std::fs::read_to_string(&har)
        .unwrap()
        .replace("{{token:1}}", "eyJhbGciOiJSUzUxMiJ9.realtoken.sig")
        .replace("{{refresh-token:1}}", "rt-0123456789abcdef")
        .replace("{{redacted}}", "Secr3tPass");
    assert!(real.contains("https://vbr.example:9419/api/v1/serverInfo"));
    std::fs::write(&har, real).unwrap();
    let cassette = dir.join("imported.yaml");
    let (code, out, err) = run(&["import", har.to_str().unwrap(), "--out", cassette.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&cassette).unwrap();
    for secret in ["realtoken", "rt-0123456789abcdef", "Secr3tPass"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
    assert!(text.contains("  api: vbr\n") && text.contains("Authorization: Bearer {{token:1}}"), "{text}");
    let (code, out, _) = run(&["diff", "cassettes/vbr-1.3-rev1/vbr.yaml", cassette.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 breaking, 0 additive, 0 cosmetic"), "{out}");
}

#[tokio::test]
async fn record_api_vbr_names_the_api_before_the_traffic_does() {
    let upstream = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let dir = temp_dir("vbr-record-api");
    let out = dir.join("probe.yaml");
    let path = out.to_str().unwrap();
    let recorder = Emtape::record(&upstream.url, &out, &["--api", "vbr"]);
    // A probe for the install's document says nothing of the API by itself.
    let r = send(&client(), "GET", &format!("{}/swagger/v1.3-rev1/swagger.json", recorder.url), &[], "").await;
    assert_eq!(r.status, 400, "{}", text(&r));
    drop(recorder.stop());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("meta:\n  api: vbr\n  product: Veeam Backup & Replication\n"), "{text}");
    let (code, _, err) = run(&["record", "--upstream", &upstream.url, "--out", path, "--api", "vmm"]);
    assert_eq!(code, 2);
    assert!(err.contains("`vmm` is not an API emtape knows: em or vbr"), "{err}");
}

#[test]
fn a_vbr_scenario_or_api_alone_picks_the_newest_vbr_revision_and_em_cassettes_are_not_served_as_vbr() {
    let (code, out, err) = run(&["run", "scenarios/vbr-vm-restore.yaml", "--var", "poll_interval=10ms"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(built-in mock: release vbr-1.3-rev1 on tape)"), "{out}");
    let em = Emtape::serve(&["--api", "vbr"]);
    // Said on stderr just after `listening on`.
    for _ in 0..100 {
        if em.stderr().contains("from 24 exchanges") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(em.stderr().contains("serving VBR REST (1.3-rev1) from 24 exchanges"), "{}", em.stderr());
    let (code, _, err) = run(&["serve", "--api", "vbr", "cassettes/reference/vm-restore.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("--api vbr: the cassettes hold Enterprise Manager REST traffic"), "{err}");
}

#[test]
fn a_clients_revision_matrix_passes_where_its_revision_is_served_and_names_each_refusal() {
    let client = "python3 examples/vbr_client.py --url {url} --instant-recovery --interval 0.01";
    let (code, out, err) = run(&["matrix", "scenarios/vbr-vm-restore.yaml", "--client", client]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("vbr-1.3-rev1 client         PASS   exit 0, 14 requests, 0 refused"), "{out}");
    assert!(
        out.contains("vbr-1.2-rev1 client         FAIL   exit 1, 1 requests, 1 refused the client failed (exit 1): POST /api/oauth2/token: 400 NotImplemented: Unsupported RESTAPI version 1.3-rev1. The following versions are supported: 1.2-rev1."),
        "{out}"
    );
    assert!(out.contains("refused: POST /api/oauth2/token -> 400 Unsupported RESTAPI version 1.3-rev1."), "{out}");
}

#[test]
fn a_client_that_exits_0_without_asking_the_mock_anything_does_not_pass() {
    let (code, out, err) =
        run(&["matrix", "scenarios/vbr-vm-restore.yaml", "--client", "true", "--releases", "vbr-1.3-rev1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL   exit 0, 0 requests, 0 refused the client exited 0 without a request to the mock"),
        "{out}"
    );
}

#[tokio::test]
async fn a_crawl_of_a_vbr_server_reads_its_lists_and_each_listed_id_and_replays() {
    let mock = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let dir = temp_dir("vbr-crawl");
    let out = dir.join("crawl.yaml");
    let path = out.to_str().unwrap();
    let out_text = std::process::Command::new(env!("CARGO_BIN_EXE_emtape"))
        .args([
            "crawl",
            "--api",
            "vbr",
            "--target",
            &mock.url,
            "--user",
            "TECH\\ops",
            "--password-env",
            "EMTAPE_VBR_PW",
        ])
        .args(["--out", path, "--sample", "3"])
        .env("EMTAPE_VBR_PW", "s3cret-pw")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out_text.stdout).into_owned();
    assert!(out_text.status.success(), "{said}{}", String::from_utf8_lossy(&out_text.stderr));
    assert!(said.contains(": 20 requests, 20 exchanges recorded, 0 refused"), "{said}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("s3cret-pw") && text.contains("  api: vbr\n"), "{text}");
    for uri in [
        "/api/v1/backups?limit=3",
        "/api/v1/backups/0df967cc-1b9f-55cd-90cc-fa8861dfb43a/objects?limit=3",
        "/api/oauth2/logout",
    ] {
        assert!(text.contains(&format!("uri: {uri}\n")), "{uri}\n{text}");
    }
    let (code, lint, _) = run(&["lint", path]);
    assert_eq!(code, 0, "{lint}");
    let replay = Emtape::serve(&[path]);
    let (c, r) = (Vbr::log_on(&mock.url, "1.3-rev1").await, Vbr::log_on(&replay.url, "1.3-rev1").await);
    for p in
        ["/api/v1/backups?limit=3", "/api/v1/serverInfo", "/api/v1/restorePoints/decad296-1c42-5f1e-a907-4f02674fd8b3"]
    {
        assert_eq!(c.get(p).await, r.get(p).await, "{p}");
    }
    // What the crawl did not read, the replay does not make up.
    let all = ids(&c.get("/api/v1/restorePoints").await);
    let unread = all.iter().find(|id| !text.contains(id.as_str())).expect("a point the crawl did not read");
    assert_eq!(r.call("GET", &format!("/api/v1/restorePoints/{unread}"), "").await.0, 404);
}

#[test]
fn coverage_of_a_vbr_run_counts_the_operations_on_tape_and_in_the_document() {
    let dir = temp_dir("vbr-coverage");
    let json = dir.join("coverage.json");
    let args = ["run", "scenarios/vbr-vm-restore.yaml", "--var", "poll_interval=10ms", "--coverage", "--spec", SPEC];
    let (code, out, err) = run(&[&args[..], &["--coverage-json", json.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("emtape: VBR REST coverage (1.3-rev1)\n  operations on tape     5 of 18 used (27.8%)\n"),
        "{err}"
    );
    assert!(err.contains("    used       2x 200    GET /api/v1/sessions/{id}\n"), "{err}");
    assert!(
        err.contains("    unused               POST /api/v1/restore/instantRecovery/vSphere/vm/{id}/migrate\n"),
        "{err}"
    );
    assert!(err.contains("  operations documented  3 of 3 used (100%)\n"), "{err}");
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((c["recorded"]["used"].as_u64(), c["recorded"]["total"].as_u64()), (Some(5), Some(18)));
}

#[tokio::test]
async fn serve_strict_of_vbr_lists_the_operations_on_tape_no_request_used() {
    let em = Emtape::serve(&["--release", "vbr-1.3-rev1", "--strict"]);
    let c = Vbr::log_on(&em.url, "1.3-rev1").await;
    c.get("/api/v1/serverInfo").await;
    let (status, err) = em.stop();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("emtape: strict: 16 of 18 operations on tape were never used:\n  GET /api/v1/backupObjects\n"),
        "{err}"
    );
    assert!(!err.contains("  GET /api/v1/serverInfo\n") && !err.contains("  POST /api/oauth2/token\n"), "{err}");
}

#[test]
fn record_append_to_a_vbr_cassette_is_refused_and_leaves_it_as_it_was() {
    let dir = temp_dir("vbr-append");
    let out = dir.join("vbr.yaml");
    let before = std::fs::read_to_string("cassettes/vbr-1.3-rev1/vbr.yaml").unwrap();
    std::fs::write(&out, &before).unwrap();
    for mode in ["append", "replay-only"] {
        let (code, _, err) =
            run(&["record", "--upstream", "http://127.0.0.1:9", "--out", out.to_str().unwrap(), "--mode", mode]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("holds VBR REST traffic, which the recorder does not replay yet"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), before);
    }
}

#[tokio::test]
async fn record_with_a_spec_says_each_violation_as_it_records_and_a_bad_spec_touches_nothing() {
    let upstream = Emtape::serve(&["--release", "vbr-1.3-rev1"]);
    let dir = temp_dir("vbr-record-spec");
    let out = dir.join("vbr.yaml");
    let recorder = Emtape::record(&upstream.url, &out, &["--spec", SPEC]);
    let c = Vbr::log_on(&recorder.url, "1.3-rev1").await;
    let spec =
        r#"{"type": "OriginalLocation", "restorePointId": "9c754f28-219a-5c25-934d-c91b3282da38", "powerUp": "yes"}"#;
    let (status, session) = c.call("POST", "/api/v1/restore/vmRestore/vSphere", spec).await;
    assert_eq!(status, 201);
    c.get(&format!("/api/v1/sessions/{}", session["id"].as_str().unwrap())).await;
    let (_, err) = recorder.stop();
    assert!(
        err.contains("emtape: spec: exchange 2, POST /api/v1/restore/vmRestore/vSphere request breaks tests/fixtures/vbr-openapi-mini.json: /powerUp: expected a boolean, found a string"),
        "{err}"
    );
    let cassette = std::fs::read_to_string(&out).unwrap();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"openapi\": \"3.0.1\", \"paths\": ").unwrap();
    let (code, _, err) = run(&[
        "record",
        "--upstream",
        &upstream.url,
        "--out",
        out.to_str().unwrap(),
        "--spec",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("broken.json:1:"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), cassette, "the cassette is left as it was");
}

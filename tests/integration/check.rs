//! `emtape serve --scenario` and `emtape::MockServer`: clients written for the purpose, honest
//! and not, checked against the VM restore scenario, with and without faults.

use std::time::Duration;

use std::process::Command;

use emtape::clientcheck::result::{ClientReport, Ending, ProblemKind};
use emtape::http::client::Client;
use emtape::{MockServer, MockServerConfig};

use crate::support::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Honest,
    HandBuilt,
    NeverPolls,
    GivesUp,
    NeverLogsOut,
    PollsTooFast,
    /// Reads the RestoreSession of a failed Task (to report the failure).
    IgnoresFailure,
    /// Polls every 500 ms, longer than the 300 ms `--idle` of these tests.
    SlowPoller,
    /// Stops at the first fault: an expired session, a 500, a 503 or a dropped connection.
    GivesUpAtFault,
    /// Restores the first point the listing names, whatever its VM.
    FirstPoint,
}

const POLL_GAP: Duration = Duration::from_millis(40);

fn config() -> MockServerConfig {
    MockServerConfig::default().poll_min_interval(Duration::from_millis(20)).idle(Duration::from_millis(300))
}

/// A client of the VM restore flow; how it behaves is the point of each test.
async fn client(base: &str, json: bool, b: Behaviour) {
    let c = Client::new(None).with_timeout(Duration::from_secs(5));
    let accept: &[(&str, &str)] = if json { &[("Accept", "application/json")] } else { &[] };
    let root = send(&c, "GET", &format!("{base}/api/"), accept, "").await;
    let logon_url =
        links(text(&root), json).into_iter().find(|l| l.rel == "Create" && l.href.ends_with("v=latest")).unwrap().href;
    let mut h = accept.to_vec();
    h.push(("Authorization", "Basic dXNlcjpwYXNzd29yZA=="));
    let logon = send(&c, "POST", &logon_url, &h, "").await;
    let token = logon.headers.get("x-restsvcsessionid").unwrap().to_owned();
    let auth = with_token(accept, &token);
    let logout_url = link(text(&logon), json, "Delete", None);
    let entity_url = if b == Behaviour::HandBuilt {
        format!("{base}/api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?format=Entity")
    } else {
        let list =
            send(&c, "GET", &link(text(&logon), json, "Down", Some("VmRestorePointReferenceList")), &auth, "").await;
        let alternates = links(text(&list), json).into_iter().filter(|l| l.rel == "Alternate");
        let mut alternates = alternates.filter(|l| b == Behaviour::FirstPoint || l.href.contains("6c958531"));
        alternates.next().unwrap().href
    };
    let entity = send(&c, "GET", &entity_url, &auth, "").await;
    let restore_url = link(text(&entity), json, "Restore", None);
    let mut task = send(&c, "POST", &restore_url, &auth, "").await;
    if task.status == 500 && b != Behaviour::GivesUpAtFault {
        // Nothing started (no Task came back): a recovering client sends it again.
        task = send(&c, "POST", &restore_url, &auth, "").await;
    }
    match task.status {
        202 => {}
        // The session expired: a recovering client logs on again and carries on.
        401 if b != Behaviour::GivesUpAtFault => return Box::pin(client(base, json, b)).await,
        401 => return,
        _ => {
            send(&c, "DELETE", &logout_url, &auth, "").await;
            return;
        }
    }
    if b == Behaviour::NeverPolls {
        send(&c, "DELETE", &logout_url, &auth, "").await;
        return;
    }
    let task_url = link(text(&task), json, "Delete", Some("Task"));
    let mut finished = None;
    for attempt in 0..30 {
        match b {
            Behaviour::PollsTooFast => {}
            Behaviour::SlowPoller => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => tokio::time::sleep(POLL_GAP).await,
        }
        let poll = c.send("GET", &task_url, &headers(&auth), Default::default()).await;
        let Some(poll) = poll.ok().filter(|p| p.status != 503) else {
            if b == Behaviour::GivesUpAtFault {
                send(&c, "DELETE", &logout_url, &auth, "").await;
                return;
            }
            continue;
        };
        if value(text(&poll), json, "State").as_deref() == Some("Finished") {
            finished = Some(poll);
            break;
        }
        if b == Behaviour::GivesUp && attempt == 0 {
            send(&c, "DELETE", &logout_url, &auth, "").await;
            return;
        }
    }
    let finished = finished.expect("the task finishes");
    let success = if json {
        value(text(&finished), true, "Success").as_deref() == Some("true")
    } else {
        text(&finished).contains("Success=\"true\"")
    };
    if !success && b != Behaviour::IgnoresFailure {
        send(&c, "DELETE", &logout_url, &auth, "").await;
        return;
    }
    send(&c, "GET", &link(text(&finished), json, "Related", Some("RestoreSession")), &auth, "").await;
    if b != Behaviour::NeverLogsOut {
        send(&c, "DELETE", &logout_url, &auth, "").await;
    }
}

async fn check(config: MockServerConfig, clients: &[(bool, Behaviour)]) -> ClientReport {
    let server = MockServer::start(config).await.unwrap();
    for (json, b) in clients {
        client(server.url(), *json, *b).await;
    }
    // The clients are done: no waiting for their sessions to go idle on the wall clock.
    server.clients_done();
    server.stop().await
}

fn kinds(r: &ClientReport, session: usize) -> Vec<ProblemKind> {
    r.sessions[session].problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn an_honest_client_meets_the_contract_in_xml_and_json() {
    let r = check(config(), &[(false, Behaviour::Honest), (true, Behaviour::Honest)]).await;
    assert!(r.passed, "{r:#?}");
    assert_eq!(r.sessions.len(), 2);
    assert_eq!((r.sessions[0].representation.as_str(), r.sessions[1].representation.as_str()), ("XML", "JSON"));
    let steps: Vec<&str> = r.sessions[0].requests.iter().map(|p| p.step.as_deref().unwrap_or("-")).collect();
    assert_eq!(
        steps,
        [
            "discover the API",
            "log on",
            "list restore points",
            "open the newest restore point",
            "start the restore",
            "wait for the restore task",
            "wait for the restore task",
            "wait for the restore task",
            "read the restore session",
            "log out"
        ]
    );
    assert!(
        r.sessions[0]
            .requests
            .iter()
            .all(|p| !p.request.contains(&"-".repeat(0)) || !p.request.contains("logonSessions/0"))
    );
}

#[tokio::test]
async fn a_client_that_builds_urls_by_hand_is_caught() {
    let r = check(config(), &[(false, Behaviour::HandBuilt)]).await;
    assert!(!r.passed);
    assert_eq!(kinds(&r, 0), [ProblemKind::HandBuiltUrl, ProblemKind::MissingStep], "{:#?}", r.sessions[0]);
    assert_eq!(
        r.sessions[0].problems[0].message,
        "GET /api/vmRestorePoints/6c958531-3177-4055-b0ce-dc4ef1ce6433?format=Entity was built by hand: no response gave this URL to the session"
    );
}

/// Issue #23: a query of the query service was "built by hand", though EM documents that
/// clients build it (type, filter, sort, paging) from the QueryService their logon links to.
/// It is a link followed outside the flow; a restore point URL never given stays hand-built.
#[tokio::test]
async fn a_query_of_the_query_service_the_session_was_given_is_not_built_by_hand() {
    let server = MockServer::start(config()).await.unwrap();
    let c = Client::new(None).with_timeout(Duration::from_secs(5));
    let json = [("Accept", "application/json")];
    let token = logon(server.url(), &json).await;
    let auth = [("X-RestSvcSessionId", token.as_str()), json[0]];
    let query = "/api/query?type=VmRestorePoint&filter=VmDisplayName==%22ubuntu88%22&sortDesc=CreationTime&pageSize=1";
    assert_eq!(send(&c, "GET", &format!("{}{query}", server.url()), &auth, "").await.status, 200);
    let paged = "/api/Query?type=vmRestorePoint&format=Entities&sortAsc=Name&pageSize=2&page=2";
    assert_eq!(send(&c, "GET", &format!("{}{paged}", server.url()), &auth, "").await.status, 200);
    let never_given = "/api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?format=Entity";
    assert_eq!(send(&c, "GET", &format!("{}{never_given}", server.url()), &auth, "").await.status, 200);
    server.clients_done();
    let r = server.stop().await;
    assert_eq!(r.sessions[0].representation, "JSON", "the JSON logon links to the query service too");
    let problems: Vec<(ProblemKind, &str)> =
        r.sessions[0].problems.iter().map(|p| (p.kind, p.message.as_str())).take(3).collect();
    assert_eq!(
        problems,
        [
            (
                ProblemKind::OutsideFlow,
                "GET /api/query?type=VmRestorePoint&filter=VmDisplayName==%22ubuntu88%22&sortDesc=CreationTime&pageSize=1 \
                 is outside the flow (a query of the query service it was given, but no step of the scenario)"
            ),
            (
                ProblemKind::OutsideFlow,
                "GET /api/Query?type=vmRestorePoint&format=Entities&sortAsc=Name&pageSize=2&page=2 is outside the \
                 flow (a query of the query service it was given, but no step of the scenario)"
            ),
            (
                ProblemKind::HandBuiltUrl,
                "GET /api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?format=Entity was built by hand: no \
                 response gave this URL to the session"
            ),
        ]
    );
}

#[tokio::test]
async fn a_client_that_never_polls_is_caught() {
    let r = check(config(), &[(true, Behaviour::NeverPolls)]).await;
    let messages: Vec<&str> = r.sessions[0].problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        ["did not perform step `wait for the restore task`", "did not perform step `read the restore session`"]
    );
}

#[tokio::test]
async fn a_client_that_gives_up_while_the_task_runs_is_caught() {
    let r = check(config(), &[(false, Behaviour::GivesUp)]).await;
    assert_eq!(kinds(&r, 0)[0], ProblemKind::GaveUpPolling);
    assert_eq!(r.sessions[0].problems[0].message, "stopped polling while the Task was still Running, after 1 poll");
}

#[tokio::test]
async fn a_client_that_never_logs_out_is_caught() {
    let r = check(config(), &[(false, Behaviour::NeverLogsOut)]).await;
    assert_eq!(kinds(&r, 0), [ProblemKind::NoLogout]);
    assert_eq!(r.sessions[0].ended, Some(emtape::clientcheck::result::Ending::ClientExited));
}

#[tokio::test]
async fn a_client_that_polls_too_fast_is_caught() {
    let r = check(config().poll_min_interval(Duration::from_millis(500)), &[(false, Behaviour::PollsTooFast)]).await;
    assert_eq!(kinds(&r, 0), [ProblemKind::PolledTooFast]);
    assert!(r.sessions[0].problems[0].message.ends_with("ms after the previous poll (at least 500 ms apart)"));
}

#[tokio::test]
async fn a_client_that_reads_the_restore_session_of_a_failed_task_to_report_it_passes() {
    let r =
        check(config().fault("task-failed:every"), &[(false, Behaviour::IgnoresFailure), (true, Behaviour::Honest)])
            .await;
    assert!(r.sessions[0].passed, "reading what failed is not ignoring it: {:#?}", r.sessions[0].problems);
    assert!(r.sessions[0].requests.iter().any(|p| p.step.as_deref() == Some("read the restore session")));
    assert!(r.sessions[1].passed, "{:#?}", r.sessions[1]);
    assert_eq!(r.sessions[1].faults, ["task-failed at `wait for the restore task`"]);
}

#[tokio::test]
async fn every_fault_is_injected_and_an_honest_client_handles_it() {
    for (fault, at) in [
        ("task-failed", "wait for the restore task"),
        ("session-expired", "start the restore"),
        ("http-500", "start the restore"),
        ("http-503", "wait for the restore task"),
        ("drop-connection", "wait for the restore task"),
    ] {
        for json in [false, true] {
            let r = check(config().fault(fault), &[(json, Behaviour::Honest)]).await;
            assert!(r.passed, "{fault} ({json}): {r:#?}");
            assert_eq!(r.sessions[0].faults, [format!("{fault} at `{at}`")]);
            let hit = r.sessions[0].requests.iter().find(|p| p.fault.is_some()).unwrap();
            assert_eq!(hit.step.as_deref(), Some(at), "{fault}");
        }
    }
}

/// Issue #23: a client that stopped at the 401 of an expired session, or logged out after the
/// 500 of its restore, was "PASSED, no problems": its recovery was never judged.
#[tokio::test]
async fn a_client_that_does_not_recover_from_a_fault_fails_saying_what_a_recovering_client_does() {
    for (fault, problem) in [
        (
            "session-expired",
            "the session expired (fault session-expired) at step `start the restore`, and the client never logged \
             on again: a recovering client logs on again and carries on from `start the restore`",
        ),
        (
            "http-500",
            "the server answered step `start the restore` with HTTP 500 (fault http-500), and the client never \
             sent it again: a recovering client retries the request",
        ),
        (
            "http-503",
            "the server answered step `wait for the restore task` with HTTP 503 (fault http-503), and the client \
             never sent it again: a recovering client retries the request",
        ),
        (
            "drop-connection",
            "the connection of step `wait for the restore task` closed without an answer (fault drop-connection), \
             and the client never sent it again: a recovering client retries the request",
        ),
    ] {
        for json in [false, true] {
            let r = check(config().fault(fault), &[(json, Behaviour::GivesUpAtFault)]).await;
            assert!(!r.passed, "{fault} ({json}): {r:#?}");
            let messages: Vec<&str> = r.sessions[0].problems.iter().map(|p| p.message.as_str()).collect();
            assert_eq!(messages, [problem], "{fault} ({json})");
            assert_eq!(kinds(&r, 0), [ProblemKind::NotRecovered]);
        }
    }
}

/// The same client under `--until-complete`: the run ends once it has gone quiet without a new
/// logon, exits 1, and the JSON and JUnit reports name the fault it did not recover from.
#[tokio::test]
async fn until_complete_fails_a_client_that_gives_up_at_a_fault_in_every_report() {
    for fault in ["session-expired", "http-500"] {
        let dir = temp_dir(&format!("gives-up-{fault}"));
        let (junit, json) = (dir.join("clients.xml"), dir.join("clients.json"));
        let mock = Emtape::serve(&[
            "--scenario",
            "scenarios/vm-restore.yaml",
            "--until-complete",
            "1",
            "--idle",
            "300ms",
            "--grace",
            "0s",
            "--poll-min-interval",
            "20ms",
            "--fault",
            fault,
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        client(&mock.url, false, Behaviour::GivesUpAtFault).await;
        let (status, out, err) = mock.wait();
        assert_eq!(status.code(), Some(1), "{fault}: {out}{err}");
        let named = format!("(fault {fault}) at step `start the restore`");
        let named = if fault == "http-500" { "with HTTP 500 (fault http-500)".to_owned() } else { named };
        assert!(out.contains(&named) && out.contains("FAILED: 0 of 1 sessions met the contract"), "{out}");
        let junit = std::fs::read_to_string(&junit).unwrap();
        assert!(junit.contains("failures=\"1\"") && junit.contains(&named), "{junit}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["sessions"][0]["problems"][0]["kind"], "not-recovered", "{json}");
    }
}

#[tokio::test]
async fn the_task_runs_as_long_as_asked() {
    let r = check(config().running_polls(4), &[(false, Behaviour::Honest)]).await;
    assert!(r.passed);
    let polls =
        r.sessions[0].requests.iter().filter(|p| p.step.as_deref() == Some("wait for the restore task")).count();
    assert_eq!(polls, 5, "four Running answers, then Finished");
}

/// A client that checks its own error handling (a GET without a token, a GET after logout)
/// failed the check. The first of each, answered with EM's 401, is a probe: a note. A client
/// that goes on as if the 401 were nothing, sending more, has the problem.
#[tokio::test]
async fn a_first_request_without_a_session_is_a_probe_and_carrying_on_is_the_problem() {
    let server = MockServer::start(config()).await.unwrap();
    client(server.url(), false, Behaviour::Honest).await;
    let token = {
        let c = client_for(server.url());
        let logon =
            send(&c, "POST", &format!("{}/api/sessionMngr", server.url()), &[("Authorization", "Basic eDp5")], "")
                .await;
        let token = logon.headers.get("x-restsvcsessionid").unwrap().to_owned();
        let id = session_id(&logon);
        send(&c, "DELETE", &format!("{}/api/logonSessions/{id}", server.url()), &[("X-RestSvcSessionId", &token)], "")
            .await;
        let points = format!("{}/api/vmRestorePoints", server.url());
        for _ in 0..2 {
            let stale = send(&c, "GET", &points, &[("X-RestSvcSessionId", &token)], "").await;
            assert_eq!(stale.status, 401);
            assert_eq!(send(&c, "GET", &points, &[], "").await.status, 401);
        }
        token
    };
    let r = server.stop().await;
    let second = &r.sessions[1];
    assert_eq!(second.probes, ["GET /api/vmRestorePoints after logging out: EM's 401, the session is over"]);
    let stale: Vec<&str> =
        second.problems.iter().filter(|p| p.kind == ProblemKind::StaleToken).map(|p| p.message.as_str()).collect();
    assert_eq!(stale, ["GET /api/vmRestorePoints used the session token after logging out"]);
    assert_eq!(r.probes, ["GET /api/vmRestorePoints without a session token: EM's 401"]);
    assert_eq!(r.unattributed.len(), 1);
    assert_eq!(
        r.unattributed[0].message,
        "GET /api/vmRestorePoints carried no session token, again: a client that carries on without logging on"
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(&token), "the report never holds a token");
}

#[tokio::test]
async fn finishing_ends_the_open_sessions_as_the_client_exiting_and_gives_the_verdict_as_text() {
    let mock = Emtape::serve(&["--scenario", "scenarios/vm-restore.yaml", "--coverage-json", "/dev/null"]);
    let token = logon(&mock.url, &[]).await;
    let c = client_for(&mock.url);
    send(&c, "GET", &format!("{}/api/vmRestorePoints", mock.url), &[("X-RestSvcSessionId", &token)], "").await;
    let plain = [("Accept", "text/plain")];
    let verdict = send(&c, "POST", &format!("{}/__emtape/finish", mock.url), &plain, "").await;
    assert_eq!(verdict.status, 200);
    let said = text(&verdict);
    assert!(said.contains("the client exited without logging out"), "{said}");
    assert!(said.contains("FAILED: 0 of 1 sessions met the contract"), "{said}");
    let coverage = send(&c, "GET", &format!("{}/__emtape/coverage", mock.url), &[], "").await;
    let v: serde_json::Value = serde_json::from_str(text(&coverage)).unwrap();
    assert_eq!(v["requests"], 2, "{v}");
    assert_eq!(v["dimensions"][0]["name"], "resource types");
    let plain_mock = Emtape::serve(&[]);
    let none = send(&c, "GET", &format!("{}/__emtape/coverage", plain_mock.url), &[], "").await;
    assert_eq!(none.status, 404);
    assert!(text(&none).contains("start serve with --coverage"), "{}", text(&none));
}

fn client_for(_base: &str) -> Client {
    Client::new(None).with_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn the_admin_endpoints_report_and_reset() {
    let mock = Emtape::serve(&["--scenario", "scenarios/vm-restore.yaml", "--poll-min-interval", "20ms"]);
    client(&mock.url, false, Behaviour::Honest).await;
    let c = client_for(&mock.url);
    let report = send(&c, "GET", &format!("{}/__emtape/report", mock.url), &[], "").await;
    let v: serde_json::Value = serde_json::from_str(text(&report)).unwrap();
    assert_eq!(v["sessions"][0]["passed"], true, "{v}");
    assert_eq!(v["sessions"][0]["ended"], "logged-out");
    assert_eq!(send(&c, "POST", &format!("{}/__emtape/reset", mock.url), &[], "").await.status, 204);
    let report = send(&c, "GET", &format!("{}/__emtape/report", mock.url), &[], "").await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(text(&report)).unwrap()["sessions"], serde_json::json!([]));
    let unknown = send(&c, "GET", &format!("{}/__emtape/nope", mock.url), &[], "").await;
    assert_eq!(unknown.status, 404);
    assert!(text(&unknown).contains("GET /__emtape/report, POST /__emtape/finish, POST /__emtape/reset"));
    let em_path = send(&c, "GET", &format!("{}/api/__emtape/report", mock.url), &[], "").await;
    assert_eq!(em_path.status, 404, "only the top-level /__emtape/ is emtape's");
    assert!(
        text(&em_path).contains("no recorded exchange matches GET /api/__emtape/report"),
        "the mock answers it as EM would"
    );
}

#[tokio::test]
async fn until_complete_exits_with_the_verdict_and_its_reports() {
    let dir = temp_dir("until-complete");
    let (junit, json) = (dir.join("clients.xml"), dir.join("clients.json"));
    let mock = Emtape::serve(&[
        "--scenario",
        "scenarios/vm-restore.yaml",
        "--until-complete",
        "2",
        "--poll-min-interval",
        "20ms",
        "--idle",
        "300ms",
        "--fault",
        "task-failed:every",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    client(&mock.url, false, Behaviour::Honest).await;
    client(&mock.url, true, Behaviour::HandBuilt).await;
    let (status, out, err) = mock.wait();
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(err.contains("emtape: injecting task-failed at `wait for the restore task`"), "{err}");
    let ms = regex::Regex::new(r"\d+ ms").unwrap();
    insta::assert_snapshot!(ms.replace_all(&out, "N ms"));
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(emtape::xml::parse(&junit).unwrap().attribute("failures"), Some("1"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["passed"], false);
}

#[test]
fn a_mistyped_fault_gets_a_hint() {
    let (code, _, err) =
        run(&["serve", "--listen", "127.0.0.1:0", "--scenario", "scenarios/vm-restore.yaml", "--fault", "task-faild"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: invalid value 'task-faild' for '--fault <NAME[@STEP][:SCOPE]>': `task-faild` is not a fault emtape \
         can inject; did you mean `task-failed`?\n\nFor more information, try '--help'.\n"
    );
}

/// `sesion=2` was reported as an unknown fault (the fault was fine), and `task-failed@log on`
/// was announced as injected and then never was: the client passed.
#[test]
fn a_mistyped_fault_scope_and_a_fault_where_it_cannot_apply_are_refused() {
    let serve = |fault: &str| {
        run(&["serve", "--listen", "127.0.0.1:0", "--scenario", "scenarios/vm-restore.yaml", "--fault", fault])
    };
    let (code, _, err) = serve("task-failed:sesion=2");
    assert_eq!(code, 2);
    assert!(err.contains("`sesion=2` in fault `task-failed:sesion=2` is not a scope"), "{err}");
    let (code, _, err) = serve("task-failed@log on");
    assert_eq!(code, 2);
    assert!(
        err.contains("task-failed changes the Task that a poll reads; inject it at `wait for the restore task`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_poller_within_the_scenarios_poll_timeout_is_not_idle() {
    let r = check(config(), &[(false, Behaviour::SlowPoller)]).await;
    assert!(r.passed, "{:#?}", r.sessions[0].problems);
    assert_eq!(r.sessions[0].ended, Some(Ending::LoggedOut));
}

#[tokio::test]
async fn no_client_at_all_is_never_a_pass() {
    let server = MockServer::start(config()).await.unwrap();
    let live = server.report();
    assert!(!live.passed, "/__emtape/report must not say passed with no evidence");
    let report = server.stop().await;
    assert!(!report.passed);
    assert!(report.reasons[0].contains("no client session was seen"), "{:?}", report.reasons);

    let mock = Emtape::serve(&["--scenario", "scenarios/vm-restore.yaml", "--until-complete", "1"]);
    let (status, out) = mock.stop();
    assert_eq!(status.code(), Some(1), "{out}");
}

#[tokio::test]
async fn fewer_sessions_than_until_complete_fail_with_the_reason_in_every_report() {
    let dir = temp_dir("too-few");
    let (junit, json) = (dir.join("clients.xml"), dir.join("clients.json"));
    let mock = Emtape::serve(&[
        "--scenario",
        "scenarios/vm-restore.yaml",
        "--until-complete",
        "2",
        "--poll-min-interval",
        "20ms",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    client(&mock.url, false, Behaviour::Honest).await;
    Command::new("kill").args(["-TERM", &mock.pid().to_string()]).status().unwrap();
    let (status, out, _) = mock.wait();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("1 of 2 expected client sessions ended (1 started) before the mock was stopped"), "{out}");
    assert!(out.contains("FAILED: 1 of 1 sessions met the contract"), "{out}");
    let junit = emtape::xml::parse(&std::fs::read_to_string(&junit).unwrap()).unwrap();
    assert_eq!(junit.attribute("failures"), Some("1"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["passed"], false);
    assert!(json["reasons"][0].as_str().unwrap().contains("1 of 2"));
}

#[test]
fn a_deadline_ends_the_wait_with_what_was_missing() {
    let mock =
        Emtape::serve(&["--scenario", "scenarios/vm-restore.yaml", "--until-complete", "1", "--deadline", "300ms"]);
    let (status, out, _) = mock.wait();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("0 of 1 expected client sessions ended (0 started) before the deadline"), "{out}");
}

#[test]
fn serve_scenario_takes_var_as_run_does() {
    let (code, _, err) =
        run(&["serve", "--listen", "127.0.0.1:0", "--scenario", "scenarios/vm-restore.yaml", "--var", "vmm=dc01"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no variable `vmm`"), "{err}");
}

#[tokio::test]
async fn a_client_that_logs_on_again_after_session_expired_is_observed_and_passes() {
    let mock = Emtape::serve(&[
        "--scenario",
        "scenarios/vm-restore.yaml",
        "--until-complete",
        "1",
        "--poll-min-interval",
        "20ms",
        "--fault",
        "session-expired",
    ]);
    client(&mock.url, false, Behaviour::Honest).await;
    let (status, out, err) = mock.wait();
    assert_eq!(status.code(), Some(0), "{out}{err}");
    assert!(out.contains("PASSED: 2 of 2 sessions met the contract"), "the expired session and the recovery: {out}");
}

#[tokio::test]
async fn a_fault_hits_once_by_default_or_the_sessions_asked_for() {
    let once = check(config().fault("task-failed"), &[(false, Behaviour::Honest), (false, Behaviour::Honest)]).await;
    assert_eq!(once.sessions[0].faults, ["task-failed at `wait for the restore task`"]);
    assert!(once.sessions[1].faults.is_empty(), "{:?}", once.sessions[1].faults);
    let second =
        check(config().fault("task-failed:session=2"), &[(false, Behaviour::Honest), (false, Behaviour::Honest)]).await;
    assert!(second.sessions[0].faults.is_empty());
    assert_eq!(second.sessions[1].faults.len(), 1);
}

#[tokio::test]
async fn a_blind_retry_of_the_restore_after_a_dropped_connection_is_reported_as_a_risk() {
    let server = MockServer::start(config().fault("drop-connection@start the restore")).await.unwrap();
    let c = Client::new(None).with_timeout(Duration::from_secs(5));
    let token = logon(server.url(), &[]).await;
    let auth = [("X-RestSvcSessionId", token.as_str())];
    let list = send(&c, "GET", &format!("{}/api/vmRestorePoints", server.url()), &auth, "").await;
    let entity_url = links(text(&list), false).into_iter().find(|l| l.rel == "Alternate").unwrap().href;
    let entity = send(&c, "GET", &entity_url, &auth, "").await;
    let restore = link(text(&entity), false, "Restore", None);
    assert!(c.send("POST", &restore, &headers(&auth), Default::default()).await.is_err(), "the fault drops it");
    let again = send(&c, "POST", &restore, &auth, "").await;
    assert_eq!(again.status, 202);
    let report = server.stop().await;
    assert!(kinds(&report, 0).contains(&ProblemKind::BlindRetry), "{:#?}", report.sessions[0].problems);
}

/// `emtape run` stops at the 401 of an expired session and logs out in its `finally:`: that
/// cleanup was a "stale token" failure naming the raw session id, and `--until-complete 1`
/// never ended, the expired session not counting until a recovery that never came. It fails
/// for the recovery it does not make, and for nothing else.
#[test]
fn a_client_that_stops_at_an_expired_session_ends_it_and_its_cleanup_logout_is_no_fault() {
    let mock = Emtape::serve(&[
        "--scenario",
        "scenarios/vm-restore.yaml",
        "--fault",
        "session-expired",
        "--until-complete",
        "1",
        "--idle",
        "500ms",
        "--grace",
        "0s",
    ]);
    let out = Command::new(BIN)
        .args(["run", "--target", &mock.url, "--user", "me", "--password-env", "EMTAPE_EXPIRED_PW"])
        .args(["--var", "poll_interval=0s"])
        .env("EMTAPE_EXPIRED_PW", "pw-expired-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the run itself fails at the 401: {}", String::from_utf8_lossy(&out.stdout));
    let (status, out, _) = mock.wait();
    assert!(out.contains("session 1 (XML): FAILED, its session was expired by the server"), "{out}");
    assert!(out.contains("\n  - the session expired (fault session-expired) at step `start the restore`, and the client never logged on again"), "{out}");
    assert_eq!(out.matches("\n  - ").count(), 1, "the missing recovery is its only problem: {out}");
    assert!(!out.contains("used the session token"), "{out}");
    let ids = out.matches("/api/logonSessions/").count();
    assert_eq!(ids, out.matches("/api/logonSessions/{session-id}").count(), "no raw session id: {out}");
    assert_eq!(status.code(), Some(1), "{out}");
}

/// A verdict says what it rests on: restoring the one recorded point of a restore-only cassette
/// rests on the tape; the report lists what the mock had to make up (here: nothing), and with a
/// point the tape does not hold, the derived answers it served.
#[tokio::test]
async fn the_report_names_the_answers_that_rested_on_no_recording() {
    let tape_only =
        check(config().cassette("cassettes/reference/vm-restore.yaml"), &[(false, Behaviour::Honest)]).await;
    assert!(tape_only.passed && tape_only.unrecorded.is_empty(), "{:#?}", tape_only.unrecorded);
    let server = MockServer::start(config().cassette("cassettes/reference/vm-restore.yaml")).await.unwrap();
    client(server.url(), false, Behaviour::Honest).await;
    let token = logon(server.url(), &[]).await;
    let other = format!("{}/api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?format=Entity", server.url());
    assert_eq!(send(&client_for(server.url()), "GET", &other, &[("X-RestSvcSessionId", &token)], "").await.status, 200);
    server.clients_done();
    let r = server.stop().await;
    assert_eq!(r.unrecorded.len(), 1, "{:#?}", r.unrecorded);
    assert!(
        r.unrecorded[0].note.starts_with("derived from cassettes/reference/vm-restore.yaml"),
        "{:#?}",
        r.unrecorded
    );
    let text = emtape::report::check::text(&r, emtape::report::Style { colour: false, times: false });
    assert!(text.contains("1 answer rested on no recording of its own"), "{text}");
}

/// A client restoring the first point it lists (oracle03's, a valid path of the documented
/// flow) failed: the scenario's default `vm: ubuntu88` was taken for the contract. The choice is
/// the client's, and the report names it; a VM pinned with --var is kept to, naming the pin.
#[tokio::test]
async fn a_client_choosing_another_point_than_the_scenarios_default_passes_and_a_pin_is_kept() {
    // Nothing here is about idleness: a loaded machine may leave 300 ms between two steps.
    let config = || config().idle(Duration::from_secs(10));
    let r = check(config(), &[(false, Behaviour::FirstPoint), (true, Behaviour::FirstPoint)]).await;
    assert!(r.passed, "{r:#?}");
    for s in &r.sessions {
        assert_eq!(
            s.choices,
            ["`open the newest restore point`: oracle03@2025-11-02 13:42:25 (vm=oracle03), the client's choice"]
        );
    }
    let pinned = config().var("vm", "ubuntu88");
    let r = check(pinned, &[(false, Behaviour::FirstPoint)]).await;
    assert!(!r.passed);
    let problems: Vec<&str> = r.sessions[0].problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        problems,
        ["chose oracle03@2025-11-02 13:42:25 at `open the newest restore point` (vm=oracle03), which the run rules \
          out: it pins vm=ubuntu88"]
    );
}

/// As wiremock-rs: a test says how often a request must come, and the server checks it when
/// it goes; it also says which recording answered what.
#[tokio::test]
async fn expected_calls_are_checked_when_the_server_goes_and_matches_name_their_recordings() {
    let server = MockServer::start(
        config()
            .expect("GET /api/vmRestorePoints", 1)
            .expect("POST /api/vmRestorePoints/{id}?action=restore", 1..)
            .expect("GET /api/tasks/{id}", 2..=10)
            .expect("DELETE /api/jobs/{id}", 0),
    )
    .await
    .unwrap();
    client(server.url(), false, Behaviour::Honest).await;
    assert_eq!(server.verify(), Ok(()));
    let matched = server.matched();
    let (recording, requests) =
        matched.iter().find(|(_, requests)| requests.iter().any(|r| r == "GET /api/vmRestorePoints")).unwrap();
    assert!(recording.starts_with("built-in cassettes/reference/vm-restore.yaml:"), "{recording}");
    assert!(recording.ends_with(", exchange 4"), "{recording}");
    assert_eq!(requests.len(), 1);
    drop(server);
}

#[tokio::test]
#[should_panic(expected = "GET /api/vmRestorePoints: expected 2 times, received 1")]
async fn an_expectation_not_met_fails_the_test_when_the_server_goes() {
    let server = MockServer::start(config().expect("GET /api/vmRestorePoints", 2)).await.unwrap();
    client(server.url(), false, Behaviour::Honest).await;
    drop(server);
}

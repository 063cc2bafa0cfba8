//! The mock as a model of an EM: every served link answers, actions make new state per session,
//! the query service answers, and session answers come from the session rules.

use std::collections::{HashSet, VecDeque};

use emtape::http::client::Client;

use crate::support::*;

const RELEASES: [&str; 2] = ["cassettes/reference", "tests/fixtures/em-9.5-2013"];

/// The releases on tape, each a restore flow and an estate per representation.
const SHIPPED: [&str; 5] =
    ["cassettes/em-9.5", "cassettes/em-10", "cassettes/em-11", "cassettes/em-12", "cassettes/reference"];

fn cassette(release: &str, json: bool) -> String {
    format!("{release}/vm-restore{}.yaml", if json { "-json" } else { "" })
}

fn estate(release: &str, json: bool) -> String {
    format!("{release}/estate{}.yaml", if json { "-json" } else { "" })
}

/// The value at `path` in a JSON body, each key matched whatever its case (EM 13 writes camelCase).
fn at<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a serde_json::Value {
    path.iter().fold(v, |v, k| v.as_object().and_then(|m| member(m, k)).unwrap_or(&serde_json::Value::Null))
}

fn accept(json: bool) -> Vec<(&'static str, &'static str)> {
    if json { vec![("Accept", "application/json")] } else { vec![("Accept", "application/xml")] }
}

/// Every Href a client may GET in a body: links with a navigating Rel, and each `Ref`'s own.
fn navigable(body: &str, json: bool) -> Vec<String> {
    const RELS: [&str; 8] = ["Down", "Up", "Alternate", "Related", "First", "Next", "Previous", "Last"];
    let mut out = Vec::new();
    if json {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(href) = member(m, "Href").and_then(|h| h.as_str()) {
                        match member(m, "Rel").and_then(|r| r.as_str()) {
                            Some(rel) if !RELS.contains(&rel) => {}
                            _ => out.push(href.to_owned()),
                        }
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(&serde_json::from_str(body).expect("JSON body"), &mut out);
    } else {
        fn walk(e: &emtape::xml::Element, out: &mut Vec<String>) {
            if let Some(href) = e.attribute("Href") {
                match e.attribute("Rel") {
                    Some(rel) if e.name == "Link" && !RELS.contains(&rel) => {}
                    _ => out.push(href.to_owned()),
                }
            }
            e.elements().for_each(|c| walk(c, out));
        }
        walk(&emtape::xml::parse(body).expect("XML body"), &mut out);
    }
    out
}

/// Logs on in `json` or XML; (token, LogonSession body).
async fn session(c: &Client, base: &str, json: bool) -> (String, String) {
    let mut h = accept(json);
    h.push(("Authorization", "Basic dXNlcjpwYXNzd29yZA=="));
    let r = send(c, "POST", &format!("{base}/api/sessionMngr/?v=latest"), &h, "").await;
    assert_eq!(r.status, 201, "{}", text(&r));
    (r.headers.get("x-restsvcsessionid").unwrap().to_owned(), text(&r).to_owned())
}

async fn get(c: &Client, url: &str, json: bool, token: &str) -> emtape::http::Response {
    send(c, "GET", url, &with_token(&accept(json), token), "").await
}

/// Breadth-first over every link a client may GET from the LogonSession; the links that did
/// not answer 200, with their status.
async fn unanswered(base: &str, json: bool) -> (usize, Vec<String>) {
    let c = client();
    let (token, logon) = session(&c, base, json).await;
    let mut seen = HashSet::new();
    let mut queue: VecDeque<String> = navigable(&logon, json).into();
    let mut failed = Vec::new();
    while let Some(url) = queue.pop_front() {
        if !seen.insert(url.clone()) {
            continue;
        }
        assert!(url.starts_with(base), "{url} leaves the mock");
        let r = get(&c, &url, json, &token).await;
        if r.status != 200 {
            failed.push(format!("{} {url}: {}", r.status, text(&r)));
            continue;
        }
        queue.extend(navigable(text(&r), json));
    }
    (seen.len(), failed)
}

#[tokio::test]
async fn every_link_of_every_releases_surface_answers_in_xml_and_json() {
    for release in SHIPPED {
        for json in [false, true] {
            let mock = Emtape::serve(&[&cassette(release, json), &estate(release, json)]);
            let (visited, failed) = unanswered(&mock.url, json).await;
            assert!(visited > 300, "{release} json={json}: only {visited} links");
            assert!(
                failed.is_empty(),
                "{release} json={json}: {} of {visited} unanswered:\n{}",
                failed.len(),
                failed.join("\n")
            );
        }
    }
}

/// Restores, in one session, every point the listing names; returns (task id, RestoreSession
/// name) per point, asserting the flow at each step.
async fn restore_every_point(c: &Client, base: &str, json: bool) -> Vec<(String, String)> {
    let (token, logon) = session(c, base, json).await;
    restore_every_point_in(c, json, &token, &logon).await
}

/// [`restore_every_point`] in the session of `token`, whose LogonSession body is `logon`.
async fn restore_every_point_in(c: &Client, json: bool, token: &str, logon: &str) -> Vec<(String, String)> {
    let token = token.to_owned();
    let list_url = link(logon, json, "Down", Some("VmRestorePointReferenceList"));
    let list = get(c, &list_url, json, &token).await;
    assert_eq!(list.status, 200);
    let refs: Vec<(String, String)> = links(text(&list), json)
        .into_iter()
        .filter(|l| l.rel == "Alternate")
        .map(|l| l.href)
        .zip(names(text(&list), json))
        .collect();
    assert!(refs.len() >= 3, "{refs:?}");
    let mut done = Vec::new();
    for (entity_url, name) in refs {
        let vm = name.split('@').next().unwrap().to_owned();
        let id = entity_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
        let entity = get(c, &entity_url, json, &token).await;
        assert_eq!(entity.status, 200, "{entity_url}: {}", text(&entity));
        let body = text(&entity);
        assert_eq!(value(body, json, "Name").or_else(|| attribute(body, "Name")).as_deref(), Some(name.as_str()));
        assert!(body.contains(&format!("urn:veeam:VmRestorePoint:{id}")), "UID of {id} in {body}");
        if let Some(display) = attribute(body, "VmDisplayName").or_else(|| value(body, json, "VmDisplayName")) {
            assert_eq!(display, vm, "{body}");
        }
        let restore = link(body, json, "Restore", None);
        assert!(restore.contains(&id));
        let task = send(c, "POST", &restore, &with_token(&accept(json), &token), "").await;
        assert_eq!(task.status, 202, "{}", text(&task));
        let task_url = link(text(&task), json, "Delete", Some("Task"));
        let finished = loop {
            let poll = get(c, &task_url, json, &token).await;
            assert_eq!(poll.status, 200, "{}", text(&poll));
            if value(text(&poll), json, "State").as_deref() == Some("Finished") {
                break poll;
            }
        };
        let rs_url = link(text(&finished), json, "Related", Some("RestoreSession"));
        let rs = get(c, &rs_url, json, &token).await;
        assert_eq!(rs.status, 200, "{rs_url}: {}", text(&rs));
        assert_eq!(value(text(&rs), json, "Result").as_deref(), Some("Success"));
        let rs_name = attribute(text(&rs), "Name").or_else(|| value(text(&rs), json, "Name")).unwrap();
        assert!(rs_name.starts_with(&format!("{vm}@")), "RestoreSession {rs_name} for {name}");
        if let Some(related) = links(text(&rs), json).into_iter().find(|l| l.rel == "Related") {
            assert!(related.href.contains(&id), "the RestoreSession of {id} links {}", related.href);
        }
        done.push((value(text(&finished), json, "TaskId").unwrap(), rs_name));
    }
    done
}

/// `Name` of each `Ref` in a listing, in order.
fn names(body: &str, json: bool) -> Vec<String> {
    if json {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        at(&v, &["Refs"]).as_array().unwrap().iter().map(|r| at(r, &["Name"]).as_str().unwrap().to_owned()).collect()
    } else {
        let root = emtape::xml::parse(body).unwrap();
        root.elements().map(|r| r.attribute("Name").unwrap().to_owned()).collect()
    }
}

/// The root element's attribute (XML only).
fn attribute(body: &str, name: &str) -> Option<String> {
    emtape::xml::parse(body).ok()?.attribute(name).map(str::to_owned)
}

#[tokio::test]
async fn one_session_restores_every_listed_point_each_with_its_own_task() {
    for release in RELEASES {
        for json in [false, true] {
            let mock = Emtape::serve(&[&cassette(release, json)]);
            let done = restore_every_point(&client(), &mock.url, json).await;
            let tasks: Vec<&str> = done.iter().map(|(t, _)| t.as_str()).collect();
            let expected: Vec<String> = (1..=done.len()).map(|n| format!("task-{n}")).collect();
            assert_eq!(tasks, expected, "{release} json={json}");
            let sessions: HashSet<&str> = done.iter().map(|(_, s)| s.as_str()).collect();
            assert_eq!(sessions.len(), done.len(), "each restore has its own RestoreSession: {done:?}");
        }
    }
}

#[tokio::test]
async fn any_listed_point_restores_over_https() {
    let dir = temp_dir("model-tls");
    let cert = dir.join("cert.pem");
    let mock = Emtape::serve(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]);
    for json in [false, true] {
        let done = restore_every_point(&tls_client(&cert), &mock.url, json).await;
        assert_eq!(done.len(), 4, "{done:?}");
    }
}

#[tokio::test]
async fn two_sessions_restoring_at_once_do_not_see_each_others_tasks() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (a, _) = session(&c, &mock.url, false).await;
    let (b, _) = session(&c, &mock.url, false).await;
    let point = format!("{}/api/vmRestorePoints/3b706812-05e7-4e00-a70b-233816202528?action=restore", mock.url);
    for token in [&a, &a, &b] {
        let r = send(&c, "POST", &point, &with_token(&[], token), "").await;
        assert_eq!(r.status, 202);
    }
    let url = format!("{}/api/tasks", mock.url);
    let list = |token: String| {
        let (c, url) = (&c, &url);
        async move { get(c, url, false, &token).await }
    };
    let tasks_a = list(a.clone()).await;
    let tasks_b = list(b.clone()).await;
    assert_eq!(text(&tasks_a).matches("<TaskId>").count(), 2, "{}", text(&tasks_a));
    assert_eq!(text(&tasks_b).matches("<TaskId>").count(), 1, "{}", text(&tasks_b));
    let other = get(&c, &format!("{}/api/tasks/task-2", mock.url), false, &b).await;
    assert_eq!(other.status, 404, "{}", text(&other));
    let deleted = send(&c, "DELETE", &format!("{}/api/tasks/task-1", mock.url), &with_token(&[], &a), "").await;
    assert_eq!(deleted.status, 204);
    let gone = get(&c, &format!("{}/api/tasks/task-1", mock.url), false, &a).await;
    assert_eq!(gone.status, 404, "a deleted task is not served from the tape: {}", text(&gone));
    assert_eq!(text(&list(a).await).matches("<TaskId>").count(), 1);
    assert_eq!(text(&list(b).await).matches("<TaskId>").count(), 1);
}

#[tokio::test]
async fn a_malformed_restore_spec_gets_ems_400_and_starts_nothing() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, _) = session(&c, &mock.url, false).await;
    let url = format!("{}/api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?action=restore", mock.url);
    let spec = "<RestoreSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><VmRestoreSpec><PowerOnAfterRestore>false</PowerOnAfterRestore><QuickRollback>true</QuickRollback><KeepOriginalVM>true</KeepOriginalVM></VmRestoreSpec></RestoreSpec>";
    let h = with_token(&[("Content-Type", "application/xml")], &token);
    let bad = send(&c, "POST", &url, &h, spec).await;
    assert_eq!(bad.status, 400);
    assert!(text(&bad).contains("QuickRollback must be false"), "{}", text(&bad));
    let tasks = get(&c, &format!("{}/api/tasks", mock.url), false, &token).await;
    assert!(!text(&tasks).contains("<Task "), "{}", text(&tasks));
    let good = send(&c, "POST", &url, &h, &spec.replace("<QuickRollback>true", "<QuickRollback>false")).await;
    assert_eq!(good.status, 202, "{}", text(&good));
    assert_eq!(value(text(&good), false, "TaskId").as_deref(), Some("task-1"));
    let json = r#"{"VmRestoreSpec":{"PowerOnAfterRestore":"yes","QuickRollback":false}}"#;
    let h = with_token(&[("Content-Type", "application/json"), ("Accept", "application/json")], &token);
    let bad = send(&c, "POST", &url, &h, json).await;
    assert_eq!(bad.status, 400);
    assert_eq!(serde_json::from_str::<serde_json::Value>(text(&bad)).unwrap()["StatusCode"], 400);
}

#[tokio::test]
async fn an_id_no_listing_names_gets_ems_404_and_model_answers_need_a_session() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, _) = session(&c, &mock.url, true).await;
    let missing =
        get(&c, &format!("{}/api/backupServers/00000000-0000-0000-0000-000000000000", mock.url), true, &token).await;
    assert_eq!(missing.status, 404);
    let error: serde_json::Value = serde_json::from_str(text(&missing)).unwrap();
    assert_eq!(error["StatusCode"], 404);
    assert!(error["Message"].as_str().unwrap().starts_with("BackupServer with id 00000000"), "{error}");
    let anonymous = send(&c, "GET", &format!("{}/api/backupServers", mock.url), &[], "").await;
    assert_eq!(anonymous.status, 401);
}

/// `/api/jobs` of a cassette holding only a restore flow was `{"Refs": []}`: a monitoring client
/// read "0 jobs, all OK" from what nobody recorded. Without a recording it is EM's 404 saying
/// what to record; with the estate it lists the estate's jobs.
#[tokio::test]
async fn a_collection_nobody_recorded_is_a_404_saying_what_to_record_not_an_empty_200() {
    let restore_only = Emtape::serve(&["cassettes/reference/vm-restore-json.yaml"]);
    let c = client();
    let (token, _) = session(&c, &restore_only.url, true).await;
    let jobs = get(&c, &format!("{}/api/jobs", restore_only.url), true, &token).await;
    assert_eq!(jobs.status, 404, "{}", text(&jobs));
    let error: serde_json::Value = serde_json::from_str(text(&jobs)).unwrap();
    let message = at(&error, &["Message"]).as_str().unwrap();
    assert!(message.starts_with("Nothing was recorded of /api/jobs"), "{message}");
    assert!(message.contains("emtape crawl"), "{message}");

    let built_in = Emtape::serve(&[]);
    let (token, _) = session(&c, &built_in.url, true).await;
    let jobs = get(&c, &format!("{}/api/jobs", built_in.url), true, &token).await;
    assert_eq!(jobs.status, 200);
    let v: serde_json::Value = serde_json::from_str(text(&jobs)).unwrap();
    assert_eq!(at(&v, &["Refs"]).as_array().unwrap().len(), 4, "{v}");
    let plans = get(&c, &format!("{}/api/failoverPlans", built_in.url), true, &token).await;
    assert_eq!((plans.status, text(&plans).trim()), (200, r#"{"refs": []}"#), "recorded empty: the estate has none");
}

async fn query(c: &Client, base: &str, token: &str, json: bool, q: &str) -> emtape::http::Response {
    get(c, &format!("{base}/api/query?{q}"), json, token).await
}

#[tokio::test]
async fn a_query_asked_again_after_restores_counts_the_restore_sessions_they_made() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, logon) = session(&c, &mock.url, false).await;
    let q = "type=RestoreSession&sortDesc=CreationTime&pageSize=1000";
    let sessions = |body: &str| body.matches("<Ref ").count();
    let before = query(&c, &mock.url, &token, false, q).await;
    assert_eq!(before.status, 200, "{}", text(&before));
    let recorded = sessions(text(&before));
    assert!(recorded > 0, "{}", text(&before));
    assert_eq!(sessions(text(&query(&c, &mock.url, &token, false, q).await)), recorded, "asked again, the same");
    let done = restore_every_point_in(&c, false, &token, &logon).await;
    let after = query(&c, &mock.url, &token, false, q).await;
    assert!(sessions(text(&after)) > recorded, "{}", text(&after));
    for (_, name) in &done {
        assert!(text(&after).contains(&format!("Name=\"{name}\"")), "{name} in {}", text(&after));
    }
    // Another session made none: it is answered what was recorded.
    let (other, _) = session(&c, &mock.url, false).await;
    assert_eq!(sessions(text(&query(&c, &mock.url, &other, false, q).await)), recorded);
}

#[tokio::test]
async fn a_query_neither_filtered_nor_sorted_pages_the_whole_type_and_counts_what_restores_made() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, logon) = session(&c, &mock.url, false).await;
    let ids = |body: &str| -> Vec<String> {
        body.split("<Ref ").skip(1).map(|r| r.split('"').nth(1).unwrap_or_default().to_owned()).collect()
    };
    let whole = query(&c, &mock.url, &token, false, "type=VmRestorePoint").await;
    assert_eq!(whole.status, 200, "{}", text(&whole));
    let whole = ids(text(&whole));
    assert!(whole.len() > 3, "{whole:?}");
    let mut paged = Vec::new();
    for page in 1..=whole.len().div_ceil(2) {
        let q = format!("type=VmRestorePoint&pageSize=2&page={page}");
        paged.extend(ids(text(&query(&c, &mock.url, &token, false, &q).await)));
    }
    assert_eq!(paged, whole, "the pages, one after the other, are the whole");
    let past = format!("type=VmRestorePoint&pageSize=2&page={}", whole.len());
    assert!(ids(text(&query(&c, &mock.url, &token, false, &past).await)).is_empty(), "past the last page");
    // Sorted by a field no point has, the rows keep their order: the one a plain query gives.
    let unsorted = query(&c, &mock.url, &token, false, "type=VmRestorePoint&sortAsc=NoSuchField").await;
    assert_eq!(ids(text(&unsorted)), whole, "{}", text(&unsorted));
    let before = ids(text(&query(&c, &mock.url, &token, false, "type=RestoreSession").await));
    let done = restore_every_point_in(&c, false, &token, &logon).await;
    let after = query(&c, &mock.url, &token, false, "type=RestoreSession").await;
    let made = ids(text(&after));
    assert!(made.len() > before.len() && made.starts_with(&before), "recorded first, then made: {made:?}");
    for (_, name) in &done {
        assert!(text(&after).contains(&format!("Name=\"{name}\"")), "{name} in {}", text(&after));
    }
}

#[tokio::test]
async fn the_query_service_finds_a_vms_newest_point_and_pages_to_the_older() {
    let mock = Emtape::serve(&[]);
    let c = client();
    for json in [false, true] {
        let (token, _) = session(&c, &mock.url, json).await;
        let q = "type=VmRestorePoint&filter=VmDisplayName==%22ubuntu88%22&sortDesc=CreationTime&pageSize=1";
        let first = query(&c, &mock.url, &token, json, q).await;
        assert_eq!(first.status, 200, "{}", text(&first));
        let body = text(&first);
        assert!(body.contains("6c958531-3177-4055-b0ce-dc4ef1ce6433"), "{body}");
        assert!(!body.contains("f5fbed2b"), "{body}");
        if json {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(at(&v, &["Refs", "Refs"]).as_array().unwrap().len(), 1, "{v}");
            assert_eq!(at(&v, &["PagingInfo", "PagesCount"]), 2);
        } else {
            assert!(body.contains("PagesCount=\"2\""), "{body}");
            assert!(body.contains("&amp;pageSize=1&amp;page=2"), "XML escapes & in links: {body}");
        }
        let next = links(body, json).into_iter().find(|l| l.rel == "Next").expect("Next").href;
        let older = get(&c, &next, json, &token).await;
        assert_eq!(older.status, 200);
        assert!(text(&older).contains("f5fbed2b-697c-415a-be75-086be4034e1e"), "{}", text(&older));
        assert!(links(text(&older), json).iter().any(|l| l.rel == "Previous"));
        assert!(!links(text(&older), json).iter().any(|l| l.rel == "Next"));
    }
}

#[tokio::test]
async fn query_filters_combine_with_and_or_parentheses_and_quotes() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, _) = session(&c, &mock.url, false).await;
    let count = |body: &str| {
        body.matches("<Ref ").count()
            + body.matches("<VmRestorePoint ").count()
            + body.matches("<BackupJobSession ").count()
    };
    let cases = [
        ("type=vmrestorepoint", 4),
        ("type=VmRestorePoint&filter=VmDisplayName==ubuntu88,VmDisplayName==dc01", 3),
        ("type=VmRestorePoint&filter=VmDisplayName==ubuntu88;CreationTime>=%222025-10-20%22", 1),
        ("type=VmRestorePoint&filter=(VmDisplayName==oracle03,VmDisplayName==dc01);Algorithm==Full", 2),
        ("type=VmRestorePoint&filter=(VmDisplayName==oracle03,VmDisplayName==dc01);Algorithm==Incremental", 0),
        ("type=VmRestorePoint&filter=name==\"ubuntu88@2025-10-19 20:03:51\"", 1),
        ("type=VmRestorePoint&filter=name==\"ubuntu88@2025-10-19+20:03:51\"", 1),
        ("type=VmRestorePoint&sortAsc=Name", 4),
        ("type=VmRestorePoint&filter=vmdisplayname!=ubuntu88", 2),
        ("type=VmRestorePoint&filter=BackupServerName==%22enterprise01.tech.local%22", 2),
        ("type=VmRestorePoint&filter=VmDisplayName==nosuchvm", 0),
        ("type=VmRestorePoint&format=Entities&filter=VmDisplayName==dc01", 1),
        ("type=BackupServer", 3),
        ("type=Job", 4),
        ("type=BackupJobSession&filter=Result==Failed", 13),
        ("type=BackupJobSession&filter=JobName==%22DC Backup%22;Result==Warning", 1),
        ("type=Repository&filter=Capacity>500000000000", 3),
    ];
    for (q, expected) in cases {
        let q = q.replace(' ', "%20").replace('>', "%3E").replace('"', "%22");
        let r = query(&c, &mock.url, &token, false, &q).await;
        assert_eq!(r.status, 200, "{q}: {}", text(&r));
        assert_eq!(count(text(&r)), expected, "{q}: {}", text(&r));
        assert!(text(&r).contains("<PagingInfo PageNum=\"1\""), "{q}: {}", text(&r));
    }
    let entities =
        query(&c, &mock.url, &token, false, "type=VmRestorePoint&format=Entities&filter=VmDisplayName==dc01").await;
    assert!(text(&entities).contains("<Entities>\n    <VmRestorePoints>"), "{}", text(&entities));
    assert!(text(&entities).contains("<VmName>dc01</VmName>"), "{}", text(&entities));
    for (q, why) in [
        ("type=VmRestorePoint&filter=VmDisplayName=~ubuntu88", "operator"),
        ("type=VmRestorePoint&filter=(VmDisplayName==ubuntu88", "`)`"),
        ("type=VmRestorePoint&filter=VmDisplayName==%22ubuntu88", "not closed"),
        ("type=VmRestorePoint&filter=Colour==red", "Unknown field Colour"),
        ("type=Nothing", "Unknown query type"),
        ("type=VmRestorePoint&pageSize=0", "pageSize must be a positive"),
    ] {
        let r = query(&c, &mock.url, &token, false, q).await;
        assert_eq!(r.status, 400, "{q}: {}", text(&r));
        assert!(text(&r).contains(why), "{q}: {}", text(&r));
    }
}

#[tokio::test]
async fn a_client_that_checks_its_token_is_dead_after_logout_replays_what_it_recorded() {
    let dir = temp_dir("dead-token");
    let out = dir.join("dead-token.yaml");
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
    let client_run = |base: String| async move {
        let c = client();
        let (token, logon) = session(&c, &base, false).await;
        let list_url = link(&logon, false, "Down", Some("VmRestorePointReferenceList"));
        assert_eq!(get(&c, &list_url, false, &token).await.status, 200);
        let logout = send(&c, "DELETE", &link(&logon, false, "Delete", None), &with_token(&[], &token), "").await;
        assert_eq!(logout.status, 204);
        let dead = get(&c, &list_url, false, &token).await;
        assert_eq!(dead.status, 401, "the token is dead after logout: {}", text(&dead));
        // The next client logs on and reads the list: it must get the list, not the 401.
        let (again, _) = session(&c, &base, false).await;
        let list = get(&c, &list_url, false, &again).await;
        assert_eq!(list.status, 200, "{}", text(&list));
    };
    client_run(recorder.url.clone()).await;
    recorder.stop();
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("status: 401"), "the recorder kept the evidence:\n{written}");
    let replay = Emtape::serve(&[out.to_str().unwrap()]);
    client_run(replay.url.clone()).await;
    client_run(replay.url.clone()).await;
}

#[test]
fn emtape_run_restores_every_listed_vm_from_both_shipped_releases() {
    let releases = [
        ("cassettes/reference", false, &["oracle03", "ubuntu88", "dc01"][..]),
        ("tests/fixtures/em-9.5-2013", true, &["sql01-hv", "hp_vm1"][..]),
    ];
    for (release, json, vms) in releases {
        for vm in vms {
            let file = cassette(release, json);
            let var = format!("vm={vm}");
            let mut args = vec!["run", "--cassette", &file, "--var", &var];
            if json {
                args.extend(["--var", "accept=application/json"]);
            }
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{release} {vm}:\n{out}\n{err}");
        }
    }
}

#[tokio::test]
async fn hostile_nesting_gets_a_400_not_a_crashed_server() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let anonymous = send(&c, "GET", &format!("{}/api/query?type=VmRestorePoint&filter=a==1", mock.url), &[], "").await;
    assert_eq!(anonymous.status, 401, "the query service needs a session before it parses anything");
    let (token, _) = session(&c, &mock.url, false).await;
    let deep = format!("{}a==1{}", "%28".repeat(5000), "%29".repeat(5000));
    let r = query(&c, &mock.url, &token, false, &format!("type=VmRestorePoint&filter={deep}")).await;
    assert_eq!(r.status, 400, "{}", &text(&r)[..200.min(text(&r).len())]);
    let spec = format!("<RestoreSpec>{}{}</RestoreSpec>", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let url = format!("{}/api/vmRestorePoints/92357047-d358-4326-8d6d-28bc619b2876?action=restore", mock.url);
    let r = send(&c, "POST", &url, &with_token(&[("Content-Type", "application/xml")], &token), &spec).await;
    assert_eq!(r.status, 400);
    assert!(text(&r).contains("nest deeper"), "{}", text(&r));
    assert_eq!(get(&c, &format!("{}/api/", mock.url), false, &token).await.status, 200, "still serving");
}

#[tokio::test]
async fn a_restore_session_a_restore_made_is_listed_once() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let (token, _) = session(&c, &mock.url, false).await;
    let before = query(&c, &mock.url, &token, false, "type=RestoreSession").await;
    let recorded = text(&before).matches("<Ref ").count();
    assert_eq!(recorded, 3, "the restore flow's and two more of the estate: {}", text(&before));
    for point in ["6c958531-3177-4055-b0ce-dc4ef1ce6433", "92357047-d358-4326-8d6d-28bc619b2876"] {
        let url = format!("{}/api/vmRestorePoints/{point}?action=restore", mock.url);
        assert_eq!(send(&c, "POST", &url, &with_token(&[], &token), "").await.status, 202);
    }
    let after = query(&c, &mock.url, &token, false, "type=RestoreSession").await;
    // The recorded listing shows the new one to the session that made it.
    let listed = get(&c, &format!("{}/api/restoreSessions", mock.url), false, &token).await;
    assert_eq!(text(&listed).matches("<Ref ").count(), recorded + 1, "{}", text(&listed));
    assert_eq!(
        text(&after).matches("<Ref ").count(),
        recorded + 1,
        "the recorded ones (one restored again) and dc01's new one: {}",
        text(&after)
    );
}

/// curl sends `"`, `<` and `>` as typed; EM answers, and hyper alone gave an empty 400.
#[tokio::test]
async fn a_query_typed_with_raw_quotes_and_comparisons_is_answered_as_curl_sends_it() {
    use std::io::{Read, Write};
    let mock = Emtape::serve(&[]);
    let (token, _) = session(&client(), &mock.url, false).await;
    let target = "/api/query?type=VmRestorePoint&filter=VmDisplayName==\"ubuntu88\";CreationTime>\"2025-10-20\"";
    let mut tcp = std::net::TcpStream::connect(mock.url.trim_start_matches("http://")).unwrap();
    write!(tcp, "GET {target} HTTP/1.1\r\nHost: x\r\nX-RestSvcSessionId: {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("<Ref ").count(), 1, "{answer}");
}

/// A derived restore point of another VM carried its sibling's HierarchyObjRef: dc01 and
/// ubuntu88 were one VM to a client keying on it. Each VM now has its own, the same for all
/// its points, in XML and JSON alike.
#[tokio::test]
async fn derived_points_of_other_vms_have_their_own_hierarchy_ref() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let mut by_vm: std::collections::HashMap<String, HashSet<String>> = Default::default();
    for json in [false, true] {
        let (token, _) = session(&c, &mock.url, json).await;
        let list = get(&c, &format!("{}/api/vmRestorePoints", mock.url), json, &token).await;
        let hrefs: HashSet<String> =
            links(text(&list), json).into_iter().filter(|l| l.rel == "Alternate").map(|l| l.href).collect();
        assert_eq!(hrefs.len(), 4, "{}", text(&list));
        for href in hrefs {
            let point = get(&c, &href, json, &token).await;
            let vm = match json {
                true => value(text(&point), true, "VmDisplayName"),
                false => emtape::xml::parse(text(&point)).unwrap().attribute("VmDisplayName").map(str::to_owned),
            }
            .unwrap();
            let hierarchy = value(text(&point), json, "HierarchyObjRef").unwrap();
            by_vm.entry(vm).or_default().insert(hierarchy);
        }
    }
    assert_eq!(by_vm.len(), 3, "{by_vm:?}");
    assert!(by_vm.values().all(|refs| refs.len() == 1), "one per VM, XML and JSON alike: {by_vm:?}");
    let distinct: HashSet<&String> = by_vm.values().flatten().collect();
    assert_eq!(distinct.len(), 3, "{by_vm:?}");
}

/// A derived point copied its sibling's `Algorithm=Incremental`/`PointType=Increment` although
/// its listing names a `.vbk` (a full backup file): the type fields follow what the listing says.
#[tokio::test]
async fn a_derived_point_is_full_or_incremental_as_its_listed_backup_file_says() {
    let mock = Emtape::serve(&[]);
    let c = client();
    let file_kind = regex::Regex::new(r"\.(vbk|vib)\b").unwrap();
    for json in [false, true] {
        let (token, _) = session(&c, &mock.url, json).await;
        let list = get(&c, &format!("{}/api/vmRestorePoints", mock.url), json, &token).await;
        // Each reference names its backup file once, in the order of the references.
        let files: Vec<String> = file_kind.find_iter(text(&list)).map(|m| m.as_str().to_owned()).collect();
        let points: Vec<String> =
            links(text(&list), json).into_iter().filter(|l| l.rel == "Alternate").map(|l| l.href).collect();
        assert_eq!((files.len(), points.len()), (4, 4), "{}", text(&list));
        for (href, file) in points.iter().zip(&files) {
            let point = get(&c, href, json, &token).await;
            let fields = (value(text(&point), json, "Algorithm"), value(text(&point), json, "PointType"));
            let want = if file.ends_with(".vbk") { ("Full", "Full") } else { ("Incremental", "Increment") };
            assert_eq!(fields, (Some(want.0.to_owned()), Some(want.1.to_owned())), "{href} ({file}, json {json})");
        }
    }
}

/// JSON of a GET, keys matched whatever their case.
async fn json_of(c: &Client, base: &str, token: &str, path: &str) -> serde_json::Value {
    let r = get(c, &format!("{base}{path}"), true, token).await;
    assert_eq!(r.status, 200, "{path}: {}", text(&r));
    serde_json::from_str(text(&r)).unwrap()
}

fn items<'a>(v: &'a serde_json::Value, key: &str) -> &'a Vec<serde_json::Value> {
    at(v, &[key]).as_array().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn number(v: &serde_json::Value, key: &str) -> u64 {
    at(v, &[key]).as_u64().unwrap_or_else(|| panic!("no number {key} in {v}"))
}

/// A client cross-checking the summary reports against the entities finds no contradiction,
/// and the query service returns what the collections list, on every release.
#[tokio::test]
async fn the_summary_reports_agree_with_the_entities_and_the_query_service_with_the_collections() {
    let c = client();
    for release in SHIPPED {
        let mock = Emtape::serve(&[&cassette(release, true), &estate(release, true)]);
        let (token, _) = session(&c, &mock.url, true).await;
        let j = |path: &'static str| json_of(&c, &mock.url, &token, path);
        let (overview, stats, vms, repo) = (
            j("/api/reports/summary/overview").await,
            j("/api/reports/summary/job_statistics").await,
            j("/api/reports/summary/vms_overview").await,
            j("/api/reports/summary/repository").await,
        );
        let servers = j("/api/backupServers?format=Entity").await;
        assert_eq!(number(&overview, "BackupServers"), items(&servers, "BackupServers").len() as u64, "{release}");
        let repositories = j("/api/repositories?format=Entity").await;
        let repositories = items(&repositories, "Repositories");
        let periods = items(&repo, "Periods");
        assert_eq!(periods.len(), repositories.len(), "{release}");
        for (p, r) in periods.iter().zip(repositories) {
            for key in ["Name", "Capacity", "FreeSpace"] {
                assert_eq!(at(p, &[key]), at(r, &[key]), "{release}: {key} of {p}");
            }
        }
        let mut jobs = items(&j("/api/jobs?format=Entity").await, "Jobs").clone();
        if release != "cassettes/em-9.5" {
            jobs.extend(items(&j("/api/nas/jobs?format=Entity").await, "NASJobs").iter().cloned());
        }
        let scheduled = jobs.iter().filter(|j| at(j, &["ScheduleEnabled"]) == true).count() as u64;
        assert_eq!(number(&overview, "ScheduledJobs"), scheduled, "{release}");
        assert_eq!(number(&stats, "ScheduledJobs"), scheduled, "{release}");
        assert_eq!(
            number(&stats, "ScheduledJobs"),
            number(&stats, "ScheduledBackupJobs") + number(&stats, "ScheduledReplicaJobs")
        );
        assert_eq!(
            number(&stats, "TotalJobRuns"),
            number(&stats, "SuccessfulJobRuns") + number(&stats, "WarningsJobRuns") + number(&stats, "FailedJobRuns")
        );
        assert!(number(&stats, "FailedJobRuns") > 0, "{release}: the estate has failures to report");
        let points = j("/api/vmRestorePoints?format=Entity").await;
        let points = items(&points, "VmRestorePoints");
        assert_eq!(number(&vms, "RestorePoints"), points.len() as u64, "{release}");
        let backed: HashSet<&str> = points.iter().filter_map(|p| at(p, &["VmDisplayName"]).as_str()).collect();
        assert_eq!(number(&vms, "BackedUpVms"), backed.len() as u64, "{release}");
        let replica_points = j("/api/vmReplicaPoints?format=Entity").await;
        let replicated: HashSet<&str> = items(&replica_points, "VmReplicaPoints")
            .iter()
            .filter_map(|p| at(p, &["VmDisplayName"]).as_str())
            .collect();
        assert_eq!(number(&vms, "ReplicatedVms"), replicated.len() as u64, "{release}");
        assert_eq!(number(&vms, "ProtectedVms"), backed.union(&replicated).count() as u64, "{release}");
        let states = number(&overview, "SuccessfulVmLastestStates")
            + number(&overview, "WarningVmLastestStates")
            + number(&overview, "FailedVmLastestStates");
        assert_eq!(states, backed.union(&replicated).count() as u64, "{release}: one latest state per VM");

        // The query service lists what the collections list.
        for (kind, collection) in [
            ("BackupJobSession", "/api/backupSessions"),
            ("ReplicaJobSession", "/api/replicaSessions"),
            ("BackupTaskSession", "/api/backupTaskSessions"),
            ("Job", "/api/jobs"),
            ("Repository", "/api/repositories"),
            ("BackupFile", "/api/backupFiles"),
            ("VmRestorePoint", "/api/vmRestorePoints"),
            ("BackupServer", "/api/backupServers"),
            ("RestorePoint", "/api/restorePoints"),
            ("HierarchyRoot", "/api/hierarchyRoots"),
        ] {
            let hrefs = |v: &serde_json::Value| -> HashSet<String> {
                let mut out = HashSet::new();
                fn walk(v: &serde_json::Value, out: &mut HashSet<String>) {
                    match v {
                        serde_json::Value::Object(m) => {
                            let reference =
                                member(m, "Type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("Reference"));
                            if let (true, Some(h)) = (reference, member(m, "Href").and_then(|h| h.as_str())) {
                                out.insert(h.to_owned());
                            }
                            m.values().for_each(|x| walk(x, out));
                        }
                        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                        _ => {}
                    }
                }
                walk(v, &mut out);
                out
            };
            let listed = hrefs(&json_of(&c, &mock.url, &token, collection).await);
            let queried =
                hrefs(&json_of(&c, &mock.url, &token, &format!("/api/query?type={kind}&pageSize=1000")).await);
            assert!(!listed.is_empty(), "{release}: {collection} lists nothing");
            assert_eq!(queried, listed, "{release}: type={kind} against {collection}");
        }
    }
}

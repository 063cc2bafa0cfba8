//! Helpers: start the binary, talk to it with a real client, walk the EM restore flow.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use emtape::http::client::Client;
use emtape::http::tls::{self, Trust};
use emtape::http::{Headers, Response};

pub const BIN: &str = env!("CARGO_BIN_EXE_emtape");

/// A running `emtape` process that printed `listening on URL`.
pub struct Emtape {
    child: Child,
    pub url: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Emtape {
    /// `emtape ARGS...`, waiting for its `listening on` line.
    pub fn start(args: &[&str]) -> Emtape {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start emtape");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read the first line");
        let url = match line.trim().strip_prefix("listening on ") {
            Some(url) => url.to_owned(),
            None => {
                let _ = child.wait();
                panic!("first line was {line:?}; stderr: {}", stderr.lock().unwrap());
            }
        };
        let stdout = Arc::new(Mutex::new(String::new()));
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Emtape { child, url, stderr, stdout }
    }

    /// `emtape serve ARGS... --listen 127.0.0.1:0`.
    pub fn serve(args: &[&str]) -> Emtape {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Emtape::start(&all)
    }

    /// `emtape record --upstream UPSTREAM --out OUT EXTRA... --listen 127.0.0.1:0`.
    pub fn record(upstream: &str, out: &std::path::Path, extra: &[&str]) -> Emtape {
        let out = out.to_str().expect("a UTF-8 path");
        let mut all = vec!["record", "--listen", "127.0.0.1:0", "--upstream", upstream, "--out", out];
        all.extend_from_slice(extra);
        Emtape::start(&all)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the process to exit by itself: (status, the rest of stdout, stderr).
    pub fn wait(mut self) -> (ExitStatus, String, String) {
        let status = wait_for(&mut self.child);
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        (status, out, self.stderr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(self) -> (ExitStatus, String) {
        let (status, _, stderr) = self.stop_with_output();
        (status, stderr)
    }

    /// Stops it (SIGTERM): (status, the rest of stdout, stderr).
    pub fn stop_with_output(mut self) -> (ExitStatus, String, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let status = wait_for(&mut self.child);
        std::thread::sleep(Duration::from_millis(50));
        let out = self.stdout.lock().unwrap().clone();
        (status, out, self.stderr())
    }
}

impl Drop for Emtape {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(child: &mut Child) -> ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("emtape did not exit within 5 s");
}

/// Runs `emtape ARGS...` to completion: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run emtape");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn client() -> Client {
    Client::new(None).with_timeout(Duration::from_secs(10))
}

pub fn tls_client(ca: &Path) -> Client {
    let tls = tls::client(&Trust { ca_files: vec![ca.to_owned()], insecure: false }).expect("client tls");
    Client::new(Some(tls)).with_timeout(Duration::from_secs(10))
}

pub fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

pub async fn send(client: &Client, method: &str, url: &str, h: &[(&str, &str)], body: &str) -> Response {
    client
        .send(method, url, &headers(h), Bytes::from(body.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub fn text(r: &Response) -> &str {
    std::str::from_utf8(&r.body).expect("utf-8 body")
}

/// A folder of this run's own, `emtape-test-NAME-PID` in the system's temporary folder, made
/// empty. The first call of a run also removes the folders earlier runs left (a test keeps its
/// folder to the end, for a failure to be looked at; a run's are hundreds of MB), except those
/// of a run still going.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_earlier_runs);
    let dir = std::env::temp_dir().join(format!("emtape-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes the test folders of runs that have ended: their process is gone (known where
/// `/proc` says so; elsewhere nothing is removed).
fn sweep_earlier_runs() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("emtape-test-") else { continue };
        let Some(pid) = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A link in an EM body, XML or JSON.
#[derive(Clone, Debug)]
pub struct Link {
    pub rel: String,
    pub kind: Option<String>,
    pub href: String,
}

/// The member a name names, whatever the case of its key: the test clients read JSON as a
/// client robust to EM 13's camelCase keys does.
pub fn member<'a>(m: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> Option<&'a serde_json::Value> {
    m.get(name).or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// Every `Link` in a body, in document order.
pub fn links(body: &str, json: bool) -> Vec<Link> {
    let mut out = Vec::new();
    if json {
        fn walk(v: &serde_json::Value, out: &mut Vec<Link>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let (Some(rel), Some(href)) =
                        (member(m, "Rel").and_then(|v| v.as_str()), member(m, "Href").and_then(|v| v.as_str()))
                    {
                        out.push(Link {
                            rel: rel.into(),
                            kind: member(m, "Type").and_then(|v| v.as_str()).map(Into::into),
                            href: href.into(),
                        });
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(&serde_json::from_str(body).expect("JSON body"), &mut out);
    } else {
        fn walk(e: &emtape::xml::Element, out: &mut Vec<Link>) {
            if e.name == "Link" {
                out.push(Link {
                    rel: e.attribute("Rel").unwrap_or_default().into(),
                    kind: e.attribute("Type").map(Into::into),
                    href: e.attribute("Href").unwrap_or_default().into(),
                });
            }
            e.elements().for_each(|c| walk(c, out));
        }
        walk(&emtape::xml::parse(body).expect("XML body"), &mut out);
    }
    out
}

pub fn link(body: &str, json: bool, rel: &str, kind: Option<&str>) -> String {
    links(body, json)
        .into_iter()
        .find(|l| l.rel == rel && (kind.is_none() || l.kind.as_deref() == kind))
        .unwrap_or_else(|| panic!("no link Rel={rel} Type={kind:?} in {body}"))
        .href
}

/// A value by element name (XML) or key (JSON), first found.
pub fn value(body: &str, json: bool, name: &str) -> Option<String> {
    if json {
        fn find(v: &serde_json::Value, name: &str) -> Option<String> {
            match v {
                serde_json::Value::Object(m) => member(m, name)
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .or_else(|| m.values().find_map(|v| find(v, name))),
                serde_json::Value::Array(a) => a.iter().find_map(|v| find(v, name)),
                _ => None,
            }
        }
        find(&serde_json::from_str(body).ok()?, name)
    } else {
        fn find(e: &emtape::xml::Element, name: &str) -> Option<String> {
            if e.name == name {
                return Some(e.text());
            }
            e.elements().find_map(|c| find(c, name))
        }
        find(&emtape::xml::parse(body).ok()?, name)
    }
}

/// `headers` plus the session token header.
pub fn with_token<'a>(headers: &[(&'a str, &'a str)], token: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut h = headers.to_vec();
    h.push(("X-RestSvcSessionId", token));
    h
}

/// What a client saw walking the VM restore flow.
#[derive(Debug)]
pub struct FlowRecord {
    pub token: String,
    /// The LogonSession id, lower-case.
    pub session_id: String,
    pub task_states: Vec<String>,
    pub restore_session_state: String,
}

/// Walks the VM restore flow of the EM documentation the way a HATEOAS client does: only the
/// root URL is typed, every other URL comes from a link. Asserts the contract at each step.
pub async fn restore_flow(client: &Client, base: &str, json: bool) -> FlowRecord {
    let accept: &[(&str, &str)] = if json { &[("Accept", "application/json")] } else { &[] };
    let assert_local = |body: &str| {
        for l in links(body, json) {
            assert!(l.href.starts_with(base), "link {} leaves the mock {base}", l.href);
        }
    };

    let root = send(client, "GET", &format!("{base}/api/"), accept, "").await;
    assert_eq!(root.status, 200, "{}", text(&root));
    assert_local(text(&root));
    let logon_url = links(text(&root), json)
        .into_iter()
        .find(|l| l.rel == "Create" && l.href.ends_with("v=latest"))
        .expect("logon link")
        .href;

    let mut logon_headers = accept.to_vec();
    logon_headers.push(("Authorization", "Basic dXNlcjpwYXNzd29yZA=="));
    let logon = send(client, "POST", &logon_url, &logon_headers, "").await;
    assert_eq!(logon.status, 201, "{}", text(&logon));
    let token = logon.headers.get("x-restsvcsessionid").expect("token header").to_owned();
    let session_id = value(text(&logon), json, "SessionId").expect("SessionId");
    // EM 13 mints opaque tokens (16 random bytes in base64, unrelated to the session id); EM 12
    // and before, the session id in base64.
    let decoded = emtape::codec::base64_decode(&token).expect("a base64 token");
    assert!(decoded.len() == 16 || decoded == session_id.as_bytes(), "a token as EM mints it: {token}");
    assert_eq!(logon.headers.get("location"), Some(format!("{base}/api/logonSessions/{session_id}").as_str()));
    assert!(logon.headers.get("set-cookie").unwrap().contains(&format!("X-RestSvcSessionId={token}")));
    assert_eq!(links(text(&logon), json).len(), 54, "the v13 LogonSession has 54 links");
    assert_local(text(&logon));
    let logout_url = link(text(&logon), json, "Delete", None);
    assert!(logout_url.ends_with(&session_id));

    let list = send(
        client,
        "GET",
        &link(text(&logon), json, "Down", Some("VmRestorePointReferenceList")),
        &with_token(accept, &token),
        "",
    )
    .await;
    assert_eq!(list.status, 200, "{}", text(&list));
    assert_local(text(&list));
    let entity_url = links(text(&list), json)
        .into_iter()
        .find(|l| l.rel == "Alternate" && l.href.contains("6c958531"))
        .expect("Alternate link of ubuntu88")
        .href;

    let entity = send(client, "GET", &entity_url, &with_token(accept, &token), "").await;
    assert_eq!(entity.status, 200, "{}", text(&entity));
    let vm = match json {
        true => value(text(&entity), true, "VmDisplayName"),
        false => emtape::xml::parse(text(&entity)).ok().and_then(|r| r.attribute("VmDisplayName").map(str::to_owned)),
    };
    assert_eq!(vm.as_deref(), Some("ubuntu88"), "{}", text(&entity));
    let restore_url = link(text(&entity), json, "Restore", None);

    let task = send(client, "POST", &restore_url, &with_token(accept, &token), "").await;
    assert_eq!(task.status, 202, "{}", text(&task));
    let mut task_states = vec![value(text(&task), json, "State").unwrap()];
    let task_url = link(text(&task), json, "Delete", Some("Task"));
    let finished = loop {
        let poll = send(client, "GET", &task_url, &with_token(accept, &token), "").await;
        assert_eq!(poll.status, 200);
        let state = value(text(&poll), json, "State").unwrap();
        task_states.push(state.clone());
        if state == "Finished" {
            break poll;
        }
        assert!(task_states.len() < 10, "the task never finishes: {task_states:?}");
    };
    let success = if json {
        value(text(&finished), true, "Success")
    } else {
        Some(text(&finished).contains("<Result Success=\"true\">").to_string())
    };
    assert_eq!(success.as_deref(), Some("true"));
    let session_url = link(text(&finished), json, "Related", Some("RestoreSession"));
    let restore_session = send(client, "GET", &session_url, &with_token(accept, &token), "").await;
    assert_eq!(restore_session.status, 200);
    assert_eq!(value(text(&restore_session), json, "Result").as_deref(), Some("Success"));
    let restore_session_state = value(text(&restore_session), json, "State").unwrap();

    let logout = send(client, "DELETE", &logout_url, &with_token(accept, &token), "").await;
    assert_eq!(logout.status, 204);
    FlowRecord { token, session_id: session_id.to_ascii_lowercase(), task_states, restore_session_state }
}

/// Logs on to `base` with Basic auth (and `extra` headers); the session token.
pub async fn logon(base: &str, extra: &[(&str, &str)]) -> String {
    logon_session(base, extra).await.0
}

/// Logs on; (token, LogonSession id). The id comes from the logon's Location, as a client reads
/// it: EM 13's tokens are opaque, not the id in base64.
pub async fn logon_session(base: &str, extra: &[(&str, &str)]) -> (String, String) {
    let mut h = vec![("Authorization", "Basic dXNlcjpwYXNzd29yZA==")];
    h.extend_from_slice(extra);
    let r = send(&client(), "POST", &format!("{base}/api/sessionMngr/?v=latest"), &h, "").await;
    assert_eq!(r.status, 201, "{}", text(&r));
    (r.headers.get("x-restsvcsessionid").unwrap().to_owned(), session_id(&r))
}

/// The LogonSession id a logon's answer names in its Location.
pub fn session_id(logon: &emtape::http::Response) -> String {
    emtape::em::session::logon_session_id(logon).expect("the logon names its LogonSession")
}

/// An EM that serves its root document (the reference cassettes') and refuses every logon with
/// EM's 401 `Error`, as for wrong credentials. It serves on its own thread until dropped.
pub struct RefusingEm {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Refuses(emtape::mock::Mock);

impl emtape::http::server::Handler for Refuses {
    async fn handle(&self, req: emtape::http::Request) -> emtape::http::server::Reply {
        let path = req.target.split('?').next().unwrap_or("/");
        if emtape::em::is_logon_path(&emtape::em::normalize_path(path)) {
            let repr = emtape::em::Repr::from_accept(&req.headers);
            return emtape::em::unauthorized(repr, "Authentication failed: wrong user name or password.").into();
        }
        self.0.respond(&req).into()
    }
}

impl RefusingEm {
    pub fn start() -> RefusingEm {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let mock = emtape::mock::Mock::new(emtape::cassette::reference().unwrap(), Default::default());
                let server = emtape::http::server::Server::bind("127.0.0.1:0", None).await.unwrap();
                url_tx.send(server.base_url()).unwrap();
                server
                    .run(Arc::new(Refuses(mock)), Default::default(), async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let url = url_rx.recv().expect("the refusing EM listens");
        RefusingEm { url, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for RefusingEm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

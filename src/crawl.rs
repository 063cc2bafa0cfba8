//! `emtape crawl`: a release's whole read surface on tape. Logs on, follows every link a client
//! may GET breadth-first (never anything but GET, apart from the logon and the logout), and
//! records every exchange as `record` does: redacted, host placeholders, written one by one so
//! an interrupted crawl leaves a cassette that loads.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::base64_encode;
use crate::em::{self, Repr};
use crate::http::Headers;
use crate::http::client::Client;
use crate::record::{Recorder, Sent};

/// The log target of the crawl's progress lines: a terminal rewrites one line in place (the
/// binary's logger does), an empty line ends it.
pub const PROGRESS: &str = "emtape::progress";

/// How to crawl.
pub struct CrawlOptions {
    pub base: String,
    pub user: String,
    pub password: String,
    pub reprs: Vec<Repr>,
    pub max_requests: usize,
    pub depth: usize,
    /// Items opened per list.
    pub sample: usize,
    pub concurrency: usize,
    /// Requests per second at most.
    pub rate: Option<f64>,
    /// Only links whose Type or path contains one of these (case-insensitive), when given.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Print a progress line this often.
    pub progress: Option<Duration>,
    /// Set when the user asked the crawl to stop (Ctrl-C): what is in flight finishes, nothing
    /// new starts, the session is logged out.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// What a crawl did, per Type.
#[derive(Debug, Default)]
pub struct CrawlReport {
    pub requests: usize,
    /// Type → (answered, failures with status or reason).
    pub by_type: BTreeMap<String, (usize, Vec<String>)>,
    pub stopped_at_max: bool,
    /// The crawl was asked to stop before it was done.
    pub interrupted: bool,
    /// Requests that got no answer (network, TLS, timeout).
    pub unanswered: usize,
    /// EM refused the logon (wrong credentials, no role): what to tell the user. Nothing was
    /// crawled or recorded, and the other representation was not tried.
    pub refused: Option<String>,
}

impl CrawlReport {
    pub fn failures(&self) -> usize {
        self.by_type.values().map(|(_, f)| f.len()).sum()
    }
}

/// A link to follow: target URL, the Type that named it, its depth.
struct Job {
    url: String,
    kind: String,
    depth: usize,
}

const RELS: [&str; 8] = ["Down", "Up", "Alternate", "Related", "First", "Next", "Previous", "Last"];

/// A link a client may GET: its Href, and the Rel (none for a reference's own Href) and Type
/// that name it.
pub(crate) struct Found {
    pub href: String,
    pub rel: Option<String>,
    pub kind: String,
}

/// The links a client may GET in a body; of a list's items only the first `sample` are taken
/// (their own Href and the links inside them).
pub(crate) fn links(body: &str, repr: Repr, sample: usize) -> Vec<Found> {
    let mut out = Vec::new();
    match repr {
        Repr::Xml => xml_links(body, sample, &mut out),
        Repr::Json => {
            fn walk(v: &serde_json::Value, sample: usize, out: &mut Vec<Found>) {
                match v {
                    serde_json::Value::Object(m) => {
                        if let Some(href) = m.get("Href").and_then(|h| h.as_str()) {
                            let kind = m.get("Type").and_then(|t| t.as_str()).unwrap_or("").to_owned();
                            let rel = m.get("Rel").and_then(|r| r.as_str()).map(str::to_owned);
                            if rel.as_deref().is_none_or(|r| RELS.contains(&r)) {
                                out.push(Found { href: href.to_owned(), rel, kind });
                            }
                        }
                        m.values().for_each(|x| walk(x, sample, out));
                    }
                    serde_json::Value::Array(a) => {
                        let mut items = 0;
                        for x in a {
                            let item = x.get("Href").is_some() && x.get("Rel").is_none();
                            if item {
                                items += 1;
                                if items > sample {
                                    continue;
                                }
                            }
                            walk(x, sample, out);
                        }
                    }
                    _ => {}
                }
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                walk(&v, sample, &mut out);
            }
        }
    }
    out
}

/// The XML side of [`links`], streamed: a 10,000-item list is read once, without building its
/// tree, and the items past `sample` are skipped whole.
fn xml_links(body: &str, sample: usize, out: &mut Vec<Found>) {
    use quick_xml::events::{BytesStart, Event};
    /// Per open element: how many items it holds so far, and whether it is skipped.
    struct Frame {
        items: usize,
        skipped: bool,
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<Frame> = Vec::new();
    let visit = |e: &BytesStart<'_>, stack: &mut Vec<Frame>, out: &mut Vec<Found>| -> bool {
        if stack.last().is_some_and(|f| f.skipped) {
            return true;
        }
        let (mut href, mut rel, mut kind) = (None, None, String::new());
        for a in e.attributes().flatten() {
            let value = || a.unescape_value().map(|v| v.into_owned()).ok();
            match a.key.local_name().as_ref() {
                b"Href" => href = value(),
                b"Rel" => rel = value(),
                b"Type" => kind = value().unwrap_or_default(),
                _ => {}
            }
        }
        let Some(href) = href else { return false };
        let link = e.local_name().as_ref() == b"Link";
        if !link {
            if let Some(parent) = stack.last_mut() {
                parent.items += 1;
                if parent.items > sample {
                    return true;
                }
            }
        }
        let rel = if link { Some(rel.unwrap_or_default()) } else { None };
        if rel.as_deref().is_none_or(|r| RELS.contains(&r)) {
            out.push(Found { href, rel, kind });
        }
        false
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let skipped = visit(&e, &mut stack, out);
                stack.push(Frame { items: 0, skipped });
            }
            Ok(Event::Empty(e)) => {
                visit(&e, &mut stack, out);
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn headers(repr: Repr, token: Option<&str>) -> Headers {
    let mut h = Headers::new();
    h.push("Accept", repr.content_type());
    if let Some(t) = token {
        h.push(em::SESSION_HEADER, t);
    }
    h
}

/// Crawls in each representation asked; every exchange goes to `recorder`.
pub async fn crawl(client: Arc<Client>, recorder: Arc<Recorder>, options: &CrawlOptions) -> CrawlReport {
    let mut report = CrawlReport::default();
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut budget = options.max_requests;
    for &repr in &options.reprs {
        if options.stop.load(std::sync::atomic::Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let base = options.base.trim_end_matches('/');
        let logon_url = format!("{base}/api/sessionMngr/?v=latest");
        let mut h = headers(repr, None);
        let credentials = base64_encode(format!("{}:{}", options.user, options.password).as_bytes());
        h.push("Authorization", format!("Basic {credentials}"));
        if budget == 0 {
            report.stopped_at_max = true;
            break;
        }
        budget -= 1;
        report.requests += 1;
        let logon = match client.send("POST", &logon_url, &h, Bytes::new()).await {
            Ok(r) => r,
            Err(e) => {
                report.by_type.entry("LogonSession".into()).or_default().1.push(format!("POST {e}"));
                report.unanswered += 1;
                // The other representation would meet the same wall.
                break;
            }
        };
        if let Some(refusal) = em::logon_refusal(&logon) {
            // The other representation would meet the same wall; a refusal is no recording.
            report.refused = Some(refusal);
            break;
        }
        recorder.record(&Sent { method: "POST", url: &logon_url, headers: &h, body: b"" }, &logon);
        let Some(token) = logon.headers.get(em::SESSION_HEADER).map(str::to_owned).filter(|_| logon.status < 300)
        else {
            report
                .by_type
                .entry("LogonSession".into())
                .or_default()
                .1
                .push(format!("{} POST {logon_url}", logon.status));
            continue;
        };
        report.by_type.entry("LogonSession".into()).or_default().0 += 1;
        let body = String::from_utf8_lossy(&logon.body).into_owned();
        let logout = crate::crawl::links_all(&body, repr).into_iter().find(|(rel, _)| rel == "Delete").map(|(_, h)| h);
        let mut seen: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<Job> = VecDeque::new();
        let root = format!("{base}/api/");
        queue.push_back(Job { url: root, kind: "EnterpriseManager".into(), depth: 0 });
        for found in links(&body, repr, options.sample) {
            queue.push_back(Job { url: found.href, kind: found.kind, depth: 1 });
        }
        let mut running = tokio::task::JoinSet::new();
        let interval = options.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        let mut next_slot = Instant::now();
        loop {
            if options.stop.load(std::sync::atomic::Ordering::SeqCst) {
                report.interrupted = true;
                queue.clear();
            }
            while running.len() < options.concurrency.max(1) {
                let Some(job) = queue.pop_front() else { break };
                if !job.url.starts_with(base) || !seen.insert(job.url.clone()) || !wanted(&job, options) {
                    continue;
                }
                if budget == 0 {
                    report.stopped_at_max = true;
                    queue.clear();
                    break;
                }
                budget -= 1;
                if let Some(gap) = interval {
                    let now = Instant::now();
                    if next_slot > now {
                        tokio::time::sleep(next_slot - now).await;
                    }
                    next_slot = next_slot.max(now) + gap;
                }
                let (client, recorder, token) = (client.clone(), recorder.clone(), token.clone());
                running.spawn(async move {
                    let h = headers(repr, Some(&token));
                    let result = client.send("GET", &job.url, &h, Bytes::new()).await;
                    if let Ok(r) = &result {
                        recorder.record(&Sent { method: "GET", url: &job.url, headers: &h, body: b"" }, r);
                    }
                    (job, result)
                });
            }
            let Some(done) = running.join_next().await else { break };
            let Ok((job, result)) = done else { continue };
            report.requests += 1;
            let kind = if job.kind.is_empty() { "(no Type)".to_owned() } else { job.kind.clone() };
            let entry = report.by_type.entry(kind).or_default();
            match result {
                Ok(r) if r.status < 300 => {
                    entry.0 += 1;
                    if job.depth < options.depth {
                        let body = String::from_utf8_lossy(&r.body);
                        for found in links(&body, repr, options.sample) {
                            if !seen.contains(&found.href) {
                                queue.push_back(Job { url: found.href, kind: found.kind, depth: job.depth + 1 });
                            }
                        }
                    }
                }
                Ok(r) => entry.1.push(format!("{} GET {}", r.status, job.url)),
                Err(e) => {
                    entry.1.push(format!("GET {e}"));
                    report.unanswered += 1;
                }
            }
            if let Some(every) = options.progress {
                if last_progress.elapsed() >= every {
                    last_progress = Instant::now();
                    let rate = report.requests as f64 / started.elapsed().as_secs_f64().max(0.001);
                    let line = format!(
                        "emtape: crawl: {} done, {} queued, {} errors, {rate:.0}/s",
                        report.requests,
                        queue.len() + running.len(),
                        report.failures()
                    );
                    log::info!(target: PROGRESS, "{line}");
                }
            }
        }
        if options.progress.is_some() {
            log::info!(target: PROGRESS, "");
        }
        if let Some(url) = logout {
            let h = headers(repr, Some(&token));
            if let Ok(r) = client.send("DELETE", &url, &h, Bytes::new()).await {
                recorder.record(&Sent { method: "DELETE", url: &url, headers: &h, body: b"" }, &r);
                report.requests += 1;
            }
        }
    }
    report
}

fn wanted(job: &Job, options: &CrawlOptions) -> bool {
    let matches = |p: &String| {
        let p = p.to_ascii_lowercase();
        job.kind.to_ascii_lowercase().contains(&p) || job.url.to_ascii_lowercase().contains(&p)
    };
    (options.include.is_empty() || job.depth == 0 || options.include.iter().any(matches))
        && !options.exclude.iter().any(matches)
}

/// Every link of a body's root `Links`, as (Rel, Href): for the logon's `Delete`.
pub(crate) fn links_all(body: &str, repr: Repr) -> Vec<(String, String)> {
    match repr {
        Repr::Xml => crate::xml::parse(body)
            .ok()
            .and_then(|root| {
                let links = root.child("Links")?;
                Some(
                    links
                        .elements()
                        .filter_map(|l| Some((l.attribute("Rel")?.to_owned(), l.attribute("Href")?.to_owned())))
                        .collect(),
                )
            })
            .unwrap_or_default(),
        Repr::Json => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                Some(
                    v.get("Links")?
                        .as_array()?
                        .iter()
                        .filter_map(|l| Some((l.get("Rel")?.as_str()?.to_owned(), l.get("Href")?.as_str()?.to_owned())))
                        .collect(),
                )
            })
            .unwrap_or_default(),
    }
}

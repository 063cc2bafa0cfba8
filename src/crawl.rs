//! `emtape crawl`: a release's whole read surface on tape. Logs on, follows every link a client
//! may GET breadth-first (never anything but GET, apart from the logon and the logout), and
//! records every exchange as `record` does: redacted, host placeholders, written one by one so
//! an interrupted crawl leaves a cassette that loads.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cassette::{Survey, Surveyor};
use crate::codec::base64_encode;
use crate::em::{self, Repr};
use crate::http::Headers;
use crate::http::Response;
use crate::http::client::{Client, ClientError};
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
    /// Where a body larger than [`crate::cassette::LARGE_BODY`] is spooled while it arrives
    /// (the cassette's folder, as `record` does).
    pub spool_dir: std::path::PathBuf,
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
        let logout = em::links::root_links(&body, repr).into_iter().find(|l| l.rel == "Delete").map(|l| l.href);
        let mut frontier = Frontier { base, options, seen: HashSet::new(), queue: VecDeque::new(), full: false };
        let root = format!("{base}/api/");
        let _ = frontier.offer(Job { url: root, kind: "EnterpriseManager".into(), depth: 0 }, budget);
        em::links::each_gettable(&body, repr, Some(options.sample), &mut |found| {
            frontier.offer(Job { url: found.href, kind: found.kind.unwrap_or_default(), depth: 1 }, budget)
        });
        let mut running = tokio::task::JoinSet::new();
        // Answers come in any order; their links are taken in the order they were asked for,
        // so that a crawl stopped by its budget has the same requests every time.
        let mut order = HashMap::new();
        let (mut dispatched, mut next) = (0usize, 0usize);
        let mut waiting: BTreeMap<usize, Option<Answered>> = BTreeMap::new();
        let interval = options.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        let mut next_slot = Instant::now();
        loop {
            if options.stop.load(std::sync::atomic::Ordering::SeqCst) {
                report.interrupted = true;
                frontier.queue.clear();
            }
            while running.len() < options.concurrency.max(1) {
                let Some(job) = frontier.queue.pop_front() else { break };
                // The frontier holds no more than the budget allows.
                budget = budget.saturating_sub(1);
                if let Some(gap) = interval {
                    let now = Instant::now();
                    if next_slot > now {
                        tokio::time::sleep(next_slot - now).await;
                    }
                    next_slot = next_slot.max(now) + gap;
                }
                let (client, recorder, token) = (client.clone(), recorder.clone(), token.clone());
                let spool = options.spool_dir.join(format!("{}{dispatched}", spool_prefix()));
                let task = running.spawn(async move {
                    let h = headers(repr, Some(&token));
                    let result = fetch(&client, &job.url, &h, spool).await;
                    if let Ok((head, body)) = &result {
                        // Written off the runtime: a body of hundreds of megabytes takes a
                        // while, and the other answers keep coming meanwhile.
                        let (url, head, body) = (job.url.clone(), head.clone(), body.clone());
                        let recorded = tokio::task::spawn_blocking(move || {
                            let sent = Sent { method: "GET", url: &url, headers: &h, body: b"" };
                            match body {
                                Fetched::Parts(parts) => recorder.record_in_parts(&sent, &head, &parts),
                                Fetched::Spooled(spool, surveyed) => {
                                    recorder.record_spooled(recorder.next_seq(), &sent, &head, &spool.0, surveyed)
                                }
                            }
                        })
                        .await;
                        // A recording that panicked fails this request's task, as it did on
                        // the runtime.
                        if let Err(e) = recorded {
                            if e.is_panic() {
                                std::panic::resume_unwind(e.into_panic());
                            }
                        }
                    }
                    (job, result)
                });
                order.insert(task.id(), dispatched);
                dispatched += 1;
            }
            let Some(done) = running.join_next_with_id().await else { break };
            let (id, answered) = match done {
                Ok((id, answered)) => (id, Some(answered)),
                Err(e) => (e.id(), None),
            };
            let at = order.remove(&id).unwrap_or(next);
            waiting.insert(at, answered);
            while let Some(answered) = waiting.remove(&next) {
                next += 1;
                if let Some(answered) = answered {
                    take(&mut report, &mut frontier, answered, repr, budget);
                }
            }
            if frontier.full {
                // No link is taken any more: the order no longer matters.
                for answered in std::mem::take(&mut waiting).into_values().flatten() {
                    take(&mut report, &mut frontier, answered, repr, budget);
                }
            }
            if let Some(every) = options.progress {
                if last_progress.elapsed() >= every {
                    last_progress = Instant::now();
                    let rate = report.requests as f64 / started.elapsed().as_secs_f64().max(0.001);
                    let line = format!(
                        "emtape: crawl: {} done, {} queued, {} errors, {rate:.0}/s",
                        report.requests,
                        frontier.queue.len() + running.len(),
                        report.failures()
                    );
                    log::info!(target: PROGRESS, "{line}");
                }
            }
        }
        if options.progress.is_some() {
            log::info!(target: PROGRESS, "");
        }
        report.stopped_at_max |= frontier.full;
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

/// An answer to a crawl's request: its head and its body.
type Answered = (Job, Result<(Response, Fetched), ClientError>);

/// The body of an answer: in the chunks it came in (a list of half a million items is recorded
/// without a whole copy), or, past [`crate::cassette::LARGE_BODY`], spooled to a file as it
/// came, and surveyed on the way (its cassette's writer then reads it once). A crawl of a large
/// estate asks for its largest listings side by side: held, they were a gigabyte of fresh
/// memory, and the kernel's time to clear it varied from run to run more than everything else
/// the crawl does.
#[derive(Clone)]
enum Fetched {
    Parts(Vec<Bytes>),
    Spooled(Arc<Spool>, Survey),
}

/// How this process's spool files are named: beside the cassette, each by its request's number.
fn spool_prefix() -> String {
    format!(".emtape-spool-{}-crawl-", std::process::id())
}

/// Removes the spool files this process has in `dir`: a crawl left at once (Ctrl-C twice)
/// lets none of their holders go.
pub fn remove_spools(dir: &std::path::Path) {
    let prefix = spool_prefix();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A spool file, removed when the last holder lets it go (recorded, and its links taken).
struct Spool(std::path::PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// GETs `url`: its head, and its body as it came or spooled to `spool` (see [`Fetched`]). The
/// client's timeout covers the whole answer, as for [`Client::send_in_parts`].
async fn fetch(
    client: &Client,
    url: &str,
    headers: &Headers,
    spool: std::path::PathBuf,
) -> Result<(Response, Fetched), ClientError> {
    use std::io::Write as _;
    let read = async {
        let (head, mut stream) = client.send_streaming("GET", url, headers, Bytes::new()).await?;
        let (mut parts, mut size) = (Vec::new(), 0);
        let mut spooled: Option<(Spool, std::io::BufWriter<std::fs::File>, Surveyor)> = None;
        let unspooled = |e: std::io::Error| ClientError::Http {
            url: url.to_owned(),
            reason: format!("cannot spool its large body to {}: {e}", spool.display()),
        };
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if let Some((_, file, surveyor)) = &mut spooled {
                file.write_all(&chunk).map_err(unspooled)?;
                surveyor.feed(&chunk);
                continue;
            }
            size += chunk.len();
            parts.push(chunk);
            if size > crate::cassette::LARGE_BODY {
                let file = std::fs::File::create(&spool).map_err(unspooled)?;
                // Removed from here on, whatever happens to the rest of the body.
                let kept = Spool(spool.clone());
                let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
                let mut surveyor = Surveyor::default();
                for part in parts.drain(..) {
                    file.write_all(&part).map_err(unspooled)?;
                    surveyor.feed(&part);
                }
                spooled = Some((kept, file, surveyor));
            }
        }
        let body = match spooled {
            Some((kept, mut file, surveyor)) => {
                file.flush().map_err(unspooled)?;
                Fetched::Spooled(Arc::new(kept), surveyor.finish())
            }
            None => Fetched::Parts(parts),
        };
        Ok((head, body))
    };
    client.within_timeout(url, read).await
}

/// Counts an answer and offers the frontier its links.
fn take(report: &mut CrawlReport, frontier: &mut Frontier<'_>, (job, result): Answered, repr: Repr, budget: usize) {
    report.requests += 1;
    let kind = if job.kind.is_empty() { "(no Type)".to_owned() } else { job.kind.clone() };
    let entry = report.by_type.entry(kind).or_default();
    match result {
        Ok((r, body)) if r.status < 300 => {
            entry.0 += 1;
            if job.depth < frontier.options.depth && !frontier.full {
                let sample = Some(frontier.options.sample);
                let mut offer = |found: em::links::Found| {
                    let kind = found.kind.unwrap_or_default();
                    frontier.offer(Job { url: found.href, kind, depth: job.depth + 1 }, budget)
                };
                let whole = match body {
                    Fetched::Parts(parts) if parts.len() == 1 => parts[0].clone(),
                    Fetched::Parts(parts) => Bytes::from(parts.concat()),
                    Fetched::Spooled(spool, _) => {
                        if let Err(e) = spooled_links(&spool.0, repr, sample, &mut offer) {
                            entry.1.push(format!("GET {}: its links not read: its spooled body: {e}", job.url));
                        }
                        return;
                    }
                };
                em::links::each_gettable(&String::from_utf8_lossy(&whole), repr, sample, &mut offer);
            }
        }
        Ok((r, _)) => entry.1.push(format!("{} GET {}", r.status, job.url)),
        Err(e) => {
            entry.1.push(format!("GET {e}"));
            report.unanswered += 1;
        }
    }
}

/// How much of a spooled XML body is read for its links first, and how many times more each
/// time what was read did not fill the frontier: a listing of hundreds of MB fills it from its
/// first items, and the crawl's loop, which reads it, waits meanwhile.
const LINKS_FIRST_READ: u64 = 1 << 20;
const LINKS_READ_GROWS: u64 = 8;

/// Offers the links of the body spooled at `path` until `offer` breaks: of an XML body, those
/// of a first part of it, then of a larger one, and so on to the whole (a link offered again
/// is one the frontier has seen); of a JSON body, which reads only whole, the whole.
fn spooled_links(
    path: &std::path::Path,
    repr: Repr,
    sample: Option<usize>,
    offer: &mut dyn FnMut(em::links::Found) -> ControlFlow<()>,
) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut wanted = if repr == Repr::Xml { LINKS_FIRST_READ } else { len };
    let mut bytes = Vec::new();
    loop {
        let more = wanted.min(len).saturating_sub(bytes.len() as u64);
        let read = (&mut file).take(more).read_to_end(&mut bytes)?;
        let whole = bytes.len() as u64 >= len || read == 0;
        // A part ends where its last tag does: one cut short is not read.
        let end = if whole { bytes.len() } else { memchr::memrchr(b'>', &bytes).map_or(0, |at| at + 1) };
        let mut full = false;
        em::links::each_gettable(&String::from_utf8_lossy(&bytes[..end]), repr, sample, &mut |found| {
            let offered = offer(found);
            full |= offered.is_break();
            offered
        });
        if full || whole {
            return Ok(());
        }
        wanted = wanted.saturating_mul(LINKS_READ_GROWS);
    }
}

/// The links still to follow, breadth first: each URL once, and only those that will be
/// followed (in the target, wanted, within the request budget), so that a list of half a
/// million items is read no further than the budget reaches.
struct Frontier<'a> {
    base: &'a str,
    options: &'a CrawlOptions,
    seen: HashSet<String>,
    queue: VecDeque<Job>,
    /// A link was left out for want of budget.
    full: bool,
}

impl Frontier<'_> {
    /// Queues `job` if it is to be followed; breaks when the `budget` (requests not yet sent)
    /// has no room left for it.
    fn offer(&mut self, job: Job, budget: usize) -> ControlFlow<()> {
        if !job.url.starts_with(self.base) || self.seen.contains(&job.url) || !wanted(&job, self.options) {
            return ControlFlow::Continue(());
        }
        if self.queue.len() >= budget {
            self.full = true;
            return ControlFlow::Break(());
        }
        self.seen.insert(job.url.clone());
        self.queue.push_back(job);
        ControlFlow::Continue(())
    }
}

fn wanted(job: &Job, options: &CrawlOptions) -> bool {
    let matches = |p: &String| {
        let p = p.to_ascii_lowercase();
        job.kind.to_ascii_lowercase().contains(&p) || job.url.to_ascii_lowercase().contains(&p)
    };
    (options.include.is_empty() || job.depth == 0 || options.include.iter().any(matches))
        && !options.exclude.iter().any(matches)
}

//! The user's client as a process: started in a process group of its own, so that a timeout
//! (or a stopped matrix) ends everything it started, and waited for up to its timeout.

use std::sync::Arc;
use std::time::Duration;

/// What the client command did.
pub(super) struct Ran {
    /// Exit code; `None` when it was killed (a signal, or the timeout).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stderr: String,
    /// It could not be started at all.
    pub failed_to_start: Option<String>,
}

/// The process groups of the clients running now.
#[derive(Clone, Debug, Default)]
pub struct Clients(Arc<std::sync::Mutex<std::collections::BTreeSet<u32>>>);

impl Clients {
    fn started(&self, group: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(group);
    }

    /// Ends what the client started (its background children too, as `timeout(1)` does).
    fn end(&self, group: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&group);
        kill_group(group);
    }

    /// Ends every client running now, and what they started.
    pub fn end_all(&self) {
        let groups = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        groups.into_iter().for_each(kill_group);
    }
}

#[cfg(unix)]
fn kill_group(group: u32) {
    use nix::sys::signal::{Signal, killpg};
    if let Ok(group) = i32::try_from(group) {
        // Gone already (ESRCH) is what a well-behaved client leaves.
        let _ = killpg(nix::unistd::Pid::from_raw(group), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_group: u32) {}

/// Runs the command line (`{url}`, `{ca}`, `{release}` filled in, and the same in `EMTAPE_URL`,
/// `EMTAPE_CA`, `EMTAPE_RELEASE`) through the shell, for up to `timeout`; then ends its group.
pub(super) async fn run_client(
    command: &str,
    url: &str,
    ca: &str,
    release: &str,
    timeout: Duration,
    clients: &Clients,
) -> Ran {
    let line = command.replace("{url}", url).replace("{ca}", ca).replace("{release}", release);
    log::debug!("release {release}: running the client: {line}");
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C").arg(&line);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(&line);
        c
    };
    cmd.env("EMTAPE_URL", url).env("EMTAPE_RELEASE", release).kill_on_drop(true);
    if ca.is_empty() {
        cmd.env_remove("EMTAPE_CA");
    } else {
        cmd.env("EMTAPE_CA", ca);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    #[cfg(unix)]
    cmd.process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran { code: None, timed_out: false, stderr: String::new(), failed_to_start: Some(e.to_string()) };
        }
    };
    let group = child.id();
    if let Some(group) = group {
        clients.started(group);
    }
    let waited = tokio::time::timeout(timeout, child.wait_with_output()).await;
    if let Some(group) = group {
        clients.end(group);
    }
    match waited {
        Ok(Ok(out)) => Ran {
            code: out.status.code(),
            timed_out: false,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            failed_to_start: None,
        },
        Ok(Err(e)) => Ran { code: None, timed_out: false, stderr: String::new(), failed_to_start: Some(e.to_string()) },
        // Dropping the wait kills the child (kill_on_drop).
        Err(_) => Ran { code: None, timed_out: true, stderr: String::new(), failed_to_start: None },
    }
}

//! Live logon sessions minted by the mock, and where each caller is in each recorded sequence.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::codec::random_uuid;
use crate::em::TokenStyle;
use crate::model::{Created, Task};

/// Who is asking, as far as sessions go.
#[derive(Clone, Debug)]
pub(crate) enum Caller {
    /// No token at all.
    Anonymous,
    /// A token this mock issued and has not ended.
    Live(LiveSession),
    /// A token that is not (or no longer) valid; the reason says which.
    Rejected(&'static str),
}

#[derive(Clone, Debug)]
pub(crate) struct LiveSession {
    pub id: String,
    pub token: String,
    /// The recorded session it stands in for.
    pub recorded: u32,
    /// Who logged on, when the mock has users: an index into them.
    pub user: Option<usize>,
}

impl Caller {
    pub fn live(&self) -> Option<&LiveSession> {
        match self {
            Caller::Live(s) => Some(s),
            _ => None,
        }
    }
}

struct Session {
    live: LiveSession,
    last_seen: Instant,
    positions: HashMap<usize, usize>,
    work: Work,
}

/// What a session made: its tasks (`task-1`, `task-2`, … in the order started) and the
/// resources they created. EM scopes tasks to the logon session; so does the mock.
#[derive(Default)]
pub(crate) struct Work {
    pub tasks: Vec<Task>,
    /// Tasks started so far, deleted ones included, so numbers are never reused.
    pub started: u32,
    pub created: Vec<Created>,
    /// Paths of the resources an action has been started on.
    pub targets: HashSet<String>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Session>,
    ended: HashSet<String>,
    /// Positions of callers without a session.
    anonymous: HashMap<usize, usize>,
}

/// Forgotten tokens kept to tell "logged out" from "never issued"; bounded.
const ENDED_KEPT: usize = 10_000;

pub(crate) struct Sessions {
    state: Mutex<State>,
    idle_timeout: Duration,
    max_sessions: usize,
    clock: Arc<dyn Clock>,
    /// How tokens are minted: as the release on tape mints them.
    style: TokenStyle,
}

/// At the cap, a session idle this long gives way to a new logon.
const GIVE_WAY_AFTER: Duration = Duration::from_secs(60);

impl Sessions {
    pub fn new(idle_timeout: Duration, max_sessions: usize, clock: Arc<dyn Clock>, style: TokenStyle) -> Sessions {
        Sessions { state: Mutex::new(State::default()), idle_timeout, max_sessions: max_sessions.max(1), clock, style }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks the token up, ending the session first if it sat idle too long.
    pub fn caller(&self, token: Option<&str>) -> Caller {
        let Some(token) = token else {
            return Caller::Anonymous;
        };
        let mut guard = self.lock();
        let state = &mut *guard;
        let now = self.clock.now();
        match state.sessions.get_mut(token) {
            Some(s) if now.duration_since(s.last_seen) <= self.idle_timeout => {
                s.last_seen = now;
                Caller::Live(s.live.clone())
            }
            Some(_) => {
                state.sessions.remove(token);
                remember_ended(state, token);
                Caller::Rejected("the session expired after sitting idle; log on again")
            }
            None if state.ended.contains(token) => {
                Caller::Rejected("the session was closed (logged out or expired); log on again")
            }
            None => Caller::Rejected("the session token was never issued by this server; log on first"),
        }
    }

    /// Starts a session standing in for recorded session `recorded`: a fresh id, and a token
    /// minted as the release on tape mints them (the id's base64, or opaque on EM 13). `Err` says why not: the live-session cap is
    /// reached and no session has sat idle long enough to give way.
    pub fn start(&self, recorded: u32, user: Option<usize>) -> Result<LiveSession, String> {
        let id = random_uuid();
        let live = LiveSession { token: crate::em::mint_token(&id, self.style), id, recorded, user };
        let session = Session {
            live: live.clone(),
            last_seen: self.clock.now(),
            positions: HashMap::new(),
            work: Work::default(),
        };
        let mut state = self.lock();
        let now = self.clock.now();
        // Sessions never logged out are forgotten once idle past the timeout, checked now and
        // then (and whenever the cap is reached), so that a storm of logons does not grow
        // memory without bound.
        if state.sessions.len() % 256 == 255 || state.sessions.len() >= self.max_sessions {
            let idle: Vec<String> = state
                .sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_seen) > self.idle_timeout)
                .map(|(t, _)| t.clone())
                .collect();
            for token in idle {
                state.sessions.remove(&token);
                remember_ended(&mut state, &token);
            }
        }
        if state.sessions.len() >= self.max_sessions {
            // The oldest idle session gives way, if it has been idle a while.
            let oldest = state.sessions.iter().min_by_key(|(_, s)| s.last_seen).map(|(t, s)| (t.clone(), s.last_seen));
            match oldest {
                Some((token, seen)) if now.duration_since(seen) >= GIVE_WAY_AFTER.min(self.idle_timeout) => {
                    state.sessions.remove(&token);
                    remember_ended(&mut state, &token);
                }
                _ => {
                    return Err(format!(
                        "the server has {} logon sessions, its limit (--max-sessions); log out of one, or wait for one to sit idle",
                        self.max_sessions
                    ));
                }
            }
        }
        state.sessions.insert(live.token.clone(), session);
        Ok(live)
    }

    /// A session with a token minted elsewhere.
    pub fn adopt(&self, token: &str, recorded: u32) {
        let id = crate::em::session_id_of(token).unwrap_or_else(random_uuid);
        let live = LiveSession { id, token: token.to_owned(), recorded, user: None };
        self.lock().sessions.insert(
            token.to_owned(),
            Session { live, last_seen: self.clock.now(), positions: HashMap::new(), work: Work::default() },
        );
    }

    /// The LogonSession id of a live session: what its token names, whatever the token looks like.
    pub fn session_id(&self, token: &str) -> Option<String> {
        self.lock().sessions.get(token).map(|s| s.live.id.clone())
    }

    pub fn end(&self, token: &str) {
        let mut state = self.lock();
        if state.sessions.remove(token).is_some() {
            remember_ended(&mut state, token);
        }
    }

    /// Forgets every session and position.
    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    /// The caller's next position in sequence `group` of `len` exchanges; the last repeats.
    pub fn next(&self, token: Option<&str>, group: usize, len: usize) -> usize {
        let mut state = self.lock();
        let state = &mut *state;
        let positions = match token.filter(|t| state.sessions.contains_key(*t)).and_then(|t| state.sessions.get_mut(t))
        {
            Some(s) => &mut s.positions,
            None => &mut state.anonymous,
        };
        let position = positions.entry(group).or_insert(0);
        let current = (*position).min(len.saturating_sub(1));
        *position = position.saturating_add(1);
        current
    }

    /// Runs `f` on the work of the session of `token`; `None` when it is not live.
    pub fn with_work<R>(&self, token: &str, f: impl FnOnce(&mut Work) -> R) -> Option<R> {
        self.lock().sessions.get_mut(token).map(|s| f(&mut s.work))
    }

    pub fn live_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

fn remember_ended(state: &mut State, token: &str) {
    if state.ended.len() >= ENDED_KEPT {
        state.ended.clear();
    }
    state.ended.insert(token.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_session_idle_past_the_timeout_on_the_mocks_clock_is_over() {
        let clock = Arc::new(ManualClock::default());
        let sessions = Sessions::new(Duration::from_secs(900), 10, clock.clone(), TokenStyle::Opaque);
        let live = sessions.start(1, None).unwrap();
        clock.advance(Duration::from_secs(899));
        assert!(matches!(sessions.caller(Some(&live.token)), Caller::Live(_)), "used within the timeout");
        clock.advance(Duration::from_secs(901));
        assert!(matches!(
            sessions.caller(Some(&live.token)),
            Caller::Rejected("the session expired after sitting idle; log on again")
        ));
    }
}

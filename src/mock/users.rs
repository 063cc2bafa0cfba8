//! Who may log on to the mock, and what each may do: names, passwords, roles and restore scopes,
//! from `serve --user` or a users file. Without users any credentials log on (as a recording
//! does not say whose they were). The roles are the three the restore scenario names; what each
//! may read is inferred from the REST API's role table [INF], and a refusal is EM's 403
//! `Access denied.` (documented; its body's wording is not).

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::yamlish::{Places, Seg};

/// A role an EM account holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    PortalAdministrator,
    /// Reads the estate; restores the VMs of its restore scope; no security settings [INF].
    PortalUser,
    /// Restores the VMs of its restore scope; reads restore points, tasks and restore sessions
    /// only (reports, jobs, sessions, servers and security are refused) [INF].
    RestoreOperator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::PortalAdministrator, Role::PortalUser, Role::RestoreOperator];

    pub fn name(self) -> &'static str {
        match self {
            Role::PortalAdministrator => "Portal Administrator",
            Role::PortalUser => "Portal User",
            Role::RestoreOperator => "Restore Operator",
        }
    }

    /// The role a name names (any case); `Err` says what the roles are.
    pub fn parse(text: &str) -> Result<Role, String> {
        if let Some(role) = Role::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(text.trim())) {
            return Ok(role);
        }
        let names = Role::ALL.map(Role::name);
        Err(match did_you_mean(text, names) {
            Some(r) => format!("`{text}` is not a role; did you mean `{r}`?"),
            None => format!("`{text}` is not a role; the roles are {}", names.join(", ")),
        })
    }

    /// Whether the role may GET (or otherwise use) a normalised path at all.
    pub fn may_use(self, path: &str) -> bool {
        const OPERATOR_DENIED: [&str; 12] = [
            "/api/reports",
            "/api/jobs",
            "/api/backupsessions",
            "/api/backuptasksessions",
            "/api/replicasessions",
            "/api/replicatasksessions",
            "/api/backupservers",
            "/api/managedservers",
            "/api/repositories",
            "/api/security",
            "/api/agents",
            "/api/nas",
        ];
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        match self {
            Role::PortalAdministrator => true,
            Role::PortalUser => !under("/api/security"),
            Role::RestoreOperator => !OPERATOR_DENIED.iter().any(|p| under(p)),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An account that may log on.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// As it logs on and as its LogonSession names it (`TECH\william.fox`).
    pub name: String,
    password: String,
    pub role: Role,
    /// The VMs it may restore (by name); `None`: every VM.
    pub scope: Option<Vec<String>>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"(redacted)")
            .field("role", &self.role)
            .field("scope", &self.scope)
            .finish()
    }
}

impl User {
    pub fn new(name: &str, password: &str, role: Role, scope: Option<Vec<String>>) -> User {
        User { name: name.to_owned(), password: password.to_owned(), role, scope }
    }

    /// `NAME:PASSWORD[:ROLE[:VM,VM...]]`, as `serve --user` takes it (a password holding `:`
    /// goes in a users file).
    pub fn parse_arg(text: &str) -> Result<User, String> {
        let mut parts = text.splitn(4, ':');
        let (name, password) = (parts.next().unwrap_or(""), parts.next());
        let Some(password) = password.filter(|_| !name.is_empty()) else {
            return Err("write NAME:PASSWORD[:ROLE[:VM,VM]] (a password with `:` goes in a --users file)".into());
        };
        let role = parts.next().map(Role::parse).transpose()?.unwrap_or(Role::PortalAdministrator);
        let scope = parts.next().map(|s| s.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect());
        Ok(User::new(name, password, role, scope))
    }

    /// Whether `password` is this user's.
    pub fn password_is(&self, password: &str) -> bool {
        self.password == password
    }

    /// Whether it may restore the VM `vm`.
    pub fn may_restore(&self, vm: &str) -> bool {
        self.role == Role::PortalAdministrator
            || self.scope.as_ref().is_none_or(|s| s.iter().any(|v| v.eq_ignore_ascii_case(vm)))
    }
}

/// The users of a users file:
///
/// ```yaml
/// - name: TECH\william.fox
///   password: s3cret
///   role: Restore Operator
///   restore_scope: [ubuntu88]
/// ```
pub fn load(path: &Path) -> Result<Vec<User>, Diagnostic> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::at(&file, "", 1, 1, format!("cannot read the users file: {e}")))?;
    parse(&file, &text)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    restore_scope: Option<Vec<String>>,
}

/// Parses a users file's text.
pub fn parse(file: &str, text: &str) -> Result<Vec<User>, Diagnostic> {
    let raw: Vec<RawUser> = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        Diagnostic::at(file, text, line, column, format!("invalid users file: {e}"))
            .with_hint("a users file is a list of {name, password, role, restore_scope}")
    })?;
    let places = Places::read(text);
    let mut users = Vec::with_capacity(raw.len());
    for (i, u) in raw.into_iter().enumerate() {
        let role = match u.role.as_deref() {
            None => Role::PortalAdministrator,
            Some(r) => Role::parse(r).map_err(|why| {
                let at = places.get(&[Seg::Index(i), Seg::Key("role".into())]).unwrap_or_default();
                Diagnostic::at(file, text, at.line.max(1), at.column, why)
            })?,
        };
        if u.name.trim().is_empty() {
            let at = places.get(&[Seg::Index(i), Seg::Key("name".into())]).unwrap_or_default();
            return Err(Diagnostic::at(file, text, at.line.max(1), at.column, "a user needs a name"));
        }
        users.push(User::new(&u.name, &u.password, role, u.restore_scope));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_argument_gives_name_password_role_and_scope() {
        let u = User::parse_arg("TECH\\william.fox:p4ss:Restore Operator:ubuntu88, oracle03").unwrap();
        assert_eq!((u.name.as_str(), u.role), ("TECH\\william.fox", Role::RestoreOperator));
        assert!(u.password_is("p4ss") && u.may_restore("UBUNTU88") && !u.may_restore("dc01"));
        let admin = User::parse_arg("admin:secret").unwrap();
        assert!(admin.role == Role::PortalAdministrator && admin.may_restore("dc01"));
        assert!(!format!("{admin:?}").contains("secret"), "{admin:?}");
        assert!(User::parse_arg("admin").is_err());
        assert_eq!(
            User::parse_arg("a:b:Restore Operater").unwrap_err(),
            "`Restore Operater` is not a role; did you mean `Restore Operator`?"
        );
    }

    #[test]
    fn a_users_file_is_read_and_its_mistakes_are_placed() {
        let users = parse("u.yaml", "- name: admin\n  password: x\n- name: op\n  password: y\n  role: restore operator\n  restore_scope: [ubuntu88]\n").unwrap();
        assert_eq!(users[1].role, Role::RestoreOperator);
        let e = parse("u.yaml", "- name: op\n  password: y\n  role: Restor Operator\n").unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (3, 9, "`Restor Operator` is not a role; did you mean `Restore Operator`?")
        );
        let e = parse("u.yaml", "- name: op\n  pasword: y\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn roles_keep_to_what_they_may_use() {
        assert!(Role::RestoreOperator.may_use("/api/vmrestorepoints"));
        assert!(!Role::RestoreOperator.may_use("/api/reports/summary/overview"));
        assert!(!Role::RestoreOperator.may_use("/api/jobs"));
        assert!(Role::PortalUser.may_use("/api/jobs") && !Role::PortalUser.may_use("/api/security/accounts"));
    }
}

//! Users and roles: with users configured the mock logs on only those users, names them in the
//! LogonSession, and keeps each role and restore scope to what it may do (EM's 401 and 403).

use std::process::Command;

use crate::support::*;

const OPERATOR: &str = "TECH\\william.fox:op-pass:Restore Operator:ubuntu88";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", emtape::codec::base64_encode(format!("{user}:{password}").as_bytes()))
}

#[tokio::test]
async fn with_users_a_wrong_password_is_a_401_the_logon_names_the_user_and_an_operator_keeps_to_its_scope() {
    let mock = Emtape::serve(&["--user", "admin:secret", "--user", OPERATOR]);
    let c = client();
    let logon = format!("{}/api/sessionMngr/?v=latest", mock.url);
    let wrong = send(&c, "POST", &logon, &[("Authorization", &basic("admin", "guess"))], "").await;
    assert_eq!(wrong.status, 401, "{}", text(&wrong));
    assert_eq!(wrong.headers.get("www-authenticate"), Some("Basic Realm=RestSvc"));
    assert_eq!(wrong.headers.get("x-restsvcsessionid"), None);
    let stranger = send(&c, "POST", &logon, &[("Authorization", &basic("nobody", "secret"))], "").await;
    assert_eq!(stranger.status, 401);

    for json in [false, true] {
        let accept = if json { "application/json" } else { "application/xml" };
        let h = [("Authorization", basic("TECH\\william.fox", "op-pass")), ("Accept", accept.to_owned())];
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let operator = send(&c, "POST", &logon, &h, "").await;
        assert_eq!(operator.status, 201, "{}", text(&operator));
        assert_eq!(
            value(text(&operator), json, "UserName").as_deref(),
            Some("TECH\\william.fox"),
            "{}",
            text(&operator)
        );
        let token = operator.headers.get("x-restsvcsessionid").unwrap().to_owned();
        let auth = with_token(&[("Accept", accept)], &token);
        let own = format!("{}/api/logonSessions/{}", mock.url, session_id(&operator));
        assert_eq!(
            value(text(&send(&c, "GET", &own, &auth, "").await), json, "UserName").as_deref(),
            Some("TECH\\william.fox")
        );
        let report = send(&c, "GET", &format!("{}/api/reports/summary/overview", mock.url), &auth, "").await;
        assert_eq!(report.status, 403, "a Restore Operator reads no reports: {}", text(&report));
        assert!(text(&report).contains("Access denied."), "{}", text(&report));
        let point = |id: &str| format!("{}/api/vmRestorePoints/{id}?action=restore", mock.url);
        let dc01 = send(&c, "POST", &point("92357047-d358-4326-8d6d-28bc619b2876"), &auth, "").await;
        assert_eq!(dc01.status, 403, "dc01 is outside the scope: {}", text(&dc01));
        let ubuntu88 = send(&c, "POST", &point("6c958531-3177-4055-b0ce-dc4ef1ce6433"), &auth, "").await;
        assert_eq!(ubuntu88.status, 202, "ubuntu88 is in it: {}", text(&ubuntu88));
    }

    let admin = send(&c, "POST", &logon, &[("Authorization", &basic("admin", "secret"))], "").await;
    let token = admin.headers.get("x-restsvcsessionid").unwrap().to_owned();
    let report =
        send(&c, "GET", &format!("{}/api/reports/summary/overview", mock.url), &with_token(&[], &token), "").await;
    assert_eq!(report.status, 200, "the administrator reads everything");
}

#[test]
fn a_scenario_logs_on_as_an_operator_and_asserts_ems_refusal() {
    let mock = Emtape::serve(&["--user", OPERATOR]);
    let out = Command::new(BIN)
        .args(["run", "scenarios/restore-refused.yaml", "--target", &mock.url, "--user", "TECH\\william.fox"])
        .args(["--password-env", "OP_PASSWORD"])
        .env("OP_PASSWORD", "op-pass")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PASS   ask to restore it") && stdout.contains("-> 403"), "{stdout}");
    assert!(!stdout.contains("op-pass"), "{stdout}");
}

#[test]
fn a_users_file_that_does_not_parse_or_names_no_role_is_refused_at_its_place() {
    let dir = temp_dir("users-file");
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "- name: op\n  password: [\n").unwrap();
    let (code, _, err) = run(&["serve", "--users", broken.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("--> {}:", broken.display())), "{err}");
    let role = dir.join("role.yaml");
    std::fs::write(&role, "- name: op\n  password: p\n  role: Restore Operater\n").unwrap();
    let (code, _, err) = run(&["serve", "--users", role.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`Restore Operater` is not a role; did you mean `Restore Operator`?"), "{err}");
    assert!(err.contains(&format!("--> {}:3:9", role.display())), "{err}");
    let (code, _, err) = run(&["serve", "--user", "op:p:Portal Administrater", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `Portal Administrator`?"), "{err}");
}

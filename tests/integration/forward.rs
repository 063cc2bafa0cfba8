//! `emtape record --forward`: clients that take a proxy (HTTPS_PROXY) are recorded through an
//! HTTP CONNECT tunnel whose certificate emtape mints, clients of a plain-HTTP EM (HTTP_PROXY)
//! from their absolute URLs; other hosts are passed through untouched.

use std::path::Path;
use std::process::Command;

use emtape::cassette::Cassette;

use crate::support::*;

/// A Python (standard library) GET through the proxy, trusting `ca`: the status, or the error.
fn get_via(proxy: &str, url: &str, ca: &Path) -> String {
    let script = "import ssl, sys, urllib.request\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        try:\n    print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).status)\n\
        except Exception as e:\n    print('error', e)\n";
    let out = Command::new("python3")
        .args(["-c", script, url, ca.to_str().unwrap()])
        .env("HTTPS_PROXY", proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The example client's restore flow with its proxy in `proxy_var` (HTTPS_PROXY, HTTP_PROXY).
fn restore_through(proxy_var: &str, proxy: &str, password: &str, args: &[&str]) {
    let client = Command::new("python3")
        .arg("examples/restore_client.py")
        .args(args)
        .env(proxy_var, proxy)
        .env("EM_PASSWORD", password)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
}

#[test]
fn a_client_given_a_proxy_is_recorded_into_a_cassette_that_replays() {
    let dir = temp_dir("forward");
    let (em_cert, ca, out) = (dir.join("em.pem"), dir.join("ca.pem"), dir.join("forward.yaml"));
    let em = Emtape::serve(&["--tls", "--tls-cert-out", em_cert.to_str().unwrap()]);
    let host = em.url.trim_start_matches("https://").to_owned();
    let proxy = Emtape::start(&[
        "record",
        "--forward",
        "--only",
        &host,
        "--ca-out",
        ca.to_str().unwrap(),
        "--upstream-ca",
        em_cert.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    restore_through("HTTPS_PROXY", &proxy.url, "fwd-secret-Pw4", &["--url", &em.url, "--ca", ca.to_str().unwrap()]);
    let (_, log) = proxy.stop();
    assert!(log.contains("recorded 10 exchanges"), "{log}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("fwd-secret-Pw4") && !text.contains(&host), "redacted, host a placeholder");
    assert!(std::fs::read_to_string(&ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(ca.with_extension("key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the CA's private key is its owner's alone");
    let loaded = Cassette::load(&out).unwrap();
    assert_eq!(loaded.cassette.exchanges.len(), 10);
    let (code, report, _) = run(&["run", "--cassette", out.to_str().unwrap(), "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "the cassette replays: {report}");
}

#[test]
fn other_hosts_are_tunnelled_untouched_and_a_reused_ca_is_still_trusted() {
    let dir = temp_dir("forward-tunnel");
    let (em_cert, other_cert, ca, out) =
        (dir.join("em.pem"), dir.join("other.pem"), dir.join("ca.pem"), dir.join("f.yaml"));
    let em = Emtape::serve(&["--tls", "--tls-cert-out", em_cert.to_str().unwrap()]);
    let other = Emtape::serve(&["--tls", "--tls-cert-out", other_cert.to_str().unwrap()]);
    let host = em.url.trim_start_matches("https://").to_owned();
    let start = |extra: &[&str]| {
        let mut args = vec!["record", "--forward", "--only", &host, "--out", out.to_str().unwrap()];
        args.extend_from_slice(&["--upstream-ca", em_cert.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
        args.extend_from_slice(extra);
        Emtape::start(&args)
    };
    let proxy = start(&["--ca-out", ca.to_str().unwrap()]);
    // The other server is reached through the tunnel with its own certificate: untouched.
    assert_eq!(get_via(&proxy.url, &format!("{}/api/", other.url), &other_cert), "200");
    assert_eq!(get_via(&proxy.url, &format!("{}/api/", em.url), &ca), "200");
    let curl = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", &proxy.url, "--cacert", ca.to_str().unwrap()])
        .arg(format!("{}/api/", em.url))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200", "curl -x trusting the minted CA");
    // A request for the proxy itself (not a proxy request) is refused, saying what it takes.
    let plain = Command::new("python3")
        .args([
            "-c",
            "import urllib.request,sys\ntry: urllib.request.urlopen(sys.argv[1])\nexcept Exception as e: print(e, e.read().decode())",
            &format!("{}/x", proxy.url),
        ])
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&plain.stdout);
    assert!(said.contains("405") && said.contains("absolute http:// URLs"), "{said}");
    let (_, log) = proxy.stop();
    assert!(log.contains("recorded 2 exchanges"), "only the EM's requests are on tape: {log}");
    // A later run with the CA's key: clients that trust the CA file keep working.
    let key = ca.with_extension("key");
    let again = start(&["--ca-key", key.to_str().unwrap()]);
    assert_eq!(get_via(&again.url, &format!("{}/api/", em.url), &ca), "200");
}

#[test]
fn a_company_ca_given_by_certificate_and_key_signs_the_tunnels() {
    let dir = temp_dir("forward-company-ca");
    let (em_cert, ca_cert, ca_key, out) =
        (dir.join("em.pem"), dir.join("corp-ca.pem"), dir.join("corp-ca.key"), dir.join("f.yaml"));
    // A CA minted here the way a company's is: its own name, its own key identifier.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "Example Corp Root CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    std::fs::write(&ca_cert, params.self_signed(&key).unwrap().pem()).unwrap();
    std::fs::write(&ca_key, key.serialize_pem()).unwrap();
    let em = Emtape::serve(&["--tls", "--tls-cert-out", em_cert.to_str().unwrap()]);
    let host = em.url.trim_start_matches("https://").to_owned();
    let proxy = Emtape::start(&[
        "record",
        "--forward",
        "--only",
        &host,
        "--ca-cert",
        ca_cert.to_str().unwrap(),
        "--ca-key",
        ca_key.to_str().unwrap(),
        "--upstream-ca",
        em_cert.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(
        get_via(&proxy.url, &format!("{}/api/", em.url), &ca_cert),
        "200",
        "the client trusts only Example Corp"
    );
    let (code, _, err) = run(&[
        "record",
        "--forward",
        "--only",
        &host,
        "--ca-cert",
        em_cert.to_str().unwrap(),
        "--ca-key",
        ca_key.to_str().unwrap(),
        "--out",
        dir.join("g.yaml").to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 2, "a key that is not the certificate's: {err}");
}

#[test]
fn a_plain_http_em_is_recorded_from_absolute_urls_and_other_hosts_pass_through() {
    let dir = temp_dir("forward-plain");
    let out = dir.join("plain.yaml");
    let em = Emtape::serve(&[]);
    let other = Emtape::serve(&[]);
    let proxy = Emtape::start(&[
        "record",
        "--forward",
        "--only",
        &em.url,
        "--out",
        out.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    // Another host on the same proxy: answered by that host, its links untouched, not recorded.
    let via_other =
        Command::new("curl").args(["-s", "-x", &proxy.url, &format!("{}/api/", other.url)]).output().expect("curl");
    let body = String::from_utf8_lossy(&via_other.stdout);
    assert!(body.contains(&format!("{}/api/", other.url)), "{body}");
    restore_through("HTTP_PROXY", &proxy.url, "plain-secret-Pw5", &["--url", &em.url]);
    let (_, log) = proxy.stop();
    assert!(log.contains("recorded 10 exchanges"), "the EM's exchanges only: {log}");
    let text = std::fs::read_to_string(&out).unwrap();
    let host = em.url.trim_start_matches("http://");
    assert!(!text.contains("plain-secret-Pw5") && !text.contains(host), "redacted, host a placeholder");
    let (code, report, _) = run(&["run", "--cassette", out.to_str().unwrap(), "--var", "poll_interval=0s"]);
    assert_eq!(code, 0, "the cassette replays: {report}");
}

#[test]
fn nothing_recorded_because_only_named_another_host_fails_and_names_the_host_the_client_used() {
    let dir = temp_dir("forward-miss");
    let (em_cert, out) = (dir.join("em.pem"), dir.join("miss.yaml"));
    let em = Emtape::serve(&["--tls", "--tls-cert-out", em_cert.to_str().unwrap()]);
    let host = em.url.trim_start_matches("https://").to_owned();
    // The port left out: 443, not the EM's.
    let (ip, _) = host.rsplit_once(':').unwrap();
    let proxy = Emtape::start(&[
        "record",
        "--forward",
        "--only",
        ip,
        "--out",
        out.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(get_via(&proxy.url, &format!("{}/api/", em.url), &em_cert), "200", "tunnelled untouched");
    let (status, log) = proxy.stop();
    assert!(!status.success(), "{log}");
    assert!(log.contains("recorded 0 exchanges") && log.contains(&format!("{host} (1)")), "{log}");
}

//! The cassette format: canonical round trips and the shipped reference cassettes.

use emtape::cassette::{self, Body, Cassette};

#[test]
fn reference_cassettes_load_and_save_to_the_same_bytes() {
    for &(name, text) in cassette::REFERENCE {
        let loaded = Cassette::parse(name, text).unwrap();
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        assert_eq!(loaded.cassette.to_yaml(), text, "{name} is not canonical; run `emtape fmt {name}`");
        let on_disk = std::fs::read_to_string(name).unwrap();
        assert_eq!(on_disk, text);
    }
}

#[test]
fn reference_cassettes_hold_the_whole_flow_without_secrets() {
    for &(name, text) in cassette::REFERENCE.iter().filter(|(name, _)| name.contains("vm-restore")) {
        let c = Cassette::parse(name, text).unwrap().cassette;
        assert_eq!(c.meta.api_version.as_deref(), Some("v1_7"));
        let polls: Vec<_> = c.exchanges.iter().filter(|e| e.request.uri == "/api/tasks/task-1").collect();
        assert_eq!(polls.len(), 3, "{name}: two Running polls and a Finished one");
        assert!(!text.contains("Basic dXNl"), "{name} holds a credential");
        assert!(
            !text.contains("localhost:9398") && !text.contains("tech.local:9398"),
            "{name} holds a recorded origin"
        );
    }
}

/// A `GET /` answered 200 with `body`, or with the body of exchange `same_as`.
fn get_root(seq: u64, body: Body, same_as: Option<u64>) -> cassette::Exchange {
    cassette::Exchange {
        seq,
        request: cassette::RecordedRequest {
            method: "GET".into(),
            uri: "/".into(),
            headers: Default::default(),
            body: Body::Empty,
        },
        response: cassette::RecordedResponse {
            status: 200,
            reason: None,
            headers: Default::default(),
            body,
            body_same_as: same_as,
        },
    }
}

#[test]
fn any_cassette_round_trips() {
    let mut c = Cassette::default();
    c.meta.description = Some("two lines\nof text".into());
    c.exchanges.push(cassette::Exchange {
        seq: 7,
        request: cassette::RecordedRequest {
            method: "POST".into(),
            uri: "/api/x?y=1".into(),
            headers: [
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Odd".to_owned(), "a: b #c".to_owned()),
            ]
            .into_iter()
            .collect(),
            body: Body::text("{\"a\": \"\\u00e9\"}\r\n"),
        },
        response: cassette::RecordedResponse {
            status: 400,
            reason: Some("BadRequest".into()),
            headers: Default::default(),
            body: Body::from_bytes(&[0xff, 0x00, 0x10, 0x80]),
            body_same_as: None,
        },
    });
    c.exchanges.push(get_root(8, Body::from_bytes("\u{feff}{\"Json\": true}\n".as_bytes()), None));
    c.exchanges.push(get_root(9, Body::Empty, Some(8)));
    let text = c.to_yaml();
    let back = Cassette::parse("mem", &text).unwrap().cassette;
    assert_eq!(back, c);
    assert_eq!(back.to_yaml(), text);
    insta::assert_snapshot!(text);
}

fn error_of(text: &str) -> String {
    match Cassette::parse("c.yaml", text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_cassettes_get_positions_and_hints() {
    let cases = [
        "",
        "format: emtape/cassette-v9\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request: {method: GET, uri: /}\n  response: {status: 999}\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: api\n  response:\n    status: 200\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /\n    headers:\n    - Accept: a\n      Host: b\n  response:\n    status: 200\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /\n  response:\n    status: 200\n    body_encoding: base64\n    body: not base64!\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: /\n  response:\n    status: 200\n    body_encoding: utf8\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request: {method: GET, uri: /}\n  response: {status: 200}\n- seq: 1\n  request: {method: GET, uri: /}\n  response: {status: 200}\n",
        "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request: {method: GET, uri: /}\n  response: {status: 200\n",
        "format: emtape/cassette-v1\nmeta:\n  prodcut: EM\n",
    ];
    let report: Vec<String> = cases.iter().map(|c| error_of(c)).collect();
    insta::assert_snapshot!(report.join("\n\n"));
}

#[test]
fn a_mistyped_placeholder_is_a_warning() {
    let text = "format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request: {method: GET, uri: /}\n  response:\n    status: 200\n    body: '<a Href=\"{{orign}}/api/\"/>'\n";
    let loaded = Cassette::parse("c.yaml", text).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    insta::assert_snapshot!(loaded.warnings[0].to_string());
}

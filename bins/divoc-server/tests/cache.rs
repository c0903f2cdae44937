//! The render cache, ETags and `If-None-Match` over real HTTP, read back
//! through `GET /metrics`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::process::{Command, Stdio};

use common::{Keys, Response, Server, fixture};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const PDF: &str = "/certificate/api/certificatePDF";
const QR: &str = "/certificate/api/certificateQRCode";
const METRICS_ON: (&str, &str) = ("DIVOC__SERVER__METRICS", "true");

/// Reads `GET /metrics` into name → value.
fn metrics(server: &Server) -> BTreeMap<String, u64> {
    let response = server.request("GET", "/metrics", &[]);
    assert_eq!(response.status, 200);
    let text = String::from_utf8(response.body).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.split_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// Reads the cache counters in a fixed order: hits, misses, entries, bytes,
/// renders, 304s.
fn counters(server: &Server) -> [u64; 6] {
    let values = metrics(server);
    [
        "divoc_render_cache_hits_total",
        "divoc_render_cache_misses_total",
        "divoc_render_cache_entries",
        "divoc_render_cache_bytes",
        "divoc_renders_total",
        "divoc_not_modified_total",
    ]
    .map(|name| values[name])
}

fn get_if_none_match(server: &Server, target: &str, if_none_match: &str) -> Response {
    let authorization = format!("Bearer {}", Keys::rs256());
    server.request(
        "GET",
        target,
        &[
            ("Authorization", &authorization),
            ("If-None-Match", if_none_match),
        ],
    )
}

fn etag(response: &Response) -> String {
    response.header("etag").expect("an ETag header").to_owned()
}

fn citizen_token(mobile: &str) -> String {
    Keys::sign(
        "test-rsa-private.pem",
        Algorithm::RS256,
        &Keys::citizen_claims(mobile),
    )
}

fn assert_not_modified(response: &Response, expected_etag: &str, case: &str) {
    assert_eq!(response.status, 304, "{case}");
    assert!(response.body.is_empty(), "{case}");
    assert_eq!(response.header("content-length"), None, "{case}");
    assert_eq!(response.header("etag"), Some(expected_etag), "{case}");
    assert_eq!(response.header("cache-control"), Some("private"), "{case}");
}

/// Copies the sample certificate record `source_id` with a new `certificateId`
/// and `osUpdatedAt`, and lets `edit` change its credential.
fn derived_record(
    source_id: &str,
    new_id: &str,
    updated_at: &str,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let text = std::fs::read_to_string(fixture("sample-records.json")).unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut record = records
        .into_iter()
        .find(|record| record["certificateId"] == source_id && record.get("certificate").is_some())
        .unwrap();
    let mut credential: Value =
        serde_json::from_str(record["certificate"].as_str().unwrap()).unwrap();
    credential["evidence"][0]["certificateId"] = json!(new_id);
    credential["evidence"][0]["id"] = json!(format!("https://divoc.example/vaccine/{new_id}"));
    edit(&mut credential);
    let object = record.as_object_mut().unwrap();
    object.remove("osid");
    object.insert("certificateId".to_owned(), json!(new_id));
    object.insert("osUpdatedAt".to_owned(), json!(updated_at));
    object.insert(
        "certificate".to_owned(),
        json!(serde_json::to_string(&credential).unwrap()),
    );
    record
}

/// Runs `divoc-server import` on the running server's store with `records`,
/// written one record per line.
fn import(server: &Server, records: &[Value]) {
    let folder = server.folder.path();
    let file = folder.join("extra-records.jsonl");
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let url = format!("sqlite://{}", folder.join("divoc.sqlite").display());
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DIVOC__DATABASE__URL", &url)
        .arg("import")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn second_get_served_from_cache() {
    let server = Server::start(&[METRICS_ON]);
    let first = server.get(&format!("{PDF}/BEN1001"));
    assert_eq!(first.status, 200);
    let size = first.body.len() as u64;
    assert_eq!(counters(&server), [0, 1, 1, size, 1, 0]);

    let second = server.get(&format!("{PDF}/BEN1001"));
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(etag(&second), etag(&first));
    assert_eq!(
        second.header("content-disposition"),
        Some("inline; filename=\"certificate-529130864.pdf\"")
    );
    assert_eq!(counters(&server), [1, 1, 1, size, 1, 0]);

    // The QR code of the same certificate is another file with another ETag.
    let qr = server.get(&format!("{QR}/BEN1001"));
    assert_eq!(qr.status, 200);
    assert_ne!(etag(&qr), etag(&first));
    let qr_size = qr.body.len() as u64;
    assert_eq!(counters(&server), [1, 2, 2, size + qr_size, 2, 0]);
}

#[test]
fn metrics_route_format() {
    let server = Server::start(&[METRICS_ON]);
    let response = server.request("GET", "/metrics", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let text = String::from_utf8(response.body).unwrap();
    assert!(text.contains(
        "# TYPE divoc_render_cache_hits_total counter\ndivoc_render_cache_hits_total 0\n"
    ));
    let values = metrics(&server);
    assert_eq!(values["divoc_render_cache_max_bytes"], 16 * 1024 * 1024);
    assert_eq!(values["divoc_audit_events_dropped_total"], 0);
    assert_eq!(values["divoc_store_replica_failures_total"], 0);
    assert_eq!(values.len(), 9);
}

#[test]
fn metrics_route_off_by_default() {
    let server = Server::start(&[]);
    let response = server.request("GET", "/metrics", &[]);
    assert_eq!(response.status, 404);
}

#[test]
fn etag_stable_and_strong() {
    let server = Server::start(&[METRICS_ON]);
    let first = server.get(&format!("{PDF}/BEN1002"));
    let second = server.get(&format!("{PDF}/BEN1002"));
    let tag = etag(&first);
    assert_eq!(etag(&second), tag);
    // A strong ETag: 32 hex digits in quotes, without W/.
    assert_eq!(tag.len(), 34);
    assert!(tag.starts_with('"'));
    assert!(tag.ends_with('"'));
    assert!(
        tag.trim_matches('"')
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    // HEAD stays an index lookup: no ETag.
    let authorization = format!("Bearer {}", Keys::rs256());
    let head = server.request(
        "HEAD",
        &format!("{PDF}/BEN1002"),
        &[("Authorization", &authorization)],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), None);
}

#[test]
fn if_none_match_cases() {
    let server = Server::start(&[METRICS_ON]);
    let target = format!("{PDF}/BEN1001");
    let first = server.get(&target);
    let tag = etag(&first);
    let opaque = tag.trim_matches('"');
    assert_eq!(counters(&server), [0, 1, 1, first.body.len() as u64, 1, 0]);

    let not_modified = [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"0123\", W/{tag}"),
        format!("\"0123\",{tag}, \"4567\""),
        "*".to_owned(),
    ];
    for (index, value) in not_modified.iter().enumerate() {
        let response = get_if_none_match(&server, &target, value);
        assert_not_modified(&response, &tag, value);
        // A 304 costs no render and no cache lookup.
        let count = index as u64 + 1;
        assert_eq!(
            counters(&server),
            [0, 1, 1, first.body.len() as u64, 1, count],
            "{value}"
        );
    }

    let modified = [
        "\"0123\"".to_owned(),
        format!("\"{opaque}0\""),
        format!("W/\"{}\"", &opaque[1..]),
        "not-an-etag".to_owned(),
    ];
    for value in &modified {
        let response = get_if_none_match(&server, &target, value);
        assert_eq!(response.status, 200, "{value}");
        assert_eq!(response.body, first.body, "{value}");
        assert_eq!(response.header("etag"), Some(tag.as_str()), "{value}");
    }
    let hits = modified.len() as u64;
    assert_eq!(
        counters(&server),
        [hits, 1, 1, first.body.len() as u64, 1, 5]
    );

    // The tag in the second of two If-None-Match fields also matches.
    let authorization = format!("Bearer {}", Keys::rs256());
    let response = server.request(
        "GET",
        &target,
        &[
            ("Authorization", &authorization),
            ("If-None-Match", "\"0123\""),
            ("If-None-Match", &tag),
        ],
    );
    assert_not_modified(&response, &tag, "two fields");

    // An item that is not a quoted tag is skipped; the one after it counts.
    let response = get_if_none_match(&server, &target, &format!("garbage, {tag}"));
    assert_not_modified(&response, &tag, "garbage before the tag");
}

#[test]
fn unknown_beneficiary_with_star_is_404() {
    let server = Server::start(&[METRICS_ON]);
    let response = get_if_none_match(&server, &format!("{PDF}/NOBODY"), "*");
    assert_eq!(response.status, 404);
    let revoked = get_if_none_match(&server, &format!("{PDF}/BEN1009"), "*");
    assert_eq!(revoked.status, 404);
    // A citizen gets 404, not 304, for a beneficiary registered to another number.
    let other = format!("Bearer {}", citizen_token("9000000003"));
    let response = server.request(
        "GET",
        &format!("{PDF}/BEN1001"),
        &[("Authorization", &other), ("If-None-Match", "*")],
    );
    assert_eq!(response.status, 404);
    assert_eq!(counters(&server), [0, 0, 0, 0, 0, 0]);
}

#[test]
fn citizen_routes_use_etags() {
    let server = Server::start(&[METRICS_ON]);
    let token = citizen_token("9000000001");
    let authorization = format!("Bearer {token}");
    let by_beneficiary_pdf = server.get(&format!("{PDF}/BEN1001"));
    let by_beneficiary_qr = server.get(&format!("{QR}/BEN1001"));

    let targets = [
        (
            format!("/certificate/api/certificate/529130864?authToken={token}"),
            "application/pdf",
        ),
        (
            "/certificate/api/certificatePDF?certificateId=529130864".to_owned(),
            "application/pdf",
        ),
        (
            format!("/certificate/api/certificate/QRCode/529130864?authToken={token}"),
            "image/png",
        ),
    ];
    for (target, content_type) in &targets {
        let response = server.request("GET", target, &[("Authorization", &authorization)]);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.header("content-type"), Some(*content_type));
        let tag = etag(&response);
        let again = server.request(
            "GET",
            target,
            &[("Authorization", &authorization), ("If-None-Match", &tag)],
        );
        assert_not_modified(&again, &tag, target);
    }

    let citizen_pdf = server.request("GET", &targets[0].0, &[]);
    let citizen_qr = server.request("GET", &targets[2].0, &[]);
    // The citizen's PDF lists only its own dose, so it is another file than the
    // beneficiary's PDF with every dose in the table.
    assert_ne!(etag(&citizen_pdf), etag(&by_beneficiary_pdf));
    assert_ne!(citizen_pdf.body, by_beneficiary_pdf.body);
    // The QR code shows only the chosen certificate: same file, same ETag.
    assert_eq!(etag(&citizen_qr), etag(&by_beneficiary_qr));
    assert_eq!(citizen_qr.body, by_beneficiary_qr.body);
}

#[test]
fn higher_dose_changes_files() {
    let server = Server::start(&[METRICS_ON]);
    let old_pdf = server.get(&format!("{PDF}/BEN1001"));
    let old_qr = server.get(&format!("{QR}/BEN1001"));
    let old_tag = etag(&old_pdf);

    let booster = derived_record("529130864", "529130999", "2023-01-05T10:00:00.000Z", |c| {
        c["evidence"][0]["dose"] = json!(3);
    });
    import(&server, &[booster]);

    let new_pdf = server.get(&format!("{PDF}/BEN1001"));
    assert_eq!(new_pdf.status, 200);
    assert_eq!(
        new_pdf.header("content-disposition"),
        Some("inline; filename=\"certificate-529130999.pdf\"")
    );
    assert_ne!(etag(&new_pdf), old_tag);
    assert_ne!(new_pdf.body, old_pdf.body);
    let new_qr = server.get(&format!("{QR}/BEN1001"));
    assert_ne!(etag(&new_qr), etag(&old_qr));
    assert_ne!(new_qr.body, old_qr.body);

    let revalidated = get_if_none_match(&server, &format!("{PDF}/BEN1001"), &old_tag);
    assert_eq!(revalidated.status, 200);
    assert_eq!(revalidated.body, new_pdf.body);
    assert_eq!(revalidated.header("etag"), Some(etag(&new_pdf).as_str()));
}

#[test]
fn lower_dose_correction_changes_pdf() {
    let server = Server::start(&[METRICS_ON]);
    let old_pdf = server.get(&format!("{PDF}/BEN1002"));
    let old_qr = server.get(&format!("{QR}/BEN1002"));
    let old_tag = etag(&old_pdf);

    // A correction of dose 1 with another batch number, imported after dose 3.
    let correction = derived_record("231907446", "231907999", "2022-06-01T08:00:00.000Z", |c| {
        c["evidence"][0]["batch"] = json!("BBV21C0999");
    });
    import(&server, &[correction]);

    let new_pdf = server.get(&format!("{PDF}/BEN1002"));
    assert_eq!(new_pdf.status, 200);
    // The served certificate stays dose 3; only the doses table changes.
    assert_eq!(
        new_pdf.header("content-disposition"),
        Some("inline; filename=\"certificate-772014589.pdf\"")
    );
    assert_ne!(etag(&new_pdf), old_tag);
    assert_ne!(new_pdf.body, old_pdf.body);
    let revalidated = get_if_none_match(&server, &format!("{PDF}/BEN1002"), &old_tag);
    assert_eq!(revalidated.status, 200);
    assert_eq!(revalidated.body, new_pdf.body);

    // The QR code shows dose 3 alone, so it keeps its ETag.
    let qr_tag = etag(&old_qr);
    let qr = get_if_none_match(&server, &format!("{QR}/BEN1002"), &qr_tag);
    assert_not_modified(&qr, &qr_tag, "QR after the correction");
}

/// Follows the server's cache with a model LRU and checks every counter after
/// each request.
#[test]
fn byte_limit_evicts_least_recently_used() {
    const LIMIT: u64 = 20_000;
    let limit = LIMIT.to_string();
    let server = Server::start(&[METRICS_ON, ("DIVOC__CACHE__MAX_BYTES", &limit)]);
    // BEN1001 to BEN1005 render to 7.5 to 9 kB each, so two fit. BEN1007 renders
    // to about 28 kB, more than the limit, so it is never stored.
    let sequence = [
        "BEN1001", "BEN1002", "BEN1001", "BEN1003", "BEN1001", "BEN1004", "BEN1007", "BEN1001",
        "BEN1005", "BEN1002",
    ];

    let mut model: VecDeque<(&str, u64)> = VecDeque::new();
    let (mut hits, mut misses, mut evictions) = (0, 0, 0);
    let mut outcomes = Vec::new();
    let mut bodies: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for beneficiary in sequence {
        let response = server.get(&format!("{PDF}/{beneficiary}"));
        assert_eq!(response.status, 200, "{beneficiary}");
        let size = response.body.len() as u64;

        if let Some(position) = model.iter().position(|(id, _)| *id == beneficiary) {
            hits += 1;
            outcomes.push("hit");
            let entry = model.remove(position).unwrap();
            model.push_back(entry);
        } else {
            misses += 1;
            outcomes.push("miss");
            if size <= LIMIT {
                while model.iter().map(|(_, size)| size).sum::<u64>() + size > LIMIT {
                    model.pop_front();
                    evictions += 1;
                }
                model.push_back((beneficiary, size));
            }
        }

        if let Some(previous) = bodies.get(beneficiary) {
            assert_eq!(previous, &response.body, "{beneficiary}");
        }
        bodies.insert(beneficiary, response.body);

        let bytes: u64 = model.iter().map(|(_, size)| size).sum();
        assert!(bytes <= LIMIT, "{bytes}");
        assert_eq!(
            counters(&server),
            [hits, misses, model.len() as u64, bytes, misses, 0],
            "after {beneficiary}; cache model {model:?}"
        );
    }

    let sizes: BTreeMap<&str, usize> = bodies.iter().map(|(id, body)| (*id, body.len())).collect();
    // BEN1001 was used after BEN1002, so storing BEN1003 evicted BEN1002 and kept
    // BEN1001, which an oldest-first cache would have dropped. BEN1007 evicted
    // nothing.
    assert_eq!(
        outcomes,
        [
            "miss", "miss", "hit", "miss", "hit", "miss", "miss", "hit", "miss", "miss"
        ],
        "sizes {sizes:?}"
    );
    assert_eq!(evictions, 4, "sizes {sizes:?}");
    assert!(sizes["BEN1007"] as u64 > LIMIT);
}

#[test]
fn disabled_cache_still_serves_etags() {
    let server = Server::start(&[METRICS_ON, ("DIVOC__CACHE__ENABLED", "false")]);
    let first = server.get(&format!("{PDF}/BEN1001"));
    let second = server.get(&format!("{PDF}/BEN1001"));
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    // Two renders give the same bytes, which a strong ETag requires.
    assert_eq!(second.body, first.body);
    let tag = etag(&first);
    assert_eq!(etag(&second), tag);
    assert_eq!(counters(&server), [0, 0, 0, 0, 2, 0]);
    assert_eq!(metrics(&server)["divoc_render_cache_max_bytes"], 0);

    let response = get_if_none_match(&server, &format!("{PDF}/BEN1001"), &tag);
    assert_not_modified(&response, &tag, "cache disabled");
    assert_eq!(counters(&server), [0, 0, 0, 0, 2, 1]);
}

#[test]
fn language_parameter_selects_labels() {
    let server = Server::start(&[METRICS_ON]);
    let english = server.get(&format!("{PDF}/BEN1002"));
    assert_eq!(english.status, 200);
    assert_eq!(english.header("content-language"), Some("en"));

    let hindi = server.get(&format!("{PDF}/BEN1002?language=hi"));
    assert_eq!(hindi.status, 200);
    assert_eq!(hindi.header("content-language"), Some("hi"));
    assert_ne!(etag(&hindi), etag(&english));
    assert_ne!(hindi.body, english.body);
    // A region subtag falls back to its language, with the same file.
    let regional = server.get(&format!("{PDF}/BEN1002?language=hi-IN"));
    assert_eq!(regional.header("content-language"), Some("hi"));
    assert_eq!(etag(&regional), etag(&hindi));
    // A language without a label set gets the default language.
    let unknown = server.get(&format!("{PDF}/BEN1002?language=fr"));
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.header("content-language"), Some("en"));
    assert_eq!(etag(&unknown), etag(&english));
    // Two renders: English and Hindi; the others came from the cache.
    assert_eq!(counters(&server)[4], 2);

    let invalid = server.get(&format!("{PDF}/BEN1002?language=hi%3Cx%3E"));
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.json(),
        json!({
            "error": "invalid_parameter",
            "message": "invalid language: expected a language code such as hi or hi-IN: up to 35 characters, 2 to 8 letters, then parts of 1 to 8 letters and digits after hyphens or underscores",
            "value": "hi<x>",
        })
    );
    let log = server.wait_for_log("requested language has no exact label set");
    assert!(
        log.contains("requested language has no exact label set"),
        "{log}"
    );

    if common::have_tool("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("hi.pdf");
        std::fs::write(&path, &hindi.body).unwrap();
        let output = Command::new("pdftotext")
            .args(["-enc", "UTF-8", path.to_str().unwrap(), "-"])
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(
            text.contains("लाभार्थी का विवरण / Beneficiary Details"),
            "{text}"
        );
    }
}

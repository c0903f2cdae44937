//! Registry export parsing: layouts, validation errors and credential fields.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use divoc_model::{
    ContextVersion, ExportEntry, ModelError, RegistryRecord, VaccinationDate, parse_export,
};
use serde_json::{Value, json};

fn credential(dose: Value, total: Value) -> String {
    json!({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://divoc.example/credentials/vaccination/v2"],
        "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
        "credentialSubject": {"type": "Person", "name": "Ana Núñez", "age": 35, "sex": "Female", "dob": "1987-04-21"},
        "issuer": "https://divoc.example/",
        "evidence": [{"dose": dose, "totalDoses": total, "date": "2021-10-17T22:00:00.000Z", "futureField": [1, 2]}],
        "someExtension": {"nested": true},
    })
    .to_string()
}

fn certificate_record(id: &str, dose: Value) -> Value {
    json!({
        "preEnrollmentCode": "BEN1",
        "certificateId": id,
        "mobile": "9000000001",
        "contact": ["tel:9000000001"],
        "certificate": credential(dose, json!(2)),
        "meta": {"certificateType": "certifyV3"},
        "osUpdatedAt": "2022-01-05T17:43:34.366Z",
        "unknownRegistryField": "ignored",
    })
}

fn revocation() -> Value {
    json!({"preEnrollmentCode": "BEN1", "certificateId": "100000002", "dose": 1, "previousCertificateId": "100000001"})
}

fn certificate_ids(text: &str) -> Vec<(usize, String)> {
    parse_export(text)
        .unwrap()
        .into_iter()
        .map(|item| match item.entry {
            ExportEntry::Certificate { record, .. } => (item.position, record.certificate_id),
            ExportEntry::Revocation(revocation) => (
                item.position,
                format!("revokes {}", revocation.revoked_certificate_id()),
            ),
        })
        .collect()
}

#[test]
fn array_with_revocation() {
    let text = json!([certificate_record("100000001", json!(1)), revocation()]).to_string();
    assert_eq!(
        certificate_ids(&text),
        [
            (1, "100000001".to_owned()),
            (2, "revokes 100000001".to_owned())
        ]
    );
}

#[test]
fn registry_envelope() {
    let text = json!({
        "id": "open-saber.registry.search",
        "ver": "1.0",
        "params": {"status": "SUCCESSFUL"},
        "responseCode": "OK",
        "result": {"VaccinationCertificate": [certificate_record("100000001", json!(1))], "RevokedCertificate": [revocation()]},
    })
    .to_string();
    assert_eq!(
        certificate_ids(&text),
        [
            (1, "100000001".to_owned()),
            (2, "revokes 100000001".to_owned())
        ]
    );
}

#[test]
fn envelope_rejects_other_entity() {
    let text = json!({"result": {"TestCertificate": []}}).to_string();
    let error = parse_export(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid registry export: unsupported entity type \"TestCertificate\"; expected VaccinationCertificate or RevokedCertificate"
    );
}

#[test]
fn json_lines() {
    let text = format!(
        "{}\n\n{}\n",
        certificate_record("100000001", json!(1)),
        certificate_record("100000002", json!("2"))
    );
    assert_eq!(
        certificate_ids(&text),
        [(1, "100000001".to_owned()), (2, "100000002".to_owned())]
    );
}

#[test]
fn single_object_and_empty_file() {
    let text = certificate_record("100000001", json!(1)).to_string();
    assert_eq!(certificate_ids(&text), [(1, "100000001".to_owned())]);
    assert_eq!(parse_export("  \n").unwrap(), Vec::new());
}

#[test]
fn bad_record_named_by_position_and_id() {
    let text = json!([
        certificate_record("100000001", json!(1)),
        certificate_record("100000002", json!(2)),
        certificate_record("100000003", json!("third")),
    ])
    .to_string();
    let error = parse_export(&text).unwrap_err();
    assert!(matches!(error, ModelError::Record { .. }));
    assert_eq!(
        error.to_string(),
        "record 3 (certificateId 100000003): field `certificate: evidence[0].dose` is invalid: \
         expected a whole number of doses, found \"…\" at line 1 column 332"
    );
}

#[test]
fn missing_certificate_id_named() {
    let mut record = certificate_record("x", json!(1));
    record.as_object_mut().unwrap().remove("certificateId");
    let error = parse_export(&json!([record]).to_string()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 1 (no certificateId): field `(root)` is invalid: missing field `certificateId`"
    );
}

#[test]
fn blank_beneficiary_rejected() {
    let mut record = certificate_record("100000001", json!(1));
    record["preEnrollmentCode"] = json!(" ");
    let error = parse_export(&json!([record]).to_string()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 1 (certificateId 100000001): field `preEnrollmentCode` is invalid: not a valid id: \
         only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"
    );
}

#[test]
fn certificate_without_evidence_rejected() {
    let mut record = certificate_record("100000001", json!(1));
    record["certificate"] = json!("{\"credentialSubject\":{}}");
    let error = parse_export(&json!([record]).to_string()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 1 (certificateId 100000001): field `certificate: evidence` is invalid: \
         no vaccination event: the list is empty or missing"
    );
}

#[test]
fn non_object_entry_rejected() {
    let error = parse_export("[42]").unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 1 (no certificateId): field `(root)` is invalid: expected a JSON object, found a number"
    );
}

#[test]
fn certificate_text_kept_exactly() {
    let signed = "{\"credentialSubject\":{\"name\":\"Łukasz \\\"Łuki\\\" Żółć\"},  \"evidence\":[{\"dose\":1}]}";
    let text = json!([{"preEnrollmentCode": "BEN1", "certificateId": "1", "certificate": signed}])
        .to_string();
    let items = parse_export(&text).unwrap();
    let ExportEntry::Certificate { record, dose } = &items[0].entry else {
        panic!("expected a certificate")
    };
    assert_eq!(record.certificate, signed);
    assert_eq!(*dose, Some(1));
}

#[test]
fn credential_fields_typed() {
    let record: RegistryRecord =
        serde_json::from_value(certificate_record("100000001", json!("10"))).unwrap();
    let credential = record.credential().unwrap();
    assert_eq!(credential.dose(), Some(10));
    assert_eq!(credential.context_version(), ContextVersion::V2);
    assert_eq!(credential.issuer_id(), Some("https://divoc.example/"));
    let subject = &credential.credential_subject;
    assert_eq!(subject.age.as_deref(), Some("35"));
    assert_eq!(subject.gender_or_sex(), Some("Female"));
    assert_eq!(
        subject.date_of_birth().map(|d| d.to_string()).as_deref(),
        Some("1987-04-21")
    );
    let date = credential.evidence[0].vaccination_date();
    assert_eq!(
        date,
        Some(VaccinationDate::Instant(
            "2021-10-17T22:00:00Z".parse().unwrap()
        ))
    );
    assert_eq!(
        record.os_updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2022-01-05T17:43:34.366+00:00")
    );
}

#[test]
fn empty_total_doses_is_none() {
    let text = credential(json!(1), json!(""));
    let parsed = divoc_model::VaccinationCredential::parse("1", &text).unwrap();
    assert_eq!(parsed.evidence[0].total_doses, None);
}

#[test]
fn v1_context_detected() {
    let text = r#"{"@context":["https://www.w3.org/2018/credentials/v1","https://cowin.gov.in/credentials/vaccination/v1"],"credentialSubject":{}}"#;
    let parsed = divoc_model::VaccinationCredential::parse("1", text).unwrap();
    assert_eq!(parsed.context_version(), ContextVersion::V1);
}

#[test]
fn duplicate_certificate_id_rejected() {
    let mut second = certificate_record("100000002", json!(2));
    second["name"] = json!("Other");
    let text = json!([
        certificate_record("100000001", json!(1)),
        certificate_record("100000002", json!(1)),
        second,
    ])
    .to_string();
    let error = parse_export(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 3 (certificateId 100000002): field `certificateId` is invalid: \
         duplicate of record 2; each certificate may appear once per file"
    );
}

#[test]
fn ids_follow_service_rules() {
    for (id, rule) in [
        ("BEN/../x", "contains `..`"),
        ("BEN 1", "only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"),
        ("", "empty"),
    ] {
        let mut record = certificate_record("100000001", json!(1));
        record["preEnrollmentCode"] = json!(id);
        let error = parse_export(&json!([record]).to_string()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "record 1 (certificateId 100000001): field `preEnrollmentCode` is invalid: not a valid id: {rule}"
            )
        );
    }
}

#[test]
fn unparseable_dates_rejected() {
    let cases = [
        (
            "evidence",
            "date",
            "Hidden Name 9000000055",
            "evidence[0].date",
            "not an RFC 3339 timestamp, a timestamp without offset or a YYYY-MM-DD date",
        ),
        (
            "evidence",
            "effectiveUntil",
            "next year",
            "evidence[0].effectiveUntil",
            "not a YYYY-MM-DD date",
        ),
        (
            "credentialSubject",
            "dob",
            "21/04/1987",
            "credentialSubject.dob",
            "not a YYYY-MM-DD date",
        ),
    ];
    for (section, field, value, path, reason) in cases {
        let mut record = certificate_record("100000001", json!(1));
        let mut credential: Value =
            serde_json::from_str(record["certificate"].as_str().unwrap()).unwrap();
        if section == "evidence" {
            credential["evidence"][0][field] = json!(value);
        } else {
            credential[section][field] = json!(value);
        }
        record["certificate"] = json!(credential.to_string());
        let error = parse_export(&json!([record]).to_string()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "record 1 (certificateId 100000001): field `certificate: {path}` is invalid: {reason}"
            )
        );
    }
}

#[test]
fn errors_hold_no_values() {
    let mut record = certificate_record("100000001", json!(1));
    record["mobile"] = json!(9000000099u64);
    let error = parse_export(&json!([record]).to_string()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "record 1 (certificateId 100000001): field `mobile` is invalid: invalid type: integer `…`, expected a string"
    );

    let mut record = certificate_record("100000001", json!(1));
    let mut credential: Value =
        serde_json::from_str(record["certificate"].as_str().unwrap()).unwrap();
    credential["credentialSubject"]["name"] = json!(["Hidden Name"]);
    record["certificate"] = json!(credential.to_string());
    let error = parse_export(&json!([record]).to_string())
        .unwrap_err()
        .to_string();
    assert!(!error.contains("Hidden"), "{error}");
    assert!(error.contains("expected a string, found a list"), "{error}");
}

#[test]
fn huge_dose_reported_by_value() {
    let error = parse_export(&json!([certificate_record("100000001", json!(1e30))]).to_string())
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("dose number 1e+30 is out of range"),
        "{error}"
    );
}

/// Returns every text field that the PDF prints, with the limit of its kind.
fn printed_fields() -> Vec<(&'static str, usize)> {
    use divoc_model::{MAX_ADDRESS_PART_CHARS, MAX_NAME_CHARS, MAX_PRINTED_VALUE_CHARS};
    let mut fields = vec![("credentialSubject.name", MAX_NAME_CHARS)];
    for field in ["age", "gender", "sex", "id", "refId"] {
        fields.push((
            leak(format!("credentialSubject.{field}")),
            MAX_PRINTED_VALUE_CHARS,
        ));
    }
    for part in [
        "streetAddress",
        "streetAddress2",
        "district",
        "city",
        "addressRegion",
        "addressCountry",
        "postalCode",
    ] {
        fields.push((
            leak(format!("credentialSubject.address.{part}")),
            MAX_ADDRESS_PART_CHARS,
        ));
    }
    fields.push(("issuer", MAX_PRINTED_VALUE_CHARS));
    fields.push(("issuer.id", MAX_PRINTED_VALUE_CHARS));
    for field in [
        "vaccine",
        "manufacturer",
        "icd11Code",
        "prophylaxis",
        "batch",
        "verifier.name",
        "facility.name",
        "facility.address.district",
        "facility.address.addressCountry",
    ] {
        fields.push((
            leak(format!("evidence[0].{field}")),
            MAX_PRINTED_VALUE_CHARS,
        ));
    }
    fields
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Returns a certificate record whose credential has `value` at `path`, a
/// path as the errors write it.
fn record_with_text(path: &str, value: &str) -> Value {
    let mut record = certificate_record("100000001", json!(1));
    let mut credential: Value =
        serde_json::from_str(record["certificate"].as_str().unwrap()).unwrap();
    let mut target = &mut credential;
    for part in path.split('.') {
        target = match part.strip_suffix("[0]") {
            Some(list) => &mut target[list][0],
            None => {
                if target.is_string() {
                    *target = json!({});
                }
                &mut target[part]
            }
        };
    }
    *target = json!(value);
    record["certificate"] = json!(credential.to_string());
    record
}

#[test]
fn long_printed_text_rejected() {
    for (path, max) in printed_fields() {
        let long = "x".repeat(max + 1);
        let record = record_with_text(path, &long);
        let expected = format!(
            "record 1 (certificateId 100000001): field `certificate: {path}` is invalid: \
             {} characters, more than the maximum of {max} for a printed text field",
            max + 1
        );
        let error = parse_export(&json!([record]).to_string()).unwrap_err();
        assert_eq!(error.to_string(), expected, "{path}, JSON array");
        // JSON lines go through the quick check first.
        let line = format!("{record}\n");
        let error = divoc_model::ExportReader::new(line.as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(error.to_string(), expected, "{path}, JSON lines");
    }
}

#[test]
fn printed_text_at_limit_accepted() {
    for (path, max) in printed_fields() {
        // Two bytes a character: the limit counts characters, not bytes.
        let record = record_with_text(path, &"é".repeat(max));
        let line = format!("{record}\n");
        let items: Vec<_> = divoc_model::ExportReader::new(line.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items.len(), 1, "{path}");
        assert_eq!(
            parse_export(&json!([record]).to_string()).unwrap().len(),
            1,
            "{path}"
        );
    }
}

#[test]
fn long_text_cut_for_printing() {
    use divoc_model::{MAX_NAME_CHARS, MAX_PRINTED_VALUE_CHARS, VaccinationCredential};
    let text = json!({
        "credentialSubject": {"name": "ab".repeat(200_000), "gender": "F"},
        "issuer": {"id": "i".repeat(1000)},
        "evidence": [{"batch": "ü".repeat(300), "vaccine": "V"}],
    })
    .to_string();
    let mut credential = VaccinationCredential::parse("1", &text).unwrap();
    assert_eq!(credential.cut_printed_text(), 3);
    let name = credential.credential_subject.name.as_deref().unwrap();
    assert_eq!(name, "ab".repeat(MAX_NAME_CHARS / 2));
    assert_eq!(
        credential.issuer_id(),
        Some("i".repeat(MAX_PRINTED_VALUE_CHARS).as_str())
    );
    let evidence = credential.evidence().unwrap();
    assert_eq!(
        evidence.batch.as_deref(),
        Some("ü".repeat(MAX_PRINTED_VALUE_CHARS).as_str())
    );
    assert_eq!(evidence.vaccine.as_deref(), Some("V"));
    assert_eq!(credential.credential_subject.gender.as_deref(), Some("F"));
    // A second cut finds nothing left to cut.
    assert_eq!(credential.cut_printed_text(), 0);
}

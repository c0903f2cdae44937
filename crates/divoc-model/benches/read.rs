//! Reading a JSON-lines registry export with `ExportReader`, per record.
//!
//! The records are built here: 2,000 certificates of about 2.5 KB each, with
//! the fields and escapes of a DIVOC export, each with its own ids.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "bench code: a failed expectation ends the bench"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use divoc_model::{ExportEntry, ExportReader};
use serde_json::json;

const RECORDS: usize = 2_000;

/// Builds one record line with a credential like those DIVOC signs.
fn record_line(number: usize) -> String {
    let certificate_id = format!("{}", 3_000_000_000_u64 + number as u64 * 7_919);
    let beneficiary = format!("{}", 83_264_869_366_403_u64 + number as u64 * 104_729);
    let credential = json!({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://divoc.example/credentials/vaccination/v2"],
        "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
        "credentialSubject": {
            "type": "Person", "id": "did:aadhaar:XXXXXXXX2289", "refId": beneficiary,
            "name": "Pooja Dvořák", "gender": "Female", "age": "66", "nationality": "Indian",
            "address": {"streetAddress": "187 Gulmohar Society, Baner Road", "streetAddress2": "",
                "district": "Hyderabad", "city": "Hyderabad", "addressRegion": "Telangana",
                "addressCountry": "IND", "postalCode": "500074"},
            "dob": "1954-06-04"
        },
        "issuer": "https://divoc.example/",
        "issuanceDate": "2021-04-18T11:32:48.000Z",
        "evidence": [{
            "id": format!("https://divoc.example/vaccine/{certificate_id}"),
            "infoUrl": format!("https://divoc.example/learn/?{certificate_id}"),
            "feedbackUrl": format!("https://divoc.example/feedback/?{certificate_id}"),
            "certificateId": certificate_id, "type": ["Vaccination"], "batch": "ED21078",
            "vaccine": "Covaxin", "manufacturer": "Bharat Biotech", "icd11Code": "XM1NL1",
            "prophylaxis": "COVID-19 vaccine, inactivated virus",
            "date": "2021-04-18T11:32:30.000Z", "effectiveStart": "2021-04-18",
            "effectiveUntil": "2022-04-17", "dose": 1 + number % 3, "totalDoses": 2,
            "verifier": {"name": "Dr. Rakesh Menon"},
            "facility": {"name": "District Hospital", "address": {"streetAddress": "Station Road",
                "streetAddress2": "", "district": "Hyderabad", "city": "Hyderabad",
                "addressRegion": "Telangana", "addressCountry": "IND", "postalCode": "500000"}}
        }],
        "nonTransferable": "true",
        "proof": {"type": "RsaSignature2018", "created": "2021-04-18T11:32:48Z",
            "verificationMethod": "did:india", "proofPurpose": "assertionMethod",
            "jws": "eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..".to_owned() + &"Q".repeat(342)}
    });
    json!({
        "osid": "fcbc68d5-8a20-4eeb-b440-b52d7a7bfc21",
        "preEnrollmentCode": beneficiary,
        "certificateId": certificate_id,
        "mobile": "7028078071",
        "name": "Pooja Dvořák",
        "contact": ["tel:7028078071"],
        "programId": "PRG-COVID19",
        "certificate": credential.to_string(),
        "meta": {"certificateType": "certifyV3", "osCreatedAt": "2021-04-18T11:32:49.000Z",
            "osUpdatedAt": "2021-04-18T11:32:54.000Z", "osid": "02a38aa9-9716-4fee-9266-a751183b7eb7"},
        "osCreatedAt": "2021-04-18T11:32:49.000Z",
        "osUpdatedAt": "2021-04-18T11:32:54.000Z"
    })
    .to_string()
}

fn read_export(criterion: &mut Criterion) {
    let export: String = (0..RECORDS)
        .map(|number| record_line(number) + "\n")
        .collect();
    let mut group = criterion.benchmark_group("export_reader");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("json_lines", |bench| {
        bench.iter(|| {
            let mut doses = 0_u64;
            for item in ExportReader::new(export.as_bytes()) {
                match item.expect("a valid record").entry {
                    ExportEntry::Certificate { dose, .. } => doses += u64::from(dose.unwrap_or(0)),
                    ExportEntry::Revocation { .. } => panic!("only certificates are written"),
                }
            }
            assert_eq!(doses, 3_999);
            doses
        });
    });
    group.finish();
}

criterion_group!(benches, read_export);
criterion_main!(benches);

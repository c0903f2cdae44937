//! Selection rules checked on small hand-made histories.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use chrono::NaiveDate;
use divoc_model::RegistryRecord;
use divoc_select::{
    Candidate, GroupBy, SelectError, find_field, latest, latest_grouped, latest_per_group,
    match_date_of_birth, parse_date_of_birth, previous_doses,
};
use serde_json::{Value, json};

/// Builds a record whose credential has the given evidence `dose` and `totalDoses` JSON values.
fn record(
    code: &str,
    id: &str,
    dose: Value,
    total: Value,
    updated: Option<&str>,
) -> RegistryRecord {
    let credential = json!({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://divoc.example/credentials/vaccination/v2"],
        "credentialSubject": {"name": format!("Person {code}"), "dob": "1987-04-21", "refId": code},
        "evidence": [{
            "certificateId": id, "dose": dose, "totalDoses": total,
            "facility": {"name": "Ward 7 Clinic", "address": {"district": "Laren"}},
        }],
    });
    let mut value = json!({
        "preEnrollmentCode": code,
        "certificateId": id,
        "certificate": credential.to_string(),
    });
    if let Some(updated) = updated {
        value["osUpdatedAt"] = json!(updated);
    }
    serde_json::from_value(value).unwrap()
}

fn ids<'a>(chosen: impl IntoIterator<Item = &'a Candidate<'a>>) -> Vec<String> {
    chosen
        .into_iter()
        .map(|candidate| candidate.certificate_id().to_owned())
        .collect()
}

fn latest_id(records: &[RegistryRecord]) -> Option<String> {
    let candidates = Candidate::parse_all(records).unwrap();
    latest(&candidates).map(|candidate| candidate.certificate_id().to_owned())
}

fn divoc_like_history() -> Vec<RegistryRecord> {
    vec![
        record(
            "B1",
            "525128495",
            json!(1),
            json!(2),
            Some("2022-01-05T17:43:34.366Z"),
        ),
        record(
            "B1",
            "712988986",
            json!(2),
            json!(2),
            Some("2022-01-05T17:43:40.771Z"),
        ),
        record(
            "B1",
            "576939268",
            json!(1),
            json!(2),
            Some("2022-01-05T17:44:11.245Z"),
        ),
    ]
}

#[test]
fn later_correction_of_lower_dose_loses() {
    assert_eq!(
        latest_id(&divoc_like_history()).as_deref(),
        Some("712988986")
    );
}

#[test]
fn booster_three_of_two_wins() {
    let records = vec![
        record(
            "B2",
            "200000001",
            json!(1),
            json!(2),
            Some("2021-05-01T10:00:00.000Z"),
        ),
        record(
            "B2",
            "200000003",
            json!(3),
            json!(2),
            Some("2022-01-01T10:00:00.000Z"),
        ),
        record(
            "B2",
            "200000002",
            json!(2),
            json!(2),
            Some("2022-06-01T10:00:00.000Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("200000003"));
}

#[test]
fn booster_two_of_one_wins() {
    let records = vec![
        record(
            "B3",
            "300000002",
            json!(2),
            json!(1),
            Some("2022-01-01T10:00:00.000Z"),
        ),
        record(
            "B3",
            "300000001",
            json!(1),
            json!(1),
            Some("2022-02-01T10:00:00.000Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("300000002"));
}

#[test]
fn string_dose_compares_as_number() {
    let records = vec![
        record(
            "B4",
            "400000009",
            json!(9),
            json!(2),
            Some("2022-03-01T10:00:00.000Z"),
        ),
        record(
            "B4",
            "400000010",
            json!("10"),
            json!(2),
            Some("2022-01-01T10:00:00.000Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("400000010"));
}

#[test]
fn empty_total_doses_is_unknown() {
    let records = vec![record("B5", "500000001", json!("1"), json!(""), None)];
    let candidates = Candidate::parse_all(&records).unwrap();
    let chosen = latest(&candidates).unwrap();
    assert_eq!(chosen.dose(), Some(1));
    assert_eq!(chosen.credential.evidence[0].total_doses, None);
}

#[test]
fn missing_dose_ranks_lowest() {
    let records = vec![
        record(
            "B5",
            "500000002",
            json!(null),
            json!(2),
            Some("2023-01-01T00:00:00.000Z"),
        ),
        record(
            "B5",
            "500000001",
            json!(1),
            json!(2),
            Some("2022-01-01T00:00:00.000Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("500000001"));
}

#[test]
fn updated_at_compares_instants_not_text() {
    // 18:00 at +05:30 is 12:30 UTC, earlier than 13:00 UTC, although it sorts later as text.
    let records = vec![
        record(
            "B6",
            "600000001",
            json!(1),
            json!(2),
            Some("2022-01-05T18:00:00.000+05:30"),
        ),
        record(
            "B6",
            "600000002",
            json!(1),
            json!(2),
            Some("2022-01-05T13:00:00.000Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("600000002"));
}

#[test]
fn fraction_lengths_compare_as_instants() {
    let records = vec![
        record(
            "B6",
            "600000003",
            json!(1),
            json!(2),
            Some("2022-01-05T13:00:00.5Z"),
        ),
        record(
            "B6",
            "600000004",
            json!(1),
            json!(2),
            Some("2022-01-05T13:00:00.45Z"),
        ),
    ];
    assert_eq!(latest_id(&records).as_deref(), Some("600000003"));
}

#[test]
fn equal_dose_and_time_tie_break() {
    let time = Some("2022-01-05T13:00:00.000Z");
    let records = vec![
        record("B7", "99", json!(1), json!(2), time),
        record("B7", "100", json!(1), json!(2), time),
        record("B7", "0100", json!(1), json!(2), time),
    ];
    // Longest id wins, then byte order: "0100" (4 bytes) beats "100" and "99".
    assert_eq!(latest_id(&records).as_deref(), Some("0100"));
    let mut reversed = records.clone();
    reversed.reverse();
    assert_eq!(latest_id(&reversed).as_deref(), Some("0100"));
}

#[test]
fn created_at_breaks_tie_before_id() {
    let time = "2022-01-05T13:00:00.000Z";
    let mut older = record("B7", "700000009", json!(1), json!(2), Some(time));
    older.os_created_at = Some("2022-01-01T00:00:00Z".parse().unwrap());
    let mut newer = record("B7", "700000001", json!(1), json!(2), Some(time));
    newer.os_created_at = Some("2022-01-02T00:00:00Z".parse().unwrap());
    assert_eq!(latest_id(&[older, newer]).as_deref(), Some("700000001"));
}

#[test]
fn empty_set_has_no_latest() {
    assert_eq!(latest_id(&[]), None);
}

#[test]
fn previous_doses_one_row_per_dose() {
    let mut records = divoc_like_history();
    records.push(record(
        "B1",
        "812345678",
        json!(3),
        json!(2),
        Some("2022-09-01T00:00:00.000Z"),
    ));
    let candidates = Candidate::parse_all(&records).unwrap();
    assert_eq!(
        ids(previous_doses(&candidates)),
        ["812345678", "712988986", "576939268"]
    );
}

#[test]
fn group_by_nothing_takes_latest_update() {
    let records = divoc_like_history();
    let candidates = Candidate::parse_all(&records).unwrap();
    let chosen = latest_grouped(&candidates, &GroupBy::Nothing).unwrap();
    assert_eq!(chosen.certificate_id(), "576939268");
}

#[test]
fn group_by_dose_field_matches_dose_rule() {
    let records = divoc_like_history();
    let candidates = Candidate::parse_all(&records).unwrap();
    let chosen = latest_grouped(&candidates, &GroupBy::Field("dose".to_owned())).unwrap();
    assert_eq!(chosen.certificate_id(), "712988986");
    let rows = latest_per_group(&candidates, &GroupBy::Field("dose".to_owned()));
    assert_eq!(ids(rows), ["712988986", "576939268"]);
}

#[test]
fn group_by_field_zero_and_negative_zero() {
    // -0 and 0 have the same value, so they form one group, and its latest
    // record wins whichever way the zero is written.
    let mut records = Vec::new();
    for (id, x, updated) in [
        ("700000001", "0", "2022-01-05T17:43:34.366Z"),
        ("700000002", "-0", "2022-01-05T17:43:40.771Z"),
        ("700000003", "\"-0.0\"", "2022-01-05T17:44:11.245Z"),
    ] {
        let mut record = record("B7", id, json!(1), json!(2), Some(updated));
        record.certificate = format!(r#"{{"credentialSubject":{{}},"evidence":[{{"x":{x}}}]}}"#);
        records.push(record);
    }
    let candidates = Candidate::parse_all(&records).unwrap();
    let group = GroupBy::Field("x".to_owned());
    let chosen = latest_grouped(&candidates, &group).unwrap();
    assert_eq!(chosen.certificate_id(), "700000003");
    assert_eq!(ids(latest_per_group(&candidates, &group)), ["700000003"]);

    // With the order of updates reversed, the plain 0 is the latest.
    records.reverse();
    for (record, updated) in records.iter_mut().zip([
        "2022-01-06T00:00:00Z",
        "2022-01-07T00:00:00Z",
        "2022-01-08T00:00:00Z",
    ]) {
        record.os_updated_at = Some(updated.parse().unwrap());
    }
    let candidates = Candidate::parse_all(&records).unwrap();
    let chosen = latest_grouped(&candidates, &group).unwrap();
    assert_eq!(chosen.certificate_id(), "700000001");
    assert_eq!(ids(latest_per_group(&candidates, &group)), ["700000001"]);
}

/// Builds `count` records of different beneficiaries, each with its own
/// `evidence[0].certificateId` and the date of birth 1990-01-01.
fn many_beneficiaries(count: usize) -> Vec<RegistryRecord> {
    (0..count)
        .map(|index| {
            let id = format!("{}", 100_000_000 + index);
            let mut record = record(&format!("BEN{index}"), &id, json!(1), json!(2), None);
            record.certificate = format!(
                r#"{{"credentialSubject":{{"dob":"1990-01-01"}},"evidence":[{{"dose":1,"certificateId":"{id}"}}]}}"#
            );
            record
        })
        .collect()
}

#[test]
fn date_of_birth_match_many_beneficiaries() {
    // A search of a list for each beneficiary took 25 s for 20,000 of them
    // in a debug build. Its return would show here as a slow test, which
    // the benchmarks, not this test, measure.
    let records = many_beneficiaries(40_000);
    let candidates = Candidate::parse_all(&records).unwrap();
    let dob = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    let matches = match_date_of_birth(&candidates, dob);
    assert_eq!(matches.len(), 40_000);
    assert_eq!(matches[0].certificate_id(), "100000000");
    assert_eq!(matches[39_999].certificate_id(), "100039999");
}

#[test]
fn latest_per_group_many_groups() {
    // A comparison of each record with every row kept so far took 4.3 s
    // for 20,000 groups in a debug build.
    let records = many_beneficiaries(40_000);
    let candidates = Candidate::parse_all(&records).unwrap();
    let group = GroupBy::Field("certificateId".to_owned());
    let rows = latest_per_group(&candidates, &group);
    assert_eq!(rows.len(), 40_000);
    // Numeric strings rank by value, highest first.
    assert_eq!(rows[0].certificate_id(), "100039999");
}

#[test]
fn find_field_follows_divoc_order() {
    let credential = json!({
        "credentialSubject": {"name": "Asha Rao"},
        "evidence": [{"dose": 2, "facility": {"name": "Ward 7 Clinic"}}],
    });
    assert_eq!(find_field(&credential, "dose"), Some(&json!(2)));
    assert_eq!(
        find_field(&credential, "name"),
        Some(&json!("Ward 7 Clinic"))
    );
    assert_eq!(find_field(&credential, "batch"), None);
}

#[test]
fn date_of_birth_matches_latest_per_beneficiary() {
    let mut first = record(
        "B8",
        "800000001",
        json!(1),
        json!(2),
        Some("2022-04-07T12:31:46.075Z"),
    );
    let mut second = record(
        "B8",
        "800000002",
        json!(1),
        json!(2),
        Some("2022-04-07T12:32:00.394Z"),
    );
    for (record, name) in [(&mut first, "John Doeq"), (&mut second, "John Doew")] {
        let mut credential: Value = serde_json::from_str(&record.certificate).unwrap();
        credential["credentialSubject"]["name"] = json!(name);
        credential["credentialSubject"]["dob"] = json!("1987-04-23");
        record.certificate = credential.to_string();
    }
    let other = record(
        "B9",
        "900000001",
        json!(2),
        json!(2),
        Some("2022-04-07T12:00:00.000Z"),
    );
    let records = vec![first, other, second];
    let candidates = Candidate::parse_all(&records).unwrap();

    let dob = NaiveDate::from_ymd_opt(1987, 4, 23).unwrap();
    let matches = match_date_of_birth(&candidates, dob);
    assert_eq!(ids(matches.iter().copied()), ["800000002"]);
    assert_eq!(
        matches[0].credential.credential_subject.name.as_deref(),
        Some("John Doew")
    );

    let other_dob = NaiveDate::from_ymd_opt(1987, 4, 21).unwrap();
    assert_eq!(
        ids(match_date_of_birth(&candidates, other_dob)),
        ["900000001"]
    );
}

#[test]
fn date_of_birth_query_parsing() {
    assert_eq!(
        parse_date_of_birth("1987-04-23").unwrap(),
        NaiveDate::from_ymd_opt(1987, 4, 23).unwrap()
    );
    for bad in [
        "04/23/1987",
        "1987-02-30",
        "1987-4-23",
        "",
        "1987-04-23T00:00:00Z",
        // chrono's `%Y` reads a sign and fewer digits, which this rejects.
        "+987-04-23",
        "-987-04-23",
        "+0987-04-2",
        "1987-+4-23",
        "1987-04-+3",
        "\u{FF11}987-04-23",
    ] {
        let error = parse_date_of_birth(bad).unwrap_err();
        assert!(
            matches!(error, SelectError::InvalidDateOfBirth { ref value } if value == bad),
            "{bad}"
        );
    }
}

#[test]
fn unreadable_certificate_names_record() {
    let mut records = divoc_like_history();
    records[1].certificate = "{\"evidence\": [{\"dose\": \"two\"}]}".to_owned();
    let error = Candidate::parse_all(&records).unwrap_err();
    assert_eq!(error.to_string(), "a stored certificate cannot be read");
    let SelectError::UnreadableCertificate {
        ref certificate_id, ..
    } = error
    else {
        panic!("expected an unreadable certificate, got {error:?}");
    };
    assert_eq!(certificate_id, "712988986");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(
        source.as_deref(),
        Some(
            "certificate 712988986: credential field `evidence[0].dose` is invalid: \
             expected a whole number of doses, found \"…\" at line 1 column 29"
        )
    );
}

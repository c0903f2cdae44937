#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use divoc_model::RegistryRecord;
use divoc_select::*;

fn record(id: &str, field: &str, updated: &str) -> RegistryRecord {
    serde_json::from_value(serde_json::json!({
        "preEnrollmentCode": "BEN1",
        "certificateId": id,
        "osUpdatedAt": updated,
        "certificate": format!(r#"{{"credentialSubject":{{}},"evidence":[{{"dose":1,"x":{field}}}]}}"#),
    })).unwrap()
}

#[test]
fn scratch() {
    for text in ["+990-01-01", "-001-01-01", "1990-1-1  ", " 1990-01-01", "1990-01-1 ", "1990-W01-1", "１９９０-01-01", "0000-01-01", "1990-02-29", "+1990-01-0"] {
        eprintln!("{text:?}: {:?}", parse_date_of_birth(text));
    }
    let records = vec![record("1", "0", "2022-01-01T00:00:00Z"), record("2", "-0", "2023-01-01T00:00:00Z"), record("3", "\"-0\"", "2024-01-01T00:00:00Z")];
    let candidates = Candidate::parse_all(&records).unwrap();
    let group = GroupBy::Field("x".into());
    eprintln!("latest {:?}", latest_grouped(&candidates, &group).map(Candidate::certificate_id));
    eprintln!("rows {:?}", latest_per_group(&candidates, &group).into_iter().map(Candidate::certificate_id).collect::<Vec<_>>());
}

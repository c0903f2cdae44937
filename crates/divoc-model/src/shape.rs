//! A quick check of a record's credential for bulk imports.
//!
//! [`RegistryRecord::validate`] parses the whole credential into a
//! [`crate::VaccinationCredential`], which allocates a string for every field.
//! The shapes here follow the same serde rules, field by field, but borrow or
//! skip the values, so that a valid record costs less to check. They accept
//! no document that the full parse rejects: where a value is unusual, such as
//! a number where a date belongs, the check fails and the caller falls back to
//! [`RegistryRecord::validate`], which also reports the error.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};

use crate::dose::dose;
use crate::{
    MAX_ADDRESS_PART_CHARS, MAX_NAME_CHARS, MAX_PRINTED_VALUE_CHARS, RegistryRecord, check_id,
    parse_calendar_date, parse_vaccination_date,
};

/// [`crate::VaccinationCredential`] with the values the check needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialShape<'a> {
    #[serde(rename = "@context", default)]
    _context: Vec<IgnoredAny>,
    #[serde(rename = "type", default)]
    _types: Vec<AnyString>,
    #[serde(borrow)]
    credential_subject: SubjectShape<'a>,
    #[serde(default)]
    issuer: Option<IssuerShape>,
    #[serde(rename = "issuanceDate", default)]
    _issuance_date: Option<AnyString>,
    #[serde(default, borrow)]
    evidence: Vec<EvidenceShape<'a>>,
    #[serde(rename = "proof", default)]
    _proof: Option<ProofShape>,
}

/// [`crate::CredentialSubject`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectShape<'a> {
    #[serde(default)]
    id: Option<Lenient>,
    #[serde(default)]
    ref_id: Option<Lenient>,
    #[serde(default)]
    name: Option<Lenient>,
    #[serde(default)]
    gender: Option<Lenient>,
    #[serde(default)]
    sex: Option<Lenient>,
    #[serde(default)]
    age: Option<Lenient>,
    #[serde(rename = "nationality", default)]
    _nationality: Option<Lenient>,
    #[serde(default, borrow)]
    dob: Option<LenientText<'a>>,
    #[serde(default)]
    address: Option<AddressShape>,
}

/// [`crate::Address`].
#[derive(Deserialize)]
struct AddressShape {
    #[serde(rename = "streetAddress", default)]
    street_address: Option<Lenient>,
    #[serde(rename = "streetAddress2", default)]
    street_address2: Option<Lenient>,
    #[serde(rename = "district", default)]
    district: Option<Lenient>,
    #[serde(rename = "city", default)]
    city: Option<Lenient>,
    #[serde(rename = "addressRegion", default)]
    address_region: Option<Lenient>,
    #[serde(rename = "addressCountry", default)]
    address_country: Option<Lenient>,
    #[serde(rename = "postalCode", default)]
    postal_code: Option<Lenient>,
}

/// [`crate::Evidence`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvidenceShape<'a> {
    #[serde(rename = "id", default)]
    _id: Option<Lenient>,
    #[serde(rename = "certificateId", default)]
    _certificate_id: Option<Lenient>,
    #[serde(default)]
    batch: Option<Lenient>,
    #[serde(default)]
    vaccine: Option<Lenient>,
    #[serde(default)]
    manufacturer: Option<Lenient>,
    #[serde(default)]
    icd11_code: Option<Lenient>,
    #[serde(default)]
    prophylaxis: Option<Lenient>,
    #[serde(default, borrow)]
    date: Option<LenientText<'a>>,
    #[serde(default, borrow)]
    effective_start: Option<LenientText<'a>>,
    #[serde(default, borrow)]
    effective_until: Option<LenientText<'a>>,
    #[serde(default, deserialize_with = "dose")]
    dose: Option<u32>,
    #[serde(rename = "totalDoses", default, deserialize_with = "dose")]
    _total_doses: Option<u32>,
    #[serde(default)]
    verifier: Option<NamedShape>,
    #[serde(default)]
    facility: Option<FacilityShape>,
}

/// [`crate::Verifier`].
#[derive(Deserialize)]
struct NamedShape {
    #[serde(default)]
    name: Option<Lenient>,
}

/// [`crate::Facility`].
#[derive(Deserialize)]
struct FacilityShape {
    #[serde(default)]
    name: Option<Lenient>,
    #[serde(default)]
    address: Option<AddressShape>,
}

/// [`crate::Proof`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofShape {
    #[serde(rename = "type", default)]
    _proof_type: Option<AnyString>,
    #[serde(rename = "created", default)]
    _created: Option<AnyString>,
    #[serde(rename = "verificationMethod", default)]
    _verification_method: Option<AnyString>,
    #[serde(rename = "proofPurpose", default)]
    _proof_purpose: Option<AnyString>,
    #[serde(rename = "jws", default)]
    _jws: Option<AnyString>,
}

/// A JSON string, whose text is not kept: what a `String` field accepts.
struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringVisitor;
        impl Visitor<'_> for StringVisitor {
            type Value = AnyString;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyString, E> {
                Ok(AnyString)
            }
        }
        deserializer.deserialize_str(StringVisitor)
    }
}

/// A value that `lenient_string` accepts (null, a string, a number or a
/// boolean). Only the length in bytes of a string is kept, and 0 for the
/// other values, which print as a few characters at most.
struct Lenient(usize);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = LengthVisitor { containers: false };
        deserializer.deserialize_any(visitor).map(Lenient)
    }
}

/// Tells whether an optional printed field has at most `max` bytes, and so
/// at most `max` characters. A longer one may still be valid, and
/// [`RegistryRecord::validate`] counts its characters.
fn short(value: Option<&Lenient>, max: usize) -> bool {
    value.is_none_or(|Lenient(bytes)| *bytes <= max)
}

/// The `issuer` of a credential: any JSON value, of which only the length in
/// bytes of the printed id is kept. That is the string itself, or the
/// string `id` of an object (the longest, when `id` is repeated), and 0 for
/// anything else, as in [`crate::VaccinationCredential::issuer_id`].
struct IssuerShape(usize);

impl<'de> Deserialize<'de> for IssuerShape {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let visitor = LengthVisitor { containers: true };
        deserializer.deserialize_any(visitor).map(IssuerShape)
    }
}

/// Reads the length in bytes of a string, and 0 for another scalar. With
/// `containers`, it reads a list as 0 and an object as the length of its
/// `id`, for [`IssuerShape`]. Without, a list or an object is an error, as
/// for `lenient_string`.
struct LengthVisitor {
    containers: bool,
}

impl<'de> Visitor<'de> for LengthVisitor {
    type Value = usize;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        if self.containers {
            formatter.write_str("any JSON value")
        } else {
            formatter.write_str("a string, a number, a boolean or null")
        }
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<usize, E> {
        Ok(text.len())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<usize, A::Error> {
        if !self.containers {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(0)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut fields: A) -> Result<usize, A::Error> {
        if !self.containers {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let mut id_bytes = 0;
        while let Some(key) = fields.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "id" {
                let IssuerShape(bytes) = fields.next_value()?;
                id_bytes = id_bytes.max(bytes);
            } else {
                fields.next_value::<IgnoredAny>()?;
            }
        }
        Ok(id_bytes)
    }
}

/// A value that `lenient_string` accepts, with the text of a string that
/// has no escapes.
enum LenientText<'a> {
    /// JSON null.
    Null,
    /// A string without escapes.
    Text(&'a str),
    /// A string with escapes, a number or a boolean. The check fails on a
    /// date written this way, and the full parse decides.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for LenientText<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenientVisitor;
        impl<'de> Visitor<'de> for LenientVisitor {
            type Value = LenientText<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string, a number, a boolean or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(LenientText::Text(text))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LenientText::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientText::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientText::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientText::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientText::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientText::Null)
            }
        }
        deserializer.deserialize_any(LenientVisitor)
    }
}

/// Returns whether an optional date field passes `parse`. Absent, null and
/// blank values pass, as in [`RegistryRecord::validate`].
fn date_passes(value: Option<&LenientText<'_>>, parse: impl Fn(&str) -> bool) -> bool {
    match value {
        None | Some(LenientText::Null) => true,
        Some(LenientText::Text(text)) => text.trim().is_empty() || parse(text),
        Some(LenientText::Other) => false,
    }
}

impl RegistryRecord {
    /// Runs the checks of [`RegistryRecord::validate`] without building the
    /// credential, and returns the dose of its first vaccination event.
    /// `None` means that the record may be invalid: [`RegistryRecord::validate`]
    /// decides and reports the error.
    pub(crate) fn quick_check(&self) -> Option<Option<u32>> {
        check_id(&self.pre_enrollment_code).ok()?;
        check_id(&self.certificate_id).ok()?;
        let credential: CredentialShape<'_> = serde_json::from_str(&self.certificate).ok()?;
        let evidence = credential.evidence.first()?;
        let calendar = |text: &str| parse_calendar_date(text).is_some();
        let valid = date_passes(evidence.date.as_ref(), |text| {
            parse_vaccination_date(text).is_some()
        }) && date_passes(evidence.effective_start.as_ref(), calendar)
            && date_passes(evidence.effective_until.as_ref(), calendar)
            && date_passes(credential.credential_subject.dob.as_ref(), calendar);
        (valid && credential.printed_text_short()).then_some(evidence.dose)
    }
}

impl CredentialShape<'_> {
    /// Tells whether every printed text field is within its limit by its
    /// length in bytes. The fields are those of
    /// `VaccinationCredential::visit_printed_text`.
    fn printed_text_short(&self) -> bool {
        let subject = &self.credential_subject;
        let value = MAX_PRINTED_VALUE_CHARS;
        let subject_short = short(subject.name.as_ref(), MAX_NAME_CHARS)
            && [
                &subject.age,
                &subject.gender,
                &subject.sex,
                &subject.id,
                &subject.ref_id,
            ]
            .into_iter()
            .all(|field| short(field.as_ref(), value));
        let address_short = subject.address.as_ref().is_none_or(|address| {
            [
                &address.street_address,
                &address.street_address2,
                &address.district,
                &address.city,
                &address.address_region,
                &address.address_country,
                &address.postal_code,
            ]
            .into_iter()
            .all(|part| short(part.as_ref(), MAX_ADDRESS_PART_CHARS))
        });
        let issuer_short = self
            .issuer
            .as_ref()
            .is_none_or(|IssuerShape(bytes)| *bytes <= value);
        let evidence_short = self.evidence.first().is_none_or(|evidence| {
            let facility = evidence.facility.as_ref();
            let facility_address = facility.and_then(|facility| facility.address.as_ref());
            [
                evidence.vaccine.as_ref(),
                evidence.manufacturer.as_ref(),
                evidence.icd11_code.as_ref(),
                evidence.prophylaxis.as_ref(),
                evidence.batch.as_ref(),
                evidence
                    .verifier
                    .as_ref()
                    .and_then(|verifier| verifier.name.as_ref()),
                facility.and_then(|facility| facility.name.as_ref()),
                facility_address.and_then(|address| address.district.as_ref()),
                facility_address.and_then(|address| address.address_country.as_ref()),
            ]
            .into_iter()
            .all(|field| short(field, value))
        });
        subject_short && address_short && issuer_short && evidence_short
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::{Value, json};

    use crate::RegistryRecord;

    fn credential() -> Value {
        json!({
            "@context": ["https://www.w3.org/2018/credentials/v1", {"inline": true}],
            "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
            "credentialSubject": {
                "id": "did:example:1", "refId": "BEN-1", "name": "Asha Rao", "gender": "Female",
                "sex": "F", "age": "33", "nationality": "Indian", "dob": "1990-02-03",
                "address": {"streetAddress": "1 Road", "streetAddress2": "", "district": "D",
                    "city": "C", "addressRegion": "R", "addressCountry": "IND", "postalCode": "1"}
            },
            "issuer": {"id": "https://issuer.example/"},
            "issuanceDate": "2021-10-17T05:30:28.187Z",
            "evidence": [{
                "id": "https://issuer.example/1", "certificateId": "100000001", "batch": "B1",
                "vaccine": "V", "manufacturer": "M", "icd11Code": "XM1", "prophylaxis": "P",
                "date": "2021-10-17T05:30:28.187Z", "effectiveStart": "2021-10-17",
                "effectiveUntil": "2022-10-16", "dose": 2, "totalDoses": "2",
                "verifier": {"name": "Dr. A"},
                "facility": {"name": "F", "address": {"city": "C"}}
            }],
            "proof": {"type": "RsaSignature2018", "created": "2021-10-17T05:30:28Z",
                "verificationMethod": "did:x", "proofPurpose": "assertionMethod", "jws": "e30"}
        })
    }

    /// Collects the JSON pointer of every value under `value`.
    fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields {
                    let pointer = format!("{prefix}/{key}");
                    out.push(pointer.clone());
                    pointers(field, &pointer, out);
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let pointer = format!("{prefix}/{index}");
                    out.push(pointer.clone());
                    pointers(item, &pointer, out);
                }
            }
            _ => {}
        }
    }

    fn replacements() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(0),
            json!(2),
            json!(-1),
            json!(1.5),
            json!(4294967296_u64),
            json!(""),
            json!("  "),
            json!("x"),
            json!("2"),
            json!("2021-01-01"),
            json!("2021-02-30"),
            json!("2021-1-01"),
            json!("2021-01-01T10:00:00Z"),
            json!("2021-01-01T10:00:00"),
            json!("2021-01-01 10:00:00.5"),
            json!("2021-01-01T10:00"),
            json!([]),
            json!(["x"]),
            json!([1]),
            json!({}),
            json!({"name": "x", "date": "2021-01-01"}),
        ]
    }

    fn record(certificate: String) -> RegistryRecord {
        RegistryRecord {
            osid: None,
            pre_enrollment_code: "BEN-1".to_owned(),
            certificate_id: "100000001".to_owned(),
            mobile: None,
            name: None,
            contact: Vec::new(),
            program_id: None,
            certificate,
            meta: None,
            os_created_at: None,
            os_updated_at: None,
        }
    }

    /// Checks one credential text: the quick check never passes a record
    /// that the full validation rejects, and agrees on the dose. Returns
    /// whether the full validation and the quick check passed it.
    fn agrees(text: &str) -> (bool, bool) {
        let record = record(text.to_owned());
        let full = record
            .validate("record 1")
            .map(|credential| credential.dose());
        match record.quick_check() {
            Some(dose) => {
                assert_eq!(full.ok(), Some(dose), "{text}");
                (true, true)
            }
            None => (full.is_ok(), false),
        }
    }

    #[derive(Debug, Default, PartialEq)]
    struct Counts {
        cases: usize,
        valid: usize,
        quick: usize,
    }

    impl Counts {
        fn add(&mut self, (valid, quick): (bool, bool)) {
            self.cases += 1;
            self.valid += usize::from(valid);
            self.quick += usize::from(quick);
        }
    }

    #[test]
    fn quick_check_never_passes_long_text() {
        let base = credential();
        let mut paths = Vec::new();
        pointers(&base, "", &mut paths);
        let mut counts = Counts::default();
        for path in &paths {
            for long in ["x".repeat(201), "x".repeat(501), "é".repeat(300)] {
                let mut changed = base.clone();
                *changed.pointer_mut(path).unwrap() = json!(long);
                counts.add(agrees(&changed.to_string()));
            }
        }
        // An object as issuer, with a long id.
        let mut changed = base.clone();
        changed["issuer"]["id"] = json!("x".repeat(201));
        counts.add(agrees(&changed.to_string()));
        // Long text stays valid in the fields that are not printed. In the
        // name and the address parts, 300 two-byte characters are within
        // the limit of 500 characters but not of 500 bytes, so the full
        // validation decides those 8.
        assert_eq!(
            counts,
            Counts {
                cases: 160,
                valid: 61,
                quick: 53
            }
        );
    }

    #[test]
    fn quick_check_passes_the_full_credential() {
        assert_eq!(
            record(credential().to_string()).quick_check(),
            Some(Some(2))
        );
    }

    #[test]
    fn quick_check_never_passes_what_validation_rejects() {
        let base = credential();
        let mut paths = Vec::new();
        pointers(&base, "", &mut paths);
        let mut counts = Counts::default();
        for path in &paths {
            // Without the value.
            let mut removed = base.clone();
            let (parent, key) = path.rsplit_once('/').unwrap();
            match removed.pointer_mut(parent).unwrap() {
                Value::Object(fields) => {
                    fields.shift_remove(key);
                }
                Value::Array(items) => {
                    items.remove(key.parse::<usize>().unwrap());
                }
                _ => unreachable!(),
            }
            counts.add(agrees(&removed.to_string()));

            // With another value in its place.
            for replacement in replacements() {
                let mut changed = base.clone();
                *changed.pointer_mut(path).unwrap() = replacement;
                counts.add(agrees(&changed.to_string()));
            }
        }

        // A second vaccination event, unknown fields and the credential
        // given as a list, which serde reads field by field.
        let text = base.to_string();
        let evidence = base["evidence"][0].to_string();
        let odd = [
            text.replacen("\"evidence\":[", &format!("\"evidence\":[{evidence},"), 1),
            text.replacen("\"evidence\":[", "\"evidence\":[{\"dose\":\"x\"},", 1),
            text.replacen("\"evidence\":[", "\"evidence\":[{\"date\":[]},", 1),
            text.replacen('{', "{\"unknown\":[{\"deep\":[1,2,{}]}],", 1),
            text.replacen("\"dob\"", "\"dob\":\"1990-02-03\",\"dob\"", 1),
            text.replacen("\"date\"", "\"date\":1,\"date\"", 1),
            text.replacen(
                "2021-10-17T05:30:28.187Z",
                "2021\\u002d10-17T05:30:28.187Z",
                2,
            ),
            format!("{text} "),
            format!("{text}x"),
            "[[], [], {\"name\": \"x\"}, null, null, [{\"dose\": 1}]]".to_owned(),
            "[[], [], {}, null, null, [{\"date\": \"2021-13-01\"}]]".to_owned(),
            "[]".to_owned(),
            "{}".to_owned(),
            "null".to_owned(),
            String::new(),
        ];
        for text in &odd {
            counts.add(agrees(text));
        }

        // The quick check passes every valid credential but the one with an
        // escaped date, so the fast path serves nearly every record.
        assert_eq!(
            counts,
            Counts {
                cases: 1287,
                valid: 785,
                quick: 784
            }
        );
    }
}

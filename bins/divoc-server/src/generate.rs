//! Synthetic registry exports for scale tests: `divoc-server generate`.
//!
//! The output is JSON lines in the layout that `import` reads. Every value is
//! derived from the seed and the beneficiary's index, so the same beneficiary
//! count and seed always give byte-identical output. Ids, names and mobile
//! numbers are made up; the proofs are random bytes and verify against no key.
//! Mobile numbers start with 0 (0100000000 to 0999999999), which no real
//! subscriber number does, so a staging system with a real SMS gateway sends
//! no message to a real person.

use std::io::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Beneficiaries that share one household slot. Members of a household share
/// a family name and may share a mobile number.
const HOUSEHOLD_SIZE: u64 = 4;
/// Certificate id slots per beneficiary: four doses and four corrections.
const CERTIFICATE_SLOTS: u64 = 8;
/// Beneficiary ids are 14 digits.
const BENEFICIARY_ID_SPACE: u128 = 100_000_000_000_000;
/// Certificate ids are 10 digits from 1000000000 up, as DIVOC issues them.
const CERTIFICATE_ID_SPACE: u128 = 9_000_000_000;
/// Mobile numbers are 10 digits from 0100000000 to 0999999999. Indian mobile
/// numbers have 10 digits and start with 6 to 9, and a leading 0 is the trunk
/// prefix, so no real subscriber has one of these numbers even when a gateway
/// adds +91. The OTP login still accepts them (10 to 15 digits). The range
/// leaves out 00, the international call prefix of many countries.
const MOBILE_FIRST: u128 = 100_000_000;
/// Count of the numbers from [`MOBILE_FIRST`] to 0999999999.
const MOBILE_SPACE: u128 = 900_000_000;
/// First day of the vaccination campaign the dates are drawn from.
const CAMPAIGN_START: (i32, u32, u32) = (2021, 1, 16);
/// JWS header of a detached PS256 proof (`{"alg":"PS256","b64":false,"crit":["b64"]}`),
/// as in the proofs of fixtures/sample-records.json.
const JWS_HEADER: &str = "eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19";

/// Counts of what [`write_export`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeneratedCounts {
    /// Beneficiaries generated.
    pub beneficiaries: u64,
    /// Certificate records, corrections included.
    pub certificates: u64,
    /// Revocation records, those of corrections included.
    pub revocations: u64,
}

impl GeneratedCounts {
    /// Returns all records written.
    pub fn records(&self) -> u64 {
        self.certificates + self.revocations
    }
}

/// Parses the value of `--beneficiaries`: a whole number of at least 1,
/// because `import` rejects an export without records.
pub fn parse_beneficiaries(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err(
            "expected at least 1 beneficiary, because import rejects an export \
                      without records"
                .to_owned(),
        ),
        Ok(count) => Ok(count),
        Err(error) => Err(format!("expected a whole number of at least 1: {error}")),
    }
}

/// Writes `beneficiaries` beneficiaries' records as JSON lines.
///
/// # Errors
///
/// The first write error of `out`.
pub fn write_export(
    out: &mut impl Write,
    beneficiaries: u64,
    seed: u64,
) -> io::Result<GeneratedCounts> {
    let generator = Generator::new(seed);
    let mut counts = GeneratedCounts::default();
    let mut line = Vec::with_capacity(8 * 1024);
    for index in 0..beneficiaries {
        line.clear();
        let written = generator.beneficiary(index, &mut line)?;
        out.write_all(&line)?;
        counts.beneficiaries += 1;
        counts.certificates += written.certificates;
        counts.revocations += written.revocations;
    }
    out.flush()?;
    Ok(counts)
}

/// Vaccines by share of beneficiaries, in percent.
struct Vaccine {
    name: &'static str,
    manufacturer: &'static str,
    prophylaxis: &'static str,
    icd11_code: &'static str,
    total_doses: u32,
    batch_prefix: &'static str,
    share_percent: u64,
}

const VACCINES: [Vaccine; 5] = [
    Vaccine {
        name: "Covishield",
        manufacturer: "Serum Institute of India",
        prophylaxis: "COVID-19 vaccine, non-replicating viral vector",
        icd11_code: "XM9QW8",
        total_doses: 2,
        batch_prefix: "4121Z",
        share_percent: 60,
    },
    Vaccine {
        name: "Covaxin",
        manufacturer: "Bharat Biotech",
        prophylaxis: "COVID-19 vaccine, inactivated virus",
        icd11_code: "XM1NL1",
        total_doses: 2,
        batch_prefix: "ED21",
        share_percent: 22,
    },
    Vaccine {
        name: "Corbevax",
        manufacturer: "Biological E Limited",
        prophylaxis: "COVID-19 vaccine, protein subunit",
        icd11_code: "XM5JC5",
        total_doses: 2,
        batch_prefix: "CB1",
        share_percent: 8,
    },
    Vaccine {
        name: "Sputnik Light",
        manufacturer: "Gamaleya Research Institute",
        prophylaxis: "COVID-19 vaccine, non-replicating viral vector",
        icd11_code: "XM6QV1",
        total_doses: 1,
        batch_prefix: "SL",
        share_percent: 6,
    },
    Vaccine {
        name: "Janssen",
        manufacturer: "Janssen Pharmaceutica",
        prophylaxis: "COVID-19 vaccine, non-replicating viral vector",
        icd11_code: "XM6QV1",
        total_doses: 1,
        batch_prefix: "JX",
        share_percent: 4,
    },
];

/// Given names: mostly ASCII, some Latin-1 accents, some beyond Latin-1.
const GIVEN_NAMES: [&str; 40] = [
    "Aarav",
    "Aditi",
    "Amit",
    "Ananya",
    "Arjun",
    "Asha",
    "Deepa",
    "Farhan",
    "Gaurav",
    "Harpreet",
    "Ishaan",
    "Kavya",
    "Lakshmi",
    "Manoj",
    "Meera",
    "Nikhil",
    "Pooja",
    "Rahul",
    "Rekha",
    "Sanjay",
    "Sneha",
    "Suresh",
    "Tanvi",
    "Vikram",
    "Zainab",
    "Priyanka",
    "Rohan",
    "Divya",
    "Imran",
    "Neha",
    "José",
    "Zoë",
    "François",
    "Inês",
    "Renée",
    "Łukasz",
    "Agnieszka",
    "Ödön",
    "Thị Ánh",
    "Đức",
];
/// Index in [`GIVEN_NAMES`] where the accented names begin.
const GIVEN_NAMES_ASCII: usize = 30;
const FAMILY_NAMES: [&str; 36] = [
    "Sharma",
    "Patel",
    "Reddy",
    "Nair",
    "Iyer",
    "Deshpande",
    "Banerjee",
    "Chatterjee",
    "Gupta",
    "Khan",
    "Singh",
    "Kaur",
    "Menon",
    "Pillai",
    "Rao",
    "Joshi",
    "Kulkarni",
    "Mukherjee",
    "Verma",
    "Das",
    "Fernandes",
    "D'Souza",
    "Bhat",
    "Mehta",
    "Agarwal",
    "Chowdhury",
    "Núñez",
    "Müller",
    "Gonçalves",
    "Wałęsa",
    "Erdős",
    "Nguyễn",
    "Dvořák",
    "Şahin",
    "Kowalczyk",
    "Trần",
];
/// Index in [`FAMILY_NAMES`] where the accented names begin.
const FAMILY_NAMES_ASCII: usize = 26;
/// District, state and the first three digits of its postal code.
const PLACES: [(&str, &str, u32); 12] = [
    ("Pune", "Maharashtra", 411),
    ("Mumbai Suburban", "Maharashtra", 400),
    ("Bengaluru Urban", "Karnataka", 560),
    ("Chennai", "Tamil Nadu", 600),
    ("Kolkata", "West Bengal", 700),
    ("Lucknow", "Uttar Pradesh", 226),
    ("Jaipur", "Rajasthan", 302),
    ("Ernakulam", "Kerala", 682),
    ("Hyderabad", "Telangana", 500),
    ("Patna", "Bihar", 800),
    ("Ahmedabad", "Gujarat", 380),
    ("Guwahati", "Assam", 781),
];
const STREETS: [&str; 8] = [
    "Gulmohar Society, Baner Road",
    "MG Road",
    "Station Road",
    "Nehru Nagar",
    "Gandhi Chowk",
    "Temple Street",
    "Lake View Colony",
    "Old Market Lane",
];
const FACILITIES: [&str; 8] = [
    "Lakeview Community Health Centre",
    "District Hospital",
    "Urban Primary Health Centre",
    "Municipal Maternity Home",
    "Government General Hospital",
    "Rural Health Centre",
    "City Vaccination Centre",
    "Railway Hospital",
];
const VERIFIERS: [&str; 6] = [
    "Dr. Nandini Apte",
    "Dr. Rakesh Menon",
    "Sister Mary Thomas",
    "Dr. Farida Khan",
    "Dr. Arvind Kulkarni",
    "ANM Sunita Devi",
];

/// Certificates and revocations written for one beneficiary.
struct BeneficiaryCounts {
    certificates: u64,
    revocations: u64,
}

/// One certificate as it is about to be written.
struct Dose<'a> {
    certificate_id: String,
    dose: u32,
    vaccinated_at: NaiveDateTime,
    name: &'a str,
    updated_at: NaiveDateTime,
    previous_certificate_id: Option<String>,
}

struct Generator {
    seed: u64,
    base: ChaCha8Rng,
    campaign_start: NaiveDateTime,
}

impl Generator {
    fn new(seed: u64) -> Self {
        let campaign_start =
            NaiveDate::from_ymd_opt(CAMPAIGN_START.0, CAMPAIGN_START.1, CAMPAIGN_START.2)
                .and_then(|date| date.and_hms_opt(3, 30, 0))
                .unwrap_or_default();
        Self {
            seed,
            base: ChaCha8Rng::seed_from_u64(seed),
            campaign_start,
        }
    }

    /// Returns a random stream of its own for beneficiary `index`, so each
    /// beneficiary's values depend only on the seed and the index.
    fn stream(&self, index: u64) -> ChaCha8Rng {
        let mut rng = self.base.clone();
        rng.set_stream(index);
        rng.set_word_pos(0);
        rng
    }

    fn beneficiary_id(&self, index: u64) -> String {
        let id = scramble(index, self.seed, 7_385_906_183, BENEFICIARY_ID_SPACE);
        format!("{id:014}")
    }

    fn certificate_id(&self, index: u64, slot: u64) -> String {
        let id = scramble(
            index * CERTIFICATE_SLOTS + slot,
            self.seed,
            2_654_435_761,
            CERTIFICATE_ID_SPACE,
        );
        format!("{}", 1_000_000_000 + id)
    }

    /// Mobile number of member `index`. A household shares one to four numbers,
    /// so families often share one.
    fn mobile(&self, index: u64) -> String {
        let household = index / HOUSEHOLD_SIZE;
        let member = index % HOUSEHOLD_SIZE;
        let numbers = 1 + mix(self.seed ^ household.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % 4;
        let group = member * numbers / HOUSEHOLD_SIZE;
        let number = scramble(
            household * HOUSEHOLD_SIZE + group,
            self.seed,
            2_246_822_519,
            MOBILE_SPACE,
        );
        format!("{:010}", MOBILE_FIRST + number)
    }

    fn family_name(&self, index: u64) -> &'static str {
        let household = index / HOUSEHOLD_SIZE;
        let hash = mix(self.seed.rotate_left(17) ^ household);
        // One household in eight has a name with accents or beyond Latin-1.
        let (start, count) = if hash.is_multiple_of(8) {
            (FAMILY_NAMES_ASCII, FAMILY_NAMES.len() - FAMILY_NAMES_ASCII)
        } else {
            (0, FAMILY_NAMES_ASCII)
        };
        FAMILY_NAMES[start + (hash / 8) as usize % count]
    }

    fn given_name(rng: &mut ChaCha8Rng) -> &'static str {
        if below(rng, 10) == 0 {
            GIVEN_NAMES[GIVEN_NAMES_ASCII
                + below(rng, (GIVEN_NAMES.len() - GIVEN_NAMES_ASCII) as u64) as usize]
        } else {
            GIVEN_NAMES[below(rng, GIVEN_NAMES_ASCII as u64) as usize]
        }
    }

    /// Writes one beneficiary's certificates, corrections and revocations.
    fn beneficiary(&self, index: u64, out: &mut Vec<u8>) -> io::Result<BeneficiaryCounts> {
        let mut rng = self.stream(index);
        let mut counts = BeneficiaryCounts {
            certificates: 0,
            revocations: 0,
        };
        let person = Person::new(self, index, &mut rng);
        let vaccine = pick_vaccine(&mut rng);
        let doses = dose_count(vaccine.total_doses, &mut rng);

        let mut vaccinated_at = self.campaign_start
            + Duration::days(below(&mut rng, 300) as i64)
            + Duration::seconds(below(&mut rng, 10 * 3600) as i64);
        let mut last_id = String::new();
        for dose in 1..=doses {
            if dose > 1 {
                let gap_days = if dose <= vaccine.total_doses {
                    28 + below(&mut rng, 57)
                } else {
                    180 + below(&mut rng, 91)
                };
                vaccinated_at += Duration::days(gap_days as i64)
                    + Duration::seconds(below(&mut rng, 3600) as i64);
            }
            let certificate_id = self.certificate_id(index, u64::from(dose - 1));
            let updated_at = vaccinated_at + Duration::seconds(20 + below(&mut rng, 600) as i64);
            let record = Dose {
                certificate_id: certificate_id.clone(),
                dose,
                vaccinated_at,
                name: &person.name,
                updated_at,
                previous_certificate_id: None,
            };
            write_certificate(out, &person, vaccine, &record, &mut rng)?;
            counts.certificates += 1;
            last_id = certificate_id.clone();

            // Three certificates in a hundred are corrected: a new certificate of
            // the same dose, and a revocation of the one it replaces.
            if below(&mut rng, 100) < 3 {
                let corrected_id = self.certificate_id(index, 4 + u64::from(dose - 1));
                let corrected = Dose {
                    certificate_id: corrected_id.clone(),
                    dose,
                    vaccinated_at,
                    name: &person.corrected_name,
                    updated_at: updated_at + Duration::days(1 + below(&mut rng, 60) as i64),
                    previous_certificate_id: Some(certificate_id.clone()),
                };
                write_certificate(out, &person, vaccine, &corrected, &mut rng)?;
                write_revocation(
                    out,
                    &person.beneficiary_id,
                    &corrected_id,
                    dose,
                    Some(&certificate_id),
                )?;
                counts.certificates += 1;
                counts.revocations += 1;
                last_id = corrected_id;
            }
        }
        // One beneficiary in two hundred has the latest certificate revoked.
        if below(&mut rng, 200) == 0 {
            write_revocation(out, &person.beneficiary_id, &last_id, doses, None)?;
            counts.revocations += 1;
        }
        Ok(counts)
    }
}

/// The values shared by all certificates of one beneficiary.
struct Person {
    beneficiary_id: String,
    name: String,
    /// The name as a correction spells it.
    corrected_name: String,
    mobile: String,
    email: Option<String>,
    gender: &'static str,
    date_of_birth: NaiveDate,
    place: (&'static str, &'static str, u32),
    street: String,
    aadhaar_suffix: u64,
}

impl Person {
    fn new(generator: &Generator, index: u64, rng: &mut ChaCha8Rng) -> Self {
        let given = Generator::given_name(rng);
        let family = generator.family_name(index);
        let name = format!("{given} {family}");
        let middle = GIVEN_NAMES[below(rng, GIVEN_NAMES_ASCII as u64) as usize];
        let corrected_name = format!("{given} {middle} {family}");
        let email = (below(rng, 3) == 0).then(|| {
            format!(
                "{}.{}{}@example.org",
                ascii_lower(given),
                ascii_lower(family),
                below(rng, 100)
            )
        });
        let date_of_birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
            + Duration::days(below(rng, 65 * 365) as i64);
        let place = PLACES[below(rng, PLACES.len() as u64) as usize];
        let street = format!(
            "{} {}",
            1 + below(rng, 200),
            STREETS[below(rng, STREETS.len() as u64) as usize]
        );
        Self {
            beneficiary_id: generator.beneficiary_id(index),
            name,
            corrected_name,
            mobile: generator.mobile(index),
            email,
            gender: if below(rng, 2) == 0 { "Female" } else { "Male" },
            date_of_birth,
            place,
            street,
            aadhaar_suffix: below(rng, 10_000),
        }
    }
}

fn pick_vaccine(rng: &mut ChaCha8Rng) -> &'static Vaccine {
    let mut roll = below(rng, 100);
    for vaccine in &VACCINES {
        if roll < vaccine.share_percent {
            return vaccine;
        }
        roll -= vaccine.share_percent;
    }
    &VACCINES[0]
}

/// Doses received: some stop early, many take a booster beyond `totalDoses`.
fn dose_count(total_doses: u32, rng: &mut ChaCha8Rng) -> u32 {
    let roll = below(rng, 100);
    let doses = match roll {
        0..10 => 1,
        10..65 => total_doses,
        65..92 => total_doses + 1,
        _ => total_doses + 2,
    };
    doses.clamp(1, 4)
}

fn write_certificate(
    out: &mut Vec<u8>,
    person: &Person,
    vaccine: &Vaccine,
    dose: &Dose<'_>,
    rng: &mut ChaCha8Rng,
) -> io::Result<()> {
    let credential = credential_text(person, vaccine, dose, rng);
    let created = timestamp(dose.vaccinated_at + Duration::seconds(19));
    let updated = timestamp(dose.updated_at);
    let record_osid = uuid(rng);
    let meta_osid = uuid(rng);
    write!(
        out,
        r#"{{"osid":"{record_osid}","preEnrollmentCode":"{}","certificateId":"{}","mobile":"{}","name":"#,
        person.beneficiary_id, dose.certificate_id, person.mobile
    )?;
    push_json_string(out, dose.name);
    write!(out, r#","contact":["tel:{}""#, person.mobile)?;
    if let Some(email) = &person.email {
        write!(out, r#","mailto:{email}""#)?;
    }
    out.extend_from_slice(br#"],"programId":"PRG-COVID19","certificate":"#);
    push_json_string(out, &credential);
    write!(
        out,
        r#","meta":{{"certificateType":"certifyV3","osCreatedAt":"{created}","osUpdatedAt":"{updated}","osid":"{meta_osid}""#
    )?;
    if let Some(previous) = &dose.previous_certificate_id {
        write!(out, r#","previousCertificateId":"{previous}""#)?;
    }
    writeln!(
        out,
        r#"}},"osCreatedAt":"{created}","osUpdatedAt":"{updated}"}}"#
    )
}

/// Writes a revocation record. `previous` is the certificate a correction
/// replaces. Without it, `previousCertificateId` is blank, which revokes
/// `certificateId` itself. The field is always written, because `import` reads
/// a line without `certificate` as a revocation only when it has that field.
fn write_revocation(
    out: &mut Vec<u8>,
    beneficiary_id: &str,
    certificate_id: &str,
    dose: u32,
    previous: Option<&str>,
) -> io::Result<()> {
    write!(
        out,
        r#"{{"preEnrollmentCode":"{beneficiary_id}","certificateId":"{certificate_id}","dose":{dose}"#
    )?;
    let previous = previous.unwrap_or_default();
    writeln!(out, r#","previousCertificateId":"{previous}"}}"#)
}

/// Builds the signed credential as compact JSON text, shaped like the v2
/// credentials of fixtures/sample-records.json.
fn credential_text(
    person: &Person,
    vaccine: &Vaccine,
    dose: &Dose<'_>,
    rng: &mut ChaCha8Rng,
) -> String {
    use std::fmt::Write as _;

    let (district, state, postal_prefix) = person.place;
    let vaccinated_on = dose.vaccinated_at.date();
    let issued_at = dose.vaccinated_at + Duration::seconds(18);
    let age = vaccinated_on.years_since(person.date_of_birth).unwrap_or(0);
    let mut signature = [0u8; 256];
    rng.fill_bytes(&mut signature);
    let mut name = Vec::with_capacity(64);
    push_json_string(&mut name, dose.name);
    let name = String::from_utf8_lossy(&name);
    let mut text = String::with_capacity(2048);
    // `fmt::Write` for `String` never returns an error.
    let _ = write!(
        text,
        concat!(
            r#"{{"@context":["https://www.w3.org/2018/credentials/v1","https://divoc.example/credentials/vaccination/v2"],"#,
            r#""type":["VerifiableCredential","ProofOfVaccinationCredential"],"#,
            r#""credentialSubject":{{"type":"Person","id":"did:aadhaar:XXXXXXXX{aadhaar:04}","refId":"{beneficiary}","#,
            r#""name":{name},"gender":"{gender}","age":"{age}","nationality":"Indian","#,
            r#""address":{{"streetAddress":"{street}","streetAddress2":"","district":"{district}","city":"{district}","#,
            r#""addressRegion":"{state}","addressCountry":"IND","postalCode":"{postal_prefix}{postal_suffix:03}"}},"#,
            r#""dob":"{dob}"}},"issuer":"https://divoc.example/","issuanceDate":"{issued}","#,
            r#""evidence":[{{"id":"https://divoc.example/vaccine/{id}","infoUrl":"https://divoc.example/learn/?{id}","#,
            r#""feedbackUrl":"https://divoc.example/feedback/?{id}","certificateId":"{id}","type":["Vaccination"],"#,
            r#""batch":"{batch_prefix}{batch:03}","vaccine":"{vaccine}","manufacturer":"{manufacturer}","#,
            r#""icd11Code":"{icd11}","prophylaxis":"{prophylaxis}","date":"{date}","#,
            r#""effectiveStart":"{start}","effectiveUntil":"{until}","dose":{dose},"totalDoses":{total},"#,
            r#""verifier":{{"name":"{verifier}"}},"facility":{{"name":"{facility}","address":{{"#,
            r#""streetAddress":"{facility_street}","streetAddress2":"","district":"{district}","city":"{district}","#,
            r#""addressRegion":"{state}","addressCountry":"IND","postalCode":"{postal_prefix}000"}}}}}}],"#,
            r#""nonTransferable":"true","proof":{{"type":"RsaSignature2018","created":"{created}","#,
            r#""verificationMethod":"did:india","proofPurpose":"assertionMethod","jws":"{jws_header}..{signature}"}}}}"#
        ),
        aadhaar = person.aadhaar_suffix,
        beneficiary = person.beneficiary_id,
        name = name,
        gender = person.gender,
        age = age,
        street = person.street,
        district = district,
        state = state,
        postal_prefix = postal_prefix,
        postal_suffix = below(rng, 100),
        dob = person.date_of_birth.format("%Y-%m-%d"),
        issued = timestamp(issued_at),
        id = dose.certificate_id,
        batch_prefix = vaccine.batch_prefix,
        batch = below(rng, 1000),
        vaccine = vaccine.name,
        manufacturer = vaccine.manufacturer,
        icd11 = vaccine.icd11_code,
        prophylaxis = vaccine.prophylaxis,
        date = timestamp(dose.vaccinated_at),
        start = vaccinated_on.format("%Y-%m-%d"),
        until = (vaccinated_on + Duration::days(364)).format("%Y-%m-%d"),
        dose = dose.dose,
        total = vaccine.total_doses,
        verifier = VERIFIERS[below(rng, VERIFIERS.len() as u64) as usize],
        facility = FACILITIES[below(rng, FACILITIES.len() as u64) as usize],
        facility_street = STREETS[below(rng, STREETS.len() as u64) as usize],
        created = issued_at.format("%Y-%m-%dT%H:%M:%SZ"),
        jws_header = JWS_HEADER,
        signature = URL_SAFE_NO_PAD.encode(signature),
    );
    text
}

/// Appends `text` as a JSON string literal, quotes included.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0..0x20 => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// RFC 3339 in UTC with milliseconds, as the registry writes its timestamps.
fn timestamp(time: NaiveDateTime) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A version 4 UUID from the stream.
fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Draws a number in `0..bound` by multiply-and-shift. Its bias is below
/// bound / 2⁶⁴, far too small to matter for test data.
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// Maps `value` one to one onto `0..space` for values below `space`:
/// multiplying by a factor coprime to `space` permutes it, so distinct indexes
/// get distinct ids in no particular order.
fn scramble(value: u64, seed: u64, factor: u128, space: u128) -> u128 {
    // The factor also salts the offset, so that the ids, mobile numbers and
    // beneficiary ids of one index do not share digits.
    let offset = u128::from(mix(seed ^ factor as u64)) % space;
    (u128::from(value) * factor + offset) % space
}

/// SplitMix64's finalizer: spreads the bits of a counter or seed.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

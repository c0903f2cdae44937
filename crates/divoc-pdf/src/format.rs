//! Formatting of certificate values: dates, titles, dose types, ids, addresses.

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use divoc_model::{Address, VaccinationDate, parse_calendar_date, parse_vaccination_date};

use crate::settings::{IdTypeLabels, Labels};

/// Replaces each `{key}` in `template` with its value. Unknown keys stay as written.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        let pattern = format!("{{{key}}}");
        if text.contains(&pattern) {
            text = text.replace(&pattern, value);
        }
    }
    text
}

/// Formats a calendar date as `DD-Mon-YYYY`, for example `17-Oct-2021`.
pub(crate) fn format_date(date: NaiveDate, months: &[String]) -> String {
    let month = months
        .get(date.month0() as usize)
        .map_or("", String::as_str);
    format!("{:02}-{}-{:04}", date.day(), month, date.year())
}

/// Returns the calendar day of a vaccination: an instant is converted into
/// `zone`, a calendar date is kept as written.
pub(crate) fn vaccination_day(date: VaccinationDate, zone: Tz) -> NaiveDate {
    date.day_in(&zone)
}

/// Formats a vaccination time as written in `evidence.date`.
///
/// Returns `None` for a missing or blank value, and the text itself when it is
/// not a date this crate can read, so an unusual value is still shown.
pub(crate) fn format_vaccination_text(
    text: Option<&str>,
    zone: Tz,
    months: &[String],
) -> Option<String> {
    let text = non_blank(text)?;
    Some(match parse_vaccination_date(text) {
        Some(date) => format_date(vaccination_day(date, zone), months),
        None => text.to_owned(),
    })
}

/// Formats a calendar date as written (a date of birth or a validity date),
/// ignoring any time after it and never converting between zones.
pub(crate) fn format_calendar_text(text: Option<&str>, months: &[String]) -> Option<String> {
    let text = non_blank(text)?;
    Some(match parse_calendar_date(text) {
        Some(date) => format_date(date, months),
        None => text.to_owned(),
    })
}

/// Whole years from `birth` to `on`, or `None` when `on` is before `birth`.
pub(crate) fn age_in_years(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Position of a dose in its schedule. A zero dose or total counts as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoseState {
    /// Dose below the total: more doses are due.
    Provisional { dose: u32, total: u32 },
    /// Dose equal to the total: the primary schedule is complete.
    Final { dose: u32, total: u32 },
    /// Dose above the total. `booster` is the dose minus the total.
    Booster { dose: u32, total: u32, booster: u32 },
    /// Total unknown, dose known or not.
    Unknown { dose: Option<u32> },
}

impl DoseState {
    /// Classifies `dose` of `total` the way DIVOC's template does (`dose > total`
    /// is a booster), treating 0 and missing values as unknown.
    pub(crate) fn new(dose: Option<u32>, total: Option<u32>) -> DoseState {
        let dose = dose.filter(|&value| value > 0);
        let total = total.filter(|&value| value > 0);
        match (dose, total) {
            (Some(dose), Some(total)) if dose > total => DoseState::Booster {
                dose,
                total,
                booster: dose - total,
            },
            (Some(dose), Some(total)) if dose == total => DoseState::Final { dose, total },
            (Some(dose), Some(total)) => DoseState::Provisional { dose, total },
            (dose, _) => DoseState::Unknown { dose },
        }
    }

    fn values(self, program: &str) -> Vec<(&'static str, String)> {
        let mut values = vec![("program", program.to_owned())];
        match self {
            DoseState::Provisional { dose, total } | DoseState::Final { dose, total } => {
                values.push(("dose", dose.to_string()));
                values.push(("total", total.to_string()));
            }
            DoseState::Booster {
                dose,
                total,
                booster,
            } => {
                values.push(("dose", dose.to_string()));
                values.push(("total", total.to_string()));
                values.push(("booster", booster.to_string()));
            }
            DoseState::Unknown { dose: Some(dose) } => values.push(("dose", dose.to_string())),
            DoseState::Unknown { dose: None } => {}
        }
        values
    }
}

/// The certificate title and the optional line under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Title {
    pub(crate) title: String,
    pub(crate) subtitle: Option<String>,
}

/// Builds the title for a dose state, such as "Provisional Certificate for
/// COVID-19 Vaccination" with "(Dose 1 of 2)" under it.
pub(crate) fn certificate_title(state: DoseState, labels: &Labels, program: &str) -> Title {
    let (title, subtitle) = match state {
        DoseState::Booster { .. } => (&labels.title_booster, &labels.subtitle_booster),
        DoseState::Final { .. } => (&labels.title_final, &labels.subtitle_final),
        DoseState::Provisional { .. } => (&labels.title_provisional, &labels.subtitle_provisional),
        DoseState::Unknown { dose: Some(_) } => (&labels.title_unknown, &labels.subtitle_unknown),
        DoseState::Unknown { dose: None } => (&labels.title_unknown, &String::new()),
    };
    let values = state.values(program);
    let values: Vec<(&str, &str)> = values
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let subtitle = fill(subtitle, &values);
    Title {
        title: fill(title, &values),
        subtitle: (!subtitle.trim().is_empty()).then_some(subtitle),
    }
}

/// Names a dose for the doses table: "Primary Dose 2", "Booster Dose 1", or
/// "Dose 3" when the total is unknown. `None` when the dose is unknown.
pub(crate) fn dose_type(dose: Option<u32>, total: Option<u32>, labels: &Labels) -> Option<String> {
    match DoseState::new(dose, total) {
        DoseState::Provisional { dose, .. } | DoseState::Final { dose, .. } => Some(fill(
            &labels.dose_type_primary,
            &[("dose", &dose.to_string())],
        )),
        DoseState::Booster { dose, booster, .. } => Some(fill(
            &labels.dose_type_booster,
            &[
                ("dose", &dose.to_string()),
                ("booster", &booster.to_string()),
            ],
        )),
        DoseState::Unknown { dose: Some(dose) } => Some(fill(
            &labels.dose_type_unknown,
            &[("dose", &dose.to_string())],
        )),
        DoseState::Unknown { dose: None } => None,
    }
}

/// Formats `credentialSubject.id` with its document type and all but the last
/// characters masked.
///
/// The type comes from DIVOC's rules, checked in this order on the whole id,
/// case-sensitively: `aadhaar`, `Driving`, `MNREGA`, `PAN`, `Passbooks`,
/// `Passport`, `Pension`, `Voter`. The number is the part after the last `:`.
/// DIVOC masks only Aadhaar numbers, but this masks every type. Aadhaar keeps
/// DIVOC's fixed `XXXX XXXX XXXX 1234` form, other numbers keep their length.
pub(crate) fn format_identity(id: &str, labels: &IdTypeLabels) -> Option<String> {
    let id = id.trim();
    let number = id.rsplit(':').next().unwrap_or(id).trim();
    if number.is_empty() {
        return None;
    }
    let chars: Vec<char> = number.chars().collect();
    // NOTE: a short number would be shown whole if the last 4 were kept, so at
    // most half of its characters are left visible.
    let visible = (chars.len() / 2).min(4);
    let tail: String = chars[chars.len() - visible..].iter().collect();
    let masked = format!("{}{tail}", "X".repeat(chars.len() - visible));

    let rules: [(&str, &str); 8] = [
        ("aadhaar", &labels.aadhaar),
        ("Driving", &labels.driving_license),
        ("MNREGA", &labels.mnrega),
        ("PAN", &labels.pan),
        ("Passbooks", &labels.passbook),
        ("Passport", &labels.passport),
        ("Pension", &labels.pension),
        ("Voter", &labels.voter),
    ];
    let Some((keyword, label)) = rules.iter().find(|(keyword, _)| id.contains(keyword)) else {
        return Some(masked);
    };
    if *keyword == "aadhaar" && visible == 4 {
        return Some(format!("{label} # XXXX XXXX XXXX {tail}"));
    }
    Some(format!("{label} # {masked}"))
}

/// Joins the non-blank parts of an address with ", ", skipping a part equal
/// to an earlier one (a city that is also the district).
pub(crate) fn join_address(address: &Address) -> Option<String> {
    let parts = [
        &address.street_address,
        &address.street_address2,
        &address.city,
        &address.district,
        &address.address_region,
        &address.postal_code,
        &address.address_country,
    ];
    let mut distinct: Vec<&str> = Vec::new();
    for part in parts
        .into_iter()
        .filter_map(|part| non_blank(part.as_deref()))
    {
        if !distinct
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(part))
        {
            distinct.push(part);
        }
    }
    (!distinct.is_empty()).then(|| distinct.join(", "))
}

/// Joins the ICD-11 code and the prophylaxis, or returns whichever is present.
pub(crate) fn vaccine_type(icd11_code: Option<&str>, prophylaxis: Option<&str>) -> Option<String> {
    match (non_blank(icd11_code), non_blank(prophylaxis)) {
        (Some(code), Some(prophylaxis)) => Some(format!("{code}, {prophylaxis}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

/// Returns the trimmed text, or `None` when it is missing or blank.
pub(crate) fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn months() -> Vec<String> {
        Labels::default().months
    }

    fn title_of(dose: Option<u32>, total: Option<u32>) -> (String, Option<String>) {
        let title = certificate_title(DoseState::new(dose, total), &Labels::default(), "COVID-19");
        (title.title, title.subtitle)
    }

    #[test]
    fn date_format_pads_day() {
        let date = NaiveDate::from_ymd_opt(2021, 3, 5).unwrap();
        assert_eq!(format_date(date, &months()), "05-Mar-2021");
    }

    /// Runs in a child process whose TZ is set (see `instant_ignores_host_zone`),
    /// and on its own as a plain check.
    #[test]
    fn instant_in_kolkata_is_next_day() {
        if let Ok(expected) = std::env::var("DIVOC_PDF_EXPECT_TZ") {
            assert_eq!(std::env::var("TZ").ok(), Some(expected));
        }
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let text = Some("2021-10-17T22:00:00Z");
        assert_eq!(
            format_vaccination_text(text, kolkata, &months()).as_deref(),
            Some("18-Oct-2021")
        );
        assert_eq!(
            format_vaccination_text(text, Tz::UTC, &months()).as_deref(),
            Some("17-Oct-2021")
        );
        let new_york: Tz = "America/New_York".parse().unwrap();
        let early = Some("2021-10-17T02:00:00Z");
        assert_eq!(
            format_vaccination_text(early, new_york, &months()).as_deref(),
            Some("16-Oct-2021")
        );
    }

    /// Setting TZ in this process would need `unsafe` (edition 2024), so the
    /// check above runs again in a child process with TZ set to a zone on the
    /// other side of the date line.
    #[test]
    fn instant_ignores_host_zone() {
        let host_zone = "Pacific/Pago_Pago";
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "format::tests::instant_in_kolkata_is_next_day",
                "--test-threads=1",
            ])
            .env("TZ", host_zone)
            .env("DIVOC_PDF_EXPECT_TZ", host_zone)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "the date check failed with TZ={host_zone}"
        );
    }

    #[test]
    fn calendar_dates_never_shift() {
        let months = months();
        assert_eq!(
            format_calendar_text(Some("1987-04-21"), &months).as_deref(),
            Some("21-Apr-1987")
        );
        // A date of birth with a time keeps its written date, whatever the offset.
        assert_eq!(
            format_calendar_text(Some("1987-04-21T23:30:00-05:00"), &months).as_deref(),
            Some("21-Apr-1987")
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let pago_pago: Tz = "Pacific/Pago_Pago".parse().unwrap();
        for zone in [kolkata, pago_pago, Tz::UTC] {
            assert_eq!(
                format_vaccination_text(Some("2021-10-17"), zone, &months).as_deref(),
                Some("17-Oct-2021")
            );
        }
        assert_eq!(format_calendar_text(Some("  "), &months), None);
        assert_eq!(
            format_calendar_text(Some("21/04/1987"), &months).as_deref(),
            Some("21/04/1987")
        );
    }

    #[test]
    fn age_counts_whole_years() {
        let birth = NaiveDate::from_ymd_opt(1987, 4, 21).unwrap();
        assert_eq!(
            age_in_years(birth, NaiveDate::from_ymd_opt(2021, 4, 20).unwrap()),
            Some(33)
        );
        assert_eq!(
            age_in_years(birth, NaiveDate::from_ymd_opt(2021, 4, 21).unwrap()),
            Some(34)
        );
        assert_eq!(
            age_in_years(birth, NaiveDate::from_ymd_opt(1987, 4, 20).unwrap()),
            None
        );
        let leap = NaiveDate::from_ymd_opt(2000, 2, 29).unwrap();
        assert_eq!(
            age_in_years(leap, NaiveDate::from_ymd_opt(2021, 2, 28).unwrap()),
            Some(20)
        );
        assert_eq!(
            age_in_years(leap, NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()),
            Some(21)
        );
    }

    #[test]
    fn titles_by_dose_state() {
        assert_eq!(
            title_of(Some(1), Some(2)),
            (
                "Provisional Certificate for COVID-19 Vaccination".to_owned(),
                Some("(Dose 1 of 2)".to_owned())
            )
        );
        assert_eq!(
            title_of(Some(2), Some(2)),
            (
                "Final Certificate for COVID-19 Vaccination".to_owned(),
                None
            )
        );
        assert_eq!(
            title_of(Some(3), Some(2)),
            (
                "Booster Dose Certificate for COVID-19 Vaccination".to_owned(),
                Some("(Booster Dose 1)".to_owned())
            )
        );
        assert_eq!(
            title_of(Some(2), Some(1)),
            (
                "Booster Dose Certificate for COVID-19 Vaccination".to_owned(),
                Some("(Booster Dose 1)".to_owned())
            )
        );
        assert_eq!(
            title_of(Some(1), None),
            (
                "Certificate for COVID-19 Vaccination".to_owned(),
                Some("(Dose 1)".to_owned())
            )
        );
        assert_eq!(
            title_of(None, Some(2)),
            ("Certificate for COVID-19 Vaccination".to_owned(), None)
        );
        assert_eq!(
            title_of(Some(2), Some(0)),
            (
                "Certificate for COVID-19 Vaccination".to_owned(),
                Some("(Dose 2)".to_owned())
            )
        );
        let measles = certificate_title(
            DoseState::new(Some(2), Some(3)),
            &Labels::default(),
            "Measles",
        );
        assert_eq!(
            measles.title,
            "Provisional Certificate for Measles Vaccination"
        );
        assert_eq!(measles.subtitle.as_deref(), Some("(Dose 2 of 3)"));
    }

    #[test]
    fn dose_type_strings() {
        let labels = Labels::default();
        assert_eq!(
            dose_type(Some(1), Some(2), &labels).as_deref(),
            Some("Primary Dose 1")
        );
        assert_eq!(
            dose_type(Some(2), Some(2), &labels).as_deref(),
            Some("Primary Dose 2")
        );
        assert_eq!(
            dose_type(Some(3), Some(2), &labels).as_deref(),
            Some("Booster Dose 1")
        );
        assert_eq!(
            dose_type(Some(4), Some(2), &labels).as_deref(),
            Some("Booster Dose 2")
        );
        assert_eq!(
            dose_type(Some(2), Some(1), &labels).as_deref(),
            Some("Booster Dose 1")
        );
        assert_eq!(dose_type(Some(3), None, &labels).as_deref(), Some("Dose 3"));
        assert_eq!(dose_type(None, Some(2), &labels), None);
    }

    #[test]
    fn identity_masking() {
        let labels = IdTypeLabels::default();
        let format = |id: &str| format_identity(id, &labels);
        assert_eq!(
            format("did:aadhaar:123456789012").as_deref(),
            Some("Aadhaar # XXXX XXXX XXXX 9012")
        );
        assert_eq!(
            format("did:in.gov.uidai.aadhaar:123456789012").as_deref(),
            Some("Aadhaar # XXXX XXXX XXXX 9012")
        );

        assert_eq!(
            format("did:india:872550100V").as_deref(),
            Some("XXXXXX100V")
        );
        assert_eq!(
            format("did:Passport:Z1234567").as_deref(),
            Some("Passport # XXXX4567")
        );
        assert_eq!(
            format("did:in.gov.Driving License:KA0120110012345").as_deref(),
            Some("Driver\u{2019}s License # XXXXXXXXXXX2345")
        );
        assert_eq!(
            format("did:PAN:ABCDE1234F").as_deref(),
            Some("PAN Card # XXXXXX234F")
        );
        assert_eq!(
            format("did:Voter:ABC1234567").as_deref(),
            Some("Voter ID # XXXXXX4567")
        );

        // Short numbers keep at most half their characters.
        assert_eq!(
            format("did:aadhaar:1234").as_deref(),
            Some("Aadhaar # XX34")
        );
        assert_eq!(format("AB12").as_deref(), Some("XX12"));

        assert_eq!(format("did:india:"), None);
        assert_eq!(format("  "), None);
    }

    #[test]
    fn address_joining() {
        let address = Address {
            street_address: Some("12 MG Road".to_owned()),
            street_address2: Some(" ".to_owned()),
            city: Some("Bengaluru".to_owned()),
            district: Some("bengaluru".to_owned()),
            address_region: Some("Karnataka".to_owned()),
            postal_code: Some("560001".to_owned()),
            address_country: Some("IND".to_owned()),
        };
        assert_eq!(
            join_address(&address).as_deref(),
            Some("12 MG Road, Bengaluru, Karnataka, 560001, IND")
        );
        let district_only = Address {
            district: Some("Laren".to_owned()),
            ..Address::default()
        };
        assert_eq!(join_address(&district_only).as_deref(), Some("Laren"));
        let blank = Address {
            street_address: Some("  ".to_owned()),
            ..Address::default()
        };
        assert_eq!(join_address(&blank), None);
    }

    #[test]
    fn vaccine_type_parts() {
        assert_eq!(
            vaccine_type(Some("XM9QW8"), Some("COVID-19 vaccine")).as_deref(),
            Some("XM9QW8, COVID-19 vaccine")
        );
        assert_eq!(
            vaccine_type(Some("XM9QW8"), Some("")).as_deref(),
            Some("XM9QW8")
        );
        assert_eq!(vaccine_type(None, None), None);
    }

    #[test]
    fn fill_replaces_known_keys() {
        assert_eq!(
            fill("{a} and {b} and {c}", &[("a", "1"), ("b", "2")]),
            "1 and 2 and {c}"
        );
    }
}

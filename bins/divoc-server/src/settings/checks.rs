//! Checks of setting values that their types cannot express: a value that
//! must name something (a time zone, a label set) or fit another setting.
//!
//! They run while loading, where the file or environment variable of each
//! value is still known, so that their errors name it like every other
//! setting error. The services check the same values again at start.

use config::{Map, Value, ValueKind};
use divoc_pdf::{LabelSet, PdfError};

use super::Settings;
use super::strict::{self, SettingError, origin_of};

/// Rejects values that their types accept but the services would not:
/// `pdf.timezone`, `pdf.language`, the placeholders of `[pdf.labels]`,
/// `share.default_days` above `share.max_days`, and the scheme and query
/// options of `email.smtp_url`. `table` is the merged table that `settings`
/// was read from, which carries the value as written and its origin.
pub(super) fn check_values(
    settings: &Settings,
    table: &Map<String, Value>,
) -> Result<(), SettingError> {
    check_time_zone(settings, table)?;
    check_labels(settings, table)?;
    check_language(settings, table)?;
    check_share_days(settings, table)?;
    check_smtp_url(settings, table)
}

/// Returns the value at the dotted `key`, such as `pdf.labels.footer[1]`,
/// when a file or the environment set it.
fn value_at<'a>(table: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let (path, index) = match key.strip_suffix(']').and_then(|key| key.split_once('[')) {
        Some((path, index)) => (path, index.parse::<usize>().ok()),
        None => (key, None),
    };
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        match &value.kind {
            ValueKind::Table(inner) => value = inner.get(part)?,
            _ => return None,
        }
    }
    match (index, &value.kind) {
        (None, _) => Some(value),
        (Some(index), ValueKind::Array(items)) => items.get(index),
        (Some(_), _) => None,
    }
}

/// Returns the error of `key`, or of the built-in default when no file or
/// variable set it (`written` is the default as a message shows it).
fn invalid(
    table: &Map<String, Value>,
    key: &str,
    written: String,
    reason: impl Into<String>,
) -> SettingError {
    match value_at(table, key) {
        Some(value) => strict::invalid_value(key, value, reason),
        None => SettingError::Value {
            key: key.to_owned(),
            value: written,
            origin: Some("the built-in defaults".to_owned()),
            reason: reason.into(),
        },
    }
}

fn check_time_zone(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    let name = &settings.pdf.timezone;
    if name.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    Err(invalid(
        table,
        "pdf.timezone",
        format!("{name:?}"),
        "expected an IANA time zone name such as Asia/Kolkata or UTC",
    ))
}

/// Rejects a text of `[pdf.labels]` with a placeholder that its key does not
/// take, such as `{nope}` or an unclosed `{program`.
fn check_labels(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    match settings.pdf.labels.check_placeholders() {
        Ok(()) => Ok(()),
        Err(PdfError::InvalidSettings { field, reason }) => {
            let key = format!("pdf.{field}");
            let reason = match reason.strip_prefix("has ") {
                Some(problem) => format!("contains {problem}"),
                None => reason,
            };
            Err(invalid(table, &key, "a default text".to_owned(), reason))
        }
        Err(other) => Err(SettingError::Unlocated(other.to_string())),
    }
}

/// Rejects a `pdf.language` without a label set. The label sets of
/// `pdf.labels_dir` are read only for a code that is not built in. When they
/// cannot be read, the check is left to the renderer, whose error names the
/// file.
fn check_language(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    let language = &settings.pdf.language;
    let Ok(mut sets) = LabelSet::built_in() else {
        return Ok(());
    };
    if let Some(directory) = &settings.pdf.labels_dir
        && !sets.iter().any(|set| &set.language == language)
    {
        match LabelSet::read_dir(directory) {
            Ok(from_directory) => sets.extend(from_directory),
            Err(_) => return Ok(()),
        }
    }
    let mut known: Vec<&str> = sets.iter().map(|set| set.language.as_str()).collect();
    known.push(divoc_pdf::ENGLISH);
    if known.contains(&language.as_str()) {
        return Ok(());
    }
    known.sort_unstable();
    known.dedup();
    let where_sets = match &settings.pdf.labels_dir {
        Some(directory) => format!("shipped or in pdf.labels_dir {}", directory.display()),
        None => "shipped; pdf.labels_dir adds others".to_owned(),
    };
    Err(invalid(
        table,
        "pdf.language",
        format!("{language:?}"),
        format!(
            "no label set has this code; known languages: {} ({where_sets})",
            known.join(", ")
        ),
    ))
}

/// Rejects a `share.default_days` above `share.max_days`, naming whichever
/// of the two a file or variable set (the default days when both are set).
fn check_share_days(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    let share = &settings.share;
    if share.default_days <= share.max_days {
        return Ok(());
    }
    if value_at(table, "share.default_days").is_some() {
        return Err(invalid(
            table,
            "share.default_days",
            share.default_days.to_string(),
            format!(
                "must be at most share.max_days, which is {}",
                share.max_days
            ),
        ));
    }
    Err(invalid(
        table,
        "share.max_days",
        share.max_days.to_string(),
        format!(
            "must be at least share.default_days, which is {}",
            share.default_days
        ),
    ))
}

/// Rejects an `email.smtp_url` that the email sender cannot read, with the
/// sender's own reason.
fn check_smtp_url(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    let Some(url) = settings.email.smtp_url.as_deref() else {
        return Ok(());
    };
    let Err(reason) = crate::delivery::check_smtp_url(url) else {
        return Ok(());
    };
    Err(SettingError::Value {
        key: "email.smtp_url".to_owned(),
        value: format!("{:?}", crate::delivery::redact_smtp_url(url)),
        origin: value_at(table, "email.smtp_url").and_then(origin_of),
        reason,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn smtp_urls_accepted() {
        for url in [
            "smtp://mail.example.org",
            "smtp://mail.example.org:2525?tls=required",
            "SMTP://mail.example.org?TLS=Required",
            "smtp://user:secret@mail.example.org?tls=opportunistic",
            "smtps://mail.example.org:465",
        ] {
            assert_eq!(crate::delivery::check_smtp_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn smtp_url_problems_named() {
        let cases = [
            ("mail.example.org", "expected a URL; use smtp://HOST:PORT"),
            (
                "smtp://h?tls=requried",
                "unsupported tls option \"requried\"",
            ),
            (
                "smtp://h?tsl=required",
                "unknown option \"tsl\" in the query string",
            ),
            (
                "smtp://h?tls=required&tls=required",
                "the option tls is given twice",
            ),
            ("smtp://h?", "an empty option in the query string"),
            (
                "smtps://h?tls=opportunistic",
                "smtps:// is TLS from the start",
            ),
            ("smtp://user:pa?ss@h", "an @ follows the host"),
        ];
        for (url, start) in cases {
            let problem = crate::delivery::check_smtp_url(url).unwrap_err();
            assert!(problem.starts_with(start), "{url}: {problem}");
            assert!(!problem.contains("ss@"), "{url}: {problem}");
        }
    }

    #[test]
    fn credentials_left_out() {
        let cases = [
            (
                "smtps://alerts@example.org:hunter2@127.0.0.1:2525?tls=required",
                "smtps://***@127.0.0.1:2525?tls=required",
            ),
            (
                "smtp://user:SECRET@mail.example.org?tls=required@x",
                "smtp://***",
            ),
            ("smtp://mail.example.org", "smtp://mail.example.org"),
        ];
        for (url, shown) in cases {
            assert_eq!(crate::delivery::redact_smtp_url(url), shown);
        }
    }
}

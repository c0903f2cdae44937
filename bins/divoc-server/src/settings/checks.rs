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

/// Rejects an `email.smtp_url` whose scheme or query options the email
/// sender does not support.
// NOTE: errors of the host, port or user part still come from the email
// sender at start, as "invalid setting email.smtp_url: REASON", without the
// value and its origin.
fn check_smtp_url(settings: &Settings, table: &Map<String, Value>) -> Result<(), SettingError> {
    let Some(url) = settings.email.smtp_url.as_deref() else {
        return Ok(());
    };
    let Some(reason) = smtp_url_problem(url) else {
        return Ok(());
    };
    Err(SettingError::Value {
        key: "email.smtp_url".to_owned(),
        value: format!("{:?}", without_credentials(url)),
        origin: value_at(table, "email.smtp_url").and_then(origin_of),
        reason,
    })
}

/// Returns what is wrong with the scheme or the query options of `url`.
/// The rules are those of the email sender: scheme and option are read in
/// any letter case, and `tls` is the only option.
fn smtp_url_problem(url: &str) -> Option<String> {
    const EXPECTED: &str = "use smtp://HOST:PORT, smtp://HOST:PORT?tls=required, \
                            smtp://HOST:PORT?tls=opportunistic or smtps://HOST:PORT";
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some(format!("expected a URL; {EXPECTED}"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "smtp" && scheme != "smtps" {
        return Some(format!(
            "unsupported scheme {:?}; {EXPECTED}",
            crate::error::truncate(&scheme)
        ));
    }
    let tls = match tls_option(rest) {
        Ok(tls) => tls,
        Err(problem) => return Some(problem),
    };
    match (scheme.as_str(), tls.as_deref()) {
        (_, None) | ("smtp", Some("required" | "opportunistic")) => None,
        ("smtps", Some(_)) => Some(format!(
            "smtps:// is TLS from the start and takes no tls option; {EXPECTED}"
        )),
        (_, Some(value)) => Some(format!(
            "unsupported tls option {:?}: expected tls=required or tls=opportunistic",
            crate::error::truncate(value)
        )),
    }
}

/// Returns the lowercase value of the `tls` option in the query of `rest`,
/// the part of an SMTP URL after `://`, or what is wrong with the query.
// NOTE: this repeats the query rules of the email sender's URL parser in
// delivery/smtp.rs, which is private to that module. A change to one must
// be made in the other until the parser moves to a place both can call.
fn tls_option(rest: &str) -> Result<Option<String>, String> {
    // The host part ends at the first `/`, `?` or `#`, as the email sender
    // reads it. An `@` after it belongs to a user name or password, which
    // must not be quoted.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let tail = &rest[end..];
    if tail.contains('@') {
        return Err(
            "an @ follows the host, so the user name or password contains a ?, / or # \
                    that is not percent-encoded; write them as %3F, %2F and %23 (and @ as %40)"
                .to_owned(),
        );
    }
    let Some((_, query)) = tail.split_once('?') else {
        return Ok(None);
    };
    let mut tls = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.is_empty() {
            return Err(
                "an empty option in the query string (a stray ? or &); the only \
                        option is tls=required or tls=opportunistic"
                    .to_owned(),
            );
        }
        if !name.eq_ignore_ascii_case("tls") {
            return Err(format!(
                "unknown option {:?} in the query string; the only option is tls=required \
                 or tls=opportunistic",
                crate::error::truncate(name)
            ));
        }
        if tls.is_some() {
            return Err("the option tls is given twice".to_owned());
        }
        tls = Some(value.to_ascii_lowercase());
    }
    Ok(tls)
}

/// Returns `url` with everything between `://` and the last `@` replaced by
/// `***`, so that no user name or password reaches a message.
fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***{}", &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_accepted() {
        for url in [
            "smtp://mail.example.org",
            "smtp://mail.example.org:2525?tls=required",
            "SMTP://mail.example.org?TLS=Required",
            "smtp://user:secret@mail.example.org?tls=opportunistic",
            "smtps://mail.example.org:465",
        ] {
            assert_eq!(smtp_url_problem(url), None, "{url}");
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
            let problem = smtp_url_problem(url).unwrap_or_default();
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
                "smtp://***@x",
            ),
            ("smtp://mail.example.org", "smtp://mail.example.org"),
        ];
        for (url, shown) in cases {
            assert_eq!(without_credentials(url), shown);
        }
    }
}

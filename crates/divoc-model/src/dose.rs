//! Lenient readers for fields that issuers write as numbers or as strings.

use serde::{Deserialize, Deserializer, de};

/// Reads a dose count written as a JSON number, a numeric string, an empty string
/// or `null`. Empty strings and `null` mean unknown and become `None`.
pub(crate) fn dose<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(number)) => {
            let value = number
                .as_u64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| {
                    de::Error::custom(format!("expected a whole number of doses, found {number}"))
                })?;
            u32::try_from(value)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("dose number {number} is out of range")))
        }
        Some(serde_json::Value::String(text)) => parse_dose_text(&text).map_err(de::Error::custom),
        Some(other) => Err(de::Error::custom(format!(
            "expected a number or a numeric string, found {}",
            json_kind(&other)
        ))),
    }
}

/// Parses a dose written as text: `""` is unknown, otherwise decimal digits.
pub(crate) fn parse_dose_text(text: &str) -> Result<Option<u32>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    trimmed
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("expected a whole number of doses, found {text:?}"))
}

/// Reads a value that should be a string but that some issuers write as a number
/// (for example `age: 35`). Numbers and booleans are kept as their JSON text.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(serde_json::Value::Number(number)) => Ok(Some(number.to_string())),
        Some(serde_json::Value::Bool(flag)) => Ok(Some(flag.to_string())),
        Some(other) => Err(de::Error::custom(format!(
            "expected a string, found {}",
            json_kind(&other)
        ))),
    }
}

/// Names the kind of a JSON value, for messages that must not repeat the value.
pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Removes values from a serde parse error message, keeping field names and
/// positions, because records and request bodies contain personal data and these
/// messages reach logs.
///
/// Double-quoted strings become `"…"`, and serde's backtick-quoted values after
/// `integer`, `floating point`, `boolean`, `char`, `variant` and `unknown
/// field` become `` `…` ``. The names of expected fields, as in "missing field
/// `certificateId`", stay.
///
/// ```
/// assert_eq!(
///     divoc_model::redact_values(r#"invalid type: string "9000000005", expected a sequence"#),
///     r#"invalid type: string "…", expected a sequence"#
/// );
/// ```
pub fn redact_values(message: &str) -> String {
    const VALUE_KINDS: [&str; 6] = [
        "integer ",
        "floating point ",
        "boolean ",
        "char ",
        "variant ",
        "unknown field ",
    ];
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                let mut escaped = false;
                for (_, inner) in chars.by_ref() {
                    match (escaped, inner) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => escaped = false,
                    }
                }
            }
            '`' if VALUE_KINDS
                .iter()
                .any(|kind| message[..index].ends_with(kind)) =>
            {
                out.push_str("`…`");
                for (_, inner) in chars.by_ref() {
                    if inner == '`' {
                        break;
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_dose_text, redact_values};

    #[test]
    fn redaction_keeps_field_names() {
        assert_eq!(
            redact_values(
                "invalid type: integer `9000000099`, expected a string at line 1 column 5"
            ),
            "invalid type: integer `…`, expected a string at line 1 column 5"
        );
        assert_eq!(
            redact_values(r#"invalid type: string "Hidden \"Name\"", expected u32"#),
            r#"invalid type: string "…", expected u32"#
        );
        assert_eq!(
            redact_values("missing field `certificateId`"),
            "missing field `certificateId`"
        );
        assert_eq!(
            redact_values("unknown variant `none`, expected `RS256`"),
            "unknown variant `…`, expected `RS256`"
        );
        assert_eq!(
            redact_values("unknown field `9000000005`, expected `beneficiaryIds`"),
            "unknown field `…`, expected `beneficiaryIds`"
        );
        assert_eq!(
            redact_values("duplicate field `passcode`"),
            "duplicate field `passcode`"
        );
    }

    #[test]
    fn dose_text_cases() {
        assert_eq!(parse_dose_text("10"), Ok(Some(10)));
        assert_eq!(parse_dose_text(" 2 "), Ok(Some(2)));
        assert_eq!(parse_dose_text(""), Ok(None));
        assert!(parse_dose_text("two").is_err());
        assert!(parse_dose_text("-1").is_err());
    }
}

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
                .map_err(|_| de::Error::custom(format!("dose number {value} is out of range")))
        }
        Some(serde_json::Value::String(text)) => parse_dose_text(&text).map_err(de::Error::custom),
        Some(other) => Err(de::Error::custom(format!(
            "expected a number or a numeric string, found {other}"
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
            "expected a string, found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_dose_text;

    #[test]
    fn dose_text_cases() {
        assert_eq!(parse_dose_text("10"), Ok(Some(10)));
        assert_eq!(parse_dose_text(" 2 "), Ok(Some(2)));
        assert_eq!(parse_dose_text(""), Ok(None));
        assert!(parse_dose_text("two").is_err());
        assert!(parse_dose_text("-1").is_err());
    }
}

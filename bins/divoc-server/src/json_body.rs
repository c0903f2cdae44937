//! Request bodies that must be one JSON object.

use serde::de::DeserializeOwned;

/// Parses `body` as a JSON object into `T`.
///
/// serde reads a struct from a JSON array too, field by field in order, so a
/// body such as `["772014589", 2, "abcd"]` would pass as an object. This
/// rejects anything but an object first.
///
/// # Errors
///
/// A message naming what is wrong: not JSON, not an object, or a field of the
/// wrong type or missing.
pub fn from_json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    if !value.is_object() {
        return Err(format!(
            "expected a JSON object, found {}",
            json_kind(&value)
        ));
    }
    serde_json::from_value(value).map_err(|error| error.to_string())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Request {
        id: String,
        days: Option<i64>,
    }

    #[test]
    fn object_parses() {
        let parsed: Result<Request, String> = from_json_object(br#"{"id":"7","days":2}"#);
        assert_eq!(
            parsed,
            Ok(Request {
                id: "7".to_owned(),
                days: Some(2)
            })
        );
    }

    #[test]
    fn array_rejected() {
        let parsed: Result<Request, String> = from_json_object(br#"["7", 2]"#);
        assert_eq!(
            parsed,
            Err("expected a JSON object, found an array".to_owned())
        );
    }

    #[test]
    fn invalid_json_rejected() {
        let parsed: Result<Request, String> = from_json_object(b"{");
        assert!(parsed.is_err_and(|message| message.starts_with("not JSON: ")));
    }
}

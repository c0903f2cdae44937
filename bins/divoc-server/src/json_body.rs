//! Request bodies that must be one JSON object.

use serde::de::DeserializeOwned;

/// Parses `body` as a JSON object into `T`.
///
/// serde reads a struct from a JSON array too, field by field in order, so a
/// body such as `["772014589", 2, "abcd"]` would pass as an object. This
/// rejects anything but an object first. `T` is then read from the text
/// itself, not from a parsed `Value`, so that a field given twice is an error.
/// A `Value` keeps only the last one, and a proxy that reads the first would
/// see another request than the server.
///
/// # Errors
///
/// A message naming what is wrong: not JSON, not an object, a field given
/// twice, or a field of the wrong type or missing.
pub fn from_json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    if !value.is_object() {
        return Err(format!(
            "expected a JSON object, found {}",
            json_kind(&value)
        ));
    }
    serde_json::from_slice(body).map_err(|error| without_position(&error))
}

/// Returns the message of a field error without the line and column that
/// serde_json appends. A request body is one line, and the messages name the field.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(field_message) => field_message.to_owned(),
        None => message,
    }
}

/// Checks that no object in the JSON text `body` names a key twice.
///
/// `serde_json::Value` keeps the last of two equal keys. A proxy that reads
/// the first one would then see another request than the server does, so
/// bodies that the server reads as a `Value` are checked with this first.
///
/// # Errors
///
/// The message of serde_json for text that is not JSON, or names the
/// repeated key.
pub fn check_unique_keys(body: &[u8]) -> Result<(), String> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde::Deserialize::deserialize(&mut reader)
        .map(|UniqueKeys| ())
        .map_err(|error: serde_json::Error| without_position(&error))
}

/// A JSON value that is read only to check its objects for repeated keys.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<UniqueKeys, A::Error> {
        while items.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut entries: A,
    ) -> Result<UniqueKeys, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} is given twice"
                )));
            }
            entries.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
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
    fn repeated_field_rejected() {
        let parsed: Result<Request, String> = from_json_object(br#"{"id":"7","id":"8"}"#);
        assert_eq!(parsed, Err("duplicate field `id`".to_owned()));
    }

    #[test]
    fn field_error_has_no_position() {
        let parsed: Result<Request, String> = from_json_object(br#"{"id":7}"#);
        assert_eq!(
            parsed,
            Err("invalid type: integer `7`, expected a string".to_owned())
        );
        let parsed: Result<Request, String> = from_json_object(br#"{"days":2}"#);
        assert_eq!(parsed, Err("missing field `id`".to_owned()));
    }

    #[test]
    fn repeated_key_found_at_any_depth() {
        assert_eq!(
            check_unique_keys(br#"{"a":1,"b":[{"c":1},{"c":2}]}"#),
            Ok(())
        );
        assert_eq!(
            check_unique_keys(br#"{"mobile":"9876543210","mobile":"9123456789"}"#),
            Err(r#"the key "mobile" is given twice"#.to_owned())
        );
        assert_eq!(
            check_unique_keys(br#"{"a":[{"b":{"c":1,"c":1}}]}"#),
            Err(r#"the key "c" is given twice"#.to_owned())
        );
    }

    #[test]
    fn invalid_json_rejected() {
        let parsed: Result<Request, String> = from_json_object(b"{");
        assert!(parsed.is_err_and(|message| message.starts_with("not JSON: ")));
    }
}

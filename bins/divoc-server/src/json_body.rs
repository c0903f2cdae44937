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

/// Parses `body` as a JSON object into `T`, like [`from_json_object`], with
/// messages in plain words that name the field: `fields` lists each field of
/// `T` as sent, with what it must be, such as `("expiresInDays", "a whole
/// number of days")`.
///
/// # Errors
///
/// A message naming what is wrong: not JSON, not an object, a field given
/// twice, a field missing, or a field with a value of the wrong kind.
pub fn from_json_fields<T: DeserializeOwned>(
    body: &[u8],
    fields: &[(&str, &str)],
) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    let serde_json::Value::Object(object) = value else {
        return Err(format!(
            "expected a JSON object, found {}",
            json_kind(&value)
        ));
    };
    check_unique_keys(body)?;
    let expected = |field: &str| {
        fields
            .iter()
            .find(|(name, _)| *name == field)
            .map_or("another value", |(_, expected)| *expected)
    };
    let access = Fields {
        entries: object.into_iter(),
        value: None,
    };
    T::deserialize(serde::de::value::MapAccessDeserializer::new(access)).map_err(
        |error| match error {
            FieldError::Missing(field) => {
                format!("missing field \"{field}\": expected {}", expected(&field))
            }
            FieldError::Unknown(field) => format!("unknown field \"{field}\""),
            FieldError::WrongValue { field, found } => {
                format!(
                    "invalid {field}: expected {}, found {found}",
                    expected(&field)
                )
            }
            FieldError::Other(message) => message,
        },
    )
}

/// An error of [`from_json_fields`], with the field it concerns.
#[derive(Debug)]
enum FieldError {
    Missing(String),
    Unknown(String),
    WrongValue { field: String, found: String },
    Other(String),
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldError::Missing(field) => write!(formatter, "missing field {field}"),
            FieldError::Unknown(field) => write!(formatter, "unknown field {field}"),
            FieldError::WrongValue { field, found } => {
                write!(formatter, "invalid {field}: found {found}")
            }
            FieldError::Other(message) => formatter.write_str(message),
        }
    }
}

impl std::error::Error for FieldError {}

impl serde::de::Error for FieldError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        FieldError::Other(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        FieldError::Missing(field.to_owned())
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        FieldError::Unknown(field.to_owned())
    }
}

/// The fields of a parsed JSON object, handed to a struct one by one, so that
/// an error names the field whose value did not fit.
struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<(String, serde_json::Value)>,
}

impl<'de> serde::de::MapAccess<'de> for Fields {
    type Error = FieldError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let field = seed.deserialize(serde::de::value::StrDeserializer::<FieldError>::new(&key))?;
        self.value = Some((key, value));
        Ok(Some(field))
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FieldError> {
        let Some((field, value)) = self.value.take() else {
            return Err(FieldError::Other("a value without a key".to_owned()));
        };
        let found = match &value {
            serde_json::Value::Null => "null".to_owned(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            serde_json::Value::Number(number) => number.to_string(),
            other => json_kind(other).to_owned(),
        };
        seed.deserialize(value)
            .map_err(|_| FieldError::WrongValue { field, found })
    }
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

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Share {
        certificate_id: String,
        expires_in_days: Option<i64>,
    }

    const SHARE_FIELDS: &[(&str, &str)] = &[
        ("certificateId", "a certificate id as a string"),
        ("expiresInDays", "a whole number of days"),
    ];

    fn share(body: &str) -> Result<Share, String> {
        from_json_fields(body.as_bytes(), SHARE_FIELDS)
    }

    #[test]
    fn fields_parse() {
        assert_eq!(
            share(r#"{"certificateId": "7", "expiresInDays": 3, "other": true}"#),
            Ok(Share {
                certificate_id: "7".to_owned(),
                expires_in_days: Some(3)
            })
        );
        assert_eq!(
            share(r#"{"certificateId": "7", "expiresInDays": null}"#),
            Ok(Share {
                certificate_id: "7".to_owned(),
                expires_in_days: None
            })
        );
    }

    #[test]
    fn field_errors_name_field_and_kind() {
        let cases = [
            (
                r#"{"certificateId": "7", "expiresInDays": 1.5}"#,
                "invalid expiresInDays: expected a whole number of days, found 1.5",
            ),
            (
                r#"{"certificateId": "7", "expiresInDays": "3"}"#,
                "invalid expiresInDays: expected a whole number of days, found a string",
            ),
            (
                r#"{"certificateId": 772014589}"#,
                "invalid certificateId: expected a certificate id as a string, found 772014589",
            ),
            (
                r#"{"certificateId": ["7"]}"#,
                "invalid certificateId: expected a certificate id as a string, found an array",
            ),
            (
                r#"{"certificateId": null}"#,
                "invalid certificateId: expected a certificate id as a string, found null",
            ),
            (
                r#"{"expiresInDays": 2}"#,
                "missing field \"certificateId\": expected a certificate id as a string",
            ),
            (
                r#"{"certificateId": "7", "certificateId": "8"}"#,
                "the key \"certificateId\" is given twice",
            ),
            (r#"["7", 2]"#, "expected a JSON object, found an array"),
        ];
        for (body, message) in cases {
            assert_eq!(share(body), Err(message.to_owned()), "{body}");
        }
        assert!(share("{").is_err_and(|message| message.starts_with("not JSON: ")));
    }
}

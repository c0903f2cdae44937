//! Deserialization of the merged settings table into [`super::Settings`].
//!
//! The config crate's own deserializer (version 0.15) converts freely: it
//! reads `"yes"` and `0` as booleans and rounds `1.5` to a whole number.
//! This one accepts a value only when it fits its setting, and every error
//! names the key, the value as written and the file or environment variable
//! that set it.

use std::fmt;

use config::{Map, Value, ValueKind};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

/// A setting that was rejected while loading.
#[derive(Debug)]
pub enum SettingError {
    /// A value that its setting does not accept.
    Value {
        /// Path of the setting, such as `server.workers`.
        key: String,
        /// The value as written: strings quoted, numbers and booleans bare.
        value: String,
        /// File or environment variable that set the value, when known.
        origin: Option<String>,
        /// Reason of the rejection, such as "expected true or false".
        reason: String,
    },
    /// A key that names no setting.
    UnknownKey {
        /// Path of the key, such as `server.workerz`.
        key: String,
        /// File or environment variable that set it, when known.
        origin: Option<String>,
        /// The keys that the table has.
        expected: &'static [&'static str],
    },
    /// A message of a serde visitor, before the key is added.
    Unlocated(String),
    /// An unknown key as a serde visitor reports it, before its table is added.
    UnknownField {
        /// The key within its table.
        field: String,
        /// The keys that the table has.
        expected: &'static [&'static str],
    },
}

impl fmt::Display for SettingError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingError::Value {
                key,
                value,
                origin,
                reason,
            } => write!(
                formatter,
                "invalid setting {key} = {value}{}: {reason}",
                place(origin.as_deref())
            ),
            SettingError::UnknownKey {
                key,
                origin,
                expected,
            } => write!(
                formatter,
                "unknown setting {key}{}: expected one of {}",
                place(origin.as_deref()),
                expected.join(", ")
            ),
            SettingError::Unlocated(message) => {
                write!(formatter, "invalid configuration: {message}")
            }
            SettingError::UnknownField { field, expected } => write!(
                formatter,
                "unknown setting {field}: expected one of {}",
                expected.join(", ")
            ),
        }
    }
}

impl std::error::Error for SettingError {}

impl de::Error for SettingError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        SettingError::Unlocated(message.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        SettingError::UnknownField {
            field: field.to_owned(),
            expected,
        }
    }
}

/// Returns " in ORIGIN", or nothing when the origin is unknown.
fn place(origin: Option<&str>) -> String {
    origin
        .map(|origin| format!(" in {origin}"))
        .unwrap_or_default()
}

/// Returns `value` as a message shows it: strings quoted, numbers and
/// booleans bare, tables and lists abbreviated.
pub fn written(value: &Value) -> String {
    match &value.kind {
        ValueKind::String(text) => format!("{text:?}"),
        ValueKind::Boolean(flag) => flag.to_string(),
        ValueKind::I64(number) => number.to_string(),
        ValueKind::I128(number) => number.to_string(),
        ValueKind::U64(number) => number.to_string(),
        ValueKind::U128(number) => number.to_string(),
        // Debug keeps the exponent: 1e20, not 100000000000000000000.
        ValueKind::Float(number) => format!("{number:?}"),
        ValueKind::Table(_) => "{...}".to_owned(),
        ValueKind::Array(_) => "[...]".to_owned(),
        ValueKind::Nil => "nothing".to_owned(),
    }
}

/// Returns where `value` was set. A table that the environment made has no
/// origin of its own, so the origin of its first value is used.
pub fn origin_of(value: &Value) -> Option<String> {
    if let Some(origin) = value.origin() {
        return Some(origin.to_owned());
    }
    match &value.kind {
        ValueKind::Table(table) => table.values().find_map(origin_of),
        ValueKind::Array(items) => items.iter().find_map(origin_of),
        _ => None,
    }
}

/// Bounds of a whole-number setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumberBounds {
    /// Smallest accepted value.
    pub min: i128,
    /// Largest accepted value.
    pub max: i128,
    /// Unit of the value, such as "seconds".
    pub unit: Option<&'static str>,
    /// Note on `max`, such as "10 years".
    pub max_note: Option<&'static str>,
}

impl fmt::Display for WholeNumberBounds {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a whole number")?;
        if let Some(unit) = self.unit {
            write!(formatter, " of {unit}")?;
        }
        write!(formatter, " from {} to {}", self.min, self.max)?;
        if let Some(note) = self.max_note {
            write!(formatter, " ({note})")?;
        }
        Ok(())
    }
}

/// Largest float up to which every whole number is exact: 2^53.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Returns `number` when it is whole and exact, such as 3.0.
fn whole_float(number: f64) -> Option<i128> {
    let whole = number.is_finite() && number.fract() == 0.0 && number.abs() <= MAX_EXACT_FLOAT;
    // The cast is exact: `number` is whole and at most 2^53.
    whole.then_some(number as i128)
}

/// Returns the whole number that `kind` is, or that a string of decimal
/// digits (or a whole decimal such as "3.0") spells.
fn whole_number_of(kind: &ValueKind) -> Option<i128> {
    match kind {
        ValueKind::I64(number) => Some(i128::from(*number)),
        ValueKind::U64(number) => Some(i128::from(*number)),
        ValueKind::I128(number) => Some(*number),
        ValueKind::U128(number) => i128::try_from(*number).ok(),
        ValueKind::Float(number) => whole_float(*number),
        ValueKind::String(text) => text
            .parse::<i128>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().and_then(whole_float)),
        ValueKind::Boolean(_) | ValueKind::Nil | ValueKind::Table(_) | ValueKind::Array(_) => None,
    }
}

/// One value of the merged table with its path, as a serde deserializer.
pub struct Setting {
    key: String,
    value: Value,
}

impl Setting {
    /// Wraps the whole merged table.
    pub fn root(table: Map<String, Value>) -> Setting {
        Setting {
            key: String::new(),
            value: Value::new(None, ValueKind::Table(table)),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> SettingError {
        invalid_value(&self.key, &self.value, reason)
    }

    fn whole_number(&self, type_min: i128, type_max: i128) -> Result<i128, SettingError> {
        let bounds = super::whole_number_bounds(&self.key, type_min, type_max);
        match whole_number_of(&self.value.kind) {
            Some(number) if (bounds.min..=bounds.max).contains(&number) => Ok(number),
            _ => Err(self.invalid(format!("expected {bounds}"))),
        }
    }

    fn text(&self) -> Option<String> {
        match &self.value.kind {
            ValueKind::String(text) => Some(text.clone()),
            ValueKind::Boolean(flag) => Some(flag.to_string()),
            ValueKind::I64(number) => Some(number.to_string()),
            ValueKind::I128(number) => Some(number.to_string()),
            ValueKind::U64(number) => Some(number.to_string()),
            ValueKind::U128(number) => Some(number.to_string()),
            ValueKind::Float(number) => Some(number.to_string()),
            ValueKind::Nil | ValueKind::Table(_) | ValueKind::Array(_) => None,
        }
    }
}

/// Returns the error of `key`, whose `value` its setting does not accept.
pub fn invalid_value(key: &str, value: &Value, reason: impl Into<String>) -> SettingError {
    Location::of(key, value).error(reason)
}

/// Key, value and origin of a setting, kept for the errors of a visitor
/// after the value has moved into it.
struct Location {
    key: String,
    value: String,
    origin: Option<String>,
}

impl Location {
    fn of(key: &str, value: &Value) -> Location {
        Location {
            key: key.to_owned(),
            value: written(value),
            origin: origin_of(value),
        }
    }

    fn error(&self, reason: impl Into<String>) -> SettingError {
        SettingError::Value {
            key: self.key.clone(),
            value: self.value.clone(),
            origin: self.origin.clone(),
            reason: reason.into(),
        }
    }

    /// Adds the key, the value and its origin to an error of a visitor.
    /// Errors of values inside a table or list carry their own already.
    fn locate(&self, error: SettingError) -> SettingError {
        match error {
            SettingError::Unlocated(reason) => self.error(reason),
            other => other,
        }
    }
}

/// Returns the path of `name` in the table at `table_key`.
fn child_key(table_key: &str, name: &str) -> String {
    if table_key.is_empty() {
        name.to_owned()
    } else {
        format!("{table_key}.{name}")
    }
}

macro_rules! deserialize_whole_numbers {
    ($($method:ident => $visit:ident: $type:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
            let number = self.whole_number(i128::from(<$type>::MIN), i128::from(<$type>::MAX))?;
            match <$type>::try_from(number) {
                Ok(number) => visitor.$visit(number),
                Err(_) => Err(self.invalid(concat!("expected a whole number that fits ", stringify!($type)))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Setting {
    type Error = SettingError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        let location = Location::of(&self.key, &self.value);
        let Setting { key, value } = self;
        let result = match value.kind {
            ValueKind::Nil => visitor.visit_unit(),
            ValueKind::Boolean(flag) => visitor.visit_bool(flag),
            ValueKind::I64(number) => visitor.visit_i64(number),
            ValueKind::I128(number) => visitor.visit_i128(number),
            ValueKind::U64(number) => visitor.visit_u64(number),
            ValueKind::U128(number) => visitor.visit_u128(number),
            ValueKind::Float(number) => visitor.visit_f64(number),
            ValueKind::String(text) => visitor.visit_string(text),
            ValueKind::Array(items) => visitor.visit_seq(Items::new(&key, items)),
            ValueKind::Table(table) => visitor.visit_map(Entries::new(&key, table)),
        };
        result.map_err(|error| location.locate(error))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        let flag = match &self.value.kind {
            ValueKind::Boolean(flag) => Some(*flag),
            ValueKind::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
            ValueKind::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        match flag {
            Some(flag) => visitor.visit_bool(flag),
            None => Err(self.invalid("expected true or false")),
        }
    }

    deserialize_whole_numbers! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        match self.text() {
            Some(text) => visitor
                .visit_string(text)
                .map_err(|error| Location::of(&self.key, &self.value).locate(error)),
            None => Err(self.invalid("expected a string")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        match self.value.kind {
            ValueKind::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        let location = Location::of(&self.key, &self.value);
        match self.value.kind {
            ValueKind::Array(items) => visitor
                .visit_seq(Items::new(&self.key, items))
                .map_err(|error| location.locate(error)),
            _ => Err(location.error("expected a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingError> {
        let location = Location::of(&self.key, &self.value);
        match self.value.kind {
            ValueKind::Table(table) => visitor
                .visit_map(Entries::new(&self.key, table))
                .map_err(|error| location.locate(error)),
            _ => Err(location.error("expected a table")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SettingError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SettingError> {
        match &self.value.kind {
            ValueKind::String(text) => {
                let variant: de::value::StringDeserializer<SettingError> =
                    text.clone().into_deserializer();
                visitor
                    .visit_enum(variant)
                    .map_err(|error| Location::of(&self.key, &self.value).locate(error))
            }
            _ => Err(self.invalid(format!("expected one of {}", variants.join(", ")))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SettingError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, SettingError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

/// The items of a list, each with its path (`pdf.font_files[0]`).
struct Items {
    key: String,
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
}

impl Items {
    fn new(key: &str, items: Vec<Value>) -> Items {
        Items {
            key: key.to_owned(),
            items: items.into_iter().enumerate(),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items {
    type Error = SettingError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SettingError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let key = format!("{}[{index}]", self.key);
        seed.deserialize(Setting { key, value }).map(Some)
    }
}

/// The entries of a table in key order, so that the first error reported
/// does not depend on hashing.
struct Entries {
    key: String,
    entries: std::vec::IntoIter<(String, Value)>,
    pending: Option<(String, Value)>,
}

impl Entries {
    fn new(key: &str, table: Map<String, Value>) -> Entries {
        let mut entries: Vec<(String, Value)> = table.into_iter().collect();
        entries.sort_by(|left, right| left.0.cmp(&right.0));
        Entries {
            key: key.to_owned(),
            entries: entries.into_iter(),
            pending: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = SettingError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SettingError> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = child_key(&self.key, &name);
        let name_deserializer: de::value::StringDeserializer<SettingError> =
            name.into_deserializer();
        let field = seed
            .deserialize(name_deserializer)
            .map_err(|error| match error {
                SettingError::UnknownField { expected, .. } => SettingError::UnknownKey {
                    key: key.clone(),
                    origin: origin_of(&value),
                    expected,
                },
                other => Location::of(&key, &value).locate(other),
            })?;
        self.pending = Some((key, value));
        Ok(Some(field))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, SettingError> {
        match self.pending.take() {
            Some((key, value)) => seed.deserialize(Setting { key, value }),
            None => Err(SettingError::Unlocated(
                "a table value was requested before its key".to_owned(),
            )),
        }
    }
}

//! Reading the settings file and the `DIVOC__*` environment variables into
//! config tables whose values keep the file or variable that set them.

use std::io::ErrorKind;
use std::path::Path;

use config::{ConfigError, Environment, FileFormat, Format, Map, Source, Value, ValueKind};

use super::SettingsError;

/// Prefix of the environment variables, before the first `__`.
pub const ENVIRONMENT_PREFIX: &str = "DIVOC";

/// A table that is already read, as a config source.
#[derive(Debug, Clone)]
pub struct Table(pub Map<String, Value>);

impl Source for Table {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        Ok(self.0.clone())
    }
}

/// Reads the TOML file at `path`. Returns `None` when the file does not
/// exist and is not `required`. Any other read error names the path.
pub fn read_file(path: &Path, required: bool) -> Result<Option<Map<String, Value>>, SettingsError> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if !required && error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SettingsError::Read { path: name, source }),
    };
    parse_toml(&name, &text).map(Some)
}

/// Parses TOML `text`, with `name` as the origin of its values.
///
/// The config crate stores TOML integers as i64 and fails on a larger one,
/// such as `workers = 9223372036854775808`, with an error that names neither
/// the key nor the value. Such numbers are therefore parsed again as
/// strings, so that the setting they belong to rejects them by key.
fn parse_toml(name: &String, text: &str) -> Result<Map<String, Value>, SettingsError> {
    let first_error = match FileFormat::Toml.parse(Some(name), text) {
        Ok(table) => return Ok(table),
        Err(error) => error,
    };
    let parse_error = || SettingsError::Parse {
        path: name.clone(),
        reason: first_error.to_string(),
    };
    let (marked_text, literals) = mark_out_of_range_numbers(text);
    if literals.is_empty() {
        return Err(parse_error());
    }
    let Ok(mut table) = FileFormat::Toml.parse(Some(name), &marked_text) else {
        return Err(parse_error());
    };
    restore_table(&mut table, &literals);
    Ok(table)
}

/// Start of the TOML string that stands for an out-of-range number, as
/// written in TOML (`\u0001`) and as parsed (U+0001). No configuration has
/// that control character in a string by chance.
const MARKER_TOML: &str = "\\u0001divoc-number-";
const MARKER_PARSED: &str = "\u{1}divoc-number-";

/// Replaces each number of `text` that does not fit an i64 (integers) or
/// an f64 (floats such as `1e400`) by a marker string, and returns the
/// new text with the numbers as written, in marker order.
///
/// The scan distinguishes only comments, strings and bare words. That is
/// enough for text that the TOML parser has read up to its numbers.
fn mark_out_of_range_numbers(text: &str) -> (String, Vec<String>) {
    let mut marked = String::with_capacity(text.len());
    let mut literals = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let length = match first {
            '#' => rest.find('\n').unwrap_or(rest.len()),
            '"' | '\'' => string_length(rest).max(1),
            _ if is_word_char(first) => {
                let length = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
                let word = &rest[..length];
                if is_out_of_range_number(word) {
                    marked.push_str(&format!("\"{MARKER_TOML}{}\"", literals.len()));
                    literals.push(word.to_owned());
                    rest = &rest[length..];
                    continue;
                }
                length
            }
            _ => first.len_utf8(),
        };
        marked.push_str(&rest[..length]);
        rest = &rest[length..];
    }
    (marked, literals)
}

/// Characters of bare keys, numbers, booleans and dates.
fn is_word_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '+' | '.' | ':')
}

/// Returns the length in bytes of the TOML string at the start of `text`,
/// quotes included: basic (`"`), literal (`'`) or either multi-line form.
fn string_length(text: &str) -> usize {
    let bytes = text.as_bytes();
    let Some(&quote) = bytes.first() else {
        return 0;
    };
    let basic = quote == b'"';
    let multi_line = bytes.len() >= 3 && bytes[1] == quote && bytes[2] == quote;
    let mut index = if multi_line { 3 } else { 1 };
    while index < bytes.len() {
        let byte = bytes[index];
        if basic && byte == b'\\' {
            index += 2;
            continue;
        }
        if byte == quote {
            if !multi_line {
                return index + 1;
            }
            // A multi-line string may end in one or two quotes of its own
            // before the closing three.
            let run = bytes[index..]
                .iter()
                .take_while(|&&next| next == quote)
                .count();
            if run >= 3 {
                return index + run;
            }
            index += run;
            continue;
        }
        if byte == b'\n' && !multi_line {
            return index;
        }
        index += 1;
    }
    bytes.len()
}

/// Returns true when `word` is a TOML integer outside the i64 range, or a
/// float too large for an f64.
fn is_out_of_range_number(word: &str) -> bool {
    let plain = word.replace('_', "");
    let unsigned = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if !unsigned.starts_with(|character: char| character.is_ascii_digit()) {
        return false;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = word.strip_prefix(prefix) {
            return has_toml_digits(digits, radix)
                && i64::from_str_radix(&digits.replace('_', ""), radix).is_err();
        }
    }
    if unsigned.bytes().all(|byte| byte.is_ascii_digit()) {
        // TOML allows no leading zero in a decimal integer.
        let written = word.strip_prefix(['+', '-']).unwrap_or(word);
        return has_toml_digits(written, 10)
            && !(written.len() > 1 && written.starts_with('0'))
            && plain.parse::<i64>().is_err();
    }
    let written = word.strip_prefix(['+', '-']).unwrap_or(word);
    is_toml_float(written) && plain.parse::<f64>().is_ok_and(f64::is_infinite)
}

/// Returns true when `written`, without its sign, has the syntax of a TOML
/// float: an integer part without a leading zero, then a fraction, an
/// exponent or both, each part with underscores only between digits.
fn is_toml_float(written: &str) -> bool {
    let (mantissa, exponent) = match written.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (written, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole_valid = has_toml_digits(whole, 10) && !(whole.len() > 1 && whole.starts_with('0'));
    let fraction_valid = fraction.is_none_or(|fraction| has_toml_digits(fraction, 10));
    let exponent_valid = exponent.is_none_or(|exponent| {
        has_toml_digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent), 10)
    });
    whole_valid && fraction_valid && exponent_valid && (fraction.is_some() || exponent.is_some())
}

/// Returns true when `digits` are digits of `radix` with each underscore
/// between two digits, as TOML writes the digits of an integer.
fn has_toml_digits(digits: &str, radix: u32) -> bool {
    !digits.is_empty()
        && digits
            .split('_')
            .all(|group| !group.is_empty() && group.chars().all(|digit| digit.is_digit(radix)))
}

/// Returns the number that `text` is the marker of.
fn marked_literal<'a>(text: &str, literals: &'a [String]) -> Option<&'a String> {
    let index = text.strip_prefix(MARKER_PARSED)?.parse::<usize>().ok()?;
    literals.get(index)
}

/// Puts the numbers back in place of their markers, in keys and values. A
/// decimal number that fits an i128 becomes one, shown without its
/// underscores. Any other, such as a hexadecimal one or `1e400`, becomes
/// the string it was written as.
fn restore_table(table: &mut Map<String, Value>, literals: &[String]) {
    let marked_keys: Vec<(String, String)> = table
        .keys()
        .filter_map(|key| Some((key.clone(), marked_literal(key, literals)?.clone())))
        .collect();
    for (marker, literal) in marked_keys {
        if let Some(value) = table.remove(&marker) {
            table.insert(literal, value);
        }
    }
    for value in table.values_mut() {
        restore_value(value, literals);
    }
}

fn restore_value(value: &mut Value, literals: &[String]) {
    let literal = match &mut value.kind {
        ValueKind::String(text) => marked_literal(text, literals),
        ValueKind::Table(table) => {
            restore_table(table, literals);
            None
        }
        ValueKind::Array(items) => {
            for item in items {
                restore_value(item, literals);
            }
            None
        }
        _ => None,
    };
    if let Some(literal) = literal {
        value.kind = match literal.replace('_', "").parse::<i128>() {
            Ok(number) => ValueKind::I128(number),
            Err(_) => ValueKind::String(literal.clone()),
        };
    }
}

/// Reads `environment` (`DIVOC__SERVER__WORKERS` as `server.workers`). Each
/// value stays the text it was set to, with the variable as its origin. The
/// keys in `lists` are split at commas, each item without surrounding spaces.
/// An empty value of a key in `empty_is_unset` is left whole, so that it
/// counts as unset instead of as a list of one empty item.
pub fn environment_table(
    environment: Environment,
    lists: &[&str],
    empty_is_unset: &[&str],
) -> Result<Map<String, Value>, ConfigError> {
    let mut table = Map::new();
    for (key, value) in environment.collect()? {
        let origin = format!(
            "environment variable {ENVIRONMENT_PREFIX}__{}",
            key.to_uppercase().replace('.', "__")
        );
        let kind = match value.kind {
            ValueKind::String(text)
                if lists.contains(&key.as_str())
                    && !(text.trim().is_empty() && empty_is_unset.contains(&key.as_str())) =>
            {
                let items = text
                    .split(',')
                    .map(|item| Value::new(Some(&origin), item.trim().to_owned()))
                    .collect();
                ValueKind::Array(items)
            }
            other => other,
        };
        table.insert(key, Value::new(Some(&origin), kind));
    }
    Ok(table)
}

//! Reading registry exports entry by entry, for files too large to hold in memory.

use std::io::{BufRead, Read};

use serde_json::Value;

use crate::dose::redact_values;
use crate::export::{parse_entry, parse_export};
use crate::{ExportEntry, ExportItem, ModelError, RegistryRecord};

/// Reads a registry export from a reader and yields its entries one at a time.
///
/// The layout is detected from the first non-blank line:
///
/// * a line that is a complete JSON value, other than a list or an object with
///   a `result` field, starts a JSON-lines export. Such a file is read one line at a time, so
///   memory use does not grow with its size;
/// * anything else (a JSON array, the registry's search response, or one entity
///   spread over several lines) is a single JSON document. It is read whole and
///   parsed with [`parse_export`], so it needs memory for the whole file.
///
/// Every yielded entry has been validated as [`parse_export`] validates it, and
/// errors name the same positions and ids. One check differs: for JSON lines the
/// reader does not reject a `certificateId` that occurs twice, because that needs
/// memory for every id of the file. The store's streaming import does that check.
/// For a single JSON document, [`parse_export`] rejects duplicates as usual.
///
/// A line of a JSON-lines export longer than [`MAX_LINE_BYTES`] is an
/// error, so that reading such a file needs bounded memory.
///
/// After the first error the iterator ends.
pub struct ExportReader<R> {
    reader: R,
    state: State,
    /// Reused line buffer.
    line: String,
    /// 1-based number of the last line read.
    line_number: usize,
    /// Entries yielded so far.
    position: usize,
}

/// The maximum length of a line of a JSON-lines export that [`ExportReader`]
/// reads, in bytes, without its line end: 8 MiB. A certificate record takes
/// a few KB. The first line, which decides the layout, has no limit, because
/// a single JSON document on one line is read whole anyway.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

enum State {
    /// Nothing read yet.
    Start,
    /// Reading JSON lines, with the first line if detection read it.
    Lines(Option<String>),
    /// A single document, parsed whole.
    Parsed(std::vec::IntoIter<ExportItem>),
    /// End of input or after an error.
    Done,
}

impl<R: BufRead> ExportReader<R> {
    /// Creates a reader. Nothing is read until the first call to `next`.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_model::{ExportEntry, ExportReader};
    ///
    /// let export = concat!(
    ///     r#"{"preEnrollmentCode":"BEN-1","certificateId":"100000001","previousCertificateId":"100000000"}"#,
    ///     "\n\n",
    ///     r#"{"preEnrollmentCode":"BEN-2","certificateId":"200000001","certificate":"{\"credentialSubject\":{}}"}"#,
    ///     "\n",
    /// );
    /// let mut reader = ExportReader::new(export.as_bytes());
    /// assert_eq!(reader.lines_read(), 0);
    ///
    /// let first = reader.next().unwrap()?;
    /// assert!(matches!(first.entry, ExportEntry::Revocation(_)));
    /// assert_eq!(reader.lines_read(), 1);
    ///
    /// // The certificate has no vaccination event, so it is invalid, and the
    /// // reader ends after the error. The blank line is counted but yields no entry.
    /// let error = reader.next().unwrap().unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "record 2 (certificateId 200000001): field `certificate: evidence` is invalid: \
    ///      no vaccination event: the list is empty or missing"
    /// );
    /// assert_eq!(reader.lines_read(), 3);
    /// assert!(reader.next().is_none());
    /// # Ok::<(), divoc_model::ModelError>(())
    /// ```
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            state: State::Start,
            line: String::new(),
            line_number: 0,
            position: 0,
        }
    }

    /// Returns the number of lines read so far.
    ///
    /// See the example of [`ExportReader::new`].
    pub fn lines_read(&self) -> usize {
        self.line_number
    }

    /// Reads the next line into `self.line`. Returns `false` at the end of input.
    fn read_line(&mut self) -> Result<bool, ModelError> {
        self.line.clear();
        let bytes = self
            .reader
            .read_line(&mut self.line)
            .map_err(|error| ModelError::Export {
                reason: format!("reading line {} failed: {error}", self.line_number + 1),
            })?;
        if bytes == 0 {
            return Ok(false);
        }
        self.line_number += 1;
        Ok(true)
    }

    /// Reads the next line of a JSON-lines export into `self.line`, as
    /// [`ExportReader::read_line`] does, but stops with an error at a line
    /// longer than [`MAX_LINE_BYTES`] instead of reading all of it.
    fn read_record_line(&mut self) -> Result<bool, ModelError> {
        let number = self.line_number + 1;
        let mut bytes = std::mem::take(&mut self.line).into_bytes();
        bytes.clear();
        // One byte more than the limit and the line end: a longer line shows
        // as one that filled the whole allowance without ending.
        let allowance = MAX_LINE_BYTES as u64 + 3;
        let read = (&mut self.reader)
            .take(allowance)
            .read_until(b'\n', &mut bytes)
            .map_err(|error| ModelError::Export {
                reason: format!("reading line {number} failed: {error}"),
            })?;
        if read == 0 {
            return Ok(false);
        }

        let content = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.len() > MAX_LINE_BYTES {
            return Err(ModelError::Export {
                reason: format!(
                    "line {number} is longer than {MAX_LINE_BYTES} bytes; a record line \
                     takes a few KB"
                ),
            });
        }
        self.line = String::from_utf8(bytes).map_err(|_| ModelError::Export {
            reason: format!("reading line {number} failed: stream did not contain valid UTF-8"),
        })?;
        self.line_number = number;
        Ok(true)
    }

    /// Reads up to the first non-blank line and picks the layout.
    fn detect(&mut self) -> Result<State, ModelError> {
        loop {
            if !self.read_line()? {
                return Ok(State::Done);
            }
            let text = self.line.trim_start_matches('\u{feff}').trim();
            if !text.is_empty() {
                break;
            }
        }
        let first = self.line.trim_start_matches('\u{feff}').trim().to_owned();
        if !first.starts_with('[') {
            match serde_json::from_str::<Value>(&first) {
                Ok(Value::Object(object)) if object.contains_key("result") => {}
                Ok(_) => return Ok(State::Lines(Some(first))),
                Err(_) => {}
            }
        }
        // A single JSON document: read the rest and parse it whole.
        let mut text = first;
        text.push('\n');
        self.reader
            .read_to_string(&mut text)
            .map_err(|error| ModelError::Export {
                reason: format!("reading the export failed: {error}"),
            })?;
        Ok(State::Parsed(parse_export(&text)?.into_iter()))
    }

    /// Parses one line of a JSON-lines export.
    fn parse_line(&mut self, line: &str) -> Result<ExportItem, ModelError> {
        if let Some(item) = self.parse_valid_certificate(line) {
            return Ok(item);
        }
        let value: Value = serde_json::from_str(line).map_err(|error| ModelError::Export {
            reason: format!(
                "line {} is not a JSON object: {}",
                self.line_number,
                redact_values(&error.to_string())
            ),
        })?;
        self.position += 1;
        parse_entry(self.position, None, value)
    }

    /// Reads a line straight into a [`RegistryRecord`], skipping the
    /// intermediate JSON value. Returns `None` unless the line is a JSON object
    /// that is a valid certificate record, so that every other line, and every
    /// error message, goes through the same path as in [`parse_export`].
    fn parse_valid_certificate(&mut self, line: &str) -> Option<ExportItem> {
        if !line.starts_with('{') {
            return None;
        }
        let record: RegistryRecord = serde_json::from_str(line).ok()?;
        let position = self.position + 1;
        let dose = match record.quick_check() {
            Some(dose) => dose,
            None => record
                .validate(&format!(
                    "record {position} (certificateId {})",
                    record.certificate_id
                ))
                .ok()?
                .dose(),
        };
        self.position = position;
        Some(ExportItem {
            position,
            entry: ExportEntry::Certificate { record, dose },
        })
    }

    fn next_entry(&mut self) -> Result<Option<ExportItem>, ModelError> {
        loop {
            match &mut self.state {
                State::Start => self.state = self.detect()?,
                State::Done => return Ok(None),
                State::Parsed(items) => {
                    return Ok(items.next());
                }
                State::Lines(first) => {
                    if let Some(line) = first.take() {
                        return self.parse_line(&line).map(Some);
                    }
                    if !self.read_record_line()? {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    let line = std::mem::take(&mut self.line);
                    let trimmed = line.trim();
                    let result = if trimmed.is_empty() {
                        None
                    } else {
                        Some(self.parse_line(trimmed))
                    };
                    self.line = line;
                    if let Some(result) = result {
                        return result.map(Some);
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for ExportReader<R> {
    type Item = Result<ExportItem, ModelError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(error) => {
                self.state = State::Done;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const CREDENTIAL: &str =
        r#"{\"credentialSubject\":{\"name\":\"Asha Rao\"},\"evidence\":[{\"dose\":1}]}"#;

    fn certificate(beneficiary: &str, certificate_id: &str) -> String {
        format!(
            r#"{{"preEnrollmentCode":"{beneficiary}","certificateId":"{certificate_id}","certificate":"{CREDENTIAL}"}}"#
        )
    }

    fn read_all(text: &str) -> Vec<Result<ExportItem, ModelError>> {
        ExportReader::new(text.as_bytes()).collect()
    }

    fn read_ok(text: &str) -> Vec<ExportItem> {
        read_all(text)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid export")
    }

    #[test]
    fn json_lines_match_parse_export() {
        let text = format!(
            "\u{feff}\n{}\n\n{}\n{}\n",
            certificate("BEN-1", "101"),
            r#"{"preEnrollmentCode":"BEN-1","certificateId":"102","previousCertificateId":"101"}"#,
            certificate("BEN-2", "103"),
        );
        let streamed = read_ok(&text);
        let whole = parse_export(&text).expect("valid export");
        assert_eq!(streamed, whole);
        assert_eq!(streamed.len(), 3);
        assert_eq!(streamed[2].position, 3);
        assert!(matches!(streamed[1].entry, ExportEntry::Revocation(_)));
    }

    #[test]
    fn array_and_envelope_are_parsed_whole() {
        let array = format!(
            "[\n{},\n{}\n]",
            certificate("BEN-1", "101"),
            certificate("BEN-1", "102")
        );
        assert_eq!(read_ok(&array), parse_export(&array).expect("array"));
        let one_line_array = array.replace('\n', "");
        assert_eq!(read_ok(&one_line_array).len(), 2);
        let one_line_envelope = format!(
            r#"{{"id":"open-saber.registry.search","result":{{"VaccinationCertificate":[{}]}}}}"#,
            certificate("BEN-1", "101")
        );
        let items = read_ok(&one_line_envelope);
        assert_eq!(items.len(), 1);
        assert_eq!(items, parse_export(&one_line_envelope).expect("envelope"));
        let pretty_entity = "{\n\"preEnrollmentCode\": \"BEN-1\",\n\"certificateId\": \"101\",\n\"certificate\": \"{}\"\n}";
        let error = read_all(pretty_entity)
            .pop()
            .expect("one result")
            .expect_err("no evidence");
        assert_eq!(
            error.to_string(),
            parse_export(pretty_entity)
                .expect_err("no evidence")
                .to_string()
        );
    }

    #[test]
    fn bad_line_names_line_and_ends_iteration() {
        let text = format!(
            "{}\n{{not json\n{}\n",
            certificate("BEN-1", "101"),
            certificate("BEN-1", "102")
        );
        let results = read_all(&text);
        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        let error = results[1].as_ref().expect_err("bad line");
        assert!(
            error
                .to_string()
                .starts_with("invalid registry export: line 2 is not a JSON object"),
            "{error}"
        );
    }

    #[test]
    fn line_over_limit_fails_without_reading_it_whole() {
        let first = certificate("BEN-1", "101");
        // A line of exactly the limit is read, and fails as JSON.
        let at_limit = format!("{first}\r\n{}\r\n", "x".repeat(MAX_LINE_BYTES));
        let results = read_all(&at_limit);
        assert_eq!(results.len(), 2);
        let error = results[1].as_ref().expect_err("not JSON");
        assert!(
            error
                .to_string()
                .starts_with("invalid registry export: line 2 is not a JSON object"),
            "{error}"
        );

        let over = format!("{first}\n{}\n{first}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let mut reader = ExportReader::new(over.as_bytes());
        assert!(reader.next().expect("first").is_ok());
        let error = reader.next().expect("second").expect_err("too long");
        assert_eq!(
            error.to_string(),
            "invalid registry export: line 2 is longer than 8388608 bytes; a record line \
             takes a few KB"
        );
        assert!(reader.next().is_none());

        // A last line of the limit with a lone `\r` and no `\n` is read.
        let lone_return = format!("{first}\n{}\r", "x".repeat(MAX_LINE_BYTES));
        let error = read_all(&lone_return)
            .pop()
            .expect("two")
            .expect_err("not JSON");
        assert!(
            error
                .to_string()
                .starts_with("invalid registry export: line 2 is not a JSON object"),
            "{error}"
        );

        // A line without an end, far over the limit, fails the same way.
        let endless = format!("{first}\n{}", "x".repeat(3 * MAX_LINE_BYTES));
        let error = read_all(&endless)
            .pop()
            .expect("two")
            .expect_err("too long");
        assert_eq!(
            error.to_string(),
            "invalid registry export: line 2 is longer than 8388608 bytes; a record line \
             takes a few KB"
        );
    }

    #[test]
    fn line_numbers_count_after_limited_reads() {
        let text = format!("{}\n\n{{bad\n", certificate("BEN-1", "101"),);
        let error = read_all(&text).pop().expect("two").expect_err("bad");
        assert!(
            error
                .to_string()
                .starts_with("invalid registry export: line 3 is not a JSON object"),
            "{error}"
        );
    }

    #[test]
    fn invalid_record_names_position_and_id() {
        let text = format!(
            "{}\n{}\n",
            certificate("BEN-1", "101"),
            certificate("BEN 2", "102")
        );
        let error = read_all(&text)
            .pop()
            .expect("two results")
            .expect_err("invalid id");
        assert_eq!(
            error.to_string(),
            "record 2 (certificateId 102): field `preEnrollmentCode` is invalid: not a valid id: \
             only A-Z, a-z, 0-9, '-', '_' and '.' are allowed"
        );
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert!(read_all("").is_empty());
        assert!(read_all("\n  \n").is_empty());
    }
}

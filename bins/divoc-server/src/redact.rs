//! Log-safe references to personal identifiers.

use sha2::{Digest, Sha256};

/// Returns a short, stable reference for a certificate id that can go into logs:
/// the first 12 hex digits of its SHA-256. An operator finds the certificate by
/// hashing candidate ids the same way (`printf %s ID | sha256sum | cut -c1-12`).
pub fn certificate_ref(certificate_id: &str) -> String {
    let digest = Sha256::digest(certificate_id.as_bytes());
    digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Replaces every word of `text` that contains `@` with `[address]`, so that
/// an email address quoted in an SMTP server's reply stays out of logs. A
/// word ends at white space, brackets, quotes, commas and semicolons.
pub fn without_addresses(text: &str) -> String {
    let ends_word = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | ',' | ';'
            )
    };
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(ends_word).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if word.contains('@') {
            redacted.push_str("[address]");
        } else {
            redacted.push_str(word);
        }
        // The separator itself, if any, is copied as it is.
        let mut separator = after.chars();
        if let Some(c) = separator.next() {
            redacted.push(c);
        }
        rest = separator.as_str();
    }
    redacted
}

/// Returns the message of a store error for the log. A corrupt row's
/// certificate id is replaced by its [`certificate_ref`]. The reason is kept
/// only for the `certificate` column, because the store writes those reasons
/// itself. A JSON parser's reason for another column can quote the stored
/// value, such as a mobile number.
pub fn store_error(error: &divoc_store::StoreError) -> String {
    match error {
        divoc_store::StoreError::Corrupt {
            certificate_id,
            column,
            reason,
        } => {
            let reference = certificate_ref(certificate_id);
            if *column == "certificate" {
                format!("stored certificate {reference} is corrupt: column `{column}`: {reason}")
            } else {
                format!(
                    "stored certificate {reference} is corrupt: column `{column}` is unreadable"
                )
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{certificate_ref, store_error, without_addresses};

    #[test]
    fn corrupt_rows_logged_without_ids() {
        let corrupt = |column: &'static str, reason: &str| divoc_store::StoreError::Corrupt {
            certificate_id: "772014589".to_owned(),
            column,
            reason: reason.to_owned(),
        };
        let reference = certificate_ref("772014589");
        assert_eq!(
            store_error(&corrupt("certificate", "unknown format 0")),
            format!(
                "stored certificate {reference} is corrupt: column `certificate`: unknown format 0"
            )
        );
        assert_eq!(
            store_error(&corrupt(
                "contact",
                "not a JSON list of strings: invalid type: string \"9000000001\""
            )),
            format!("stored certificate {reference} is corrupt: column `contact` is unreadable")
        );
    }

    #[test]
    fn addresses_left_out() {
        assert_eq!(
            without_addresses(
                "permanent error (550): 5.1.1 <meera.deshpande@example.test>: Recipient \
                 address rejected; to=asha@example.org,ravi@example.org"
            ),
            "permanent error (550): 5.1.1 <[address]>: Recipient address rejected; \
             [address],[address]"
        );
        assert_eq!(
            without_addresses("connection refused"),
            "connection refused"
        );
        assert_eq!(without_addresses(""), "");
    }

    #[test]
    fn reference_is_sha256_prefix() {
        // The value of `printf %s 712988986 | sha256sum | cut -c1-12`.
        assert_eq!(certificate_ref("712988986"), "289dfb1c1914");
    }
}

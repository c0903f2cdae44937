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

#[cfg(test)]
mod tests {
    use super::{certificate_ref, without_addresses};

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

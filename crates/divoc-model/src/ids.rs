//! The rule that beneficiary ids and certificate ids follow.

/// Maximum length of an id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Checks an id: 1 to 128 bytes of ASCII letters, digits, `-`, `_` and `.`, and
/// no `..`. Returns the broken rule.
///
/// DIVOC issues numeric certificate ids and, depending on the deployment,
/// numeric or alphanumeric beneficiary ids; both pass. The same rule applies to
/// ids in imported files and in request paths, so everything stored can be served.
///
/// ```
/// assert_eq!(divoc_model::check_id("BEN-1001"), Ok(()));
/// assert_eq!(divoc_model::check_id("a/../b"), Err("contains `..`"));
/// ```
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty");
    }
    if id.len() > MAX_ID_BYTES {
        return Err("longer than 128 bytes");
    }
    if id.contains("..") {
        return Err("contains `..`");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("only A-Z, a-z, 0-9, '-', '_' and '.' are allowed");
    }
    Ok(())
}

//! Codes and keyed hashes: the code sent to a citizen, its stored hash, and
//! references to mobile numbers and client addresses that reveal neither.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Digits in a code.
pub(super) const CODE_DIGITS: usize = 6;

/// Codes are drawn from `0..CODE_SPACE`.
const CODE_SPACE: u32 = 1_000_000;

/// Largest multiple of `CODE_SPACE` that fits in a `u32`; random values at or
/// above it are drawn again, so every code is equally likely.
const UNBIASED_LIMIT: u32 = u32::MAX - u32::MAX % CODE_SPACE;

/// Label mixed into the pepper, so that it differs from any other use of the key.
const PEPPER_LABEL: &[u8] = b"divoc-server citizen login pepper v1";

/// Secret HMAC-SHA256 key for every hash this module stores or logs.
///
/// It is derived from the token signing key, so every server process that
/// shares the store and the signing key computes the same hashes, and a copy of
/// the database alone does not let anyone test candidate codes or numbers.
pub(super) struct Pepper {
    key: [u8; 32],
}

impl Pepper {
    /// Derives the pepper from the private key bytes of the signing key.
    pub(super) fn from_signing_secret(secret: &[u8]) -> Self {
        let mut digest = Sha256::new();
        digest.update(PEPPER_LABEL);
        digest.update(secret);
        Pepper {
            key: digest.finalize().into(),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC-SHA256 accepts keys of any length, so `new_from_slice` never fails.
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return [0; 32];
        };
        for part in parts {
            // Each part is length-prefixed so that ("ab", "c") and ("a", "bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Returns the stored form of a code: hex HMAC over the mobile number and the
    /// code, so a hash is valid for one number only.
    pub(super) fn code_hash(&self, mobile: &str, code: &str) -> String {
        hex(&self.mac(&[b"code", mobile.as_bytes(), code.as_bytes()]))
    }

    /// Compares a code with a stored hash in constant time.
    pub(super) fn code_matches(&self, mobile: &str, code: &str, stored_hash: &str) -> bool {
        let computed = self.code_hash(mobile, code);
        computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }

    /// Returns a stable reference to a mobile number (32 hex digits) for token
    /// subjects, rate-limit buckets and logs.
    pub(super) fn mobile_reference(&self, mobile: &str) -> String {
        hex(&self.mac(&[b"mobile", mobile.as_bytes()])[..16])
    }

    /// Returns a reference to a client address for rate-limit buckets. IPv6
    /// addresses count by their /64 prefix, because a provider usually assigns a
    /// whole /64 to one client.
    pub(super) fn address_reference(&self, address: IpAddr) -> String {
        let canonical = match address {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let segments = v6.segments();
                    format!(
                        "{:x}:{:x}:{:x}:{:x}::/64",
                        segments[0], segments[1], segments[2], segments[3]
                    )
                }
            },
        };
        hex(&self.mac(&[b"address", canonical.as_bytes()])[..16])
    }
}

/// Draws a code of [`CODE_DIGITS`] decimal digits from the operating system's
/// random number generator.
pub(super) fn generate_code() -> Result<String, rand_core::Error> {
    loop {
        let mut bytes = [0u8; 4];
        OsRng.try_fill_bytes(&mut bytes)?;
        let value = u32::from_le_bytes(bytes);
        if value < UNBIASED_LIMIT {
            return Ok(format!("{:06}", value % CODE_SPACE));
        }
    }
}

/// Returns true for exactly [`CODE_DIGITS`] ASCII digits.
pub(super) fn is_code_format(code: &str) -> bool {
    code.len() == CODE_DIGITS && code.bytes().all(|byte| byte.is_ascii_digit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| generate_code().unwrap()).collect();
        for code in &codes {
            assert!(is_code_format(code), "{code}");
        }
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        // 50 draws from a million values repeat at least once with probability
        // about 0.12 %, so two repeats are allowed.
        assert!(distinct.len() >= 48, "{codes:?}");
    }

    #[test]
    fn code_format_cases() {
        assert!(is_code_format("000000"));
        assert!(is_code_format("123456"));
        assert!(!is_code_format("12345"));
        assert!(!is_code_format("1234567"));
        assert!(!is_code_format("12345a"));
        assert!(!is_code_format("١٢٣٤٥٦"));
    }

    #[test]
    fn code_hash_depends_on_pepper_mobile_and_code() {
        let pepper = Pepper::from_signing_secret(&[1; 32]);
        let hash = pepper.code_hash("9000000001", "123456");
        assert_eq!(hash.len(), 64);
        assert!(pepper.code_matches("9000000001", "123456", &hash));
        assert!(!pepper.code_matches("9000000001", "123457", &hash));
        assert!(!pepper.code_matches("9000000002", "123456", &hash));
        let other = Pepper::from_signing_secret(&[2; 32]);
        assert!(!other.code_matches("9000000001", "123456", &hash));
    }

    #[test]
    fn references_hide_their_input() {
        let pepper = Pepper::from_signing_secret(&[1; 32]);
        let reference = pepper.mobile_reference("9000000001");
        assert_eq!(reference.len(), 32);
        assert!(!reference.contains("9000000001"));
        assert_ne!(reference, pepper.mobile_reference("9000000002"));
    }

    #[test]
    fn ipv6_addresses_share_their_prefix() {
        let pepper = Pepper::from_signing_secret(&[1; 32]);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(pepper.address_reference(a), pepper.address_reference(b));
        assert_ne!(pepper.address_reference(a), pepper.address_reference(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let plain: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(
            pepper.address_reference(mapped),
            pepper.address_reference(plain)
        );
    }
}

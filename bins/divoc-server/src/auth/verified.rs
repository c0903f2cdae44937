//! Tokens that passed verification recently.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::principal::Principal;

/// Maximum time, in seconds, that a verified token is accepted without a new
/// signature check.
pub(crate) const VERIFIED_TOKEN_MAX_AGE_SECONDS: i64 = 60;

/// Maximum number of tokens remembered at once. When the table is full, expired entries
/// are dropped, and if none was expired, all of them.
const CAPACITY: usize = 4096;

/// Verified tokens by the SHA-256 hash of their text, so the table contains
/// no token and has entries of a fixed size.
#[derive(Default)]
pub(crate) struct VerifiedTokens {
    entries: Mutex<HashMap<TokenKey, Entry>>,
}

struct Entry {
    principal: Principal,
    /// Last second (Unix time) at which the entry is used.
    valid_until: i64,
}

impl VerifiedTokens {
    /// Returns the caller of the token with hash `key` (from [`token_key`]) if
    /// it passed verification and its entry is still valid at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &TokenKey, now: i64) -> Option<Principal> {
        // A poisoned lock only costs a signature check.
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some(entry) if now <= entry.valid_until => Some(entry.principal.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers that the token with hash `key` passed verification at `now`
    /// for `principal`.
    /// The entry is used until `valid_until` (the token's `exp` plus the
    /// leeway), and for at most [`VERIFIED_TOKEN_MAX_AGE_SECONDS`].
    pub(crate) fn insert(&self, key: TokenKey, principal: Principal, now: i64, valid_until: i64) {
        let valid_until = valid_until.min(now.saturating_add(VERIFIED_TOKEN_MAX_AGE_SECONDS));
        if valid_until < now {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| now <= entry.valid_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                principal,
                valid_until,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.len())
    }
}

/// SHA-256 hash of a token's text, the key of [`VerifiedTokens`].
pub(crate) type TokenKey = [u8; 32];

/// Returns the key of `token` in [`VerifiedTokens`].
pub(crate) fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str) -> Principal {
        Principal {
            subject: Some(subject.to_owned()),
            distribution: true,
            print: false,
            mobile: None,
        }
    }

    #[test]
    fn entry_used_until_valid_until() {
        let tokens = VerifiedTokens::default();
        tokens.insert(token_key("a.b.c"), caller("one"), 1_000, 1_030);
        assert_eq!(tokens.get(&token_key("a.b.c"), 1_000), Some(caller("one")));
        assert_eq!(tokens.get(&token_key("a.b.c"), 1_030), Some(caller("one")));
        assert_eq!(tokens.get(&token_key("a.b.c"), 1_031), None);
        // The expired entry was removed.
        assert_eq!(tokens.len(), 0);
    }

    #[test]
    fn entry_age_capped() {
        let tokens = VerifiedTokens::default();
        tokens.insert(token_key("a.b.c"), caller("one"), 1_000, 100_000);
        assert_eq!(tokens.get(&token_key("a.b.c"), 1_060), Some(caller("one")));
        assert_eq!(tokens.get(&token_key("a.b.c"), 1_061), None);
    }

    #[test]
    fn other_token_not_found() {
        let tokens = VerifiedTokens::default();
        tokens.insert(token_key("a.b.c"), caller("one"), 1_000, 1_030);
        assert_eq!(tokens.get(&token_key("a.b.d"), 1_000), None);
    }

    #[test]
    fn expired_token_not_remembered() {
        let tokens = VerifiedTokens::default();
        tokens.insert(token_key("a.b.c"), caller("one"), 1_000, 999);
        assert_eq!(tokens.len(), 0);
    }

    #[test]
    fn full_table_drops_expired_entries_first() {
        let tokens = VerifiedTokens::default();
        for index in 0..CAPACITY {
            let valid_until = if index == 0 { 1_010 } else { 1_001 };
            tokens.insert(
                token_key(&format!("token-{index}")),
                caller("one"),
                1_000,
                valid_until,
            );
        }
        assert_eq!(tokens.len(), CAPACITY);
        // At 1_005 every entry but the first has expired.
        tokens.insert(token_key("new"), caller("two"), 1_005, 1_030);
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.get(&token_key("token-0"), 1_005),
            Some(caller("one"))
        );
        assert_eq!(tokens.get(&token_key("new"), 1_005), Some(caller("two")));
    }

    #[test]
    fn full_table_of_valid_entries_cleared() {
        let tokens = VerifiedTokens::default();
        for index in 0..CAPACITY {
            tokens.insert(
                token_key(&format!("token-{index}")),
                caller("one"),
                1_000,
                1_030,
            );
        }
        tokens.insert(token_key("new"), caller("two"), 1_000, 1_030);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.get(&token_key("new"), 1_000), Some(caller("two")));
    }
}

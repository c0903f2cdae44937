//! The JWKS document at `auth.jwks_url`: fetched at startup and again, at most
//! once a minute, when a token needs a key that the set does not have.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::http::Uri;

use super::KeyError;
use super::keys::{KeySource, VerificationKey, parse_jwks};

/// Upper bound of one fetch, connection and body included.
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Shortest time between two refetches triggered by tokens.
pub(super) const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Largest JWKS body read, in bytes.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// Keys fetched from a JWKS URL, replaced as a whole by each successful fetch.
pub(super) struct RemoteJwks {
    url: String,
    /// The URL without user info and query, safe to log.
    display_url: String,
    agent: ureq::Agent,
    keys: RwLock<Arc<Vec<VerificationKey>>>,
    /// When the last token-triggered refetch started. The startup fetch does not count.
    last_refetch: Mutex<Option<Instant>>,
}

impl RemoteJwks {
    /// Checks the URL and builds the HTTP client. Nothing is fetched yet.
    pub(super) fn new(url: &str) -> Result<RemoteJwks, KeyError> {
        let invalid = |reason: &str| KeyError::JwksUrl {
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| invalid("not a valid absolute URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("the scheme must be http or https"));
        }
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        let port = uri
            .port_u16()
            .map(|port| format!(":{port}"))
            .unwrap_or_default();
        let display_url = format!("{scheme}://{host}{port}{}", uri.path());
        if scheme == "http" && !is_loopback(host) {
            tracing::warn!(
                url = %display_url,
                "auth.jwks_url uses plain http: anyone on the network path can replace the keys; use https"
            );
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .max_redirects(0)
            .build();
        Ok(RemoteJwks {
            url: url.to_owned(),
            display_url,
            agent: config.into(),
            keys: RwLock::new(Arc::new(Vec::new())),
            last_refetch: Mutex::new(None),
        })
    }

    /// Returns the URL without user info and query, as it is logged.
    pub(super) fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Returns the current keys.
    pub(super) fn keys(&self) -> Arc<Vec<VerificationKey>> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetches the document and replaces the key set, which stays as it was on
    /// failure. Returns the number of usable keys.
    pub(super) fn reload(&self) -> Result<usize, String> {
        let keys = self.fetch()?;
        let count = keys.len();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(count)
    }

    /// Returns true when no token-triggered reload started in the last
    /// [`REFETCH_INTERVAL`], so that [`RemoteJwks::reload_if_due`] would fetch.
    pub(super) fn reload_due(&self) -> bool {
        let last = self
            .last_refetch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        !started_recently(*last)
    }

    /// Reloads the keys unless a token-triggered reload started less than
    /// [`REFETCH_INTERVAL`] ago. Blocks for at most [`FETCH_TIMEOUT`], and a
    /// request that arrives while another one is reloading does not wait for it.
    /// Returns true when the key set was replaced.
    pub(super) fn reload_if_due(&self) -> bool {
        {
            let mut last = self
                .last_refetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if started_recently(*last) {
                tracing::debug!(url = %self.display_url, "JWKS refetch skipped: fetched less than a minute ago");
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.reload() {
            Ok(count) => {
                tracing::info!(url = %self.display_url, keys = count, "JWKS refetched for an unknown key");
                true
            }
            Err(reason) => {
                tracing::warn!(url = %self.display_url, "JWKS refetch failed, keeping the previous keys: {reason}");
                false
            }
        }
    }

    fn fetch(&self) -> Result<Vec<VerificationKey>, String> {
        let mut response = self
            .agent
            .get(&self.url)
            .header("Accept", "application/json")
            .call()
            .map_err(|error| format!("request failed: {error}"))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_JWKS_BYTES)
            .read_to_vec()
            .map_err(|error| format!("reading the body failed: {error}"))?;
        let document: Value =
            serde_json::from_slice(&body).map_err(|error| format!("body is not JSON: {error}"))?;
        parse_jwks(&document, KeySource::JwksUrl)
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Tells whether a token-triggered reload started less than
/// [`REFETCH_INTERVAL`] ago.
fn started_recently(last: Option<Instant>) -> bool {
    last.is_some_and(|started| started.elapsed() < REFETCH_INTERVAL)
}

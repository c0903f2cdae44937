//! Logging of the connection pools' own errors, such as failed attempts to
//! open a connection, at a bounded rate.
//!
//! r2d2's default handler logs every failed attempt. While PostgreSQL is
//! down, the pool tries again several times a second, and libpq's messages
//! span several lines, so an outage filled the log with about five
//! multi-line records a second.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::r2d2::HandleError;

/// Minimum time between two log lines of one pool's errors.
pub(crate) const POOL_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// An r2d2 error handler that logs the first error of a pool, then at most
/// one line per [`POOL_ERROR_LOG_INTERVAL`], with the number of errors left
/// out since the previous line.
///
/// Each line is the error message on one line, with the passwords of the
/// pool's URL replaced by `***`.
pub(crate) struct PoolErrorLog {
    /// The store URL, password redacted, to name the pool in the log.
    target: String,
    /// Passwords that the pool's URL contains, as written and decoded.
    passwords: Vec<String>,
    limit: Mutex<RateLimit>,
}

impl PoolErrorLog {
    /// Creates the handler of a pool that opens `url`. `target` is the URL
    /// with its password redacted.
    pub(crate) fn new(target: &str, url: &str) -> Self {
        Self {
            target: target.to_owned(),
            passwords: url_passwords(url),
            limit: Mutex::new(RateLimit::new(POOL_ERROR_LOG_INTERVAL)),
        }
    }
}

impl fmt::Debug for PoolErrorLog {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PoolErrorLog")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl<E: fmt::Display> HandleError<E> for PoolErrorLog {
    fn handle_error(&self, error: E) {
        let now = Instant::now();
        let decision = match self.limit.lock() {
            Ok(mut limit) => limit.record(now),
            // A thread panicked while it held the lock. The counter is plain
            // data, still usable.
            Err(poisoned) => poisoned.into_inner().record(now),
        };
        if let Some(left_out) = decision {
            tracing::error!(
                store = %self.target,
                not_logged = left_out,
                "the connection pool failed to open or check a connection (one line per {} s \
                 at most; not_logged counts the failures since the previous line): {}",
                POOL_ERROR_LOG_INTERVAL.as_secs(),
                one_line(&error.to_string(), &self.passwords)
            );
        }
    }
}

/// Decides which of a series of events to log: the first one, then the
/// first one after each interval.
#[derive(Debug)]
struct RateLimit {
    interval: Duration,
    last_logged: Option<Instant>,
    left_out: u64,
}

impl RateLimit {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_logged: None,
            left_out: 0,
        }
    }

    /// Records an event at `now`. Returns the number of events left out
    /// since the last logged one when this one is to be logged, and `None`
    /// when it is to be left out.
    fn record(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last_logged
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            self.left_out += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.left_out))
    }
}

/// Returns `message` on one line: each run of white space, line breaks and
/// tabs included, becomes one space, and each of `passwords` becomes `***`.
fn one_line(message: &str, passwords: &[String]) -> String {
    let mut redacted = message.to_owned();
    for password in passwords {
        redacted = redacted.replace(password.as_str(), "***");
    }
    redacted.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Returns the non-empty passwords of a `postgres://` URL: the one in its
/// user information and each `password` parameter, both as written and
/// percent-decoded, longest first, so that a password that contains another
/// is replaced whole.
fn url_passwords(url: &str) -> Vec<String> {
    let mut passwords = Vec::new();
    let Some((_, rest)) = url.split_once("://") else {
        return passwords;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if let Some((user_info, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = user_info.split_once(':')
    {
        passwords.push(password.to_owned());
    }
    if let Some((_, query)) = tail.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for parameter in query.split('&') {
            if let Some((key, value)) = parameter.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                passwords.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = passwords
        .iter()
        .map(|password| {
            percent_encoding::percent_decode_str(password)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    passwords.extend(decoded);
    passwords.retain(|password| !password.is_empty());
    passwords.sort_by_key(|password| std::cmp::Reverse(password.len()));
    passwords.dedup();
    passwords
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_logs_first_then_per_interval() {
        let start = Instant::now();
        let mut limit = RateLimit::new(Duration::from_secs(30));
        let at = |seconds: u64| start + Duration::from_secs(seconds);

        assert_eq!(limit.record(at(0)), Some(0));
        assert_eq!(limit.record(at(0)), None);
        assert_eq!(limit.record(at(1)), None);
        assert_eq!(limit.record(at(29)), None);
        assert_eq!(limit.record(at(30)), Some(3));
        assert_eq!(limit.record(at(31)), None);
        assert_eq!(limit.record(at(59)), None);
        // The interval counts from the last logged event, at 30 s.
        assert_eq!(limit.record(at(60)), Some(2));
        assert_eq!(limit.record(at(200)), Some(0));
    }

    /// An event whose time is before the last logged one, as a thread that
    /// read the clock earlier but took the lock later records, is left out.
    #[test]
    fn rate_limit_takes_earlier_time() {
        let start = Instant::now();
        let mut limit = RateLimit::new(Duration::from_secs(30));
        let later = start + Duration::from_secs(5);
        assert_eq!(limit.record(later), Some(0));
        assert_eq!(limit.record(start), None);
        assert_eq!(limit.record(later + Duration::from_secs(30)), Some(1));
    }

    #[test]
    fn libpq_message_on_one_line() {
        let message = "connection to server at \"127.0.0.1\", port 56399 failed: \
                       Connection refused\n\tIs the server running on that host and \
                       accepting TCP/IP connections?\n";
        assert_eq!(
            one_line(message, &[]),
            "connection to server at \"127.0.0.1\", port 56399 failed: Connection refused \
             Is the server running on that host and accepting TCP/IP connections?"
        );
    }

    #[test]
    fn passwords_replaced_in_message() {
        let passwords = url_passwords(
            "postgres://divoc:s%40cret@db.internal:5432/divoc?sslmode=disable&PASSWORD=other#x",
        );
        assert_eq!(passwords, ["s%40cret", "s@cret", "other"]);
        assert_eq!(
            one_line("user divoc\twith s@cret and s%40cret,\nother", &passwords),
            "user divoc with *** and ***, ***"
        );
    }

    /// Collects the output of a `tracing` subscriber.
    #[derive(Clone, Default)]
    struct Output(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Output {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A pool whose every connection attempt is refused logs one line for
    /// its failures, with the text of libpq on that line and without the
    /// URL's password.
    #[test]
    fn refused_connections_logged_once() {
        use diesel::PgConnection;
        use diesel::r2d2::{ConnectionManager, Pool};

        let output = Output::default();
        let writer = output.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // The pool's threads log, so the subscriber must be the global one.
        // No other test of this crate sets one.
        tracing::subscriber::set_global_default(subscriber).unwrap();

        // A port that was free a moment ago, on which nothing listens.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://divoc:pool-secret@127.0.0.1:{port}/divoc?connect_timeout=2");
        let target = format!("postgres://divoc:***@127.0.0.1:{port}/divoc");
        let pool = Pool::builder()
            .max_size(1)
            .connection_timeout(Duration::from_millis(500))
            .error_handler(Box::new(PoolErrorLog::new(&target, &url)))
            .build_unchecked(ConnectionManager::<PgConnection>::new(&url));
        for _ in 0..3 {
            assert!(pool.get().is_err());
        }

        let output = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = output
            .lines()
            .filter(|line| line.contains(&target))
            .collect();
        assert_eq!(lines.len(), 1, "{output}");
        assert!(lines[0].contains(" ERROR "), "{output}");
        assert!(lines[0].contains("not_logged=0"), "{output}");
        assert!(lines[0].contains("Connection refused"), "{output}");
        assert!(!output.contains("pool-secret"), "{output}");
    }

    #[test]
    fn urls_without_password() {
        assert!(url_passwords("postgres://divoc@127.0.0.1/divoc").is_empty());
        assert!(url_passwords("postgres://divoc:@127.0.0.1/divoc?password=").is_empty());
        assert!(url_passwords("/var/lib/divoc/store.sqlite").is_empty());
        assert!(url_passwords("file:store.sqlite?mode=rw").is_empty());
    }
}

//! Choosing the backend from a store URL, and hiding passwords in URLs.

use std::path::PathBuf;

use crate::StoreError;

/// Location of a store, with the backend chosen by the scheme of its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreTarget {
    /// An SQLite database: a file path, a `file:` URI or `:memory:`.
    Sqlite {
        /// Path or URI passed to SQLite.
        path: String,
    },
    /// A PostgreSQL connection URL, passed to libpq unchanged.
    Postgres {
        /// The full URL.
        url: String,
    },
}

impl StoreTarget {
    /// Parses a store URL.
    ///
    /// `postgres://` and `postgresql://` select PostgreSQL. `sqlite://PATH`,
    /// `sqlite:PATH` and a string without `://` select SQLite.
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_owned(),
        };
        if url.trim().is_empty() {
            return Err(invalid(
                "the URL is empty; use postgres://USER@HOST:PORT/DATABASE, sqlite://PATH or a file path",
            ));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            return match scheme.as_str() {
                // libpq reads only a lowercase scheme as a URL. Any other
                // text is a key=value string to it, and its error quotes
                // the whole text, password included.
                "postgres" | "postgresql" => Ok(Self::Postgres {
                    url: format!("{scheme}://{rest}"),
                }),
                "sqlite" => sqlite_path(rest).map_err(invalid),
                _ => Err(invalid(&format!(
                    "unsupported scheme {scheme:?}; use postgres://, postgresql://, sqlite:// or a file path"
                ))),
            };
        }
        if looks_like_conninfo(url) {
            return Err(invalid(
                "this looks like a libpq key=value connection string; \
                 write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            ));
        }
        if let Some(prefix) = url.get(.."sqlite:".len())
            && prefix.eq_ignore_ascii_case("sqlite:")
        {
            return sqlite_path(&url[prefix.len()..]).map_err(invalid);
        }
        Ok(Self::Sqlite {
            path: url.to_owned(),
        })
    }
}

/// Returns the SQLite target of the path of a `sqlite:` URL, or why it is invalid.
fn sqlite_path(path: &str) -> Result<StoreTarget, &'static str> {
    if path.is_empty() {
        return Err("the SQLite path is empty");
    }
    // SQLite would take the query as part of the file name and create a new,
    // empty database under that name.
    if path.contains('?') {
        return Err(
            "a sqlite: URL takes no parameters; for SQLite's URI parameters, such as \
             mode=ro, write file:PATH?mode=ro",
        );
    }
    Ok(StoreTarget::Sqlite {
        path: path.to_owned(),
    })
}

/// Returns the database file that a store URL names, as SQLite opens it, or
/// `None` for a PostgreSQL URL, an in-memory SQLite database and a URL that
/// [`Store::open`](crate::Store::open) rejects.
///
/// A `file:` URI gives its path with the `%XX` escapes decoded and without
/// its `?` parameters. The other SQLite forms give their path as written.
/// A program can use it to create the database's folder before the store
/// opens it, or to keep its own output files apart from the database.
///
/// ```
/// use std::path::Path;
///
/// use divoc_store::sqlite_file;
///
/// assert_eq!(sqlite_file("sqlite:///srv/divoc.sqlite").as_deref(), Some(Path::new("/srv/divoc.sqlite")));
/// assert_eq!(sqlite_file("file:my%20store.sqlite?mode=rwc").as_deref(), Some(Path::new("my store.sqlite")));
/// assert_eq!(sqlite_file("data/divoc.sqlite").as_deref(), Some(Path::new("data/divoc.sqlite")));
/// assert_eq!(sqlite_file(":memory:"), None);
/// assert_eq!(sqlite_file("postgres://divoc@db/divoc"), None);
/// ```
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let StoreTarget::Sqlite { path } = StoreTarget::parse(url).ok()? else {
        return None;
    };
    if is_sqlite_memory(&path) {
        return None;
    }
    let Some(uri) = path.strip_prefix("file:") else {
        return Some(PathBuf::from(path));
    };
    let file = uri.split(['?', '#']).next().unwrap_or(uri);
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(file).collect();
    Some(path_of_bytes(decoded))
}

/// Returns the path of a file name's bytes, which need not be UTF-8 on Unix.
#[cfg(unix)]
fn path_of_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;

    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// Returns the path of a file name's bytes, with bytes that are not UTF-8
/// replaced.
#[cfg(not(unix))]
fn path_of_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Returns `true` when a store URL names a private in-memory SQLite
/// database, whose data lives only as long as the store that opened it.
///
/// ```
/// assert!(divoc_store::is_in_memory("sqlite://:memory:"));
/// assert!(divoc_store::is_in_memory("file:certs?mode=memory"));
/// assert!(!divoc_store::is_in_memory("sqlite://data/divoc.sqlite"));
/// assert!(!divoc_store::is_in_memory("postgres://divoc@db/divoc"));
/// ```
pub fn is_in_memory(url: &str) -> bool {
    matches!(StoreTarget::parse(url), Ok(StoreTarget::Sqlite { path }) if is_sqlite_memory(&path))
}

/// Returns `true` for SQLite paths that open a private in-memory database:
/// `:memory:`, and a `file:` URI whose file is `:memory:` or whose
/// parameters include `mode=memory`.
pub(crate) fn is_sqlite_memory(path: &str) -> bool {
    if path == ":memory:" {
        return true;
    }
    let Some(uri) = path.strip_prefix("file:") else {
        return false;
    };
    let uri = uri.split('#').next().unwrap_or(uri);
    let (file, parameters) = uri.split_once('?').unwrap_or((uri, ""));
    file == ":memory:"
        || parameters
            .split('&')
            .any(|parameter| parameter == "mode=memory")
}

/// Replaces the password in a URL, in the user-info part or as a `password=`
/// query parameter, with `***`. In text without a scheme, such as a libpq
/// `key=value` connection string, a `password=` value is replaced too. Other
/// text is returned unchanged.
///
/// # Example
///
/// ```
/// use divoc_store::redact_url;
///
/// assert_eq!(
///     redact_url("postgres://divoc:secret@db.internal:5432/divoc"),
///     "postgres://divoc:***@db.internal:5432/divoc"
/// );
/// assert_eq!(
///     redact_url("postgres://db.internal/divoc?user=divoc&password=secret"),
///     "postgres://db.internal/divoc?user=divoc&password=***"
/// );
/// assert_eq!(
///     redact_url("host=db.internal user=divoc password=secret"),
///     "host=db.internal user=divoc password=***"
/// );
/// assert_eq!(redact_url("sqlite://certificates.db"), "sqlite://certificates.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + "://".len()) else {
        return redact_conninfo_password(url);
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };

    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => parameter.to_owned(),
                })
                .collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

/// Replaces the value after each `password=` (any case, spaces allowed around
/// `=`) up to the next space, or the whole quoted value, with `***`.
fn redact_conninfo_password(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut redacted = String::with_capacity(text.len());
    let mut rest_start = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find("password") {
        let key_end = search_from + found + "password".len();
        let after_key = &text[key_end..];
        let trimmed = after_key.trim_start();
        let Some(after_equals) = trimmed.strip_prefix('=') else {
            search_from = key_end;
            continue;
        };
        let value = after_equals.trim_start();
        let value_start = text.len() - value.len();
        let value_end = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted value ends at the next quote that no backslash escapes.
            let mut end = quoted.len();
            let mut escaped = false;
            for (index, character) in quoted.char_indices() {
                match character {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = index + 1;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            value_start + 1 + end.min(quoted.len())
        } else {
            value_start + value.find(char::is_whitespace).unwrap_or(value.len())
        };
        redacted.push_str(&text[rest_start..value_start]);
        redacted.push_str("***");
        rest_start = value_end;
        search_from = value_end;
    }
    redacted.push_str(&text[rest_start..]);
    redacted
}

/// Returns `true` for text that looks like a libpq `key=value` connection
/// string rather than a file path.
fn looks_like_conninfo(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.contains(char::is_whitespace)
        && ["host=", "dbname=", "user=", "password=", "port="]
            .iter()
            .any(|key| lower.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(path: &str) -> StoreTarget {
        StoreTarget::Sqlite {
            path: path.to_owned(),
        }
    }

    #[test]
    fn parse_selects_backend_by_scheme() {
        let postgres = "postgres://divoc@127.0.0.1:5432/divoc";
        assert_eq!(
            StoreTarget::parse(postgres).ok(),
            Some(StoreTarget::Postgres {
                url: postgres.to_owned()
            })
        );
        // The scheme reaches libpq in lowercase, the rest as it was.
        assert_eq!(
            StoreTarget::parse("PostgreSQL://divoc@127.0.0.1/Divoc").ok(),
            Some(StoreTarget::Postgres {
                url: "postgresql://divoc@127.0.0.1/Divoc".to_owned()
            })
        );
        assert_eq!(
            StoreTarget::parse("sqlite:///var/lib/divoc.db").ok(),
            Some(sqlite("/var/lib/divoc.db"))
        );
        assert_eq!(
            StoreTarget::parse("sqlite://divoc.db").ok(),
            Some(sqlite("divoc.db"))
        );
        assert_eq!(
            StoreTarget::parse("sqlite:divoc.db").ok(),
            Some(sqlite("divoc.db"))
        );
        assert_eq!(
            StoreTarget::parse("sqlite::memory:").ok(),
            Some(sqlite(":memory:"))
        );
        assert_eq!(
            StoreTarget::parse(":memory:").ok(),
            Some(sqlite(":memory:"))
        );
        assert_eq!(
            StoreTarget::parse("data/divoc.db").ok(),
            Some(sqlite("data/divoc.db"))
        );
        assert_eq!(
            StoreTarget::parse("file:divoc.db?mode=ro").ok(),
            Some(sqlite("file:divoc.db?mode=ro"))
        );
    }

    #[test]
    fn parse_rejects_unknown_and_empty() {
        for url in [
            "",
            "  ",
            "mysql://root@localhost/divoc",
            "sqlite://",
            "sqlite:",
            "sqlite:///var/lib/divoc.db?mode=ro",
            "sqlite:divoc.db?mode=ro",
        ] {
            let result = StoreTarget::parse(url);
            assert!(
                matches!(result, Err(StoreError::InvalidUrl { .. })),
                "{url:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn sqlite_file_of_each_form() {
        let file = |url| sqlite_file(url).map(|path| path.display().to_string());
        assert_eq!(file("SQLITE:store.sqlite").as_deref(), Some("store.sqlite"));
        assert_eq!(
            file("SQLite:/srv/s.sqlite").as_deref(),
            Some("/srv/s.sqlite")
        );
        assert_eq!(
            file("sqlite:///srv/s.sqlite").as_deref(),
            Some("/srv/s.sqlite")
        );
        assert_eq!(
            file("file:my%20store.sqlite?mode=rwc").as_deref(),
            Some("my store.sqlite")
        );
        assert_eq!(file("plain.sqlite").as_deref(), Some("plain.sqlite"));
        assert_eq!(file(":memory:"), None);
        assert_eq!(file("sqlite://:memory:"), None);
        assert_eq!(file("file:certs?mode=memory"), None);
        assert_eq!(file("file:///srv/s.sqlite"), None);
        assert_eq!(file("sqlite:store.sqlite?mode=ro"), None);
        assert_eq!(file("POSTGRES://divoc:secret@db/divoc"), None);
        assert_eq!(file(""), None);
    }

    #[test]
    fn memory_paths() {
        assert!(is_sqlite_memory(":memory:"));
        assert!(is_sqlite_memory("file:certs?mode=memory"));
        assert!(!is_sqlite_memory("memory.db"));
        assert!(is_sqlite_memory("file::memory:"));
        assert!(is_sqlite_memory("file:certs?cache=shared&mode=memory"));
        assert!(!is_sqlite_memory("file:db/mode=memory.sqlite"));
        assert!(!is_sqlite_memory("file:certs?mode=memoryless"));
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact_url("postgres://divoc:s3cr%40t@db.internal:5432/divoc?sslmode=require"),
            "postgres://divoc:***@db.internal:5432/divoc?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://divoc@127.0.0.1/divoc?password=hunter2&application_name=x"),
            "postgres://divoc@127.0.0.1/divoc?password=***&application_name=x"
        );
        assert_eq!(
            redact_url("postgres://divoc@127.0.0.1/divoc"),
            "postgres://divoc@127.0.0.1/divoc"
        );
        assert_eq!(redact_url("/var/lib/divoc.db"), "/var/lib/divoc.db");
    }

    #[test]
    fn redact_hides_conninfo_passwords() {
        let cases = [
            (
                "host=127.0.0.1 port=5432 password=pw5 dbname=divoc",
                "host=127.0.0.1 port=5432 password=*** dbname=divoc",
            ),
            ("PASSWORD = pw5", "PASSWORD = ***"),
            (
                r"user=divoc password='a b\' c' host=db",
                "user=divoc password=*** host=db",
            ),
            ("password='unterminated", "password=***"),
            ("my-password-notes.db", "my-password-notes.db"),
            ("password=", "password=***"),
        ];
        for (text, expected) in cases {
            assert_eq!(redact_url(text), expected, "{text:?}");
        }
    }

    #[test]
    fn parse_rejects_conninfo() {
        let result = StoreTarget::parse("host=127.0.0.1 password=pw5 dbname=divoc");
        let Err(error) = result else {
            panic!("accepted: {result:?}");
        };
        assert_eq!(
            error.to_string(),
            "invalid store URL \"host=127.0.0.1 password=*** dbname=divoc\": this looks like \
             a libpq key=value connection string; write it as \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
        // A path with spaces but no connection keys stays a path.
        assert_eq!(
            StoreTarget::parse("/srv/divoc data/store.db").ok(),
            Some(sqlite("/srv/divoc data/store.db"))
        );
    }
}

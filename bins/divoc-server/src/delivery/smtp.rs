//! SMTP transport settings from `email.smtp_url`.
//!
//! Accepted forms: `smtp://HOST[:PORT]` (plain, port 25),
//! `smtp://HOST[:PORT]?tls=required` (STARTTLS, port 587),
//! `smtp://HOST[:PORT]?tls=opportunistic` (STARTTLS when offered) and
//! `smtps://HOST[:PORT]` (TLS from the first byte, port 465), each with
//! optional percent-encoded `USER:PASSWORD@` before the host for SMTP AUTH.

use std::time::Duration;

use lettre::SmtpTransport;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use percent_encoding::percent_decode_str;

use super::DeliveryStartError;
use crate::settings::EmailSettings;

/// The line that opens a certificate in a PEM file.
const PEM_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// Transport security of the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS.
    Plain,
    /// STARTTLS when the server offers it, else plain.
    Opportunistic,
    /// STARTTLS, and fail when the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// A checked SMTP configuration.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password for SMTP AUTH.
    credentials: Option<(String, String)>,
    /// Extra trusted CA certificate, PEM.
    ca_pem: Option<Vec<u8>>,
    pub from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

impl SmtpConfig {
    /// Parses `url` and reads the other `[email]` settings.
    pub fn from_settings(url: &str, email: &EmailSettings) -> Result<Self, DeliveryStartError> {
        let invalid =
            |name: &'static str, reason: String| DeliveryStartError::Setting { name, reason };
        let parsed = parse_url(url).map_err(|reason| invalid("email.smtp_url", reason))?;

        let ca_pem = match &email.ca_file {
            // A connection without TLS checks no certificate, so the file
            // would be ignored without a word.
            Some(_) if parsed.security == Security::Plain => {
                return Err(invalid(
                    "email.ca_file",
                    "is set, but email.smtp_url uses no TLS; add ?tls=required or use smtps://"
                        .to_owned(),
                ));
            }
            Some(path) => Some(std::fs::read(path).map_err(|error| {
                invalid(
                    "email.ca_file",
                    format!("cannot read {}: {error}", path.display()),
                )
            })?),
            None => None,
        };
        let from: Mailbox = email.from.parse().map_err(|error| {
            invalid(
                "email.from",
                format!("{:?} is not a mail address: {error}", email.from),
            )
        })?;
        if email.max_attempts == 0 {
            return Err(invalid(
                "email.max_attempts",
                "must be at least 1".to_owned(),
            ));
        }
        if email.timeout_seconds == 0 {
            return Err(invalid(
                "email.timeout_seconds",
                "must be at least 1".to_owned(),
            ));
        }
        let config = SmtpConfig {
            host: parsed.host,
            port: parsed.port,
            security: parsed.security,
            credentials: parsed.credentials,
            ca_pem,
            from,
            timeout: Duration::from_secs(email.timeout_seconds),
        };
        // Building once here reports an unreadable CA file at startup.
        config
            .transport()
            .map_err(|reason| invalid("email.ca_file", reason))?;
        Ok(config)
    }

    /// Returns true when the URL has credentials, the connection may run
    /// without TLS (`smtp://` with no `tls` option or `tls=opportunistic`),
    /// and the host is not a loopback address, where no network carries
    /// the password.
    pub fn sends_password_in_clear(&self) -> bool {
        let may_be_plain = matches!(self.security, Security::Plain | Security::Opportunistic);
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback());
        self.credentials.is_some() && may_be_plain && !loopback
    }

    /// Builds the lettre transport. A CA file without a certificate, or
    /// with one that cannot be read, is an error.
    pub fn transport(&self) -> Result<SmtpTransport, String> {
        let mut builder = SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .timeout(Some(self.timeout));
        if self.security != Security::Plain {
            let mut parameters = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_pem {
                // lettre reads a file without a certificate as an empty list.
                if !pem
                    .windows(PEM_CERTIFICATE.len())
                    .any(|window| window == PEM_CERTIFICATE)
                {
                    return Err("invalid CA certificate: the file has no PEM \
                                certificate (-----BEGIN CERTIFICATE-----)"
                        .to_owned());
                }
                let certificate = Certificate::from_pem(pem)
                    .map_err(|error| format!("invalid CA certificate: {error}"))?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters
                .build_rustls()
                .map_err(|error| format!("TLS settings rejected: {error}"))?;
            builder = builder.tls(match self.security {
                Security::Opportunistic => Tls::Opportunistic(parameters),
                Security::StartTls => Tls::Required(parameters),
                Security::Tls | Security::Plain => Tls::Wrapper(parameters),
            });
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

/// Reads the query string of `email.smtp_url`, whose one option is `tls`,
/// and returns its value in lower case. Any other option is an error: a
/// misspelt `tls` would otherwise leave the connection without TLS, and the
/// password would cross the network in clear text.
fn tls_option(query: Option<&str>) -> Result<Option<String>, String> {
    let mut tls = None;
    for pair in query.into_iter().flat_map(|query| query.split('&')) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.is_empty() {
            return Err(
                "an empty option in the query string (a stray ? or &); the only option is \
                 tls=required or tls=opportunistic"
                    .to_owned(),
            );
        }
        if !key.eq_ignore_ascii_case("tls") {
            return Err(format!(
                "unknown option {:?} in the query string; the only option is tls=required \
                 or tls=opportunistic",
                crate::error::truncate(key)
            ));
        }
        if tls.is_some() {
            return Err("the option tls is given twice".to_owned());
        }
        tls = Some(value.to_ascii_lowercase());
    }
    Ok(tls)
}

/// The parts of `email.smtp_url`.
struct ParsedUrl {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
}

/// Checks `email.smtp_url` as the sender reads it, and returns what is
/// wrong with it. The settings loader calls it, so that its error can name
/// the file or variable that set the URL.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    parse_url(url).map(|_| ())
}

/// The forms that `email.smtp_url` takes, for error messages.
const EXPECTED_FORMS: &str = "use smtp://HOST:PORT, smtp://HOST:PORT?tls=required, \
                              smtp://HOST:PORT?tls=opportunistic or smtps://HOST:PORT";

/// Parses an SMTP URL, or returns what is wrong with it. Scheme and option
/// are read in any letter case.
fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("expected a URL; {EXPECTED_FORMS}"))?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, tail) = split_authority(rest)?;
    let query = tail.split_once('?').map(|(_, query)| query);
    let (user_info, host_port) = match authority.rsplit_once('@') {
        Some((user_info, host_port)) => (Some(user_info), host_port),
        None => (None, authority),
    };
    let tls = tls_option(query)?;
    let security = match (scheme.as_str(), tls.as_deref()) {
        ("smtp", None) => Security::Plain,
        ("smtp", Some("required")) => Security::StartTls,
        ("smtp", Some("opportunistic")) => Security::Opportunistic,
        ("smtps", None) => Security::Tls,
        ("smtps", Some(_)) => {
            return Err(format!(
                "smtps:// is TLS from the start and takes no tls option; {EXPECTED_FORMS}"
            ));
        }
        ("smtp", Some(value)) => {
            return Err(format!(
                "unsupported tls option {:?}: expected tls=required or tls=opportunistic",
                crate::error::truncate(value)
            ));
        }
        _ => {
            return Err(format!(
                "unsupported scheme {:?}; {EXPECTED_FORMS}",
                crate::error::truncate(&scheme)
            ));
        }
    };
    let default_port = match security {
        Security::Plain | Security::Opportunistic => 25,
        Security::StartTls => 587,
        Security::Tls => 465,
    };
    // A bracketed IPv6 address contains colons of its own.
    let port_separator = match host_port.rfind(']') {
        Some(end) => host_port[end..].find(':').map(|offset| end + offset),
        None => host_port.rfind(':'),
    };
    let (host, port) = match port_separator {
        Some(separator) => {
            let port = &host_port[separator + 1..];
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("invalid port {port:?}"))?;
            (&host_port[..separator], port)
        }
        None => (host_port, default_port),
    };
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let credentials = match user_info {
        Some(user_info) => {
            let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
            let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
            Some((decode(user), decode(password)))
        }
        None => None,
    };
    Ok(ParsedUrl {
        host: host.to_owned(),
        port,
        security,
        credentials,
    })
}

/// Replaces the user name and password of an SMTP URL with `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match split_authority(rest) {
        Ok((authority, tail)) => match authority.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
            None => url.to_owned(),
        },
        // With an `@` after the host, the end of the user part is unknown.
        Err(_) => format!("{scheme}://***"),
    }
}

/// Splits the part of an SMTP URL after `scheme://` into the authority
/// (`USER:PASSWORD@HOST:PORT`) and the rest (`/` and `?…`). The authority
/// ends at the first `/`, `?` or `#`, as in RFC 3986. An `@` after it means
/// a user name or password with one of those characters not percent-encoded,
/// which is rejected without quoting any part of it.
fn split_authority(rest: &str) -> Result<(&str, &str), String> {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if tail.contains('@') {
        return Err(
            "an @ follows the host, so the user name or password contains a ?, / \
                    or # that is not percent-encoded; write them as %3F, %2F and %23 (and \
                    @ as %40)"
                .to_owned(),
        );
    }
    Ok((authority, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> SmtpConfig {
        SmtpConfig::from_settings(url, &EmailSettings::default()).unwrap()
    }

    #[test]
    fn plain_url_defaults_to_port_25() {
        let plain = config("smtp://127.0.0.1");
        assert_eq!(plain.host, "127.0.0.1");
        assert_eq!(plain.port, 25);
        assert_eq!(plain.security, Security::Plain);
        assert!(plain.credentials.is_none());
    }

    #[test]
    fn starttls_and_tls_urls() {
        let starttls = config("smtp://user%40x:p%3Ass@mail.example.org?tls=required");
        assert_eq!(starttls.security, Security::StartTls);
        assert_eq!(starttls.port, 587);
        assert_eq!(
            starttls.credentials,
            Some(("user@x".to_owned(), "p:ss".to_owned()))
        );
        let opportunistic = config("smtp://mail.example.org:2525?tls=opportunistic");
        assert_eq!(opportunistic.security, Security::Opportunistic);
        assert_eq!(opportunistic.port, 2525);
        let tls = config("smtps://mail.example.org");
        assert_eq!(tls.security, Security::Tls);
        assert_eq!(tls.port, 465);
        assert!(tls.transport().is_ok());
    }

    #[test]
    fn bad_urls_rejected() {
        for url in [
            "http://mail.example.org",
            "smtp://mail.example.org?tls=maybe",
            "smtps://mail.example.org?tls=required",
            "smtp://mail.example.org:99999",
            "smtp://:25",
            "mail.example.org",
        ] {
            let error = SmtpConfig::from_settings(url, &EmailSettings::default()).unwrap_err();
            assert!(
                error.to_string().contains("email.smtp_url"),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn tls_option_case_and_misspellings() {
        let upper = config("SMTP://mail.example.org?TLS=Required");
        assert_eq!(upper.security, Security::StartTls);
        let cases = [
            (
                "smtp://user:secret@mail.example.org?tsl=required",
                "unknown option \"tsl\" in the query string; the only option is tls=required \
                 or tls=opportunistic",
            ),
            (
                "smtp://mail.example.org?tls=required&starttls=1",
                "unknown option \"starttls\" in the query string; the only option is \
                 tls=required or tls=opportunistic",
            ),
            (
                "smtp://mail.example.org?tls=required&tls=opportunistic",
                "the option tls is given twice",
            ),
        ];
        for (url, reason) in cases {
            let error = SmtpConfig::from_settings(url, &EmailSettings::default()).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid setting email.smtp_url: {reason}"),
                "{url}"
            );
        }
    }

    #[test]
    fn password_stays_out_of_errors() {
        let parsed = config("smtp://user:pa%3Fss@mail.example.org?tls=required");
        assert_eq!(
            parsed.credentials,
            Some(("user".to_owned(), "pa?ss".to_owned()))
        );
        assert_eq!(parsed.host, "mail.example.org");

        // An unencoded @ in the user part is taken up to the last @ of the host part.
        let parsed = config("smtps://alerts@example.org:hunter2@mail.example.org");
        assert_eq!(
            parsed.credentials,
            Some(("alerts@example.org".to_owned(), "hunter2".to_owned()))
        );

        for url in [
            "smtp://user:pa?ss@mail.example.org:99999",
            "smtp://user:pa?ss@mail.example.org?tsl=required",
            "smtp://user:pa/ss@mail.example.org",
            "smtp://user:pa:ss@mail.example.org:x",
            "smtps://alerts@example.org:hunter2@127.0.0.1:2525?tls=required",
            "smtps://user:p@SECRETPART@mail.example.org?tls=maybe",
            "smtp://user:SECRET@mail.example.org?tls=required@x",
        ] {
            let error = SmtpConfig::from_settings(url, &EmailSettings::default()).unwrap_err();
            let message = error.to_string();
            for part in ["pa?ss", "pa/ss", "pa:ss", "ss@", "hunter2", "SECRET"] {
                assert!(!message.contains(part), "{url}: {message}");
            }
        }
        assert_eq!(
            SmtpConfig::from_settings(
                "smtp://user:pa?ss@mail.example.org",
                &EmailSettings::default()
            )
            .unwrap_err()
            .to_string(),
            "invalid setting email.smtp_url: an @ follows the host, so the user name or \
             password contains a ?, / or # that is not percent-encoded; write them as %3F, \
             %2F and %23 (and @ as %40)"
        );

        let ipv6 = config("smtp://user:secret@[::1]");
        assert_eq!((ipv6.host.as_str(), ipv6.port), ("[::1]", 25));
        let ipv6 = config("smtp://[::1]:2525");
        assert_eq!((ipv6.host.as_str(), ipv6.port), ("[::1]", 2525));
        let error =
            SmtpConfig::from_settings("smtp://mail.example.org?", &EmailSettings::default())
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting email.smtp_url: an empty option in the query string (a stray ? or \
             &); the only option is tls=required or tls=opportunistic"
        );
    }

    #[test]
    fn clear_text_password_detected() {
        let cases = [
            ("smtp://user:secret@mail.example.org", true),
            (
                "smtp://user:secret@mail.example.org?tls=opportunistic",
                true,
            ),
            ("smtp://user:secret@mail.example.org?tls=required", false),
            ("smtps://user:secret@mail.example.org", false),
            ("smtp://mail.example.org", false),
            ("smtp://user:secret@127.0.0.1:2525", false),
            ("smtp://user:secret@localhost", false),
            ("smtp://user:secret@[::1]:2525", false),
        ];
        for (url, expected) in cases {
            assert_eq!(config(url).sends_password_in_clear(), expected, "{url}");
        }
    }

    #[test]
    fn password_never_in_errors() {
        let error = SmtpConfig::from_settings(
            "imap://user:secret@mail.example.org",
            &EmailSettings::default(),
        )
        .unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        // The user name may be a mail address, so it is left out too. The
        // settings loader shows the URL with both as `***`.
        assert!(!error.to_string().contains("user"), "{error}");
        assert_eq!(
            error.to_string(),
            "invalid setting email.smtp_url: unsupported scheme \"imap\"; use \
             smtp://HOST:PORT, smtp://HOST:PORT?tls=required, \
             smtp://HOST:PORT?tls=opportunistic or smtps://HOST:PORT"
        );
    }

    #[test]
    fn ca_file_without_certificate_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let cases = [
            ("garbage", "the file has no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "TLS settings rejected: tls error: invalid peer certificate: BadEncoding",
            ),
        ];
        for (text, expected) in cases {
            let path = folder.path().join("ca.pem");
            std::fs::write(&path, text).unwrap();
            let settings = EmailSettings {
                ca_file: Some(path),
                ..EmailSettings::default()
            };
            let error = SmtpConfig::from_settings("smtps://127.0.0.1", &settings)
                .unwrap_err()
                .to_string();
            assert!(error.contains("email.ca_file"), "{error}");
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn ca_file_without_tls_rejected() {
        let settings = EmailSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..EmailSettings::default()
        };
        let error = SmtpConfig::from_settings("smtp://127.0.0.1", &settings)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid setting email.ca_file: is set, but email.smtp_url uses no TLS; \
             add ?tls=required or use smtps://"
        );
    }

    #[test]
    fn unreadable_ca_file_rejected() {
        let settings = EmailSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..EmailSettings::default()
        };
        let error =
            SmtpConfig::from_settings("smtp://127.0.0.1?tls=required", &settings).unwrap_err();
        assert!(error.to_string().contains("email.ca_file"), "{error}");
    }
}

//! SMS delivery of codes: an HTTP gateway, or the log in development.

use std::collections::BTreeMap;
use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue, Uri};

use super::OtpError;
use crate::settings::SmsSettings;

/// Pause before the first retry; each further retry waits twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Failure to deliver a message. Contains no mobile number and no code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SmsError {
    /// The gateway responded with a status that retrying does not fix (4xx, 3xx).
    #[error("the SMS gateway rejected the message with HTTP status {0}")]
    Rejected(u16),
    /// Every attempt failed with a network error, a timeout or a 5xx status.
    #[error("the SMS gateway failed {attempts} attempts; the last one: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// Error or status of the last attempt.
        last: String,
    },
}

/// Delivers one text message to one mobile number.
pub(crate) trait SmsSender: Send + Sync {
    /// Sends `text` to `mobile`, blocking until it is delivered or given up.
    fn send(&self, mobile: &str, text: &str, mobile_reference: &str) -> Result<(), SmsError>;
}

/// Posts each message as JSON to an SMS gateway (`sms.url`).
pub(crate) struct HttpGateway {
    agent: ureq::Agent,
    url: String,
    body_template: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    retries: u32,
}

impl HttpGateway {
    /// Checks the gateway settings and prepares the HTTP client.
    pub(crate) fn from_settings(url: &str, settings: &SmsSettings) -> Result<Self, OtpError> {
        let invalid = |name: &'static str, reason: String| OtpError::Setting { name, reason };
        let uri: Uri = url
            .parse()
            .map_err(|error| invalid("sms.url", format!("not a URL: {error}")))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => {
                return Err(invalid(
                    "sms.url",
                    "expected an http:// or https:// URL with a host".to_owned(),
                ));
            }
        }
        // The URL parser takes any text after the host's colon, and the
        // request would then go to the scheme's default port.
        let host_and_port = uri
            .authority()
            .map_or("", |authority| authority.as_str())
            .rsplit('@')
            .next()
            .unwrap_or_default();
        if let Some((_, port)) = host_and_port.rsplit_once(':')
            && !port.contains(']')
            && !port.parse::<u16>().is_ok_and(|port| port > 0)
        {
            return Err(invalid(
                "sms.url",
                format!("invalid port {port:?}: expected a number from 1 to 65535"),
            ));
        }
        check_body_template(&settings.body)?;
        let headers = parse_headers(&settings.headers)?;
        if settings.timeout_seconds == 0 {
            return Err(invalid(
                "sms.timeout_seconds",
                "must be at least 1".to_owned(),
            ));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(settings.timeout_seconds)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Ok(HttpGateway {
            agent: config.into(),
            url: url.to_owned(),
            body_template: settings.body.clone(),
            headers,
            retries: settings.retries,
        })
    }

    /// Sends one request; `Ok(None)` on a 2xx status, `Ok(Some(status))` on any
    /// other status, `Err` when no response came.
    fn post(&self, body: &str) -> Result<Option<u16>, ureq::Error> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send(body.as_bytes())?;
        let status = response.status().as_u16();
        Ok(if (200..300).contains(&status) {
            None
        } else {
            Some(status)
        })
    }
}

impl SmsSender for HttpGateway {
    fn send(&self, mobile: &str, text: &str, mobile_reference: &str) -> Result<(), SmsError> {
        let body = render_body(&self.body_template, mobile, text);
        let attempts = self.retries.saturating_add(1);
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=attempts {
            let failure = match self.post(&body) {
                Ok(None) => return Ok(()),
                Ok(Some(status)) if status < 500 => {
                    tracing::error!(
                        status,
                        attempt,
                        mobile.reference = %mobile_reference,
                        "SMS gateway rejected a code message; not retrying"
                    );
                    return Err(SmsError::Rejected(status));
                }
                Ok(Some(status)) => format!("HTTP status {status}"),
                Err(error) => error.to_string(),
            };
            tracing::warn!(
                attempt,
                attempts,
                error = %failure,
                mobile.reference = %mobile_reference,
                "SMS gateway attempt failed"
            );
            last = failure;
            if attempt < attempts {
                std::thread::sleep(backoff);
                backoff = backoff.saturating_mul(2);
            }
        }
        Err(SmsError::Exhausted { attempts, last })
    }
}

/// Writes each message to the log instead of sending it. For development only:
/// the code appears in the log, which it never does with a gateway.
pub(crate) struct DevelopmentLog;

impl DevelopmentLog {
    /// Announces loudly that codes go to the log.
    pub(crate) fn new() -> Self {
        tracing::warn!(
            "sms.url is not set: one-time passwords are written to this log and no SMS is sent. \
             This is for development only; set DIVOC__SMS__URL to an SMS gateway in production"
        );
        DevelopmentLog
    }
}

impl SmsSender for DevelopmentLog {
    fn send(&self, _mobile: &str, text: &str, mobile_reference: &str) -> Result<(), SmsError> {
        tracing::warn!(
            mobile.reference = %mobile_reference,
            "development SMS, not sent: {text}"
        );
        Ok(())
    }
}

/// Fills the message template: `{code}` and `{minutes}`.
pub(super) fn render_message(template: &str, code: &str, minutes: u64) -> String {
    fill(
        template,
        &[("code", code.to_owned()), ("minutes", minutes.to_string())],
    )
}

/// Fills the body template with the JSON-escaped mobile number and message,
/// without quotes, since the template puts its own quotes around them.
fn render_body(template: &str, mobile: &str, message: &str) -> String {
    fill(
        template,
        &[
            ("mobile", json_escaped(mobile)),
            ("message", json_escaped(message)),
        ],
    )
}

/// Checks that the message template includes `{code}`.
pub(super) fn check_message_template(template: &str) -> Result<(), OtpError> {
    if template.contains("{code}") {
        Ok(())
    } else {
        Err(OtpError::Setting {
            name: "sms.message",
            reason: "must contain {code}, or citizens never receive their code".to_owned(),
        })
    }
}

/// Checks that the body template has both placeholders and is JSON once filled.
fn check_body_template(template: &str) -> Result<(), OtpError> {
    let invalid = |reason: String| OtpError::Setting {
        name: "sms.body",
        reason,
    };
    for placeholder in ["{mobile}", "{message}"] {
        if !template.contains(placeholder) {
            return Err(invalid(format!("must contain {placeholder}")));
        }
    }
    let sample = render_body(template, "+910000000000", "sample \"message\"\n");
    serde_json::from_str::<serde_json::Value>(&sample)
        .map_err(|error| invalid(format!("is not JSON once filled in: {error}")))?;
    Ok(())
}

fn parse_headers(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, OtpError> {
    headers
        .iter()
        .map(|(name, value)| {
            let invalid = |reason: &str| OtpError::Setting {
                name: "sms.headers",
                reason: format!("{name:?}: {reason}"),
            };
            let name_value = HeaderName::try_from(name.as_str())
                .map_err(|_| invalid("not a valid HTTP header name"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| invalid("the value is not a valid HTTP header value"))?;
            Ok((name_value, value))
        })
        .collect()
}

/// Replaces each `{name}` of `values` in one pass, so a value that itself
/// contains a placeholder is not filled again.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut output = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        output.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let replacement = values.iter().find_map(|(name, value)| {
            after
                .strip_prefix(name)
                .and_then(|tail| tail.strip_prefix('}'))
                .map(|tail| (value, tail))
        });
        match replacement {
            Some((value, tail)) => {
                output.push_str(value);
                rest = tail;
            }
            None => {
                output.push('{');
                rest = after;
            }
        }
    }
    output.push_str(rest);
    output
}

/// Returns `text` as a JSON string literal without its enclosing quotes.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

    use super::*;

    #[test]
    fn default_templates_render_json() {
        let settings = SmsSettings::default();
        let message = render_message(&settings.message, "012345", 5);
        assert_eq!(
            message,
            "Your vaccination certificate login code is 012345. It expires in 5 minutes."
        );
        let body = render_body(&settings.body, "9000000001", &message);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["to"], "9000000001");
        assert_eq!(parsed["message"], message.as_str());
    }

    #[test]
    fn values_are_escaped_and_not_refilled() {
        let body = render_body(
            r#"{"to": "{mobile}", "text": "{message}"}"#,
            "9000000001",
            "say \"{mobile}\"\n\\",
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], "say \"{mobile}\"\n\\");
    }

    #[test]
    fn unknown_braces_stay() {
        assert_eq!(fill("{a} {code} {", &[("code", "1".to_owned())]), "{a} 1 {");
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(check_body_template(r#"{"to": {mobile}, "message": "{message}"}"#).is_err());
        assert!(check_body_template(r#"{"message": "{message}"}"#).is_err());
        assert!(check_body_template(r#"{"to": "{mobile}", "message": "{message}"}"#).is_ok());
        assert!(check_message_template("no code here").is_err());
    }

    #[test]
    fn gateway_settings_are_checked() {
        let settings = SmsSettings::default();
        assert!(HttpGateway::from_settings("ftp://127.0.0.1/sms", &settings).is_err());
        assert!(HttpGateway::from_settings("not a url", &settings).is_err());
        assert!(HttpGateway::from_settings("http://127.0.0.1:9/sms", &settings).is_ok());
        assert!(HttpGateway::from_settings("http://[::1]:9/sms", &settings).is_ok());
        assert!(HttpGateway::from_settings("http://[::1]/sms", &settings).is_ok());
        for (url, port) in [
            ("http://user:secret@127.0.0.1:bad/", "bad"),
            ("http://127.0.0.1:99999/sms", "99999"),
            ("http://[::1]:x/sms", "x"),
            ("http://127.0.0.1:0/sms", "0"),
        ] {
            let Err(error) = HttpGateway::from_settings(url, &settings) else {
                panic!("{url} accepted");
            };
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid setting sms.url: invalid port \"{port}\": expected a number \
                     from 1 to 65535"
                )
            );
        }
        let mut bad_header = SmsSettings::default();
        bad_header
            .headers
            .insert("bad header".to_owned(), "x".to_owned());
        assert!(HttpGateway::from_settings("http://127.0.0.1:9/sms", &bad_header).is_err());
    }
}

//! The email worker: claims due rows of the outbox, renders the PDF at send
//! time, and sends it over SMTP. A failed attempt is retried after a backoff
//! that doubles each time, up to `email.max_attempts` attempts. Errors that a
//! retry cannot fix (an SMTP 5xx, a revoked or superseded certificate) fail the
//! email at once.

use std::time::Duration;

use chrono::Utc;
use divoc_store::{AuditEvent, EmailStatus, OutboxEmail};
use lettre::Transport;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};

use super::access::{check_latest, creator_scope, render_pdf_blocking};
use super::messages::{fill, messages_or_english};
use super::protect::{dob_password, encrypt};
use super::{Delivery, DeliveryError, EMAIL_PATH};
use crate::redact::{certificate_ref, without_addresses};
use crate::service::CertificateService;

/// Outcome of one attempt.
enum Failure {
    /// Worth another attempt, such as a refused connection or an SMTP 4xx.
    Transient(String),
    /// Another attempt would fail the same way.
    Permanent(String),
}

/// Runs until the process exits.
pub fn run(delivery: &Delivery, service: &CertificateService) {
    let Some(smtp) = &delivery.smtp else { return };
    let transport = match smtp.transport() {
        Ok(transport) => transport,
        Err(error) => {
            tracing::error!(%error, "email worker not started");
            return;
        }
    };
    tracing::info!(
        host = %smtp.host,
        port = smtp.port,
        security = ?smtp.security,
        "email worker started"
    );
    if smtp.sends_password_in_clear() {
        tracing::warn!(
            host = %smtp.host,
            "email.smtp_url has a user name and password but may connect without TLS, so \
             the password can cross the network in clear text; use ?tls=required or smtps://"
        );
    }
    let lease = chrono::Duration::seconds(delivery.email.lease_seconds.max(1) as i64);
    loop {
        let now = Utc::now();
        let claimed = delivery.store.claim_due_email(now, now + lease);
        let email = match claimed {
            Ok(Some(email)) => email,
            Ok(None) => {
                std::thread::sleep(delivery.poll_interval());
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "email outbox could not be read; retrying");
                std::thread::sleep(delivery.poll_interval());
                continue;
            }
        };
        let result = attempt(delivery, service, &transport, &email);
        finish(delivery, &email, result);
    }
}

fn attempt(
    delivery: &Delivery,
    service: &CertificateService,
    transport: &lettre::SmtpTransport,
    email: &OutboxEmail,
) -> Result<(), Failure> {
    let record = service
        .store()
        .certificate_by_id(&email.certificate_id)
        .map_err(|error| Failure::Transient(error.to_string()))?
        .ok_or_else(|| Failure::Permanent("the certificate was revoked or removed".to_owned()))?;
    let scope = creator_scope(email.scope_mobile.as_deref());
    check_latest(service, &record, &scope).map_err(|error| {
        // A failed store read is tried again. A moved, replaced or revoked
        // certificate stays so.
        if actix_web::ResponseError::status_code(&error).is_server_error() {
            Failure::Transient(error.to_string())
        } else {
            Failure::Permanent(email_reason(&error))
        }
    })?;
    let pdf = render_pdf_blocking(service, &scope, &record, &email.language)
        .map_err(|error| Failure::Transient(error.to_string()))?;
    let protected = email.protect.as_deref() == Some("dob");
    let attachment = if protected {
        let password =
            dob_password(&record).map_err(|error| Failure::Permanent(error.to_string()))?;
        encrypt(&pdf, &password).map_err(|error| Failure::Transient(error.to_string()))?
    } else {
        pdf.to_vec()
    };
    let message = compose(delivery, email, attachment, protected)?;
    transport.send(&message).map_err(|error| {
        if error.is_permanent() {
            Failure::Permanent(format!("SMTP server rejected the email: {error}"))
        } else if error.is_client() {
            // lettre refused the message before the server saw it, such as a
            // non-ASCII address for a server without SMTPUTF8. A retry fails alike.
            Failure::Permanent(format!(
                "the email cannot be sent through this SMTP server: {error}"
            ))
        } else {
            Failure::Transient(format!("SMTP delivery failed: {error}"))
        }
    })?;
    // The certificate left the service, so it gets an audit row like a
    // download. The subject names the outbox row, which names the requester,
    // so that a citizen's mobile number stays out of the audit table.
    service.record_served(&AuditEvent {
        served_at: Utc::now(),
        certificate_id: record.certificate_id.clone(),
        route: EMAIL_PATH.to_owned(),
        subject: Some(format!("email:{}", email.id)),
        role: "email".to_owned(),
    });
    Ok(())
}

/// Returns the `lastError` of an email whose certificate may no longer be
/// sent. The messages of the share routes speak of links, so the two about
/// the certificate's owner get their own words here.
fn email_reason(error: &DeliveryError) -> String {
    match error.code() {
        "certificate_moved" => "certificate_moved: the certificate is no longer registered to \
                                the mobile number that requested this email, so it was not sent"
            .to_owned(),
        "certificate_superseded" => "certificate_superseded: a newer certificate of the \
                                     beneficiary replaced this one, so it was not sent; request \
                                     an email of the newer one"
            .to_owned(),
        _ => error.to_string(),
    }
}

/// Builds the MIME message: a plain-text body and the PDF attachment.
fn compose(
    delivery: &Delivery,
    email: &OutboxEmail,
    pdf: Vec<u8>,
    protected: bool,
) -> Result<Message, Failure> {
    let smtp = delivery
        .smtp
        .as_ref()
        .ok_or_else(|| Failure::Permanent("email is not configured".to_owned()))?;
    let texts = messages_or_english(&email.language);
    let values = [("certificateId", email.certificate_id.as_str())];
    let subject = fill(texts.email_subject, &values);
    let mut body = fill(texts.email_body, &values);
    if protected {
        body.push('\n');
        body.push_str(texts.email_password_note);
    }
    let to: Mailbox = email
        .recipient
        .parse()
        .map_err(|error| Failure::Permanent(format!("invalid recipient address: {error}")))?;
    let file_name = format!("certificate-{}.pdf", safe_name(&email.certificate_id));
    let pdf_type = ContentType::parse("application/pdf")
        .map_err(|error| Failure::Permanent(error.to_string()))?;
    Message::builder()
        .from(smtp.from.clone())
        .to(to)
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new(file_name).body(pdf, pdf_type)),
        )
        .map_err(|error| Failure::Permanent(format!("the email could not be built: {error}")))
}

/// Stores the outcome and logs it without the address. An SMTP server's
/// reply may quote the recipient, so every error text leaves out addresses.
fn finish(delivery: &Delivery, email: &OutboxEmail, result: Result<(), Failure>) {
    let result = result.map_err(|failure| match failure {
        Failure::Transient(error) => Failure::Transient(without_addresses(&error)),
        Failure::Permanent(error) => Failure::Permanent(without_addresses(&error)),
    });
    let now = Utc::now();
    let certificate = certificate_ref(&email.certificate_id);
    let (status, next, error) = match result {
        Ok(()) => {
            tracing::info!(email = %email.id, certificate.reference = %certificate, attempt = email.attempts, "email sent");
            (EmailStatus::Sent, None, None)
        }
        Err(Failure::Transient(error)) if email.attempts < delivery.email.max_attempts => {
            let wait = backoff(
                email.attempts,
                delivery.email.backoff_seconds,
                delivery.email.max_backoff_seconds,
            );
            tracing::warn!(
                email = %email.id,
                certificate.reference = %certificate,
                attempt = email.attempts,
                retry_in_seconds = wait.as_secs(),
                error = %error,
                "email attempt failed; retrying"
            );
            let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            (EmailStatus::Queued, Some(next), Some(error))
        }
        Err(Failure::Transient(error) | Failure::Permanent(error)) => {
            tracing::error!(
                email = %email.id,
                certificate.reference = %certificate,
                attempt = email.attempts,
                error = %error,
                "email failed; not retrying"
            );
            (EmailStatus::Failed, None, Some(error))
        }
    };
    match delivery.store.finish_email_attempt(
        &email.id,
        email.attempts,
        status,
        now,
        next,
        error.as_deref(),
    ) {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            email = %email.id,
            attempt = email.attempts,
            "email row was claimed again or changed during the attempt; its result is not stored"
        ),
        Err(error) => {
            tracing::error!(email = %email.id, %error, "email status could not be stored")
        }
    }
}

/// Wait before the attempt after `attempts` failed ones: `first_seconds`,
/// doubled for each further failure, at most `max_seconds`.
fn backoff(attempts: u32, first_seconds: u64, max_seconds: u64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(32);
    let seconds = first_seconds.saturating_mul(1u64 << doublings);
    Duration::from_secs(seconds.min(max_seconds))
}

fn safe_name(certificate_id: &str) -> String {
    certificate_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_max() {
        assert_eq!(backoff(1, 30, 3600), Duration::from_secs(30));
        assert_eq!(backoff(2, 30, 3600), Duration::from_secs(60));
        assert_eq!(backoff(4, 30, 3600), Duration::from_secs(240));
        assert_eq!(backoff(10, 30, 3600), Duration::from_secs(3600));
        assert_eq!(backoff(200, 30, 3600), Duration::from_secs(3600));
    }
}

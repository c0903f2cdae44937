//! Certificates handed on outside the file routes: share links, email and SMS
//! notifications, and password-protected PDFs.
//!
//! * `POST /certificate/api/share`, `GET /certificate/api/share` and
//!   `DELETE /certificate/api/share/{id}`: create, list and revoke share links.
//! * `GET /certificate/api/shared/{token}` (and `POST` with a form) and
//!   `GET /s/{token}`: the files and the page that a link gives access to.
//! * `POST /certificate/api/email` and `GET /certificate/api/email/{id}`: queue
//!   an email with the PDF attached, and read its delivery status.
//! * `POST /certificate/api/notify`: send a share link by SMS.
//! * `GET /certificate/api/certificatePDF/{beneficiaryId}?protect=dob`: the
//!   download route's PDF, encrypted.
//!
//! A certificate may be handed on by a token with a distribution role, or by a
//! citizen whose mobile number the certificate is registered to. Only the latest
//! certificate of a beneficiary (by the selection rules of `divoc-select`) is
//! handed on: a link stops working when a newer dose supersedes its certificate.

mod access;
pub use access::{EMAIL_LIMIT, NOTIFY_LIMIT, SHARE_LIMIT, bucket_prefix};
mod email;
mod error;
mod messages;
mod notify;
mod page;
mod protect;
mod share;
mod smtp;
mod worker;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::web;
use divoc_store::Store;

pub use self::error::DeliveryError;
pub use self::protect::{protected_download, wants_protection};
use self::smtp::SmtpConfig;
pub(crate) use self::smtp::{check_url as check_smtp_url, redact as redact_smtp_url};
use crate::error::BodyLimit;
use crate::otp::OtpError;
use crate::otp::sms::{DevelopmentLog, HttpGateway, SmsSender};
use crate::routes::{FORM_BODY_BYTES, get_or_head, method_not_allowed};
use crate::service::CertificateService;
use crate::settings::{EmailSettings, NotifySettings, Protection, Settings, ShareSettings};

/// Path that creates and lists share links.
pub const SHARE_PATH: &str = "/certificate/api/share";
/// Path that queues an email.
pub const EMAIL_PATH: &str = "/certificate/api/email";
/// Path that sends a notification.
pub const NOTIFY_PATH: &str = "/certificate/api/notify";
/// Largest JSON body of the share, email and notify routes, in bytes.
pub const JSON_BODY_BYTES: usize = 262_144;

/// Errors that stop these routes from starting.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryStartError {
    /// A setting has an invalid value.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// Setting name, such as `email.smtp_url`.
        name: &'static str,
        /// The problem and the expected value.
        reason: String,
    },
    /// The SMS gateway settings are invalid.
    #[error(transparent)]
    Sms(#[from] OtpError),
    /// The email worker thread could not be started.
    #[error("cannot start the email worker thread: {0}")]
    Thread(std::io::Error),
}

/// Shared state of the delivery routes and the email worker.
pub struct Delivery {
    store: Store,
    /// Base of share URLs, without a trailing slash.
    public_url: String,
    /// The base of share URLs without a port, when `public_url` was made from
    /// a `server.bind` with port 0, whose port is only known once the
    /// listener has one.
    public_url_port_pending: Option<String>,
    /// `public_url` with the port the listener got.
    bound_url: OnceLock<String>,
    share: ShareSettings,
    email: EmailSettings,
    /// The SMTP transport settings; `None` when email is off.
    smtp: Option<SmtpConfig>,
    notify: NotifySettings,
    sms: Box<dyn SmsSender>,
    protection: Protection,
}

impl Delivery {
    /// Checks the settings and prepares the SMTP and SMS clients.
    pub fn from_settings(settings: &Settings, store: Store) -> Result<Self, DeliveryStartError> {
        let configured = settings
            .server
            .public_url
            .clone()
            .filter(|url| !url.trim().is_empty());
        let public_url_port_pending = match (&configured, settings.server.host_of_free_port_bind())
        {
            (None, Some(host)) => Some(format!("http://{host}")),
            _ => None,
        };
        if configured.is_none() && binds_every_address(&settings.server.bind) {
            tracing::warn!(
                bind = %settings.server.bind.trim(),
                "server.bind listens on every address and server.public_url is not set: share \
                 links and SMS links would name this address, which no client can open. Set \
                 server.public_url (DIVOC__SERVER__PUBLIC_URL) to the URL that clients use, such \
                 as https://certificates.example.org"
            );
        }
        let public_url = configured.unwrap_or_else(|| format!("http://{}", settings.server.bind));
        let public_url = public_url.trim().trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(DeliveryStartError::Setting {
                name: "server.public_url",
                reason: format!("{public_url:?} is not an http:// or https:// URL"),
            });
        }
        check_share_settings(&settings.share)?;
        let smtp = match settings.email.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Some(SmtpConfig::from_settings(url, &settings.email)?),
            _ => None,
        };
        let sms: Box<dyn SmsSender> = match settings.sms.url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                Box::new(HttpGateway::from_settings(url, &settings.sms)?)
            }
            _ => {
                tracing::warn!(
                    "sms.url is not set: share links sent by POST /certificate/api/notify are \
                     written to this log and no SMS is sent. This is for development only; set \
                     DIVOC__SMS__URL to an SMS gateway in production"
                );
                Box::new(DevelopmentLog)
            }
        };
        let logged_url = if public_url_port_pending.is_some() {
            "(the listening address)"
        } else {
            public_url.as_str()
        };
        tracing::info!(
            public_url = %logged_url,
            email = smtp.is_some(),
            "share links, email and SMS notifications enabled"
        );
        Ok(Delivery {
            store,
            public_url,
            public_url_port_pending,
            bound_url: OnceLock::new(),
            share: settings.share.clone(),
            email: settings.email.clone(),
            smtp,
            notify: settings.notify.clone(),
            sms,
            protection: settings.protection.default,
        })
    }

    /// Puts the port the listener got into share URLs whose base came from a
    /// `server.bind` with port 0. The host stays as configured. Only the first
    /// call has an effect.
    pub fn use_bound_port(&self, port: u16) {
        let Some(base) = &self.public_url_port_pending else {
            return;
        };
        if self.bound_url.set(format!("{base}:{port}")).is_ok() {
            tracing::info!(public_url = %self.public_url(), "share links use the listening port");
        }
    }

    /// Returns the base of share URLs, without a trailing slash.
    pub(crate) fn public_url(&self) -> &str {
        self.bound_url
            .get()
            .map_or(&self.public_url, String::as_str)
    }

    /// Starts the email worker when email is configured.
    pub fn start_worker(
        delivery: &Arc<Delivery>,
        service: Arc<CertificateService>,
    ) -> Result<(), DeliveryStartError> {
        if delivery.smtp.is_none() {
            return Ok(());
        }
        let delivery = Arc::clone(delivery);
        std::thread::Builder::new()
            .name("email-worker".to_owned())
            .spawn(move || worker::run(&delivery, &service))
            .map(|_| ())
            .map_err(DeliveryStartError::Thread)
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.email.poll_interval_ms.max(10))
    }
}

/// Tells whether `bind` names the unspecified address, `0.0.0.0` or `::`,
/// which listens on every address of the host and is no address to connect to.
fn binds_every_address(bind: &str) -> bool {
    let Some((host, _port)) = bind.trim().rsplit_once(':') else {
        return false;
    };
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_unspecified())
}

fn check_share_settings(share: &ShareSettings) -> Result<(), DeliveryStartError> {
    let invalid = |name, reason: &str| DeliveryStartError::Setting {
        name,
        reason: reason.to_owned(),
    };
    if share.max_days == 0 {
        return Err(invalid("share.max_days", "must be at least 1"));
    }
    if share.default_days == 0 || share.default_days > share.max_days {
        return Err(invalid(
            "share.default_days",
            "must be between 1 and share.max_days",
        ));
    }
    if share.max_passcode_attempts == 0 {
        return Err(invalid("share.max_passcode_attempts", "must be at least 1"));
    }
    Ok(())
}

/// Registers the share, email and notify routes.
pub fn configure(config: &mut web::ServiceConfig, delivery: web::Data<Delivery>) {
    config
        .service(
            web::resource(SHARE_PATH)
                .app_data(delivery.clone())
                .route(web::post().to(share::create))
                .route(get_or_head().to(share::list))
                .default_service(method_not_allowed("GET, HEAD, POST")),
        )
        .service(
            web::resource("/certificate/api/share/{id}")
                .app_data(delivery.clone())
                .route(web::delete().to(share::revoke))
                .default_service(method_not_allowed("DELETE")),
        )
        .service(
            web::resource("/certificate/api/shared/{token}")
                .app_data(delivery.clone())
                .app_data(BodyLimit(FORM_BODY_BYTES))
                .route(get_or_head().to(share::shared_get))
                .route(web::post().to(share::shared_post))
                .default_service(method_not_allowed("GET, HEAD, POST")),
        )
        .service(
            web::resource("/s/{token}")
                .app_data(delivery.clone())
                .app_data(BodyLimit(FORM_BODY_BYTES))
                .route(get_or_head().to(page::show))
                .route(web::post().to(page::unlock))
                .default_service(method_not_allowed("GET, HEAD, POST")),
        )
        .service(
            web::resource(EMAIL_PATH)
                .app_data(delivery.clone())
                .route(web::post().to(email::queue))
                .default_service(method_not_allowed("POST")),
        )
        .service(
            web::resource("/certificate/api/email/{id}")
                .app_data(delivery.clone())
                .route(get_or_head().to(email::status))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource(NOTIFY_PATH)
                .app_data(delivery)
                .route(web::post().to(notify::send))
                .default_service(method_not_allowed("POST")),
        );
}

#[cfg(test)]
mod tests {
    use super::binds_every_address;

    #[test]
    fn unspecified_bind_addresses() {
        for bind in [
            "0.0.0.0:4321",
            "[::]:4321",
            ":::4321",
            " 0.0.0.0:0 ",
            "[0:0::0]:80",
        ] {
            assert!(binds_every_address(bind), "{bind}");
        }
        for bind in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "localhost:8080",
            "10.0.0.5:4321",
            "certificates.example.org:443",
            "0.0.0.0",
        ] {
            assert!(!binds_every_address(bind), "{bind}");
        }
    }
}

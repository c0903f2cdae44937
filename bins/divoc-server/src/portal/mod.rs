//! The citizen portal: one HTML page, its script and its style sheet, embedded
//! in the binary, plus the dose-history route that the page lists.
//!
//! The page talks only to this server's own routes (`connect-src 'self'`), and
//! every portal response carries a strict Content-Security-Policy without
//! inline scripts or styles. docs/portal.md describes the page and why the token
//! stays in a script variable.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use divoc_select::{Candidate, latest, previous_doses};
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::{AppState, authenticate, get_or_head, map_service_error, method_not_allowed};
use crate::server::StartError;
use crate::service::ServiceError;
use crate::settings::PortalSettings;

/// Path of the portal page; `serve` and `demo` print it.
pub const PORTAL_PATH: &str = "/portal/";

const INDEX_HTML: &str = include_str!("index.html");
const PORTAL_JS: &str = include_str!("portal.js");
const PORTAL_CSS: &str = include_str!("portal.css");

/// Policy of every portal response without Keycloak sign-in. Files open as
/// `blob:` object URLs in a new tab, which is a navigation, so no `object-src`
/// or `frame-src` is needed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Settings of the portal page, checked at start.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    policy: String,
    keycloak: Option<KeycloakClient>,
}

/// The Keycloak endpoints and client that the page uses for sign-in with the
/// authorization code flow and PKCE (RFC 7636).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeycloakClient {
    authorization_endpoint: String,
    token_endpoint: String,
    client_id: String,
}

impl PortalConfig {
    /// Checks the Keycloak settings: all three or none, and an http or https URL.
    pub fn from_settings(settings: &PortalSettings) -> Result<Self, StartError> {
        let invalid = |name, reason: String| StartError::Setting { name, reason };
        let (url, realm, client_id) = match (
            settings.keycloak_url.as_deref(),
            settings.keycloak_realm.as_deref(),
            settings.keycloak_client_id.as_deref(),
        ) {
            (None, None, None) => {
                return Ok(PortalConfig {
                    policy: CONTENT_SECURITY_POLICY.to_owned(),
                    keycloak: None,
                });
            }
            (Some(url), Some(realm), Some(client_id)) => (url, realm, client_id),
            _ => {
                return Err(invalid(
                    "portal.keycloak_url",
                    "set portal.keycloak_url, portal.keycloak_realm and portal.keycloak_client_id \
                     together, or none of them"
                        .to_owned(),
                ));
            }
        };
        let origin = web_origin(url).ok_or_else(|| {
            invalid(
                "portal.keycloak_url",
                format!("{url:?} is not an http or https URL such as https://login.example.org"),
            )
        })?;
        let realm_ok = !realm.is_empty()
            && realm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !realm_ok {
            return Err(invalid(
                "portal.keycloak_realm",
                format!("{realm:?} is not a realm name of letters, digits, '-', '_' and '.'"),
            ));
        }
        let base = format!(
            "{}/realms/{realm}/protocol/openid-connect",
            url.trim_end_matches('/')
        );
        Ok(PortalConfig {
            // The page posts the code to Keycloak's token endpoint, so its origin joins connect-src.
            policy: CONTENT_SECURITY_POLICY.replace(
                "connect-src 'self'",
                &format!("connect-src 'self' {origin}"),
            ),
            keycloak: Some(KeycloakClient {
                authorization_endpoint: format!("{base}/auth"),
                token_endpoint: format!("{base}/token"),
                client_id: client_id.to_owned(),
            }),
        })
    }
}

/// Returns `scheme://host[:port]` of an http or https URL, or `None` for
/// anything else, including URLs with characters that would break the policy.
fn web_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let valid = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    valid.then(|| format!("{scheme}://{authority}"))
}

/// Registers the portal page, its assets and `GET /certificate/api/citizen/beneficiaries`.
/// The page and its assets also serve HEAD, with the headers of GET.
pub fn configure(config: &mut web::ServiceConfig, portal: &PortalConfig) {
    let portal = web::Data::new(portal.clone());
    config
        .service(
            web::resource("/portal")
                .route(get_or_head().to(redirect_to_page))
                .default_service(method_not_allowed("GET, HEAD")),
        )
        .service(
            web::scope("/portal")
                .app_data(portal)
                .service(
                    web::resource("/")
                        .route(
                            get_or_head().to(|portal: web::Data<PortalConfig>| async move {
                                asset(&portal, INDEX_HTML, "text/html; charset=utf-8")
                            }),
                        )
                        .default_service(method_not_allowed("GET, HEAD")),
                )
                .service(
                    web::resource("/portal.js")
                        .route(
                            get_or_head().to(|portal: web::Data<PortalConfig>| async move {
                                asset(&portal, PORTAL_JS, "text/javascript; charset=utf-8")
                            }),
                        )
                        .default_service(method_not_allowed("GET, HEAD")),
                )
                .service(
                    web::resource("/portal.css")
                        .route(
                            get_or_head().to(|portal: web::Data<PortalConfig>| async move {
                                asset(&portal, PORTAL_CSS, "text/css; charset=utf-8")
                            }),
                        )
                        .default_service(method_not_allowed("GET, HEAD")),
                )
                .service(
                    web::resource("/config.json")
                        .route(
                            get_or_head().to(|portal: web::Data<PortalConfig>| async move {
                                let body = serde_json::json!({ "keycloak": portal.keycloak });
                                asset(&portal, body.to_string(), "application/json")
                            }),
                        )
                        .default_service(method_not_allowed("GET, HEAD")),
                ),
        )
        .service(
            web::resource("/certificate/api/citizen/beneficiaries")
                .route(get_or_head().to(beneficiaries))
                .default_service(method_not_allowed("GET, HEAD")),
        );
}

async fn redirect_to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, HeaderValue::from_static(PORTAL_PATH)))
        .finish()
}

fn asset(
    portal: &PortalConfig,
    body: impl actix_web::body::MessageBody + 'static,
    content_type: &'static str,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Ok(policy) = HeaderValue::from_str(&portal.policy) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, policy));
    }
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // The assets change with the binary, so browsers revalidate on each load.
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(body)
}

/// One dose in a beneficiary's history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DoseEntry {
    certificate_id: String,
    dose: Option<u32>,
    total_doses: Option<u32>,
    /// `evidence[0].date` as written in the credential.
    date: Option<String>,
    /// The day of that date in `pdf.timezone`, as `YYYY-MM-DD`: the day the
    /// PDF prints. `None` when the date is missing or cannot be read.
    local_date: Option<String>,
    vaccine: Option<String>,
}

impl DoseEntry {
    fn of(candidate: &Candidate<'_>, zone: chrono_tz::Tz) -> Self {
        let evidence = candidate.credential.evidence();
        let date = evidence.and_then(|e| e.date.clone());
        let local_date = crate::service::local_date(date.as_deref(), zone);
        DoseEntry {
            certificate_id: candidate.certificate_id().to_owned(),
            dose: evidence.and_then(|e| e.dose),
            total_doses: evidence.and_then(|e| e.total_doses),
            date,
            local_date,
            vaccine: evidence.and_then(|e| e.vaccine.clone()),
        }
    }
}

/// A beneficiary with the latest certificate and every dose, as the portal lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BeneficiaryHistory {
    pre_enrollment_code: String,
    name: Option<String>,
    #[serde(flatten)]
    latest: DoseEntry,
    doses: Vec<DoseEntry>,
}

/// `GET /certificate/api/citizen/beneficiaries`: the caller's beneficiaries,
/// each with the latest certificate and the dose history (citizen token only).
async fn beneficiaries(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&request, &state).await?;
    if !principal.is_citizen() {
        return Err(ApiError::Forbidden(
            "citizen routes need a citizen token, not one with a distribution or print role"
                .to_owned(),
        ));
    }
    let mobile = principal
        .mobile
        .clone()
        .ok_or_else(|| ApiError::Forbidden("the token has no mobile number".to_owned()))?;
    let service = Arc::clone(&state.service);
    let zone = state.service.time_zone();
    let histories = web::block(move || histories(service.store(), &mobile, zone))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let histories = map_service_error(histories, "")?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        .json(serde_json::json!({ "beneficiaries": histories })))
}

/// Groups the certificates registered to `mobile` by beneficiary, ordered by
/// beneficiary id, with the doses as the PDF's doses table lists them.
fn histories(
    store: &divoc_store::Store,
    mobile: &str,
    zone: chrono_tz::Tz,
) -> Result<Vec<BeneficiaryHistory>, ServiceError> {
    let records = store.certificates_by_mobile(mobile)?;
    let candidates = crate::service::parse(&records)?;
    let mut by_beneficiary: BTreeMap<&str, Vec<Candidate<'_>>> = BTreeMap::new();
    for candidate in &candidates {
        by_beneficiary
            .entry(candidate.record.pre_enrollment_code.as_str())
            .or_default()
            .push(candidate.clone());
    }
    let mut histories = Vec::with_capacity(by_beneficiary.len());
    for (beneficiary, own) in &by_beneficiary {
        let Some(chosen) = latest(own) else {
            continue;
        };
        histories.push(BeneficiaryHistory {
            pre_enrollment_code: (*beneficiary).to_owned(),
            name: chosen.credential.credential_subject.name.clone(),
            latest: DoseEntry::of(chosen, zone),
            doses: previous_doses(own)
                .into_iter()
                .map(|dose| DoseEntry::of(dose, zone))
                .collect(),
        });
    }
    Ok(histories)
}

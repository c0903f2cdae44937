//! The `language` request parameter, shared by every route that prints a
//! certificate: the PDF routes, share links, email, SMS notify and bulk print.
//!
//! A code has a fixed form, checked here (400 when it is invalid). A well-formed
//! code without a label set is no error: the renderer falls back to its primary
//! subtag, then to the deployment's default, and the fallback is logged.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web;

use crate::error::ApiError;
use crate::service::CertificateService;

/// Maximum length of a language code: the longest BCP 47 tags in use are
/// under 20 characters.
const MAX_LANGUAGE_LENGTH: usize = 35;

/// Checks the form of a requested language code, such as `hi` or `hi-IN`, in
/// the shape of a BCP 47 tag. It has at most 35 characters: a first subtag of
/// 2 to 8 ASCII letters, then subtags of 1 to 8 ASCII letters and digits
/// after hyphens or underscores. The code is logged when it falls back, so
/// the shape also keeps other text, such as a mobile number, out of the log.
pub fn check_language(value: &str) -> Result<(), ApiError> {
    let mut subtags = value.split(['-', '_']);
    let primary = subtags.next().unwrap_or_default();
    let valid = value.len() <= MAX_LANGUAGE_LENGTH
        && (2..=8).contains(&primary.len())
        && primary.bytes().all(|byte| byte.is_ascii_alphabetic())
        && subtags.all(|subtag| {
            (1..=8).contains(&subtag.len())
                && subtag.bytes().all(|byte| byte.is_ascii_alphanumeric())
        });
    if valid {
        return Ok(());
    }
    Err(ApiError::InvalidParameter {
        name: "language",
        reason: format!(
            "expected a language code such as hi or hi-IN: up to {MAX_LANGUAGE_LENGTH} \
             characters, 2 to 8 letters, then parts of 1 to 8 letters and digits after \
             hyphens or underscores"
        ),
        value: value.to_owned(),
    })
}

/// Reads and checks the optional `language` query parameter.
///
/// A repeated `language` is an error, as is any other repeated parameter.
pub fn query_language(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|error| ApiError::InvalidParameter {
            name: "query",
            reason: error.to_string(),
            value: request.query_string().to_owned(),
        })?
        .into_inner();
    let mut values = query
        .into_iter()
        .filter(|(name, _)| name == "language")
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if let Some(other) = values.next() {
        return Err(ApiError::InvalidParameter {
            name: "language",
            reason: "given more than once".to_owned(),
            value: format!("{value}, {other}"),
        });
    }
    check_language(&value)?;
    Ok(Some(value))
}

/// Checks `requested` (when given) and returns the language that is printed
/// for it, logging a fallback at info level.
pub fn resolve_language(
    service: &CertificateService,
    requested: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(requested) = requested {
        check_language(requested)?;
    }
    let language = service.resolve_language(requested).to_owned();
    if let Some(requested) = requested
        && !requested.eq_ignore_ascii_case(&language)
    {
        tracing::info!(
            requested_language = %requested,
            language = %language,
            "requested language has no exact label set; printing the resolved language"
        );
    }
    Ok(language)
}

/// Reads the `language` query parameter and returns the language printed for it.
pub fn request_language(
    service: &CertificateService,
    request: &HttpRequest,
) -> Result<String, ApiError> {
    let requested = query_language(request)?;
    resolve_language(service, requested.as_deref())
}

/// Sets `Content-Language` to the printed language.
pub fn set_content_language(response: &mut HttpResponse, language: &str) {
    if let Ok(value) = HeaderValue::from_str(language) {
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, value);
    }
}

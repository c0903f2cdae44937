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
use percent_encoding::percent_decode_str;

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
    check_language_echoing(value, value)
}

/// Checks `value` as [`check_language`] does, and echoes `echoed` in the error.
fn check_language_echoing(value: &str, echoed: &str) -> Result<(), ApiError> {
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
        value: echoed.to_owned(),
    })
}

/// Reads and checks the optional `language` query parameter.
///
/// A repeated `language` is an error, as is any other repeated parameter.
/// A rejected value is echoed percent-decoded, or as sent (still
/// percent-encoded) when its decoded bytes are not UTF-8, as ids are.
pub fn query_language(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|error| ApiError::InvalidParameter {
            name: "query",
            reason: error.to_string(),
            value: request.query_string().to_owned(),
        })?
        .into_inner();
    let values: Vec<String> = query
        .into_iter()
        .filter(|(name, _)| name == "language")
        .map(|(_, value)| value)
        .collect();
    let Some(value) = values.first() else {
        return Ok(None);
    };
    // The values as the client sent them, in the same order.
    let sent = raw_query_values(request, "language");
    let echoed = |index: usize, decoded: &str| -> String {
        match sent.get(index) {
            Some(raw) if percent_decode_str(raw).decode_utf8().is_err() => raw.clone(),
            _ => decoded.to_owned(),
        }
    };
    if let Some(other) = values.get(1) {
        return Err(ApiError::InvalidParameter {
            name: "language",
            reason: "given more than once".to_owned(),
            value: format!("{}, {}", echoed(0, value), echoed(1, other)),
        });
    }
    check_language_echoing(value, &echoed(0, value))?;
    Ok(Some(value.clone()))
}

/// Returns the values of the query parameter `name` as sent, still
/// percent-encoded, in order. Names are compared percent-decoded, as
/// `web::Query` decodes them.
fn raw_query_values(request: &HttpRequest, name: &str) -> Vec<String> {
    request
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = percent_decode_str(&raw_name.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            (decoded_name == name).then(|| raw_value.to_owned())
        })
        .collect()
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

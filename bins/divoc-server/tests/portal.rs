//! The citizen portal over real HTTP: the page, its headers and labels, and the
//! dose-history route with every kind of token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use common::{Keys, Server};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const BENEFICIARIES: &str = "/certificate/api/citizen/beneficiaries";
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

fn bearer(claims: &Value) -> String {
    format!(
        "Bearer {}",
        Keys::sign("test-rsa-private.pem", Algorithm::RS256, claims)
    )
}

fn print_claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "print-shop", "exp": now + 600, "realm_access": {"roles": ["facility-staff"]}})
}

#[test]
fn page_sends_security_headers() {
    let server = Server::start(&[]);
    for (path, content_type) in [
        ("/portal/", "text/html; charset=utf-8"),
        ("/portal/portal.js", "text/javascript; charset=utf-8"),
        ("/portal/portal.css", "text/css; charset=utf-8"),
    ] {
        let response = server.request("GET", path, &[]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("Content-Type"),
            Some(content_type),
            "{path}"
        );
        assert_eq!(
            response.header("Content-Security-Policy"),
            Some(POLICY),
            "{path}"
        );
        assert_eq!(
            response.header("X-Content-Type-Options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            response.header("Referrer-Policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(response.header("X-Frame-Options"), Some("DENY"), "{path}");
    }
    let redirect = server.request("GET", "/portal", &[]);
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("Location"), Some("/portal/"));
    let post = server.request("POST", "/portal/", &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));

    // HEAD gets the headers of GET and no body.
    for path in ["/portal/", "/portal/portal.js", "/portal/config.json"] {
        let get = server.request("GET", path, &[]);
        let head = server.request("HEAD", path, &[]);
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(
            head.header("Content-Type"),
            get.header("Content-Type"),
            "{path}"
        );
        assert_eq!(
            head.header("Content-Length"),
            Some(get.body.len().to_string().as_str()),
            "{path}"
        );
        assert!(head.body.is_empty(), "{path}");
    }
    assert_eq!(server.request("HEAD", "/portal", &[]).status, 308);
}

#[test]
fn page_has_labels_and_no_inline_code() {
    let server = Server::start(&[]);
    let html = String::from_utf8(server.request("GET", "/portal/", &[]).body).unwrap();
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    for id in ["mobile", "otp", "language"] {
        assert!(
            html.contains(&format!("<label for=\"{id}\">")),
            "label for {id}"
        );
        assert!(html.contains(&format!("id=\"{id}\"")), "control {id}");
    }
    assert!(html.contains("role=\"status\" aria-live=\"polite\""));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    // The policy forbids inline code, so the page must have none.
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<style"));
    assert!(!html.contains("style=\""));
    let handler = html.split(" on").skip(1).any(|rest| {
        let name_length = rest.chars().take_while(char::is_ascii_lowercase).count();
        name_length > 0 && rest[name_length..].starts_with('=')
    });
    assert!(!handler, "inline event handler in the page");
    for language in ["en", "hi", "ta", "si", "bn"] {
        assert!(
            html.contains(&format!("<option value=\"{language}\"")),
            "{language}"
        );
    }
    let script = String::from_utf8(server.request("GET", "/portal/portal.js", &[]).body).unwrap();
    for storage in ["localStorage", "document.cookie"] {
        assert!(!script.contains(storage), "the script uses {storage}");
    }
    // sessionStorage carries only the PKCE verifier and state of a Keycloak sign-in.
    for (index, _) in script.match_indices("sessionStorage.") {
        let call = &script[index..];
        assert!(
            call.starts_with("sessionStorage.setItem(PKCE_KEY,")
                || call.starts_with("sessionStorage.getItem(PKCE_KEY)")
                || call.starts_with("sessionStorage.removeItem(PKCE_KEY)"),
            "unexpected use: {}",
            &call[..call.len().min(60)]
        );
    }
}

#[test]
fn config_without_keycloak_is_null() {
    let server = Server::start(&[]);
    let response = server.request("GET", "/portal/config.json", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Content-Security-Policy"), Some(POLICY));
    assert_eq!(response.json(), json!({"keycloak": null}));
}

#[test]
fn config_with_keycloak_names_endpoints() {
    let server = Server::start(&[
        (
            "DIVOC__PORTAL__KEYCLOAK_URL",
            "https://login.example.org/auth/",
        ),
        ("DIVOC__PORTAL__KEYCLOAK_REALM", "citizens"),
        ("DIVOC__PORTAL__KEYCLOAK_CLIENT_ID", "certificate-portal"),
    ]);
    let response = server.request("GET", "/portal/config.json", &[]);
    let base = "https://login.example.org/auth/realms/citizens/protocol/openid-connect";
    assert_eq!(
        response.json(),
        json!({"keycloak": {
            "authorizationEndpoint": format!("{base}/auth"),
            "tokenEndpoint": format!("{base}/token"),
            "clientId": "certificate-portal",
        }})
    );
    let page = server.request("GET", "/portal/", &[]);
    assert_eq!(
        page.header("Content-Security-Policy"),
        Some(
            POLICY
                .replace(
                    "connect-src 'self'",
                    "connect-src 'self' https://login.example.org"
                )
                .as_str()
        )
    );
}

#[test]
fn keycloak_settings_are_checked() {
    let cases = [
        (
            vec![("DIVOC__PORTAL__KEYCLOAK_URL", "https://login.example.org")],
            "invalid setting portal.keycloak_url: set portal.keycloak_url, portal.keycloak_realm \
             and portal.keycloak_client_id together, or none of them",
        ),
        (
            vec![
                ("DIVOC__PORTAL__KEYCLOAK_URL", "ftp://login.example.org"),
                ("DIVOC__PORTAL__KEYCLOAK_REALM", "citizens"),
                ("DIVOC__PORTAL__KEYCLOAK_CLIENT_ID", "portal"),
            ],
            "invalid setting portal.keycloak_url: \"ftp://login.example.org\" is not an http or https URL",
        ),
        (
            vec![
                ("DIVOC__PORTAL__KEYCLOAK_URL", "https://login.example.org"),
                ("DIVOC__PORTAL__KEYCLOAK_REALM", "a b"),
                ("DIVOC__PORTAL__KEYCLOAK_CLIENT_ID", "portal"),
            ],
            "invalid setting portal.keycloak_realm: \"a b\" is not a realm name",
        ),
    ];
    for (env, expected) in cases {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("divoc.sqlite").display());
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_divoc-server"));
        command
            .env_clear()
            .env("DIVOC__DATABASE__URL", &url)
            .env("DIVOC__SERVER__BIND", "127.0.0.1:0")
            .env("DIVOC__AUTH__PUBLIC_KEY_FILE", Keys::rsa_public())
            .arg("serve");
        for (key, value) in &env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
}

#[test]
fn portal_disabled_serves_no_page() {
    let server = Server::start(&[("DIVOC__PORTAL__ENABLED", "false")]);
    let response = server.request("GET", "/portal/", &[]);
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"], "not_found");
}

#[test]
fn beneficiaries_lists_dose_history() {
    let server = Server::start(&[]);
    let token = bearer(&Keys::citizen_claims("9000000001"));
    let response = server.request("GET", BENEFICIARIES, &[("Authorization", &token)]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Cache-Control"), Some("private, no-store"));
    let body = response.json();
    let people = body["beneficiaries"].as_array().unwrap();
    let ids: Vec<&str> = people
        .iter()
        .map(|person| person["preEnrollmentCode"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["BEN1001", "BEN1002", "BEN1004", "BEN1012"]);

    let first = &people[0];
    assert_eq!(first["certificateId"], "529130864");
    assert_eq!(first["dose"], 2);
    assert_eq!(first["totalDoses"], 2);
    let doses: Vec<(&str, u64)> = first["doses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dose| {
            (
                dose["certificateId"].as_str().unwrap(),
                dose["dose"].as_u64().unwrap(),
            )
        })
        .collect();
    // Dose 1 comes from its correction; the revoked original is not listed.
    assert_eq!(doses, [("529130864", 2), ("603771218", 1)]);

    let booster = &people[1];
    assert_eq!(booster["certificateId"], "772014589");
    assert_eq!(booster["doses"].as_array().unwrap().len(), 3);

    // Vaccinated late in the UTC day: the day in UTC, the default zone.
    let late = &people[3];
    assert_eq!(late["date"], "2021-10-17T22:00:00.000Z");
    assert_eq!(late["localDate"], "2021-10-17");
}

#[test]
fn beneficiaries_dates_in_configured_zone() {
    let server = Server::start(&[("DIVOC__PDF__TIMEZONE", "Asia/Kolkata")]);
    let token = bearer(&Keys::citizen_claims("9000000001"));
    let body = server
        .request("GET", BENEFICIARIES, &[("Authorization", &token)])
        .json();
    let late = &body["beneficiaries"][3];
    assert_eq!(late["preEnrollmentCode"], "BEN1012");
    assert_eq!(late["date"], "2021-10-17T22:00:00.000Z");
    assert_eq!(late["localDate"], "2021-10-18");
    assert_eq!(late["doses"][0]["localDate"], "2021-10-18");
}

#[test]
fn beneficiaries_shows_only_own_number() {
    let server = Server::start(&[]);
    let token = bearer(&Keys::citizen_claims("9000000003"));
    let body = server
        .request("GET", BENEFICIARIES, &[("Authorization", &token)])
        .json();
    let people = body["beneficiaries"].as_array().unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0]["preEnrollmentCode"], "BEN1003");

    let nobody = bearer(&Keys::citizen_claims("9999999999"));
    let body = server
        .request("GET", BENEFICIARIES, &[("Authorization", &nobody)])
        .json();
    assert_eq!(body, json!({"beneficiaries": []}));
}

#[test]
fn beneficiaries_rejects_missing_and_role_tokens() {
    let server = Server::start(&[]);
    let missing = server.request("GET", BENEFICIARIES, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"], "unauthorized");

    let distribution = format!("Bearer {}", Keys::rs256());
    let response = server.request("GET", BENEFICIARIES, &[("Authorization", &distribution)]);
    assert_eq!(response.status, 403);
    assert_eq!(response.json()["error"], "forbidden");

    let print = bearer(&print_claims());
    let response = server.request("GET", BENEFICIARIES, &[("Authorization", &print)]);
    assert_eq!(response.status, 403);

    let now = chrono::Utc::now().timestamp();
    let no_mobile = bearer(&json!({"sub": "someone", "exp": now + 600}));
    let response = server.request("GET", BENEFICIARIES, &[("Authorization", &no_mobile)]);
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json()["message"],
        "forbidden: the token has no mobile number"
    );
}

#[test]
fn log_has_portal_url_and_no_mobile() {
    let server = Server::start(&[]);
    let token = bearer(&Keys::citizen_claims("9000000001"));
    assert_eq!(
        server
            .request("GET", BENEFICIARIES, &[("Authorization", &token)])
            .status,
        200
    );
    let log = server.log_text();
    assert!(
        log.contains(&format!("url=\"http://127.0.0.1:{}/portal/\"", server.port)),
        "{log}"
    );
    assert!(!log.contains("9000000001"), "{log}");
}

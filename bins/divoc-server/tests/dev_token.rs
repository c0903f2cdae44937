//! `scripts/dev-token.py`: tokens that the test key verifies, and one-line
//! errors with exit status 2 for invalid arguments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::process::{Command, Output, Stdio};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use common::{Keys, have_tool, tools_required, workspace};

/// Seconds that a token's `exp` may differ from the expected value, for the
/// time between reading the clock here and in the script.
const CLOCK_TOLERANCE_SECONDS: i64 = 30;

/// Returns true when python3 and openssl run. Otherwise prints why the test is
/// skipped, or fails when tools are required (`DIVOC_REQUIRE_TOOLS=1`).
fn have_script_tools() -> bool {
    // `have_tool` runs `TOOL -v`, and `python3 -v` reads a program from
    // standard input, so python3 is checked with --version.
    let python = Command::new("python3")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !python {
        assert!(
            !tools_required(),
            "python3 is missing: apt-get install -y python3"
        );
        eprintln!("skipped: python3 is not installed (apt-get install -y python3)");
        return false;
    }
    have_tool("openssl", "openssl")
}

fn run_script(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(workspace().join("scripts/dev-token.py"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs")
}

/// Runs the script with `args`, asserts that it printed one token, and returns
/// the token's claims after checking its RS256 signature with the test key.
fn token_claims(args: &[&str]) -> Value {
    let output = run_script(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    assert!(stderr.is_empty(), "{args:?}: {stderr}");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let token = stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{args:?}: output does not end with a newline: {stdout:?}"));
    assert!(
        !token.contains('\n'),
        "{args:?}: more than one line: {stdout:?}"
    );

    let public_key = std::fs::read(Keys::rsa_public()).expect("read the RSA test key");
    let key = DecodingKey::from_rsa_pem(&public_key).expect("RSA test key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|error| panic!("{args:?}: token does not verify: {error}"))
        .claims
}

/// Asserts that `claims` expire `lifetime` seconds from now, within
/// [`CLOCK_TOLERANCE_SECONDS`].
fn assert_lifetime(claims: &Value, lifetime: i64) {
    let expires = claims["exp"].as_i64().expect("integer exp");
    let expected = chrono::Utc::now().timestamp() + lifetime;
    assert!(
        (expires - expected).abs() <= CLOCK_TOLERANCE_SECONDS,
        "exp {expires}, expected about {expected}"
    );
}

#[test]
fn default_token_has_api_role() {
    if !have_script_tools() {
        return;
    }
    let claims = token_claims(&[]);
    assert_eq!(claims["sub"], "script");
    assert_eq!(claims["realm_access"], json!({"roles": ["api"]}));
    assert_lifetime(&claims, 7200);
}

#[test]
fn role_and_lifetime_arguments() {
    if !have_script_tools() {
        return;
    }
    for role in ["api", "certificate-distribution", "facility-staff"] {
        let claims = token_claims(&[role]);
        assert_eq!(claims["realm_access"], json!({"roles": [role]}), "{role}");
        assert_lifetime(&claims, 7200);
    }

    let claims = token_claims(&["facility-staff", "60"]);
    assert_eq!(claims["realm_access"], json!({"roles": ["facility-staff"]}));
    assert_lifetime(&claims, 60);
}

#[test]
fn empty_role_gives_token_without_roles() {
    if !have_script_tools() {
        return;
    }
    let claims = token_claims(&[""]);
    assert_eq!(claims["sub"], "script");
    assert!(claims.get("realm_access").is_none(), "{claims}");
    assert_lifetime(&claims, 7200);

    let claims = token_claims(&["", "120"]);
    assert!(claims.get("realm_access").is_none(), "{claims}");
    assert_lifetime(&claims, 120);
}

#[test]
fn help_prints_usage() {
    if !have_script_tools() {
        return;
    }
    for flag in ["--help", "-h"] {
        let output = run_script(&[flag]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{flag}: {stdout}");
        assert!(
            stdout.starts_with("usage: dev-token.py"),
            "{flag}: {stdout}"
        );
        for role in ["api", "certificate-distribution", "facility-staff"] {
            assert!(stdout.contains(role), "{flag}: {role} missing: {stdout}");
        }
        assert!(stdout.contains("LIFETIME_SECONDS"), "{flag}: {stdout}");
        assert!(output.stderr.is_empty(), "{flag}");
    }
}

#[test]
fn invalid_arguments_exit_with_status_2() {
    if !have_script_tools() {
        return;
    }
    // Arguments, and the text that the error line must contain.
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "--bogus"),
        (&["api", "--lifetime=60"], "--lifetime=60"),
        (&["nurse"], "'nurse'"),
        (&["API"], "'API'"),
        (&["api", "abc"], "'abc'"),
        (&["api", "0"], "'0'"),
        (&["api", "-5"], "'-5'"),
        (&["api", "1.5"], "'1.5'"),
        (&["api", " 60"], "' 60'"),
        (&["api", "6_0"], "'6_0'"),
        (&["api", ""], "''"),
        (&["api", "99999999999999999999"], "'99999999999999999999'"),
        (&["api", "60", "extra"], "extra"),
    ];
    for (args, value) in cases {
        let output = run_script(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{args:?}: printed {}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("dev-token.py: error: "),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(value),
            "{args:?}: {value} missing: {stderr}"
        );
    }
}

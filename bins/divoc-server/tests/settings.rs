//! Settings errors as `divoc-server serve` reports them: each names the
//! setting, its value as written and the file or environment variable that
//! set it, and a rejected start leaves no new SQLite file behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Keys, Server};

/// A folder with a settings file and the path of an SQLite store that does
/// not exist yet.
struct Setup {
    folder: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    fn store(&self) -> PathBuf {
        self.path("divoc.sqlite")
    }

    /// Writes `text` to `c.toml` and returns its path.
    fn config(&self, text: &str) -> PathBuf {
        let path = self.path("c.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `divoc-server [--config CONFIG] serve` in the folder with the
    /// environment `variables` only (besides the store and PATH), expects it
    /// to fail, and returns its one error message.
    fn serve_error(&self, config: Option<&Path>, variables: &[(&str, &str)]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_divoc-server"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env(
                "DIVOC__DATABASE__URL",
                format!("sqlite://{}", self.store().display()),
            )
            .current_dir(self.folder.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command.arg("serve");
        for (name, value) in variables {
            command.env(name, value);
        }

        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve kept running with {config:?} and {variables:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter_map(|line| line.split_once(" ERROR divoc_server: "))
            .map(|(_, message)| message)
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        errors[0].to_owned()
    }
}

#[test]
fn large_numbers_named_as_written() {
    let cases = [
        (
            "[server]\nworkers = 9223372036854775808",
            "invalid setting server.workers = 9223372036854775808 in c.toml: expected a \
             whole number from 1 to 512",
        ),
        (
            "[server]\nworkers = 99999999999999999999",
            "invalid setting server.workers = 99999999999999999999 in c.toml: expected a \
             whole number from 1 to 512",
        ),
        (
            "[server]\nworkers = 9223372036854775807",
            "invalid setting server.workers = 9223372036854775807 in c.toml: expected a \
             whole number from 1 to 512",
        ),
        (
            "[server]\nworkers = 1.5",
            "invalid setting server.workers = 1.5 in c.toml: expected a whole number \
             from 1 to 512",
        ),
        (
            "[cache]\nmax_bytes = 99999999999999999999",
            "invalid setting cache.max_bytes = 99999999999999999999 in c.toml: expected a \
             whole number from 0 to 18446744073709551615",
        ),
    ];
    for (text, expected) in cases {
        let setup = Setup::new();
        setup.config(text);
        let error = setup.serve_error(Some(Path::new("c.toml")), &[]);
        assert_eq!(error, expected, "{text}");
    }
    for value in ["18446744073709551615", "99999999999999999999", "1.5"] {
        let setup = Setup::new();
        let error = setup.serve_error(None, &[("DIVOC__SERVER__WORKERS", value)]);
        assert_eq!(
            error,
            format!(
                "invalid setting server.workers = \"{value}\" in environment variable \
                 DIVOC__SERVER__WORKERS: expected a whole number from 1 to 512"
            )
        );
    }
}

#[test]
fn unreadable_config_file_named() {
    let setup = Setup::new();
    std::fs::create_dir(setup.path("d.toml")).unwrap();
    assert_eq!(
        setup.serve_error(Some(Path::new("d.toml")), &[]),
        "cannot read configuration file d.toml: Is a directory (os error 21)"
    );
    assert_eq!(
        setup.serve_error(Some(Path::new("missing.toml")), &[]),
        "cannot read configuration file missing.toml: No such file or directory (os error 2)"
    );
    std::fs::write(
        setup.path("latin1.toml"),
        b"[pdf]\nprogram_name = \"\xe9\"\n",
    )
    .unwrap();
    assert_eq!(
        setup.serve_error(Some(Path::new("latin1.toml")), &[]),
        "cannot read configuration file latin1.toml: stream did not contain valid UTF-8"
    );

    let locked = setup.config("[server]\nworkers = 2\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_ok() {
        // Root reads a file of mode 000 anyway.
        eprintln!("skipped the unreadable file: this user reads files of mode 000");
        return;
    }
    assert_eq!(
        setup.serve_error(Some(Path::new("c.toml")), &[]),
        "cannot read configuration file c.toml: Permission denied (os error 13)"
    );
}

#[test]
fn empty_bind_named() {
    let reason = "expected HOST:PORT, such as 127.0.0.1:8080 (port 0 picks a free port)";
    let setup = Setup::new();
    let config = setup.config("[server]\nbind = \"\"\n");
    let key = [("DIVOC__AUTH__PUBLIC_KEY_FILE", Keys::rsa_public())];
    let key: Vec<(&str, &str)> = key
        .iter()
        .map(|(name, path)| (*name, path.to_str().unwrap()))
        .collect();
    assert_eq!(
        setup.serve_error(Some(Path::new("c.toml")), &key),
        format!("invalid setting server.bind = \"\" in c.toml: {reason}")
    );
    let mut variables = key.clone();
    variables.push(("DIVOC__SERVER__BIND", ""));
    assert_eq!(
        setup.serve_error(Some(&config), &variables),
        format!(
            "invalid setting server.bind = \"\" in environment variable DIVOC__SERVER__BIND: \
             {reason}"
        )
    );
    assert!(!setup.store().exists());
}

#[test]
fn empty_key_file_counts_as_unset() {
    let setup = Setup::new();
    let text = format!(
        "[auth]\npublic_key_file = \"{}\"\n",
        Keys::rsa_public().display()
    );
    let config = setup.config(&text);
    let error = setup.serve_error(Some(&config), &[("DIVOC__AUTH__PUBLIC_KEY_FILE", "")]);
    assert_eq!(
        error,
        "no token key configured: point DIVOC__AUTH__PUBLIC_KEY_FILE at the PEM public key \
         that signs your tokens (for example the Keycloak realm key), or set auth.jwks_url \
         or auth.jwks_file; or run `divoc-server demo`"
    );
    assert!(!setup.store().exists());
}

#[test]
fn empty_path_settings_start_server() {
    let server = Server::start(&[
        ("DIVOC__AUTH__REGISTRATION_PUBLIC_KEY_FILE", ""),
        ("DIVOC__AUTH__JWKS_FILE", ""),
        ("DIVOC__OTP__SIGNING_KEY_FILE", ""),
        ("DIVOC__EMAIL__CA_FILE", ""),
        ("DIVOC__PDF__LABELS_DIR", ""),
        ("DIVOC__PDF__FONT_FILES", ""),
    ]);
    let response = server.get("/certificate/api/certificatePDF/BEN1001");
    assert_eq!(response.status, 200);
    assert!(response.body.starts_with(b"%PDF-"));
}

#[test]
fn bad_input_file_leaves_no_store() {
    let setup = Setup::new();
    let missing = setup.path("missing.pem");
    let not_a_key = setup.path("not-a-key.pem");
    std::fs::write(&not_a_key, "not a key\n").unwrap();
    let folder = setup.path("keys");
    std::fs::create_dir(&folder).unwrap();
    let rsa = Keys::rsa_public().display().to_string();
    let cases = [
        (
            vec![(
                "DIVOC__AUTH__PUBLIC_KEY_FILE",
                missing.display().to_string(),
            )],
            format!(
                "cannot read auth.public_key_file {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            vec![("DIVOC__AUTH__PUBLIC_KEY_FILE", folder.display().to_string())],
            format!(
                "cannot read auth.public_key_file {}: it is a directory, not a file",
                folder.display()
            ),
        ),
        (
            vec![(
                "DIVOC__AUTH__PUBLIC_KEY_FILE",
                not_a_key.display().to_string(),
            )],
            format!(
                "{} is not a PEM public key of a supported type (RSA, EC P-256/P-384 or Ed25519)",
                not_a_key.display()
            ),
        ),
        (
            vec![
                ("DIVOC__AUTH__PUBLIC_KEY_FILE", rsa.clone()),
                ("DIVOC__AUTH__JWKS_FILE", missing.display().to_string()),
            ],
            format!(
                "cannot read auth.jwks_file {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            vec![
                ("DIVOC__OTP__ENABLED", "true".to_owned()),
                (
                    "DIVOC__OTP__SIGNING_KEY_FILE",
                    missing.display().to_string(),
                ),
                ("DIVOC__AUTH__PUBLIC_KEY_FILE", rsa.clone()),
            ],
            format!(
                "cannot read otp.signing_key_file {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            vec![
                ("DIVOC__OTP__ENABLED", "true".to_owned()),
                ("DIVOC__AUTH__PUBLIC_KEY_FILE", folder.display().to_string()),
            ],
            format!(
                "cannot read auth.public_key_file {}: it is a directory, not a file",
                folder.display()
            ),
        ),
        (
            vec![
                ("DIVOC__AUTH__PUBLIC_KEY_FILE", rsa.clone()),
                ("DIVOC__PDF__LABELS_DIR", missing.display().to_string()),
            ],
            format!(
                "cannot read pdf.labels_dir {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            vec![
                ("DIVOC__AUTH__PUBLIC_KEY_FILE", rsa.clone()),
                ("DIVOC__PDF__TIMEZONE", "Mars/Olympus".to_owned()),
            ],
            "invalid setting pdf.timezone = \"Mars/Olympus\" in environment variable \
             DIVOC__PDF__TIMEZONE: expected an IANA time zone name such as Asia/Kolkata or UTC"
                .to_owned(),
        ),
    ];
    for (variables, expected) in cases {
        let variables: Vec<(&str, &str)> = variables
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let error = setup.serve_error(None, &variables);
        assert!(!setup.store().exists(), "{variables:?} left a store behind");
        assert_eq!(error, expected, "{variables:?}");
    }
}

#[test]
fn dependent_values_named_with_source() {
    let variables = [
        (
            "DIVOC__PDF__TIMEZONE",
            "Mars/Olympus",
            "invalid setting pdf.timezone = \"Mars/Olympus\" in environment variable \
             DIVOC__PDF__TIMEZONE: expected an IANA time zone name such as Asia/Kolkata or UTC",
        ),
        (
            "DIVOC__SHARE__DEFAULT_DAYS",
            "100",
            "invalid setting share.default_days = \"100\" in environment variable \
             DIVOC__SHARE__DEFAULT_DAYS: must be at most share.max_days, which is 90",
        ),
        (
            "DIVOC__SHARE__MAX_DAYS",
            "3",
            "invalid setting share.max_days = \"3\" in environment variable \
             DIVOC__SHARE__MAX_DAYS: must be at least share.default_days, which is 7",
        ),
        (
            "DIVOC__PDF__LANGUAGE",
            "xx",
            "invalid setting pdf.language = \"xx\" in environment variable DIVOC__PDF__LANGUAGE: \
             no label set has this code; known languages: bn, en, hi, si, ta (shipped; \
             pdf.labels_dir adds others)",
        ),
        (
            "DIVOC__EMAIL__SMTP_URL",
            "smtp://user:secret@mail.example.org?tls=requried",
            "invalid setting email.smtp_url = \"smtp://***@mail.example.org?tls=requried\" in \
             environment variable DIVOC__EMAIL__SMTP_URL: unsupported tls option \"requried\": \
             expected tls=required or tls=opportunistic",
        ),
        (
            "DIVOC__EMAIL__SMTP_URL",
            "smtps://mail.example.org?tls=required",
            "invalid setting email.smtp_url = \"smtps://mail.example.org?tls=required\" in \
             environment variable DIVOC__EMAIL__SMTP_URL: smtps:// is TLS from the start and \
             takes no tls option; use smtp://HOST:PORT, smtp://HOST:PORT?tls=required, \
             smtp://HOST:PORT?tls=opportunistic or smtps://HOST:PORT",
        ),
        (
            "DIVOC__EMAIL__SMTP_URL",
            "http://mail.example.org",
            "invalid setting email.smtp_url = \"http://mail.example.org\" in environment \
             variable DIVOC__EMAIL__SMTP_URL: unsupported scheme \"http\"; use \
             smtp://HOST:PORT, smtp://HOST:PORT?tls=required, \
             smtp://HOST:PORT?tls=opportunistic or smtps://HOST:PORT",
        ),
    ];
    let rsa = Keys::rsa_public().display().to_string();
    for (name, value, expected) in variables {
        let setup = Setup::new();
        let error = setup.serve_error(
            None,
            &[("DIVOC__AUTH__PUBLIC_KEY_FILE", &rsa), (name, value)],
        );
        assert_eq!(error, expected, "{name}={value}");
        assert!(
            !setup.store().exists(),
            "{name}={value} left a store behind"
        );
    }

    let files = [
        (
            "[share]\ndefault_days = 30\nmax_days = 20\n",
            "invalid setting share.default_days = 30 in c.toml: must be at most \
             share.max_days, which is 20",
        ),
        (
            "[pdf]\ntimezone = \"Asia/Calcutta \"\n",
            "invalid setting pdf.timezone = \"Asia/Calcutta \" in c.toml: expected an IANA \
             time zone name such as Asia/Kolkata or UTC",
        ),
        (
            "[pdf.labels]\ntitle_final = \"{nope} {program\"\n",
            "invalid setting pdf.labels.title_final = \"{nope} {program\" in c.toml: contains \
             the unknown placeholder {nope}; it takes {program}, {dose} and {total}",
        ),
        (
            "[pdf.labels]\nfooter = [\"Signed.\", \"Check it }\"]\n",
            "invalid setting pdf.labels.footer[1] = \"Check it }\" in c.toml: contains a } \
             that closes no placeholder: \"Check it }\"; it takes no placeholders",
        ),
    ];
    for (text, expected) in files {
        let setup = Setup::new();
        setup.config(text);
        let error = setup.serve_error(
            Some(Path::new("c.toml")),
            &[("DIVOC__AUTH__PUBLIC_KEY_FILE", &rsa)],
        );
        assert_eq!(error, expected, "{text}");
    }
}

#[test]
fn language_from_labels_dir_checked() {
    let setup = Setup::new();
    let labels = setup.path("labels");
    std::fs::create_dir(&labels).unwrap();
    std::fs::write(
        labels.join("ml.toml"),
        "language = \"ml\"\nname = \"X\"\n[labels]\ntitle_final = \"{program}\"\n",
    )
    .unwrap();
    let rsa = Keys::rsa_public().display().to_string();
    let directory = labels.display().to_string();
    let error = setup.serve_error(
        None,
        &[
            ("DIVOC__AUTH__PUBLIC_KEY_FILE", &rsa),
            ("DIVOC__PDF__LABELS_DIR", &directory),
            ("DIVOC__PDF__LANGUAGE", "ta-in"),
        ],
    );
    assert_eq!(
        error,
        format!(
            "invalid setting pdf.language = \"ta-in\" in environment variable \
             DIVOC__PDF__LANGUAGE: no label set has this code; known languages: bn, en, hi, \
             ml, si, ta (shipped or in pdf.labels_dir {directory})"
        )
    );
}

/// Runs `serve` with a `pdf.labels_dir` that contains `files`, each a file
/// name with the language and `title_final` of a label set, and returns the
/// folder and the error message.
fn serve_with_label_files(files: &[(&str, &str, &str)]) -> (String, String) {
    let setup = Setup::new();
    let labels = setup.path("labels");
    std::fs::create_dir(&labels).unwrap();
    for (name, language, title) in files {
        let text =
            format!("language = \"{language}\"\nname = \"X\"\n[labels]\ntitle_final = {title:?}\n");
        std::fs::write(labels.join(name), text).unwrap();
    }
    let rsa = Keys::rsa_public().display().to_string();
    let directory = labels.display().to_string();
    let error = setup.serve_error(
        None,
        &[
            ("DIVOC__AUTH__PUBLIC_KEY_FILE", &rsa),
            ("DIVOC__PDF__LABELS_DIR", &directory),
        ],
    );
    (directory, error)
}

#[test]
fn broken_label_files_stop_start() {
    let (directory, error) =
        serve_with_label_files(&[("a.toml", "ml", "{program}"), ("b.toml", "ml", "{program}")]);
    assert_eq!(
        error,
        format!(
            "cannot prepare the PDF renderer: invalid PDF settings: `labels_dir` \
             {directory}/a.toml and {directory}/b.toml both set language \"ml\"; keep one file \
             per language"
        )
    );

    let (directory, error) = serve_with_label_files(&[("ml.toml", "ml", "{nope} {program")]);
    assert_eq!(
        error,
        format!(
            "cannot prepare the PDF renderer: invalid PDF settings: `label set \
             {directory}/ml.toml` key labels.title_final has the unknown placeholder {{nope}}; \
             it takes {{program}}, {{dose}} and {{total}}"
        )
    );
}

#[test]
fn zero_and_loose_booleans_rejected() {
    let cases = [
        (
            "[server]\nworkers = 0",
            "invalid setting server.workers = 0 in c.toml: expected a whole number from 1 to 512",
        ),
        (
            "[database]\nmax_connections = 0",
            "invalid setting database.max_connections = 0 in c.toml: expected a whole number \
             from 1 to 4294967295",
        ),
        (
            "[cache]\nenabled = \"yes\"",
            "invalid setting cache.enabled = \"yes\" in c.toml: expected true or false",
        ),
        (
            "[cache]\nenabled = 0",
            "invalid setting cache.enabled = 0 in c.toml: expected true or false",
        ),
    ];
    for (text, expected) in cases {
        let setup = Setup::new();
        setup.config(text);
        let error = setup.serve_error(Some(Path::new("c.toml")), &[]);
        assert_eq!(error, expected, "{text}");
    }
    let setup = Setup::new();
    let variables = [
        ("DIVOC__DATABASE__MAX_CONNECTIONS", "0"),
        ("DIVOC__CACHE__ENABLED", "yes"),
    ];
    for (name, value) in variables {
        let key = name
            .trim_start_matches("DIVOC__")
            .to_lowercase()
            .replace("__", ".");
        let expected = if value == "yes" {
            "expected true or false"
        } else {
            "expected a whole number from 1 to 4294967295"
        };
        assert_eq!(
            setup.serve_error(None, &[(name, value)]),
            format!(
                "invalid setting {key} = \"{value}\" in environment variable {name}: {expected}"
            )
        );
    }
}

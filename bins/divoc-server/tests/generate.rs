//! `divoc-server generate`: deterministic output that `import` accepts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use divoc_model::{ExportEntry, check_id, parse_export};

const BENEFICIARIES: u64 = 400;

fn run(args: &[&str], database: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_divoc-server"));
    command.args(args).env("RUST_LOG", "warn");
    if let Some(path) = database {
        command.env(
            "DIVOC__DATABASE__URL",
            format!("sqlite://{}", path.display()),
        );
    }
    command.output().expect("divoc-server runs")
}

fn generate(beneficiaries: u64, seed: u64) -> String {
    let output = run(
        &[
            "generate",
            "--beneficiaries",
            &beneficiaries.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Certificate and revocation entries of an export.
fn entry_counts(text: &str) -> (usize, usize) {
    let items = parse_export(text).expect("generated export is valid");
    let certificates = items
        .iter()
        .filter(|item| matches!(item.entry, ExportEntry::Certificate { .. }))
        .count();
    (certificates, items.len() - certificates)
}

/// Formats `count` with `noun` as the import summary does: in the plural
/// unless `count` is 1.
fn count_of(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Asserts that an import succeeded and printed its summary for `source`.
/// Checks the summary line of an import whose rows were all new, or, with
/// `again`, all stored already with the same values.
fn assert_imported(
    output: &Output,
    source: &str,
    certificates: usize,
    revocations: usize,
    again: bool,
) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = |count: usize| {
        if again {
            format!("0 new, 0 updated, {count} unchanged")
        } else {
            format!("{count} new, 0 updated, 0 unchanged")
        }
    };
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{source}: {} ({}), {} ({})\n",
            count_of(certificates, "certificate"),
            rows(certificates),
            count_of(revocations, "revocation"),
            rows(revocations)
        )
    );
}

#[test]
fn out_never_replaces_the_store() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let store = folder.path().join("divoc.sqlite");
    std::fs::write(&store, "a store").expect("store file");
    let path = store.display().to_string();
    let output = run(
        &["generate", "--beneficiaries", "1", "--out", &path],
        Some(&store),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot write {path}: it is a file of the certificate store; give another file name"
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&store).expect("store"), "a store");
}

#[test]
fn same_seed_gives_identical_bytes() {
    let first = generate(BENEFICIARIES, 42);
    let second = generate(BENEFICIARIES, 42);
    assert_eq!(first.len(), second.len());
    assert!(first == second, "outputs of one seed differ");
}

#[test]
fn different_seed_gives_different_output() {
    let first = generate(BENEFICIARIES, 42);
    let other = generate(BENEFICIARIES, 43);
    assert_ne!(first, other);
}

#[test]
fn file_output_matches_standard_output() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("export.ndjson");
    let output = run(
        &[
            "generate",
            "--beneficiaries",
            "50",
            "--seed",
            "9",
            "--out",
            path.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&path).expect("output file");
    assert_eq!(written, generate(50, 9));
}

#[test]
fn output_is_valid_and_varied() {
    let text = generate(BENEFICIARIES, 7);
    let items = parse_export(&text).expect("generated export is valid");
    assert_eq!(items.len(), text.lines().count());

    let mut beneficiaries = std::collections::HashSet::new();
    let mut mobiles = std::collections::HashMap::<String, usize>::new();
    let mut doses = [0usize; 5];
    let mut corrections = 0;
    let mut plain_revocations = 0;
    let mut non_latin1_names = 0;
    let mut accented_names = 0;
    let mut credential_sizes = Vec::new();
    for item in &items {
        match &item.entry {
            ExportEntry::Certificate { record, dose } => {
                assert_eq!(check_id(&record.pre_enrollment_code), Ok(()));
                assert_eq!(check_id(&record.certificate_id), Ok(()));
                beneficiaries.insert(record.pre_enrollment_code.clone());
                let mobile = record.mobile.clone().expect("mobile");
                assert_eq!(mobile.len(), 10, "{mobile}");
                assert!(mobile.bytes().all(|byte| byte.is_ascii_digit()), "{mobile}");
                assert!(
                    ("0100000000"..="0999999999").contains(&mobile.as_str()),
                    "{mobile} is outside the range of no real subscriber"
                );
                *mobiles.entry(mobile).or_default() += 1;
                let dose = dose.expect("dose") as usize;
                assert!((1..=4).contains(&dose), "dose {dose}");
                doses[dose] += 1;
                let name = record.name.clone().expect("name");
                if name.chars().any(|c| u32::from(c) > 0xff) {
                    non_latin1_names += 1;
                } else if !name.is_ascii() {
                    accented_names += 1;
                }
                if record
                    .meta
                    .as_ref()
                    .and_then(|meta| meta.get("previousCertificateId"))
                    .is_some()
                {
                    corrections += 1;
                }
                credential_sizes.push(record.certificate.len());
                let credential = record.credential().expect("credential parses");
                assert!(credential.evidence[0].total_doses.is_some());
            }
            ExportEntry::Revocation(revocation) => {
                if revocation
                    .previous_certificate_id
                    .as_deref()
                    .is_none_or(str::is_empty)
                {
                    plain_revocations += 1;
                }
            }
        }
    }
    assert_eq!(beneficiaries.len(), BENEFICIARIES as usize);
    let certificates = credential_sizes.len();
    assert!(
        (BENEFICIARIES as usize..=8 * BENEFICIARIES as usize).contains(&certificates),
        "{certificates} certificates"
    );
    for dose in 1..=4 {
        assert!(doses[dose] > 0, "no certificate of dose {dose}: {doses:?}");
    }
    assert!(corrections > 0);
    assert_eq!(
        items.len() - certificates - plain_revocations,
        corrections,
        "each correction has one revocation"
    );
    assert!(non_latin1_names > 0);
    assert!(accented_names > 0);
    assert!(
        mobiles.len() < beneficiaries.len(),
        "no mobile number is shared"
    );
    credential_sizes.sort_unstable();
    let median = credential_sizes[certificates / 2];
    assert!(
        (1700..=2100).contains(&median),
        "median credential {median} bytes"
    );
}

#[test]
fn mobile_numbers_exact_for_seed() {
    let text = generate(3, 1);
    let mobiles: Vec<String> = parse_export(&text)
        .expect("generated export is valid")
        .into_iter()
        .filter_map(|item| match item.entry {
            ExportEntry::Certificate { record, .. } => record.mobile,
            ExportEntry::Revocation(_) => None,
        })
        .collect();
    assert_eq!(
        mobiles,
        [
            "0599324630",
            "0599324630",
            "0146147149",
            "0146147149",
            "0146147149"
        ]
    );
}

#[test]
fn zero_beneficiaries_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("export.jsonl");
    let output = run(
        &[
            "generate",
            "--beneficiaries",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "invalid value '0' for '--beneficiaries <N>': expected at least 1 beneficiary, \
             because import rejects an export without records"
        ),
        "{stderr}"
    );
    assert!(!out.exists(), "an output file was created");
}

#[test]
fn output_imports_cleanly_and_twice() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");
    let export = directory.path().join("export.ndjson");
    let text = generate(BENEFICIARIES, 11);
    std::fs::write(&export, &text).expect("write export");
    let (certificates, revocations) = entry_counts(&text);
    let export_arg = export.to_str().expect("UTF-8 path");
    for again in [false, true] {
        let output = run(&["import", export_arg], Some(&database));
        assert_imported(&output, export_arg, certificates, revocations, again);
    }
}

/// Returns the first line of a generated export whose entry is a revocation
/// (`revocation` true) or a certificate.
fn first_line(text: &str, revocation: bool) -> &str {
    text.lines()
        .find(|line| {
            let items = parse_export(line).expect("generated line is valid");
            matches!(items[0].entry, ExportEntry::Revocation(_)) == revocation
        })
        .expect("generated export has both kinds of entries")
}

#[test]
fn import_summary_singular_for_one() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");
    let text = generate(20, 4);
    let certificate = first_line(&text, false);
    let revocation = first_line(&text, true);

    let both = directory.path().join("both.ndjson");
    std::fs::write(&both, format!("{certificate}\n{revocation}\n")).expect("write export");
    let both_arg = both.to_str().expect("UTF-8 path");
    let output = run(&["import", both_arg], Some(&database));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{both_arg}: 1 certificate (1 new, 0 updated, 0 unchanged), \
             1 revocation (1 new, 0 updated, 0 unchanged)\n"
        )
    );

    // Zero revocations print in the plural.
    let single = directory.path().join("single.ndjson");
    std::fs::write(&single, format!("{certificate}\n")).expect("write export");
    let single_arg = single.to_str().expect("UTF-8 path");
    let output = run(&["import", single_arg], Some(&database));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{single_arg}: 1 certificate (0 new, 0 updated, 1 unchanged), \
             0 revocations (0 new, 0 updated, 0 unchanged)\n"
        )
    );

    // The same certificate from an export older than the stored record.
    let mut older: serde_json::Value = serde_json::from_str(certificate).expect("JSON line");
    older["osUpdatedAt"] = serde_json::json!("2000-01-01T00:00:00Z");
    let stale = directory.path().join("stale.ndjson");
    std::fs::write(&stale, format!("{older}\n")).expect("write export");
    let stale_arg = stale.to_str().expect("UTF-8 path");
    let output = run(&["import", stale_arg], Some(&database));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{stale_arg}: 1 certificate (0 new, 0 updated, 0 unchanged, 1 kept because the \
             stored record is newer), 0 revocations (0 new, 0 updated, 0 unchanged)\n"
        )
    );
}

#[test]
fn import_reads_standard_input() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");
    let text = generate(60, 5);
    let (certificates, revocations) = entry_counts(&text);

    let mut child = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .args(["import", "-"])
        .env("RUST_LOG", "warn")
        .env(
            "DIVOC__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("divoc-server starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("divoc-server ends");
    assert_imported(&output, "-", certificates, revocations, false);
}

#[test]
fn reader_leaving_early_ends_generate_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .args(["generate", "--beneficiaries", "1000000", "--seed", "1"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("divoc-server starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).expect("first line");
    assert!(line.starts_with('{'), "{line}");
    // Closing the pipe, as `| head -1` does once it has its line.
    drop(stdout);
    let output = child.wait_with_output().expect("divoc-server ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(!stderr.contains("export generated"), "{stderr}");
    assert!(
        stderr.contains("standard output was closed by its reader; stopped writing"),
        "{stderr}"
    );
}

#[test]
fn invalid_rust_log_is_reported() {
    let output = Command::new(env!("CARGO_BIN_EXE_divoc-server"))
        .args(["generate", "--beneficiaries", "1"])
        .env("RUST_LOG", "warn,divoc_server=dbug")
        .output()
        .expect("divoc-server runs");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RUST_LOG is invalid; logging at info level"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rust_log=warn,divoc_server=dbug"),
        "{stderr}"
    );
}

#[test]
fn first_load_only_into_empty_store() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");
    let export = directory.path().join("export.ndjson");
    let text = generate(40, 3);
    std::fs::write(&export, &text).expect("write export");
    let (certificates, revocations) = entry_counts(&text);
    let export_arg = export.to_str().expect("UTF-8 path");

    let output = run(&["import", "--first-load", export_arg], Some(&database));
    assert_imported(&output, export_arg, certificates, revocations, false);

    let output = run(&["import", "--first-load", export_arg], Some(&database));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{export_arg}: nothing imported: store sqlite://{} is not empty: a first load \
             writes only into a store without certificates, revocations or mobile numbers; \
             nothing was written; import without --first-load to add to a filled store",
            database.display()
        )),
        "{stderr}"
    );

    let output = run(
        &["import", "--first-load", export_arg, export_arg],
        Some(&database),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--first-load takes one file, got 2"),
        "{stderr}"
    );
}

/// Asserts that `folder` contains no SQLite store file named after `database`,
/// including the journal and WAL files that SQLite creates next to it.
fn assert_no_store_files(folder: &Path, database: &Path) {
    let database_name = database
        .file_name()
        .expect("database file name")
        .to_string_lossy()
        .into_owned();
    let store_files: Vec<String> = std::fs::read_dir(folder)
        .expect("read temporary directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(&database_name))
        .collect();
    assert!(
        store_files.is_empty(),
        "store files were created: {store_files:?}"
    );
}

/// Runs `import INPUT` into a store file that does not exist yet, and checks
/// that it fails with `error` (about `INPUT`) and leaves no store file behind.
fn assert_import_fails_without_store(directory: &Path, input: &Path, error: &str) {
    let database = directory.join("store.db");
    let input_arg = input.to_str().expect("UTF-8 path");

    let output = run(&["import", input_arg], Some(&database));
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot read {input_arg}: {error}")),
        "{stderr}"
    );
    assert!(!database.exists(), "{} was created", database.display());
    assert_no_store_files(directory, &database);
}

#[test]
fn import_of_stdin_twice_writes_nothing() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");

    let output = run(&["import", "-", "-"], Some(&database));
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "- (standard input) is given 2 times: standard input can be read once, so give - once"
        ),
        "{stderr}"
    );
    assert_no_store_files(directory.path(), &database);
}

#[test]
fn import_of_missing_file_creates_no_store() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let missing = directory.path().join("missing.ndjson");
    assert_import_fails_without_store(directory.path(), &missing, "No such file or directory");
}

#[test]
fn import_of_directory_creates_no_store() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let folder = directory.path().join("exports");
    std::fs::create_dir(&folder).expect("create folder");
    assert_import_fails_without_store(
        directory.path(),
        &folder,
        "it is a directory, not an export file",
    );
}

#[test]
fn import_of_missing_later_file_keeps_earlier_files() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("store.db");
    let export = directory.path().join("export.ndjson");
    let text = generate(20, 4);
    std::fs::write(&export, &text).expect("write export");
    let (certificates, revocations) = entry_counts(&text);
    let export_arg = export.to_str().expect("UTF-8 path");
    let missing = directory.path().join("missing.ndjson");
    let missing_arg = missing.to_str().expect("UTF-8 path");

    // Each file is its own transaction, so the first file stays imported when
    // the second cannot be opened.
    let output = run(&["import", export_arg, missing_arg], Some(&database));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{export_arg}: {} ({certificates} new, 0 updated, 0 unchanged), \
             {} ({revocations} new, 0 updated, 0 unchanged)\n",
            count_of(certificates, "certificate"),
            count_of(revocations, "revocation")
        )
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot read {missing_arg}: No such file or directory"
        )),
        "{stderr}"
    );
    assert!(database.exists(), "{} is missing", database.display());
}

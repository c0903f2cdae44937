//! Checks every SQL statement that the store issues on PostgreSQL against the
//! Citus layout of `docs/scaling.md` ("Past one database: sharding by
//! beneficiary id").
//!
//! The PostgreSQL test records each statement of every connection through
//! diesel's default instrumentation while it calls every public method of
//! [`Store`] that reads or writes the database. A recorded statement passes
//! in three cases. It filters every distributed table it touches by that
//! table's distribution column, or sets the column in an INSERT or COPY. It
//! touches only tables that stay whole on the coordinator. Or it matches an
//! entry of [`ALLOWED`], the statements that fan out or name no table on
//! purpose. The check reads statement text against the layout. It does not
//! run Citus, so it cannot show that Citus plans a statement as a
//! single-shard query.
//!
//! Like `tests/store.rs`, the PostgreSQL test needs `DIVOC_TEST_POSTGRES_URL`
//! (a superuser URL, such as the one `scripts/pg-test-cluster.sh start DIR
//! PORT` prints). Without it the test passes after printing a notice, unless
//! `DIVOC_REQUIRE_POSTGRES=1`. The tests of the classifier itself need no
//! server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{TimeDelta, Utc};
use diesel::connection::SimpleConnection;
use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use diesel::dsl::sql;
use diesel::sql_types::Bool;
use diesel::{Connection, PgConnection, RunQueryDsl};
use divoc_model::{ExportReader, parse_export};
use divoc_store::{
    AuditEvent, AuditQuery, EmailStatus, IMPORT_BATCH_ENTRIES, ImportOptions, NewEmail,
    NewShareLink, Store, StoreError, StoreOptions,
};

// ---------------------------------------------------------------------------
// The layout

/// Distributed tables and their distribution columns, as in the table of
/// `docs/scaling.md`.
const DISTRIBUTED: &[(&str, &str)] = &[
    ("certificates", "pre_enrollment_code"),
    ("revocations", "pre_enrollment_code"),
    ("certificate_mobiles", "mobile"),
    ("otp_challenges", "mobile"),
    ("rate_limits", "bucket"),
    ("audit_events", "certificate_id"),
];

/// Pairs of co-located distributed tables. A filter that equates their
/// distribution columns keeps the first table on the shard of the second,
/// because `revocations` is distributed with `colocate_with => 'certificates'`.
const COLOCATED: &[(&str, &str)] = &[
    ("revocations", "certificates"),
    ("certificates", "revocations"),
];

/// Plain tables on the Citus coordinator, which a statement may read whole.
/// `import_mobiles` is the temporary table in which an import stages its
/// mobile numbers, local to the importing session.
const COORDINATOR: &[&str] = &["share_links", "email_outbox", "import_mobiles"];

/// How an allowed statement is recognised, after [`normalize`].
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The whole statement.
    Exact(&'static str),
    /// The statement's beginning.
    StartsWith(&'static str),
    /// The statement's beginning and end.
    Framed(&'static str, &'static str),
    /// The text of one of the PostgreSQL migration files, run as one batch.
    MigrationFile,
}

/// A statement that fans out, or touches no table of the layout, on purpose.
#[derive(Debug)]
struct Allowed {
    shape: Shape,
    reason: &'static str,
}

/// Statements that are not routed by a distribution column, each with the
/// reason it may fan out. Every entry must match a recorded statement, so
/// that the list shrinks when the store changes.
const ALLOWED: &[Allowed] = &[
    // Transaction control and connection checks.
    Allowed {
        shape: Shape::Exact("BEGIN"),
        reason: "transaction control",
    },
    Allowed {
        shape: Shape::Exact("COMMIT"),
        reason: "transaction control",
    },
    Allowed {
        shape: Shape::Exact("ROLLBACK"),
        reason: "transaction control, after a failed import",
    },
    Allowed {
        shape: Shape::StartsWith("SAVEPOINT diesel_savepoint_"),
        reason: "transaction control: the import's lock attempt and ANALYZE run in savepoints",
    },
    Allowed {
        shape: Shape::StartsWith("RELEASE SAVEPOINT diesel_savepoint_"),
        reason: "transaction control",
    },
    Allowed {
        shape: Shape::StartsWith("ROLLBACK TO SAVEPOINT diesel_savepoint_"),
        reason: "transaction control: a lock attempt with NOWAIT that failed",
    },
    Allowed {
        shape: Shape::Exact("SELECT 1"),
        reason: "the pool's check of a connection at checkout, and Store::health_check",
    },
    // Migrations, when the store opens.
    Allowed {
        shape: Shape::Exact("SELECT pg_advisory_xact_lock($1)"),
        reason: "migrations: one server migrates at a time",
    },
    Allowed {
        shape: Shape::StartsWith("CREATE TABLE IF NOT EXISTS __diesel_schema_migrations"),
        reason: "migrations: diesel's table of applied migrations",
    },
    Allowed {
        shape: Shape::StartsWith("SELECT __diesel_schema_migrations.version FROM"),
        reason: "migrations: diesel reads the applied migrations",
    },
    Allowed {
        shape: Shape::StartsWith("INSERT INTO __diesel_schema_migrations (version)"),
        reason: "migrations: diesel records an applied migration",
    },
    Allowed {
        shape: Shape::Exact("SELECT current_setting('search_path')"),
        reason: "migrations: diesel saves the search path",
    },
    Allowed {
        shape: Shape::Exact("SELECT set_config('search_path', $1, false)"),
        reason: "migrations: diesel restores the search path",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL lock_timeout = '2s'"),
        reason: "migrations: how long a schema change waits for a table lock",
    },
    Allowed {
        shape: Shape::Exact(
            "SELECT format('%I', tablename) AS name FROM pg_tables \
             WHERE schemaname = current_schema() AND tablename = ANY($1) \
             ORDER BY tablename",
        ),
        reason: "migrations: the tables to lock before a schema change",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL statement_timeout = '2s'"),
        reason: "migrations: how long the locks before a schema change may take together",
    },
    Allowed {
        shape: Shape::Exact(
            "LOCK TABLE audit_events, certificate_mobiles, certificates, email_outbox, \
             otp_challenges, rate_limits, revocations, share_links IN ACCESS EXCLUSIVE MODE",
        ),
        reason: "migrations: every table locked before a schema change",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL statement_timeout TO DEFAULT"),
        reason: "migrations: the timeout of the locks ends",
    },
    Allowed {
        shape: Shape::MigrationFile,
        reason: "migrations: schema changes, each applied once per database",
    },
    // Every import: the table lock and the planner settings.
    Allowed {
        shape: Shape::Exact(
            "LOCK TABLE certificates, revocations, certificate_mobiles \
             IN SHARE ROW EXCLUSIVE MODE NOWAIT",
        ),
        reason: "import: one lock of the three tables per import",
    },
    Allowed {
        shape: Shape::Exact(
            "LOCK TABLE certificates, revocations, certificate_mobiles \
             IN SHARE ROW EXCLUSIVE MODE",
        ),
        reason: "import: the same lock, waiting when another import holds it",
    },
    Allowed {
        shape: Shape::Exact("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        reason: "transaction control: the import's second connection, which reads stored rows",
    },
    Allowed {
        shape: Shape::Exact("LOCK TABLE certificates IN ACCESS SHARE MODE NOWAIT"),
        reason: "import: the second connection's lock, taken before its first read",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL lock_timeout = '10s'"),
        reason: "import: how long the second connection may wait for a lock, no table",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL enable_seqscan = off"),
        reason: "import: a planner setting of the transaction, no table",
    },
    Allowed {
        shape: Shape::Exact("SET LOCAL jit = off"),
        reason: "import: a planner setting of the transaction, no table",
    },
    Allowed {
        shape: Shape::Exact("SELECT certificates.certificate_id FROM certificates LIMIT $1"),
        reason: "import: is the store empty; once per import",
    },
    // Every import: reads by certificate id, in chunks of at most 10,000 ids.
    Allowed {
        shape: Shape::Framed(
            "SELECT certificates.",
            " FROM certificates WHERE (certificates.certificate_id = ANY($1))",
        ),
        reason: "import: stored rows and owners of a batch's certificate ids; 1 or 2 per batch",
    },
    Allowed {
        shape: Shape::Framed(
            "SELECT revocations.",
            " FROM revocations WHERE (revocations.revoked_certificate_id = ANY($1))",
        ),
        reason: "import: stored revocations and owners of a batch's revoked ids; 1 or 2 per batch",
    },
    Allowed {
        shape: Shape::Exact(
            "SELECT certificates.certificate_id FROM certificates \
             WHERE (certificates.certificate_id = $1) LIMIT $2",
        ),
        reason: "import: a certificate id whose hash was seen in an earlier batch; rare",
    },
    Allowed {
        shape: Shape::Exact("ANALYZE certificates, revocations"),
        reason: "import: planner statistics after 100,000 rows or more; once per import",
    },
    // First load (`--first-load`).
    Allowed {
        shape: Shape::Exact(
            "LOCK TABLE certificates, revocations, certificate_mobiles \
             IN ACCESS EXCLUSIVE MODE NOWAIT",
        ),
        reason: "first load: one lock of the three tables against readers",
    },
    Allowed {
        shape: Shape::Exact(
            "SELECT (EXISTS (SELECT 1 FROM certificates) OR EXISTS (SELECT 1 FROM revocations) \
             OR EXISTS (SELECT 1 FROM certificate_mobiles)) AS filled",
        ),
        reason: "first load: the check that the store is empty; once per import",
    },
    Allowed {
        shape: Shape::StartsWith("SELECT index.relname AS name, CASE WHEN con.conname IS NULL"),
        reason: "first load: reads the catalog for the indexes of certificates",
    },
    Allowed {
        shape: Shape::StartsWith("ALTER TABLE certificates DROP CONSTRAINT "),
        reason: "first load: drops the primary key until the end of the load",
    },
    Allowed {
        shape: Shape::StartsWith("DROP INDEX certificates_"),
        reason: "first load: drops an index until the end of the load",
    },
    Allowed {
        shape: Shape::StartsWith("SELECT set_config($1, $2, true) FROM pg_settings"),
        reason: "first load: raises maintenance_work_mem for the index builds",
    },
    Allowed {
        shape: Shape::StartsWith("ALTER TABLE certificates ADD CONSTRAINT "),
        reason: "first load: builds the primary key again",
    },
    Allowed {
        shape: Shape::StartsWith("CREATE UNIQUE INDEX certificates_"),
        reason: "first load: builds an index again",
    },
    Allowed {
        shape: Shape::StartsWith(
            "SELECT revocations.revoked_certificate_id, revocations.certificate_id \
             FROM revocations JOIN certificates \
             ON certificates.certificate_id = revocations.revoked_certificate_id",
        ),
        reason: "first load: one join by certificate id to check the owners of revocations",
    },
    // Reads that callers make by certificate id or token subject.
    Allowed {
        shape: Shape::Framed(
            "SELECT certificates.",
            " FROM certificates WHERE ((certificates.certificate_id = $1) AND NOT (EXISTS \
             (SELECT revocations.revoked_certificate_id, revocations.pre_enrollment_code, \
             revocations.certificate_id, revocations.dose, revocations.previous_certificate_id \
             FROM revocations WHERE ((revocations.pre_enrollment_code = \
             certificates.pre_enrollment_code) AND (revocations.revoked_certificate_id = \
             certificates.certificate_id))))) LIMIT $2",
        ),
        reason: "Store::certificate_by_id (the email worker, and routes that name only a \
                 certificate id): its arguments have no beneficiary id",
    },
    Allowed {
        shape: Shape::Framed(
            "SELECT audit_events.",
            " FROM audit_events WHERE (audit_events.subject = $1) \
             ORDER BY audit_events.served_at DESC, audit_events.id DESC LIMIT $2",
        ),
        reason: "audit by token subject: an operator's occasional query",
    },
    // Housekeeping of the citizen login.
    Allowed {
        shape: Shape::Exact("DELETE FROM otp_challenges WHERE (otp_challenges.expires_at <= $1)"),
        reason: "Store::purge_otp_state: periodic deletion of expired challenges",
    },
    Allowed {
        shape: Shape::Exact(
            "DELETE FROM rate_limits WHERE ((rate_limits.bucket LIKE $1 ESCAPE $2) \
             AND (rate_limits.window_start <= $3))",
        ),
        reason: "Store::purge_otp_state and Store::purge_rate_limits: periodic deletion of \
                 ended rate-limit windows, one kind of limit at a time",
    },
];

// ---------------------------------------------------------------------------
// Reading statements

/// Returns `sql` without diesel's bind list, double quotes and repeated
/// white space, so that diesel's quoted identifiers read like hand-written SQL.
fn normalize(sql: &str) -> String {
    let without_binds = sql.rfind(" -- binds: ").map_or(sql, |end| &sql[..end]);
    without_binds
        .replace('"', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits one recorded batch into its statements. A migration file is kept
/// whole, because its `DO` block contains semicolons.
fn split_statements(recorded: &str, migrations: &[String]) -> Vec<String> {
    let text = normalize(recorded);
    if migrations.contains(&text) {
        return vec![text];
    }
    text.split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(ToOwned::to_owned)
        .collect()
}

/// Returns the text of every PostgreSQL migration, normalized.
fn migration_texts() -> Vec<String> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&directory).expect("migrations directory") {
        let path = entry.expect("migration entry").path().join("up.sql");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        texts.push(normalize(&text));
    }
    assert!(
        !texts.is_empty(),
        "no migrations in {}",
        directory.display()
    );
    texts
}

/// Splits SQL into words (identifiers, keywords, `$1`) and single punctuation
/// characters, with the text of string literals left out.
fn tokens(sql: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_literal = false;
    for character in sql.chars() {
        if in_literal {
            in_literal = character != '\'';
            continue;
        }
        if character.is_alphanumeric() || matches!(character, '_' | '.' | '$') {
            word.push(character);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if character == '\'' {
            in_literal = true;
        } else if !character.is_whitespace() {
            tokens.push(character.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// Returns the tables that a statement names after `FROM`, `JOIN`, `INTO`,
/// `UPDATE`, `COPY`, `TABLE`, `TRUNCATE` or `ANALYZE`, including the further
/// tables of a comma-separated list (`LOCK TABLE a, b`).
fn tables_touched(sql: &str) -> BTreeSet<String> {
    const INTRODUCERS: &[&str] = &[
        "FROM", "JOIN", "INTO", "UPDATE", "COPY", "TABLE", "TRUNCATE", "ANALYZE",
    ];
    // Words between an introducer and its table.
    const MODIFIERS: &[&str] = &["IF", "NOT", "EXISTS", "ONLY"];
    // Words that follow an introducer in place of a table, as in `DO UPDATE
    // SET`, `FOR UPDATE SKIP LOCKED` and `FROM STDIN`.
    const NOT_TABLES: &[&str] = &["SET", "SKIP", "STDIN"];

    let tokens = tokens(sql);
    let is_table = |token: &str| {
        token
            .chars()
            .next()
            .is_some_and(|first| first.is_alphabetic() || first == '_')
            && !NOT_TABLES.contains(&token.to_ascii_uppercase().as_str())
    };

    let mut tables = BTreeSet::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index].to_ascii_uppercase();
        index += 1;
        if !INTRODUCERS.contains(&token.as_str()) {
            continue;
        }

        while index < tokens.len()
            && MODIFIERS.contains(&tokens[index].to_ascii_uppercase().as_str())
        {
            index += 1;
        }

        // The table, and the further tables of a list such as `LOCK TABLE a, b`.
        while index < tokens.len() && is_table(&tokens[index]) {
            let name = tokens[index].trim_start_matches("public.");
            tables.insert(name.to_ascii_lowercase());
            index += 1;
            if index + 1 < tokens.len() && tokens[index] == "," && is_table(&tokens[index + 1]) {
                index += 1;
            } else {
                break;
            }
        }
    }
    tables
}

fn distribution_column(table: &str) -> Option<&'static str> {
    DISTRIBUTED
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, column)| *column)
}

/// Returns the column list of `INSERT INTO table (…)` or `COPY table (…)`
/// when `table` is the statement's target.
fn target_columns<'a>(sql: &'a str, table: &str) -> Option<Vec<&'a str>> {
    let rest = sql
        .strip_prefix(&format!("INSERT INTO {table}"))
        .or_else(|| sql.strip_prefix(&format!("COPY {table}")))?;
    // diesel writes `COPY table(…)` without a space.
    let rest = rest.trim_start().strip_prefix('(')?;
    let end = rest.find(')')?;
    Some(rest[..end].split(',').map(str::trim).collect())
}

/// Returns `true` when `table` is the target of an INSERT or COPY that sets
/// `column`, or when the statement's WHERE clause compares `column` with a
/// bound value (`= $n` or `= ANY($n)`). A statement with `OR` is not credited
/// with a filter, because `OR` may widen it to every shard, and neither is a
/// comparison right after `NOT`.
///
/// NOTE: a table named twice in one statement, as in a self-join, counts as
/// filtered when the filter appears once. No statement of the store does that.
fn filtered_by_value(sql: &str, table: &str, column: &str) -> bool {
    if let Some(columns) = target_columns(sql, table) {
        return columns.contains(&column);
    }
    if sql.contains(" OR ") {
        return false;
    }
    // An UPDATE names its columns before WHERE. Other statements start their
    // tables, joins and filters at the first FROM.
    let marker = if sql.starts_with("UPDATE ") {
        " WHERE "
    } else {
        " FROM "
    };
    let Some(start) = sql.find(marker) else {
        return false;
    };
    let filters = &sql[start..];
    let column = format!("{table}.{column}");
    not_negated(filters, &format!("{column} = $"))
        || not_negated(filters, &format!("{column} = ANY($"))
}

/// Returns `true` when `pattern` occurs in `sql` at least once without a
/// `NOT` right before it (opening parentheses between them included), since
/// a negated comparison matches rows on every shard.
fn not_negated(sql: &str, pattern: &str) -> bool {
    sql.match_indices(pattern).any(|(start, _)| {
        let before = sql[..start].trim_end_matches(['(', ' ']);
        !before.ends_with("NOT")
    })
}

/// Returns `true` when the statement equates `column` of `table` with the
/// distribution column of a co-located table that is filtered by value, as
/// the revocation check of a lookup does.
fn joined_to_filtered(sql: &str, table: &str, column: &str) -> bool {
    if sql.contains(" OR ") {
        return false;
    }
    COLOCATED
        .iter()
        .filter(|(first, _)| *first == table)
        .any(|(_, partner)| {
            let Some(partner_column) = distribution_column(partner) else {
                return false;
            };
            let left = format!("{table}.{column}");
            let right = format!("{partner}.{partner_column}");
            (sql.contains(&format!("{left} = {right}"))
                || sql.contains(&format!("{right} = {left}")))
                && filtered_by_value(sql, partner, partner_column)
        })
}

/// What the check concluded about one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Every distributed table it touches is filtered, or targeted, by its
    /// distribution column.
    Routed,
    /// It touches coordinator tables only.
    Coordinator,
    /// It matches the entry of [`ALLOWED`] at this index.
    Allowed(usize),
    /// None of the above, for this reason.
    Rejected(String),
}

fn matches_shape(shape: Shape, sql: &str, migrations: &[String]) -> bool {
    match shape {
        Shape::Exact(text) => sql == text,
        Shape::StartsWith(start) => sql.starts_with(start),
        Shape::Framed(start, end) => sql.starts_with(start) && sql.ends_with(end),
        Shape::MigrationFile => migrations.iter().any(|migration| migration == sql),
    }
}

/// Classifies one normalized statement. The allowlist is consulted only for
/// statements that are neither routed nor confined to the coordinator.
fn classify(sql: &str, migrations: &[String]) -> Verdict {
    let tables = tables_touched(sql);
    let mut problems = Vec::new();
    if tables.is_empty() {
        problems.push("it names no table".to_owned());
    }
    let mut distributed = false;
    for table in &tables {
        if let Some(column) = distribution_column(table) {
            distributed = true;
            if !filtered_by_value(sql, table, column) && !joined_to_filtered(sql, table, column) {
                problems.push(format!(
                    "{table} is distributed by {column}, and the statement neither filters on \
                     it nor sets it"
                ));
            }
        } else if !COORDINATOR.contains(&table.as_str()) {
            problems.push(format!("{table} is not a table of the layout"));
        }
    }
    if problems.is_empty() {
        return if distributed {
            Verdict::Routed
        } else {
            Verdict::Coordinator
        };
    }
    match ALLOWED
        .iter()
        .position(|allowed| matches_shape(allowed.shape, sql, migrations))
    {
        Some(index) => Verdict::Allowed(index),
        None => Verdict::Rejected(problems.join("; ")),
    }
}

// ---------------------------------------------------------------------------
// Recording statements

/// Statements recorded by the instrumentation, each with the step of the test
/// that was running.
struct Recording {
    step: &'static str,
    statements: Vec<(&'static str, String)>,
}

static RECORDING: Mutex<Recording> = Mutex::new(Recording {
    step: "",
    statements: Vec::new(),
});

/// Returns the instrumentation of every connection established after it is
/// installed, which records the SQL of each statement with its bind list.
fn record_statements() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let mut recording = RECORDING.lock().unwrap_or_else(|error| error.into_inner());
            let step = recording.step;
            recording.statements.push((step, query.to_string()));
        }
    }))
}

/// Names the step whose statements are recorded next.
fn step(name: &'static str) {
    RECORDING
        .lock()
        .unwrap_or_else(|error| error.into_inner())
        .step = name;
}

// ---------------------------------------------------------------------------
// The test database

/// A database of the server in `DIVOC_TEST_POSTGRES_URL`. Dropping it drops
/// the database through the admin connection, which was opened before the
/// instrumentation was installed, so its statements are not recorded.
struct TestDatabase {
    admin: PgConnection,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Returns `None` (after a notice) when no PostgreSQL server is configured.
    fn create() -> Option<Self> {
        let admin_url = postgres_admin_url()?;
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|error| panic!("cannot connect to DIVOC_TEST_POSTGRES_URL: {error}"));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!("divoc_shard_test_{}_{nanos}", std::process::id());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        Some(Self { admin, name, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = diesel::sql_query(drop).execute(&mut self.admin) {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

fn postgres_admin_url() -> Option<String> {
    if let Ok(url) = std::env::var("DIVOC_TEST_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        return Some(url);
    }
    let help = "start a server with `scripts/pg-test-cluster.sh start /tmp/divoc-pg 55432` \
                and export the URL it prints as DIVOC_TEST_POSTGRES_URL";
    if std::env::var("DIVOC_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!(
            "the shard layout test cannot run: DIVOC_REQUIRE_POSTGRES=1 but \
             DIVOC_TEST_POSTGRES_URL is not set; {help}"
        );
    }
    eprintln!("skipping the shard layout test: DIVOC_TEST_POSTGRES_URL is not set; {help}");
    None
}

/// Replaces the database name in a PostgreSQL URL, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_start..].find('/') {
        Some(index) => &base[..authority_start + index],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 4,
        connection_timeout: Duration::from_secs(30),
        sqlite_busy_timeout: Duration::from_secs(30),
        replica_url: None,
        ..StoreOptions::default()
    }
}

// ---------------------------------------------------------------------------
// Export data

fn credential(dose: u32) -> String {
    serde_json::json!({
        "credentialSubject": {"name": "Asha Rao", "gender": "Female", "age": "33"},
        "evidence": [{"dose": dose, "totalDoses": 2, "vaccine": "COVISHIELD"}],
    })
    .to_string()
}

/// Returns one JSON line of a certificate entry.
fn certificate_line(beneficiary: &str, id: &str, mobile: &str, name: &str) -> String {
    serde_json::json!({
        "preEnrollmentCode": beneficiary,
        "certificateId": id,
        "mobile": mobile,
        "name": name,
        "certificate": credential(1),
    })
    .to_string()
}

/// Returns one JSON line of a revocation entry that revokes `revoked`.
fn revocation_line(beneficiary: &str, id: &str, revoked: &str, dose: u32) -> String {
    serde_json::json!({
        "preEnrollmentCode": beneficiary,
        "certificateId": id,
        "previousCertificateId": revoked,
        "dose": dose,
    })
    .to_string()
}

/// Returns JSON lines of 100,000 certificates, enough for the import to run
/// ANALYZE, two per beneficiary, and a revocation of the first certificate of
/// every tenth beneficiary.
fn first_load_lines() -> String {
    const CERTIFICATES: usize = 100_000;
    let mut lines = String::new();
    for index in 0..CERTIFICATES {
        let beneficiary = format!("B{}", index / 2);
        let mobile = format!("9{:09}", index / 4);
        lines.push_str(&certificate_line(
            &beneficiary,
            &format!("C{index:07}"),
            &mobile,
            "Asha Rao",
        ));
        lines.push('\n');
        if index % 20 == 0 {
            lines.push_str(&revocation_line(
                &beneficiary,
                &format!("R{index:07}"),
                &format!("C{index:07}"),
                1,
            ));
            lines.push('\n');
        }
    }
    lines
}

fn json_array(lines: &[String]) -> String {
    format!("[{}]", lines.join(","))
}

// ---------------------------------------------------------------------------
// Calling every method

/// Calls every public method of [`Store`] that reads or writes the database,
/// and closes the stores before it returns.
fn exercise_store(url: &str, mut blocker: PgConnection) {
    step("Store::open");
    let store = Store::open(url, &options()).expect("store opens");

    // The latest migrations undone on a connection that is not recorded, so
    // that the next open finds them pending and locks the tables first.
    support::undo_byte_order_migration(&mut blocker);
    drop(store);
    step("Store::open with a pending schema change");
    let store = Store::open(url, &options()).expect("store opens and migrates");

    step("first load into the empty store");
    let first_load = ImportOptions {
        first_load: true,
        ..ImportOptions::default()
    };
    let summary = store
        .import_reader_with(first_load_lines().as_bytes(), &first_load, &mut |_| {})
        .expect("first load");
    assert_eq!(summary.certificates, 100_000);

    step("first load into a filled store");
    let not_empty = store.import_reader_with(
        certificate_line("B-NEW", "C-NEW", "9111111111", "Asha Rao").as_bytes(),
        &first_load,
        &mut |_| {},
    );
    assert!(
        matches!(not_empty, Err(StoreError::NotEmpty { .. })),
        "{not_empty:?}"
    );

    step("Store::import_text: new, changed and unchanged rows");
    let summary = store
        .import_text(&json_array(&[
            certificate_line("B1", "C0000002", "9000000000", "Asha Rao"),
            certificate_line("B1", "C0000003", "9000000000", "Asha R. Rao"),
            certificate_line("B-NEW", "C-NEW-1", "9111111111", "Asha Rao"),
            revocation_line("B0", "R0000000", "C0000000", 2),
            revocation_line("B-NEW", "R-NEW-1", "C-NEW-1", 1),
        ]))
        .expect("import_text");
    assert_eq!(summary.certificate_rows.updated, 1, "{summary:?}");

    step("Store::import_text: certificate of another beneficiary");
    let rejected = store.import_text(&certificate_line(
        "B7",
        "C0000002",
        "9000000000",
        "Asha Rao",
    ));
    assert!(
        matches!(rejected, Err(StoreError::Import(_))),
        "{rejected:?}"
    );

    step("Store::import");
    let items = parse_export(&json_array(&[
        certificate_line("B-NEW", "C-NEW-2", "9111111112", "Asha Rao"),
        revocation_line("B-NEW", "R-NEW-2", "C-NEW-2", 1),
    ]))
    .expect("export parses");
    store.import(&items).expect("import");

    step("Store::import_stream");
    let lines = certificate_line("B-NEW", "C-NEW-3", "9111111112", "Asha Rao");
    store
        .import_stream(ExportReader::new(lines.as_bytes()), &mut |_| {})
        .expect("import_stream");

    step("Store::import_reader");
    let lines = certificate_line("B-NEW", "C-NEW-4", "9111111113", "Asha Rao");
    store
        .import_reader(lines.as_bytes(), &mut |_| {})
        .expect("import_reader");

    step("Store::import_text: waiting for another transaction's lock");
    import_behind_lock(&store, blocker);

    step("Store::import_stream_with: an id repeated in a later batch");
    // Two batches before the repeat: the first is written by then, while the
    // second may still wait for the stored rows of the next.
    let mut lines = String::new();
    for index in 0..2 * IMPORT_BATCH_ENTRIES {
        lines.push_str(&certificate_line(
            &format!("D{index}"),
            &format!("D{index:07}"),
            "9222222222",
            "Asha Rao",
        ));
        lines.push('\n');
    }
    lines.push_str(&certificate_line(
        "D0",
        "D0000000",
        "9222222222",
        "Asha Rao",
    ));
    let repeated = store.import_stream_with(
        ExportReader::new(lines.as_bytes()),
        &ImportOptions::default(),
        &mut |_| {},
    );
    assert!(
        matches!(repeated, Err(StoreError::Import(_))),
        "{repeated:?}"
    );

    let replica_options = StoreOptions {
        replica_url: Some(url.to_owned()),
        ..options()
    };

    step("Store::open with a read replica");
    let replica_store = Store::open(url, &replica_options).expect("store with a replica opens");
    for (label, lookups) in [
        ("lookups on the primary", &store),
        ("lookups on the read replica", &replica_store),
    ] {
        step(label);
        let found = lookups.certificates_by_beneficiary("B1").expect("lookup");
        assert_eq!(found.len(), 2, "{label}");
        assert!(lookups.beneficiary_exists("B1").expect("exists"), "{label}");
        assert!(
            !lookups
                .certificates_by_mobile("9000000000")
                .expect("lookup")
                .is_empty()
        );
        assert!(
            lookups
                .certificate_by_mobile_and_id("9000000000", "C0000002")
                .expect("lookup")
                .is_some()
        );
        assert!(
            lookups
                .certificate_by_id("C0000002")
                .expect("lookup")
                .is_some()
        );
        let by_beneficiary = lookups.certificate_by_beneficiary_and_id("B1", "C0000002");
        assert!(by_beneficiary.expect("lookup").is_some());
    }
    assert_eq!(replica_store.replica_failures(), 0);
    drop(replica_store);

    step("Store::health_check");
    store.health_check().expect("health check");

    exercise_citizen_login(&store);
    exercise_audit(&store);
    exercise_share_links(&store);
    exercise_outbox(&store);

    step("closing");
}

/// Starts an import while `blocker` holds a lock on `certificates`, so that
/// the import's NOWAIT attempt fails and it waits, and then releases the lock.
fn import_behind_lock(store: &Store, mut blocker: PgConnection) {
    blocker
        .batch_execute("BEGIN; LOCK TABLE certificates IN SHARE ROW EXCLUSIVE MODE")
        .expect("lock taken");
    std::thread::scope(|scope| {
        let import = scope.spawn(|| {
            store.import_text(&certificate_line(
                "B-NEW",
                "C-NEW-5",
                "9111111113",
                "Asha Rao",
            ))
        });
        let started = Instant::now();
        loop {
            let waiting = diesel::select(sql::<Bool>(
                "EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)",
            ))
            .get_result::<bool>(&mut blocker)
            .expect("pg_locks read");
            if waiting {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30) && !import.is_finished(),
                "the import did not wait for the lock"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        blocker.batch_execute("COMMIT").expect("lock released");
        import
            .join()
            .expect("import thread")
            .expect("import after the lock");
    });
}

fn exercise_citizen_login(store: &Store) {
    let now = Utc::now();
    let window = Duration::from_secs(600);

    step("Store::save_otp_challenge");
    store
        .save_otp_challenge("9000000000", "hash-1", now, now + TimeDelta::minutes(5))
        .expect("save");

    step("Store::otp_challenge");
    assert!(store.otp_challenge("9000000000").expect("read").is_some());

    step("Store::claim_otp_attempt");
    assert!(
        store
            .claim_otp_attempt("9000000000", now, 5)
            .expect("claim")
            .is_some()
    );

    step("Store::consume_otp_challenge");
    assert!(
        store
            .consume_otp_challenge("9000000000", "hash-1")
            .expect("consume")
    );

    step("Store::count_rate_hit");
    assert_eq!(
        store
            .count_rate_hit("otp:mobile:1", now, window)
            .expect("hit")
            .hits,
        1
    );

    step("Store::purge_otp_state");
    store
        .purge_otp_state(now + TimeDelta::hours(1), window)
        .expect("purge");

    step("Store::purge_rate_limits");
    store
        .purge_rate_limits("email:", now + TimeDelta::hours(1), window)
        .expect("purge");

    step("Store::mobile_has_certificates");
    assert!(store.mobile_has_certificates("9000000000").expect("check"));
    assert!(!store.mobile_has_certificates("9999999999").expect("check"));
}

fn exercise_audit(store: &Store) {
    let event = AuditEvent {
        served_at: Utc::now(),
        certificate_id: "C0000002".to_owned(),
        route: "/certificate/api/certificatePDF/{beneficiaryId}".to_owned(),
        subject: Some("operator".to_owned()),
        role: "distribution".to_owned(),
    };

    step("Store::record_served");
    store.record_served(&event).expect("record");

    step("Store::record_served_batch");
    let second = AuditEvent {
        certificate_id: "C0000003".to_owned(),
        ..event.clone()
    };
    store.record_served_batch(&[event, second]).expect("record");

    step("Store::audit_events by certificate");
    let by_certificate = store
        .audit_events(AuditQuery::Certificate("C0000002"), 10)
        .expect("audit");
    assert_eq!(by_certificate.len(), 2);

    step("Store::audit_events by subject");
    let by_subject = store
        .audit_events(AuditQuery::Subject("operator"), 10)
        .expect("audit");
    assert_eq!(by_subject.len(), 3);
}

fn exercise_share_links(store: &Store) {
    let now = Utc::now();
    let link = NewShareLink {
        id: "link-1",
        token_hash: "token-hash-1",
        certificate_id: "C0000002",
        pre_enrollment_code: "B1",
        creator: "mobile:9000000000",
        passcode_hash: Some("passcode-hash"),
        created_at: now,
        expires_at: now + TimeDelta::days(7),
        scope_mobile: Some("9000000000"),
    };

    step("Store::create_share_link");
    store.create_share_link(&link).expect("create");

    step("Store::share_link_by_token_hash");
    assert!(
        store
            .share_link_by_token_hash("token-hash-1")
            .expect("read")
            .is_some()
    );

    step("Store::share_links_by_creator");
    assert_eq!(
        store
            .share_links_by_creator("mobile:9000000000", 10)
            .expect("list")
            .len(),
        1
    );

    step("Store::claim_share_passcode_attempt");
    assert!(
        store
            .claim_share_passcode_attempt("link-1", 5)
            .expect("claim")
            .is_some()
    );

    step("Store::release_share_passcode_attempt");
    store
        .release_share_passcode_attempt("link-1")
        .expect("release");

    step("Store::revoke_share_link");
    assert!(
        store
            .revoke_share_link("link-1", "mobile:9000000000", now)
            .expect("revoke")
            .is_some()
    );
}

fn exercise_outbox(store: &Store) {
    let now = Utc::now();

    step("Store::enqueue_email");
    store
        .enqueue_email(&NewEmail {
            id: "email-1",
            certificate_id: "C0000002",
            recipient: "asha@example.org",
            language: "en",
            protect: Some("dob"),
            requester: "mobile:9000000000",
            created_at: now,
            scope_mobile: Some("9000000000"),
        })
        .expect("enqueue");

    step("Store::email");
    assert!(store.email("email-1").expect("read").is_some());

    step("Store::claim_due_email");
    let claimed = store
        .claim_due_email(now, now + TimeDelta::minutes(5))
        .expect("claim");
    assert!(claimed.is_some());

    step("Store::finish_email_attempt");
    assert!(
        store
            .finish_email_attempt("email-1", 1, EmailStatus::Sent, now, None, None)
            .expect("finish")
    );
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn store_statements_fit_shard_layout() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    // Opened before the instrumentation is installed, so its own statements
    // are not recorded.
    let blocker = PgConnection::establish(&database.url).expect("second connection");
    set_default_instrumentation(record_statements).expect("instrumentation installed");
    exercise_store(&database.url, blocker);
    let recorded = std::mem::take(
        &mut RECORDING
            .lock()
            .unwrap_or_else(|error| error.into_inner())
            .statements,
    );
    drop(database);

    let migrations = migration_texts();
    // Each distinct statement with its verdict and the steps that issued it.
    let mut statements: BTreeMap<String, (Verdict, BTreeSet<&str>)> = BTreeMap::new();
    for (step, batch) in &recorded {
        for sql in split_statements(batch, &migrations) {
            let entry = statements
                .entry(sql)
                .or_insert_with_key(|sql| (classify(sql, &migrations), BTreeSet::new()));
            entry.1.insert(step);
        }
    }

    let mut report = String::new();
    for (sql, (verdict, steps)) in &statements {
        let verdict = match verdict {
            Verdict::Routed => "routed".to_owned(),
            Verdict::Coordinator => "coordinator".to_owned(),
            Verdict::Allowed(index) => format!("allowed: {}", ALLOWED[*index].reason),
            Verdict::Rejected(reason) => format!("REJECTED: {reason}"),
        };
        let steps = steps.iter().copied().collect::<Vec<_>>().join(", ");
        report.push_str(&format!("{verdict}\n  from: {steps}\n  {sql}\n"));
    }
    eprintln!("{} distinct statements:\n{report}", statements.len());

    let rejected: Vec<String> = statements
        .iter()
        .filter_map(|(sql, (verdict, steps))| match verdict {
            Verdict::Rejected(reason) => {
                let steps = steps.iter().copied().collect::<Vec<_>>().join(", ");
                Some(format!(
                    "  {sql}\n    because {reason}\n    issued by: {steps}"
                ))
            }
            _ => None,
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "{} statements are neither routed by a distribution column nor on the allowlist:\n{}",
        rejected.len(),
        rejected.join("\n")
    );

    let used: BTreeSet<usize> = statements
        .values()
        .filter_map(|(verdict, _)| match verdict {
            Verdict::Allowed(index) => Some(*index),
            _ => None,
        })
        .collect();
    let unused: Vec<&Allowed> = ALLOWED
        .iter()
        .enumerate()
        .filter(|(index, _)| !used.contains(index))
        .map(|(_, allowed)| allowed)
        .collect();
    assert!(
        unused.is_empty(),
        "allowlist entries that matched no statement; remove them or call the method that \
         issues them: {unused:#?}"
    );
}

// ---------------------------------------------------------------------------
// The classifier on statements written here, without a server

/// The revocation check of the certificate lookups, as diesel writes it.
const NOT_REVOKED: &str = "NOT (EXISTS (SELECT revocations.revoked_certificate_id \
     FROM revocations WHERE ((revocations.pre_enrollment_code = \
     certificates.pre_enrollment_code) AND (revocations.revoked_certificate_id = \
     certificates.certificate_id))))";

fn verdict(sql: &str) -> Verdict {
    classify(&normalize(sql), &[])
}

fn is_rejected(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Rejected(_))
}

#[test]
fn beneficiary_lookup_is_routed() {
    let sql = format!(
        "SELECT \"certificates\".\"certificate_id\" FROM \"certificates\" WHERE \
         ((\"certificates\".\"pre_enrollment_code\" = $1) AND {NOT_REVOKED}) -- binds: [\"B1\"]"
    );
    assert_eq!(verdict(&sql), Verdict::Routed);
}

#[test]
fn lookup_without_beneficiary_rejected() {
    let sql = format!(
        "SELECT certificates.certificate_id FROM certificates WHERE \
         ((certificates.name = $1) AND {NOT_REVOKED})"
    );
    let verdict = verdict(&sql);
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn revocation_check_needs_beneficiary_join() {
    let sql = "SELECT EXISTS (SELECT certificates.certificate_id FROM certificates WHERE \
               ((certificates.pre_enrollment_code = $1) AND NOT (EXISTS (SELECT 1 FROM \
               revocations WHERE (revocations.revoked_certificate_id = \
               certificates.certificate_id)))))";
    let verdict = verdict(sql);
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn negated_filter_is_not_routed() {
    let sql = "SELECT certificates.certificate_id FROM certificates WHERE \
               ( NOT ((certificates.pre_enrollment_code = $1)) AND \
               (certificates.mobile = $2))";
    let verdict = verdict(sql);
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn or_filter_is_not_routed() {
    let sql = "SELECT otp_challenges.mobile FROM otp_challenges WHERE \
               ((otp_challenges.mobile = $1) OR (otp_challenges.consumed = $2))";
    let verdict = verdict(sql);
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn insert_routes_by_column_list() {
    let routed = "INSERT INTO audit_events (served_at, certificate_id, route) VALUES ($1, $2, $3)";
    assert_eq!(verdict(routed), Verdict::Routed);
    let unrouted = "INSERT INTO audit_events (served_at, route) VALUES ($1, $2)";
    let unrouted = verdict(unrouted);
    assert!(is_rejected(&unrouted), "{unrouted:?}");
    let copy = "COPY \"revocations\"(\"revoked_certificate_id\", \"pre_enrollment_code\") \
                FROM STDIN WITH (FORMAT binary)";
    assert_eq!(verdict(copy), Verdict::Routed);
}

#[test]
fn unknown_table_rejected() {
    let verdict = verdict("SELECT sessions.id FROM sessions WHERE (sessions.id = $1)");
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn statement_without_table_rejected() {
    let verdict = verdict("SET LOCAL work_mem = '1GB'");
    assert!(is_rejected(&verdict), "{verdict:?}");
}

#[test]
fn coordinator_table_needs_no_filter() {
    let sql = "SELECT share_links.id FROM share_links ORDER BY share_links.created_at";
    assert_eq!(verdict(sql), Verdict::Coordinator);
}

#[test]
fn lock_lists_every_table() {
    let tables = tables_touched(
        "LOCK TABLE certificates, revocations, certificate_mobiles IN SHARE ROW EXCLUSIVE MODE",
    );
    assert_eq!(
        tables.into_iter().collect::<Vec<_>>(),
        ["certificate_mobiles", "certificates", "revocations"]
    );
}

#[test]
fn batch_splits_into_statements() {
    assert_eq!(
        split_statements("; SET LOCAL enable_seqscan = off; SET LOCAL jit = off", &[]),
        ["SET LOCAL enable_seqscan = off", "SET LOCAL jit = off"]
    );
}

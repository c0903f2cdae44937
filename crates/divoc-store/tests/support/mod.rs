//! Helpers that more than one test file of `divoc-store` needs.

use std::path::Path;

use diesel::PgConnection;
use diesel::connection::SimpleConnection;

/// Runs the `down.sql` of the latest PostgreSQL migration and removes its
/// version from diesel's table, as if the store had been created by the
/// version before it.
pub fn undo_latest_migration(connection: &mut PgConnection) {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let latest = std::fs::read_dir(&directory)
        .expect("migrations directory")
        .map(|entry| entry.expect("migration entry").path())
        .max()
        .expect("a migration");
    let down = std::fs::read_to_string(latest.join("down.sql")).expect("down.sql");
    let name = latest
        .file_name()
        .and_then(|name| name.to_str())
        .expect("migration name");
    let version: String = name
        .split('_')
        .next()
        .expect("version")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    connection
        .batch_execute(&format!(
            "BEGIN; {down}; DELETE FROM __diesel_schema_migrations WHERE version = '{version}'; \
             COMMIT"
        ))
        .expect("latest migration undone");
}

//! Helpers that more than one test file of `divoc-store` needs.

use diesel::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The store's PostgreSQL migrations, embedded as the store embeds them.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Reverts the latest PostgreSQL migration, as if the store had been created
/// by the version before it.
pub fn undo_latest_migration(connection: &mut PgConnection) {
    connection
        .revert_last_migration(MIGRATIONS)
        .expect("latest migration undone");
}

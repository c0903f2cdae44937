//! Helpers that more than one test file of `divoc-store` needs.

use diesel::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The store's PostgreSQL migrations, embedded as the store embeds them.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Reverts the PostgreSQL migrations down to the one that gave the key
/// columns byte order, that one included, as if the store had been created
/// by a version before it. Lookups then order ids by the database's default
/// collation.
pub fn undo_byte_order_migration(connection: &mut PgConnection) {
    loop {
        let reverted = connection
            .revert_last_migration(MIGRATIONS)
            .expect("latest migration undone")
            .to_string();
        if reverted == "20261207000000" {
            return;
        }
    }
}

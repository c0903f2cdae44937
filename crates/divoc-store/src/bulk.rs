//! How each backend writes the rows that an import found absent.
//!
//! On PostgreSQL the import reads the stored rows of each chunk first, so it
//! has the keys that are new, unless the store was empty and every key is
//! new. Those rows need no `ON CONFLICT` clause, and PostgreSQL loads them with
//! `COPY` in its binary format, which spares the server parsing and planning a
//! statement with tens of thousands of parameters. On SQLite the import inserts
//! each chunk first with one multi-row `INSERT OR IGNORE`, which skips stored
//! keys, and reads back only the rows it skipped.
//!
//! Every SQLite insert of new rows is an `INSERT OR IGNORE`, also into an
//! empty store, where the import then checks that no row was skipped. A
//! multi-row statement that can fail on a constraint (`UNIQUE`, or `NOT NULL`
//! outside of `OR IGNORE`) makes SQLite keep a statement journal: a copy of
//! every page that the statement changes, so that the statement alone can be
//! undone. Keys go into the indexes at random places, so by estimate the
//! journal copies one 16 KiB page per row and index. Without it, 10 million
//! records went into an empty store in 170 to 176 s instead of 227 to 231 s.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::import::SQLITE_MAX_BOUND_PARAMETERS;
use crate::rows::{
    CERTIFICATE_MOBILE_COLUMNS, NewCertificate, NewCertificateMobile, NewRevocation,
};
use crate::schema::{certificate_mobiles, certificates, revocations};

diesel::table! {
    /// Mobile rows of a PostgreSQL import, before they are merged into
    /// `certificate_mobiles` at its end. A temporary table, dropped at commit.
    import_mobiles (mobile, pre_enrollment_code) {
        mobile -> Text,
        pre_enrollment_code -> Text,
    }
}

/// Rows of [`NewCertificateMobile`] shaped for the staging table.
#[derive(Insertable)]
#[diesel(table_name = import_mobiles, treat_none_as_default_value = false)]
struct StagedMobile<'a> {
    mobile: &'a str,
    pre_enrollment_code: &'a str,
}

/// Writes rows whose keys are not stored yet. The caller runs inside the
/// import transaction and has established there that the keys are absent.
pub(crate) trait WriteNewRows {
    /// Inserts certificate rows. `rows` is one chunk, small enough for one
    /// SQLite statement.
    fn insert_new_certificates(&mut self, rows: &[&NewCertificate<'_>]) -> QueryResult<usize>;

    /// Inserts revocation rows, one chunk as for certificates.
    fn insert_new_revocations(&mut self, rows: &[&NewRevocation<'_>]) -> QueryResult<usize>;

    /// Inserts the certificate rows whose id is not stored and returns the ids
    /// it inserted, or `None` where the import reads the stored rows first
    /// instead. `rows` is one chunk, as for [`WriteNewRows::insert_new_certificates`].
    fn insert_absent_certificates(
        &mut self,
        rows: &[&NewCertificate<'_>],
    ) -> QueryResult<Option<Vec<String>>>;

    /// Inserts the revocation rows whose revoked id is not stored, as for certificates.
    fn insert_absent_revocations(
        &mut self,
        rows: &[&NewRevocation<'_>],
    ) -> QueryResult<Option<Vec<String>>>;

    /// Adds rows to `certificate_mobiles`, of any number, keeping those already
    /// stored. Unlike certificates, these may be stored already: another
    /// certificate of the same beneficiary and number added them. PostgreSQL
    /// stages the rows, and [`WriteNewRows::finish_mobile_rows`] writes them.
    fn add_mobile_rows(&mut self, rows: &[NewCertificateMobile<'_>]) -> QueryResult<usize>;

    /// Writes the rows that [`WriteNewRows::add_mobile_rows`] staged, once at
    /// the end of an import, and returns how many were new.
    fn finish_mobile_rows(&mut self) -> QueryResult<usize>;
}

impl WriteNewRows for SqliteConnection {
    fn insert_new_certificates(&mut self, rows: &[&NewCertificate<'_>]) -> QueryResult<usize> {
        pack_credentials(rows);
        let inserted = diesel::insert_or_ignore_into(certificates::table)
            .values(rows.to_vec())
            .execute(self)?;
        all_inserted(inserted, rows.len())
    }

    fn insert_new_revocations(&mut self, rows: &[&NewRevocation<'_>]) -> QueryResult<usize> {
        let inserted = diesel::insert_or_ignore_into(revocations::table)
            .values(rows.to_vec())
            .execute(self)?;
        all_inserted(inserted, rows.len())
    }

    /// `INSERT OR IGNORE … RETURNING`: SQLite checks each id while it inserts,
    /// so the stored rows need no read beforehand. A statement that cannot
    /// fail on a conflict also needs no statement journal, the copy of every
    /// page it changes that SQLite keeps to undo the statement alone.
    fn insert_absent_certificates(
        &mut self,
        rows: &[&NewCertificate<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        pack_credentials(rows);
        diesel::insert_or_ignore_into(certificates::table)
            .values(rows.to_vec())
            .returning(certificates::certificate_id)
            .get_results(self)
            .map(Some)
    }

    fn insert_absent_revocations(
        &mut self,
        rows: &[&NewRevocation<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        diesel::insert_or_ignore_into(revocations::table)
            .values(rows.to_vec())
            .returning(revocations::revoked_certificate_id)
            .get_results(self)
            .map(Some)
    }

    /// `INSERT OR IGNORE` rather than `ON CONFLICT DO NOTHING`, which still
    /// fails on a `NOT NULL` column and so needs a statement journal.
    fn add_mobile_rows(&mut self, rows: &[NewCertificateMobile<'_>]) -> QueryResult<usize> {
        let mut added = 0;
        for chunk in rows.chunks(SQLITE_MAX_BOUND_PARAMETERS / CERTIFICATE_MOBILE_COLUMNS) {
            added += diesel::insert_or_ignore_into(certificate_mobiles::table)
                .values(chunk)
                .execute(self)?;
        }
        Ok(added)
    }

    fn finish_mobile_rows(&mut self) -> QueryResult<usize> {
        Ok(0)
    }
}

/// Compresses the credentials of rows that SQLite is about to write.
fn pack_credentials(rows: &[&NewCertificate<'_>]) {
    let credentials: Vec<_> = rows.iter().map(|row| row.credential()).collect();
    crate::credential::pack_all(&credentials);
}

/// Checks the count of an `INSERT OR IGNORE` of rows that the import found
/// absent. A skipped row means that its key was stored after all, and the
/// error rolls the import back, with the rows that the statement did write.
fn all_inserted(inserted: usize, rows: usize) -> QueryResult<usize> {
    if inserted == rows {
        return Ok(inserted);
    }
    Err(diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::UniqueViolation,
        Box::new(format!(
            "{} of {rows} rows taken as new have a key that is stored already",
            rows - inserted
        )),
    ))
}

impl WriteNewRows for PgConnection {
    fn insert_new_certificates(&mut self, rows: &[&NewCertificate<'_>]) -> QueryResult<usize> {
        diesel::copy_from(certificates::table)
            .from_insertable(rows.to_vec())
            .execute(self)
    }

    fn insert_new_revocations(&mut self, rows: &[&NewRevocation<'_>]) -> QueryResult<usize> {
        diesel::copy_from(revocations::table)
            .from_insertable(rows.to_vec())
            .execute(self)
    }

    /// `None`: new rows are loaded with `COPY`, which has no conflict clause.
    fn insert_absent_certificates(
        &mut self,
        _rows: &[&NewCertificate<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        Ok(None)
    }

    fn insert_absent_revocations(
        &mut self,
        _rows: &[&NewRevocation<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        Ok(None)
    }

    /// Copies the rows into the staging table that [`stage_mobile_rows`]
    /// created. They are merged at the end of the import, with one sort,
    /// instead of once per batch into an index that grows with the import.
    fn add_mobile_rows(&mut self, rows: &[NewCertificateMobile<'_>]) -> QueryResult<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let staged: Vec<StagedMobile<'_>> = rows
            .iter()
            .map(|row| StagedMobile {
                mobile: row.mobile,
                pre_enrollment_code: row.pre_enrollment_code,
            })
            .collect();
        diesel::copy_from(import_mobiles::table)
            .from_insertable(staged)
            .execute(self)
    }

    /// Merges the staged rows into `certificate_mobiles` in key order, and
    /// empties the staging table.
    fn finish_mobile_rows(&mut self) -> QueryResult<usize> {
        let added = diesel::sql_query(
            "INSERT INTO certificate_mobiles (mobile, pre_enrollment_code) \
             SELECT DISTINCT mobile, pre_enrollment_code FROM import_mobiles \
             ORDER BY mobile, pre_enrollment_code ON CONFLICT DO NOTHING",
        )
        .execute(self)?;
        self.batch_execute("TRUNCATE import_mobiles")?;
        Ok(added)
    }
}

/// Creates the temporary table that a PostgreSQL import stages its mobile
/// rows in. It is dropped when the transaction ends. Its columns compare as
/// bytes, like those of `certificate_mobiles`, so that the merge sorts the rows
/// in that table's key order.
pub(crate) fn stage_mobile_rows(connection: &mut PgConnection) -> QueryResult<()> {
    connection.batch_execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS import_mobiles \
         (mobile TEXT COLLATE \"C\" NOT NULL, pre_enrollment_code TEXT COLLATE \"C\" NOT NULL) \
         ON COMMIT DROP",
    )
}

/// Lets the import write through a pooled connection.
impl<C> WriteNewRows for diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>
where
    C: WriteNewRows + diesel::r2d2::R2D2Connection + 'static,
{
    fn insert_new_certificates(&mut self, rows: &[&NewCertificate<'_>]) -> QueryResult<usize> {
        (**self).insert_new_certificates(rows)
    }

    fn insert_new_revocations(&mut self, rows: &[&NewRevocation<'_>]) -> QueryResult<usize> {
        (**self).insert_new_revocations(rows)
    }

    fn insert_absent_certificates(
        &mut self,
        rows: &[&NewCertificate<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        (**self).insert_absent_certificates(rows)
    }

    fn insert_absent_revocations(
        &mut self,
        rows: &[&NewRevocation<'_>],
    ) -> QueryResult<Option<Vec<String>>> {
        (**self).insert_absent_revocations(rows)
    }

    fn add_mobile_rows(&mut self, rows: &[NewCertificateMobile<'_>]) -> QueryResult<usize> {
        (**self).add_mobile_rows(rows)
    }

    fn finish_mobile_rows(&mut self) -> QueryResult<usize> {
        (**self).finish_mobile_rows()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use divoc_model::RevocationRecord;

    use super::*;
    use crate::Store;

    fn revocation(certificate_id: &str) -> RevocationRecord {
        RevocationRecord {
            pre_enrollment_code: "B1".to_owned(),
            certificate_id: certificate_id.to_owned(),
            dose: Some(1),
            previous_certificate_id: None,
        }
    }

    #[test]
    fn stored_key_fails_new_insert() {
        let store = Store::open(":memory:", &crate::StoreOptions::default()).expect("store opens");
        let crate::backend::Backend::Sqlite(pool) = &store.backend else {
            panic!("expected an SQLite store");
        };
        let mut connection = pool.get().expect("pooled connection");
        let records = [revocation("C1"), revocation("C2"), revocation("C3")];
        let rows: Vec<NewRevocation<'_>> = records.iter().map(NewRevocation::new).collect();

        let first = connection
            .insert_new_revocations(&[&rows[0]])
            .expect("a new row");
        assert_eq!(first, 1);

        let error = connection
            .insert_new_revocations(&[&rows[1], &rows[0], &rows[2]])
            .expect_err("C1 is stored");
        let diesel::result::Error::DatabaseError(kind, information) = error else {
            panic!("expected a database error, got {error:?}");
        };
        assert!(matches!(
            kind,
            diesel::result::DatabaseErrorKind::UniqueViolation
        ));
        assert_eq!(
            information.message(),
            "1 of 3 rows taken as new have a key that is stored already"
        );
    }
}

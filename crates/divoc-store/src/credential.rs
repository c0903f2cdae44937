//! Storage of a certificate's signed credential in the `certificate` column.
//!
//! PostgreSQL keeps the credential as text and compresses it itself. SQLite
//! keeps rows as they are, and a credential is most of a row, so an SQLite
//! store writes each credential compressed with zstd, as a BLOB. The
//! compressor starts from a dictionary trained on credentials in DIVOC's
//! layout. The dictionary contains their common text (field names, contexts,
//! vaccine names) and the statistics of the rest. So even one credential of
//! about 2 KB compresses to a quarter or a third of its size.
//!
//! A BLOB value starts with a format byte, then the length of the credential
//! as 4 bytes, little-endian, then one zstd frame. Format 1 is a frame
//! compressed with [`DICTIONARY_1`]. TEXT values, such as those of rows
//! written before this format, are read as they are.
//!
//! Compression is lossless: a credential reads back byte for byte as imported.

use std::cell::RefCell;
use std::sync::OnceLock;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{SqlType, Text};
use diesel::sqlite::{Sqlite, SqliteType};
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::CParameter;

/// SQL type of the `certificate` column of [`crate::schema::certificates`].
///
/// PostgreSQL stores the credential as TEXT. SQLite stores it as a BLOB: a
/// format byte (1), the credential's length as 4 bytes little-endian, and a
/// zstd frame compressed with a dictionary built into this crate. Rows written
/// by earlier versions contain TEXT. Reading the column through diesel into a
/// `String` returns the credential text in every case.
///
/// # Example
///
/// ```
/// use diesel::prelude::*;
/// use divoc_store::schema::certificates;
/// use divoc_store::{Store, StoreOptions};
///
/// let directory = tempfile::tempdir()?;
/// let path = directory.path().join("certificates.db");
/// let store = Store::open(&format!("sqlite://{}", path.display()), &StoreOptions::default())?;
/// let credential = r#"{"credentialSubject":{"name":"Asha"},"evidence":[{"dose":1}]}"#;
/// let export = serde_json::json!([
///     {"preEnrollmentCode": "BEN-1", "certificateId": "100000001", "certificate": credential},
/// ]);
/// store.import_text(&export.to_string())?;
///
/// let mut connection = diesel::SqliteConnection::establish(&path.display().to_string())?;
/// let stored: String = certificates::table
///     .select(certificates::certificate)
///     .first(&mut connection)?;
/// assert_eq!(stored, credential);
/// let class: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
///     "(SELECT typeof(certificate) FROM certificates)",
/// ))
/// .get_result(&mut connection)?;
/// assert_eq!(class, "blob");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 25, array_oid = 1009))]
#[diesel(sqlite_type(name = "Binary"))]
pub struct Credential;

/// Format byte of a credential compressed with [`DICTIONARY_1`].
const FORMAT_DICTIONARY_1: u8 = 1;

/// Bytes before the zstd frame: the format byte and the length.
const HEADER_LEN: usize = 5;

/// Largest credential that a stored value may claim to hold, in bytes. An
/// import rejects a longer one on both backends, and the limit keeps a
/// damaged length from reserving memory. Real credentials are about 2 KB.
pub(crate) const MAX_CREDENTIAL_LEN: usize = 16 << 20;

/// zstd level of stored credentials, the fastest of the positive levels. On
/// generated credentials, level 3 made them only 2 % smaller.
const LEVEL: i32 = 1;

/// The dictionary of format 1. It must never change: every value of format 1
/// needs these exact bytes to be read, so a new dictionary needs a new format
/// byte. `examples/train_credential_dictionary.rs` describes how it was
/// trained.
pub(crate) const DICTIONARY_1: &[u8] = include_bytes!("credential/dictionary-1.zdict");

fn encoder_dictionary() -> &'static EncoderDictionary<'static> {
    static DICTIONARY: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    DICTIONARY.get_or_init(|| EncoderDictionary::copy(DICTIONARY_1, LEVEL))
}

fn decoder_dictionary() -> &'static DecoderDictionary<'static> {
    static DICTIONARY: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    DICTIONARY.get_or_init(|| DecoderDictionary::copy(DICTIONARY_1))
}

thread_local! {
    /// zstd contexts, one per thread, so that a credential does not allocate
    /// a new one.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

fn new_compressor() -> std::io::Result<Compressor<'static>> {
    let mut compressor = Compressor::with_prepared_dictionary(encoder_dictionary())?;
    // The header carries the length, and the format byte names the dictionary.
    compressor.set_parameter(CParameter::ContentSizeFlag(false))?;
    compressor.set_parameter(CParameter::ChecksumFlag(false))?;
    compressor.set_parameter(CParameter::DictIdFlag(false))?;
    Ok(compressor)
}

/// Compresses a credential into the stored form of format 1.
pub(crate) fn pack(credential: &str) -> std::io::Result<Vec<u8>> {
    let length = u32::try_from(credential.len())
        .ok()
        .filter(|length| *length as usize <= MAX_CREDENTIAL_LEN)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "a credential of {} bytes is too long to store",
                    credential.len()
                ),
            )
        })?;
    let bound = zstd::zstd_safe::compress_bound(credential.len());
    let mut packed = Vec::with_capacity(HEADER_LEN + bound);
    packed.push(FORMAT_DICTIONARY_1);
    packed.extend_from_slice(&length.to_le_bytes());
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(compressor) => compressor,
            None => slot.insert(new_compressor()?),
        };
        packed.resize(HEADER_LEN + bound, 0);
        let written =
            compressor.compress_to_buffer(credential.as_bytes(), &mut packed[HEADER_LEN..])?;
        packed.truncate(HEADER_LEN + written);
        Ok(packed)
    })
}

/// Reads a stored BLOB value back into the credential text, or returns why
/// it cannot.
pub(crate) fn unpack(stored: &[u8]) -> Result<String, String> {
    let Some((&format, rest)) = stored.split_first() else {
        return Err("the value is empty".to_owned());
    };
    if format != FORMAT_DICTIONARY_1 {
        return Err(format!("unknown format {format}"));
    }
    let Some((length, frame)) = rest.split_first_chunk::<4>() else {
        return Err("the value is shorter than its header".to_owned());
    };

    // zstd decompresses an empty input to no bytes without an error, so a
    // value cut off after a header of length 0 would read as "".
    if frame.is_empty() {
        return Err("the value has no zstd frame".to_owned());
    }
    let length = u32::from_le_bytes(*length) as usize;
    if length > MAX_CREDENTIAL_LEN {
        return Err(format!("it claims {length} bytes"));
    }

    let text = DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(decompressor) => decompressor,
            None => slot.insert(Decompressor::with_prepared_dictionary(decoder_dictionary())?),
        };
        let mut text = Vec::with_capacity(length);
        decompressor.decompress_to_buffer(frame, &mut text)?;
        Ok::<_, std::io::Error>(text)
    });

    let text = text.map_err(|error| format!("zstd: {error}"))?;
    if text.len() != length {
        return Err(format!(
            "it decompresses to {} bytes, but its header gives {length}",
            text.len()
        ));
    }
    String::from_utf8(text).map_err(|_| "it is not UTF-8".to_owned())
}

/// A value of the `certificate` column as read, before it is decompressed.
#[derive(Debug, diesel::deserialize::FromSqlRow)]
pub(crate) enum StoredCredential {
    /// A TEXT value: PostgreSQL's, or one of an SQLite row written before
    /// compression.
    Text(String),
    /// A BLOB value of an SQLite store.
    Packed(Vec<u8>),
}

impl StoredCredential {
    /// Returns the credential text, or why it cannot be read.
    pub(crate) fn into_text(self) -> Result<String, String> {
        match self {
            Self::Text(text) => Ok(text),
            Self::Packed(packed) => unpack(&packed),
        }
    }

    /// Returns `true` if this value contains `credential`. An unreadable value
    /// matches nothing, so an import writes over it, unless the stored row's
    /// `osUpdatedAt` is later than the imported record's.
    pub(crate) fn matches(&self, credential: &CredentialText<'_>) -> bool {
        match self {
            Self::Text(stored) => stored == credential.text,
            // The same text compresses to the same bytes, unless another
            // version of zstd wrote them, so equal bytes settle it.
            Self::Packed(packed) => {
                credential.packed.get() == Some(packed)
                    || unpack(packed).is_ok_and(|stored| stored == credential.text)
            }
        }
    }
}

impl FromSql<Credential, Sqlite> for StoredCredential {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(match value.value_type() {
            Some(SqliteType::Binary) => Self::Packed(value.read_blob().to_vec()),
            _ => Self::Text(value.read_text().to_owned()),
        })
    }
}

impl FromSql<Credential, Pg> for StoredCredential {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <String as FromSql<Text, Pg>>::from_sql(value).map(Self::Text)
    }
}

/// Reads the column as text, for callers of [`crate::schema`]: an unreadable
/// value is an error.
impl FromSql<Credential, Sqlite> for String {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <StoredCredential as FromSql<Credential, Sqlite>>::from_sql(value)?
            .into_text()
            .map_err(|reason| format!("stored credential is unreadable: {reason}").into())
    }
}

impl FromSql<Credential, Pg> for String {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <String as FromSql<Text, Pg>>::from_sql(value)
    }
}

/// A credential to write to the `certificate` column, with its compressed
/// form once [`pack_all`] or the first write of an SQLite store has made it.
#[derive(Debug, AsExpression)]
#[diesel(sql_type = Credential)]
pub(crate) struct CredentialText<'a> {
    text: &'a str,
    packed: OnceLock<Vec<u8>>,
}

impl<'a> CredentialText<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            packed: OnceLock::new(),
        }
    }
}

impl ToSql<Credential, Sqlite> for CredentialText<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match self.packed.get() {
            Some(packed) => out.set_value(packed.as_slice()),
            None => out.set_value(pack(self.text)?),
        }
        Ok(serialize::IsNull::No)
    }
}

impl ToSql<Credential, Pg> for CredentialText<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.text, out)
    }
}

/// Compresses the credentials of a chunk of rows before SQLite writes them,
/// half of them on a second thread. An SQLite import writes on one thread,
/// and that thread limits the import. Compression took about a fifth of its
/// time, while the thread that parses the export left part of the other core
/// idle. A credential that fails to compress is left to the write, which
/// reports the error.
///
/// NOTE: in the runs of `docs/benchmarks.md`, imports with the second thread
/// were not measurably faster than with one. The host's speed varied by more
/// than the difference.
pub(crate) fn pack_all<'a>(credentials: &[&CredentialText<'a>]) {
    let pack_each = |credentials: &[&CredentialText<'a>]| {
        for credential in credentials {
            if let Ok(packed) = pack(credential.text) {
                // A cell that is set already keeps its value.
                let _ = credential.packed.set(packed);
            }
        }
    };
    let (first, second) = credentials.split_at(credentials.len() / 2);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("import-pack".to_owned())
            .spawn_scoped(scope, || pack_each(second));
        pack_each(first);
        if helper.is_err() {
            // Without a second thread, this one compresses both halves.
            pack_each(second);
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A credential in the layout of DIVOC's, with a name outside ASCII.
    const CREDENTIAL: &str = r#"{"@context":["https://www.w3.org/2018/credentials/v1","https://cowin.gov.in/credentials/vaccination/v1"],"type":["VerifiableCredential","ProofOfVaccinationCredential"],"credentialSubject":{"type":"Person","id":"did:Passport:Z1234567","refId":"12345678901234","name":"Zoë Łukasiewicz","gender":"Female","age":"41","nationality":"Indian","address":{"streetAddress":"12 Lake Road","streetAddress2":"","district":"Pune","city":"Pune","addressRegion":"Maharashtra","addressCountry":"IND","postalCode":"411001"},"dob":"1980-02-29"},"issuer":"https://cowin.gov.in/","issuanceDate":"2021-06-01T10:00:00.000Z","evidence":[{"id":"https://cowin.gov.in/vaccine/7000000001","infoUrl":"https://cowin.gov.in/?7000000001","feedbackUrl":"https://cowin.gov.in/?7000000001","certificateId":"7000000001","type":["Vaccination"],"batch":"4121Z025","vaccine":"Covishield","manufacturer":"Serum Institute of India","icd11Code":"XM9QW8","prophylaxis":"COVID-19 vaccine, non-replicating viral vector","date":"2021-06-01T09:58:00.000Z","effectiveStart":"2021-06-01","effectiveUntil":"2022-06-01","dose":2,"totalDoses":2,"verifier":{"name":"Dr. Asha Rao"},"facility":{"name":"City Hospital","address":{"streetAddress":"1 Station Road","streetAddress2":"","district":"Pune","city":"Pune","addressRegion":"Maharashtra","addressCountry":"IND","postalCode":"411001"}}}],"nonTransferable":"true","proof":{"type":"RsaSignature2018","created":"2021-06-01T10:00:00Z","verificationMethod":"did:india","proofPurpose":"assertionMethod","jws":"eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..c2lnbmF0dXJlLW9mLXRoaXMtdGVzdC1jcmVkZW50aWFsLW5vdC1hLXJlYWwtb25l"}}"#;

    #[test]
    fn credential_reads_back_byte_for_byte() {
        let packed = pack(CREDENTIAL).unwrap();
        assert_eq!(packed[0], FORMAT_DICTIONARY_1);
        assert_eq!(&packed[1..5], &(CREDENTIAL.len() as u32).to_le_bytes());
        assert_eq!(unpack(&packed).unwrap(), CREDENTIAL);
    }

    #[test]
    fn dictionary_compresses_below_a_third() {
        let packed = pack(CREDENTIAL).unwrap();
        assert!(
            packed.len() * 3 < CREDENTIAL.len(),
            "{} bytes packed from {}",
            packed.len(),
            CREDENTIAL.len()
        );
    }

    #[test]
    fn arbitrary_text_round_trips() {
        for text in [
            "",
            "{}",
            "x",
            "not JSON at all \u{1F600}",
            &"ab".repeat(40_000),
        ] {
            assert_eq!(unpack(&pack(text).unwrap()).unwrap(), text);
        }
    }

    /// Stored values of format 1 need these exact bytes. A changed dictionary
    /// needs a new format byte instead.
    #[test]
    fn dictionary_of_format_1_is_unchanged() {
        // FNV-1a, 64 bits.
        let hash = DICTIONARY_1
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        assert_eq!((DICTIONARY_1.len(), hash), (8192, 0x008b_d02d_eb7c_0432));
    }

    #[test]
    fn damaged_values_are_errors() {
        let packed = pack(CREDENTIAL).unwrap();
        let message = |value: &[u8]| unpack(value).unwrap_err();
        assert_eq!(message(&[]), "the value is empty");
        assert_eq!(message(&[2, 0, 0, 0, 0]), "unknown format 2");
        assert_eq!(
            message(&packed[..3]),
            "the value is shorter than its header"
        );
        assert_eq!(
            message(&packed[..HEADER_LEN]),
            "the value has no zstd frame"
        );
        assert_eq!(message(&[1, 0, 0, 0, 0]), "the value has no zstd frame");

        let mut too_long = packed.clone();
        too_long[1..5].copy_from_slice(&(MAX_CREDENTIAL_LEN as u32 + 1).to_le_bytes());
        assert_eq!(
            message(&too_long),
            format!("it claims {} bytes", MAX_CREDENTIAL_LEN + 1)
        );

        let mut short_claim = packed.clone();
        short_claim[1..5].copy_from_slice(&10_u32.to_le_bytes());
        assert!(
            message(&short_claim).starts_with("zstd: "),
            "{}",
            message(&short_claim)
        );

        let mut long_claim = packed.clone();
        long_claim[1..5].copy_from_slice(&(CREDENTIAL.len() as u32 + 1).to_le_bytes());
        assert_eq!(
            message(&long_claim),
            format!(
                "it decompresses to {} bytes, but its header gives {}",
                CREDENTIAL.len(),
                CREDENTIAL.len() + 1
            )
        );

        let truncated = &packed[..packed.len() - 4];
        assert!(
            message(truncated).starts_with("zstd: "),
            "{}",
            message(truncated)
        );
    }

    #[test]
    fn stored_value_matches_own_text() {
        let stored = StoredCredential::Packed(pack(CREDENTIAL).unwrap());
        // Not compressed yet: the stored value is read back to compare.
        assert!(stored.matches(&CredentialText::new(CREDENTIAL)));
        let packed = CredentialText::new(CREDENTIAL);
        pack_all(&[&packed]);
        assert_eq!(
            packed.packed.get().map(Vec::as_slice),
            Some(pack(CREDENTIAL).unwrap().as_slice())
        );
        assert!(stored.matches(&packed));

        let other = CREDENTIAL.replace("Asha Rao", "Asha Raj");
        assert!(!stored.matches(&CredentialText::new(&other)));
        assert!(!StoredCredential::Packed(vec![2]).matches(&packed));
        assert!(StoredCredential::Text(CREDENTIAL.to_owned()).matches(&packed));
        assert!(!StoredCredential::Text(other).matches(&packed));
    }

    #[test]
    fn pack_all_compresses_whole_chunk() {
        let texts: Vec<String> = (0..7)
            .map(|index| CREDENTIAL.replace("7000000001", &format!("70000000{index:02}")))
            .collect();
        let credentials: Vec<CredentialText<'_>> =
            texts.iter().map(|text| CredentialText::new(text)).collect();
        let chunk: Vec<&CredentialText<'_>> = credentials.iter().collect();
        pack_all(&chunk);
        for (credential, text) in credentials.iter().zip(&texts) {
            let packed = credential.packed.get().expect("compressed");
            assert_eq!(unpack(packed).unwrap(), *text);
        }
    }
}

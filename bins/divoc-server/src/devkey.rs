//! The development signing key that `demo` makes on first run, so that a new user
//! gets a working token without a Keycloak. Never used when a key is configured.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::SecretKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Serialize;

/// File name of the development private key inside the data folder.
pub const PRIVATE_KEY_FILE: &str = "dev-signing-key.pem";
/// File name of the development public key inside the data folder.
pub const PUBLIC_KEY_FILE: &str = "dev-public-key.pem";

/// Errors from making or using the development key.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    /// Reading or writing a key file failed.
    #[error("development key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key could not be encoded, decoded or used for signing.
    #[error("development key: {0}")]
    Key(String),
}

/// An ES256 key pair kept in the data folder.
pub struct DevKey {
    private_pem: String,
    /// Path of the public key file.
    pub public_path: PathBuf,
}

#[derive(Serialize)]
struct DemoClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    iat: i64,
    exp: i64,
    realm_access: RealmAccess<'a>,
}

/// Keycloak's layout of realm roles.
#[derive(Serialize)]
struct RealmAccess<'a> {
    roles: [&'a str; 1],
}

impl DevKey {
    /// Loads the key pair from `folder`, making one first if there is none.
    pub fn load_or_create(folder: &Path) -> Result<DevKey, DevKeyError> {
        let private_path = folder.join(PRIVATE_KEY_FILE);
        let public_path = folder.join(PUBLIC_KEY_FILE);
        let io_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| DevKeyError::Io { path, source }
        };
        let secret = if private_path.exists() {
            let pem = fs::read_to_string(&private_path).map_err(io_error(&private_path))?;
            SecretKey::from_pkcs8_pem(&pem).map_err(|error| DevKeyError::Key(error.to_string()))?
        } else {
            fs::create_dir_all(folder).map_err(io_error(folder))?;
            let secret = SecretKey::random(&mut rand_core::OsRng);
            let pem = secret
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|error| DevKeyError::Key(error.to_string()))?;
            write_private(&private_path, pem.as_bytes()).map_err(io_error(&private_path))?;
            secret
        };
        let private_pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| DevKeyError::Key(error.to_string()))?
            .to_string();
        let public_pem = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| DevKeyError::Key(error.to_string()))?;
        fs::write(&public_path, &public_pem).map_err(io_error(&public_path))?;
        Ok(DevKey {
            private_pem,
            public_path,
        })
    }

    /// Signs a token for the demo user, valid for `hours`, with one realm role:
    /// `api` (distribution) reaches every sample beneficiary, `facility-staff`
    /// (print) the facility search and bulk print.
    pub fn token(&self, hours: i64, role: &str) -> Result<String, DevKeyError> {
        let now = chrono::Utc::now().timestamp();
        let claims = DemoClaims {
            sub: "demo",
            iss: "divoc-server-demo",
            iat: now,
            exp: now + hours * 3600,
            realm_access: RealmAccess { roles: [role] },
        };
        let key = EncodingKey::from_ec_pem(self.private_pem.as_bytes())
            .map_err(|error| DevKeyError::Key(error.to_string()))?;
        encode(&Header::new(Algorithm::ES256), &claims, &key)
            .map_err(|error| DevKeyError::Key(error.to_string()))
    }
}

/// Writes a new file readable by its owner only; fails if it exists.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

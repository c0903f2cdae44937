//! The health check's comparison of an SQLite store's files with those it
//! opened. SQLite goes on using a file that was deleted, replaced or made
//! read-only under it, and loses the writes or drops them.

use std::path::{Path, PathBuf};

/// The files of an SQLite store as it opened them.
#[derive(Debug)]
pub(crate) struct OpenedFiles {
    /// The configured path, made absolute. Links in it are followed at each
    /// check, so a link that now names another file counts as a replacement.
    path: PathBuf,
    /// Device and inode numbers of the database file.
    identity: (u64, u64),
    /// The write-ahead log and its index (`-wal`, `-shm`), next to the file
    /// that the path named at open, with their identities.
    companions: Vec<(PathBuf, (u64, u64))>,
}

impl OpenedFiles {
    /// Records the files of the database at `path`, which the store has just
    /// opened and keeps open. Returns `None` when the file cannot be read.
    pub(crate) fn record(path: &Path) -> Option<Self> {
        let path = std::path::absolute(path).ok()?;
        let identity = file_identity(&path).ok()?;
        let real = std::fs::canonicalize(&path).ok()?;
        let companions = ["-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = real.clone().into_os_string();
                name.push(suffix);
                let companion = PathBuf::from(name);
                let identity = file_identity(&companion).ok()?;
                Some((companion, identity))
            })
            .collect();
        Some(Self {
            path,
            identity,
            companions,
        })
    }

    /// Returns what changed since the store opened, if anything: the database
    /// file or one of its companions was deleted or replaced, or the database
    /// file can no longer be written by this process.
    pub(crate) fn change(&self) -> Option<String> {
        match file_identity(&self.path) {
            Ok(identity) if identity == self.identity => {}
            Ok(_) => {
                return Some(format!(
                    "the database file {} was replaced by another file while the store was \
                     open; writes go to the replaced file, so restart the server",
                    self.path.display()
                ));
            }
            Err(error) => {
                return Some(format!(
                    "the database file {} is gone ({error}) while the store is open; writes \
                     go to the deleted file, so restore it and restart the server",
                    self.path.display()
                ));
            }
        }
        if let Err(error) = std::fs::OpenOptions::new().write(true).open(&self.path) {
            return Some(format!(
                "the database file {} can no longer be written by this process ({error}); \
                 writes fail, so make it writable again",
                self.path.display()
            ));
        }
        for (companion, identity) in &self.companions {
            match file_identity(companion) {
                Ok(now) if now == *identity => {}
                Ok(_) => {
                    return Some(format!(
                        "the database's file {} was replaced by another file while the store \
                         was open; recent writes may be lost, so restart the server",
                        companion.display()
                    ));
                }
                Err(error) => {
                    return Some(format!(
                        "the database's file {} is gone ({error}) while the store is open; \
                         writes since the last checkpoint go to the deleted file, so restart \
                         the server",
                        companion.display()
                    ));
                }
            }
        }
        None
    }
}

#[cfg(unix)]
fn file_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;

    let metadata = std::fs::metadata(path)?;
    Ok((metadata.dev(), metadata.ino()))
}

/// Outside Unix the check finds a deleted file only: every existing file
/// has the same identity.
#[cfg(not(unix))]
fn file_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|_| (0, 0))
}

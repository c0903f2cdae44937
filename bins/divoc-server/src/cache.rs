//! Bounded in-memory cache of rendered files (PDF and QR PNG), shared by all
//! workers, and the keys that identify a rendering.
//!
//! A key is a SHA-256 over everything that reaches the file: the template
//! version (settings and crate version), the kind of file, the chosen
//! certificate and the full content of every record the file was rendered
//! from. A new or corrected record therefore gives a new key, and an entry
//! never has to be invalidated: it is only evicted when the cache is full.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use actix_web::http::header::EntityTag;
use actix_web::web::Bytes;
use divoc_model::RegistryRecord;
use divoc_pdf::{PdfRenderer, PdfSettings};
use divoc_qr::QrOptions;
use sha2::{Digest, Sha256};

/// Bytes of the key shown in an ETag: 128 bits, as 32 hex digits.
const ETAG_KEY_BYTES: usize = 16;

/// Kind of rendered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The certificate page.
    Pdf,
    /// The QR code as a PNG image.
    QrPng,
}

impl FileKind {
    /// Returns the name hashed into keys.
    fn as_str(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::QrPng => "qr",
        }
    }

    /// Returns the `Content-Type` of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::QrPng => "image/png",
        }
    }

    /// Returns the extension of the file name in `Content-Disposition`.
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::QrPng => "png",
        }
    }
}

/// Digest of the PDF and QR settings and the crate version, computed once at
/// startup and hashed into every key.
///
/// NOTE: a change to the rendering code that ships without a version bump keeps
/// the same template version, so clients may get 304 for a file that the new
/// code would render differently. The cache itself starts empty on every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateVersion([u8; 32]);

impl TemplateVersion {
    /// Hashes the effective settings of both renderers.
    pub fn new(pdf: &PdfSettings, qr: &QrOptions, png_pixels_per_module: u32) -> Self {
        let mut hasher = FieldHasher::new("divoc-server template version");
        hasher.field(env!("CARGO_PKG_VERSION").as_bytes());
        // Debug output lists every field, so any change of a setting changes it.
        hasher.field(format!("{pdf:?}").as_bytes());
        hasher.field(format!("{qr:?}").as_bytes());
        hasher.field(&png_pixels_per_module.to_le_bytes());
        TemplateVersion(hasher.finish())
    }

    /// Adds the printed labels of every language and the script fonts that
    /// were read, which label files and installed fonts can change without a
    /// change of settings.
    pub fn with_languages(self, renderer: &PdfRenderer) -> Self {
        let mut hasher = FieldHasher::new("divoc-server template languages");
        hasher.field(&self.0);
        for language in renderer.languages() {
            hasher.field(language.as_bytes());
            hasher.field(format!("{:?}", renderer.labels(language)).as_bytes());
        }
        for font in renderer.script_fonts() {
            hasher.field(font.as_bytes());
        }
        TemplateVersion(hasher.finish())
    }
}

/// Identity of one rendered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Computes the key of a `kind` file that shows `chosen` and was rendered
    /// from `inputs`, the records whose content reaches the file (`chosen`
    /// among them). The order of `inputs` is part of the key.
    pub fn new(
        template: &TemplateVersion,
        kind: FileKind,
        chosen: &RegistryRecord,
        inputs: &[&RegistryRecord],
    ) -> Self {
        let mut hasher = FieldHasher::new("divoc-server render cache key v1");
        hasher.field(&template.0);
        hasher.field(kind.as_str().as_bytes());
        hasher.record_version(chosen);
        hasher.field(
            &u64::try_from(inputs.len())
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        for record in inputs {
            hasher.record_version(record);
            hasher.field(record.certificate.as_bytes());
        }
        CacheKey(hasher.finish())
    }

    /// Returns the key of the same file printed in `language`, a code that
    /// [`PdfRenderer::resolve_language`] returned.
    pub fn in_language(&self, language: &str) -> Self {
        let mut hasher = FieldHasher::new("divoc-server render cache key language v1");
        hasher.field(&self.0);
        hasher.field(language.as_bytes());
        CacheKey(hasher.finish())
    }

    /// Returns the strong ETag of the file: the first 128 bits of the key in hex.
    /// Renders are deterministic (the same input and settings give the same
    /// bytes), which a strong validator requires.
    pub fn etag(&self) -> EntityTag {
        let hex: String = self
            .0
            .iter()
            .take(ETAG_KEY_BYTES)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        EntityTag::new_strong(hex)
    }
}

/// SHA-256 over length-prefixed fields, so that no two field lists hash the
/// same bytes.
struct FieldHasher(Sha256);

impl FieldHasher {
    fn new(domain: &str) -> Self {
        let mut hasher = FieldHasher(Sha256::new());
        hasher.field(domain.as_bytes());
        hasher
    }

    fn field(&mut self, bytes: &[u8]) {
        let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        self.0.update(length.to_le_bytes());
        self.0.update(bytes);
    }

    /// Hashes a record's `certificateId` and `osUpdatedAt`; a missing time is an
    /// empty field, which no RFC 3339 time is.
    fn record_version(&mut self, record: &RegistryRecord) {
        self.field(record.certificate_id.as_bytes());
        let updated_at = record
            .os_updated_at
            .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_default();
        self.field(updated_at.as_bytes());
    }

    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Counters and size of the cache at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Whether the cache stores files.
    pub enabled: bool,
    /// Limit on the bytes of stored files; 0 when the cache is disabled.
    pub max_bytes: usize,
    /// Lookups that found the file.
    pub hits: u64,
    /// Lookups that did not find the file.
    pub misses: u64,
    /// Files stored.
    pub entries: usize,
    /// Bytes of the files stored.
    pub bytes: usize,
}

/// Rendered files by key, least recently used evicted first. The byte limit
/// counts file contents only. Each entry also takes about 100 bytes of
/// bookkeeping (key, hash-map and tree nodes).
pub struct RenderCache {
    enabled: bool,
    max_bytes: usize,
    state: Mutex<LruState>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl RenderCache {
    /// Creates an empty cache that stores at most `max_bytes` of files. A
    /// disabled cache stores nothing and counts no hits or misses.
    pub fn new(enabled: bool, max_bytes: usize) -> Self {
        RenderCache {
            enabled,
            max_bytes: if enabled { max_bytes } else { 0 },
            state: Mutex::new(LruState::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Looks up a file, counts a hit or a miss, and marks a found file as the
    /// most recently used.
    pub fn get(&self, key: &CacheKey) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let found = self.lock().touch(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Looks up a file like [`RenderCache::get`] but counts nothing. It is for a
    /// request that has already counted its miss and then waited for a render
    /// thread, because another request may have rendered the same file meanwhile.
    pub fn get_uncounted(&self, key: &CacheKey) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        self.lock().touch(key)
    }

    /// Stores a file, evicting the least recently used ones until it fits. A
    /// file larger than the whole limit is not stored.
    pub fn insert(&self, key: CacheKey, file: Bytes) {
        if !self.enabled || file.len() > self.max_bytes {
            return;
        }
        self.lock().insert(key, file, self.max_bytes);
    }

    /// Returns the counters and the current size.
    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = {
            let state = self.lock();
            (state.entries.len(), state.bytes)
        };
        CacheStats {
            enabled: self.enabled,
            max_bytes: self.max_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    /// Locks the entries. A lock poisoned by a panic elsewhere is recovered by
    /// emptying the cache, because the entries may be half updated.
    fn lock(&self) -> MutexGuard<'_, LruState> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => {
                let mut state = poisoned.into_inner();
                state.clear();
                self.state.clear_poison();
                tracing::warn!("render cache lock was poisoned by a panic; the cache was emptied");
                state
            }
        }
    }
}

/// A stored file and its place in the recency order.
struct Entry {
    file: Bytes,
    last_used: u64,
}

/// Entries plus their recency order: `recency` maps each entry's last-use tick
/// to its key, so the first item is the least recently used.
#[derive(Default)]
struct LruState {
    entries: HashMap<CacheKey, Entry>,
    recency: BTreeMap<u64, CacheKey>,
    clock: u64,
    bytes: usize,
}

impl LruState {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn touch(&mut self, key: &CacheKey) -> Option<Bytes> {
        let now = self.tick();
        let entry = self.entries.get_mut(key)?;
        self.recency.remove(&entry.last_used);
        entry.last_used = now;
        self.recency.insert(now, *key);
        Some(entry.file.clone())
    }

    /// Stores `file` under `key`; the caller has checked that it fits in `max_bytes`.
    fn insert(&mut self, key: CacheKey, file: Bytes, max_bytes: usize) {
        self.remove(&key);
        while self.bytes.saturating_add(file.len()) > max_bytes {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(evicted.file.len());
            }
        }
        let now = self.tick();
        self.bytes = self.bytes.saturating_add(file.len());
        self.recency.insert(now, key);
        self.entries.insert(
            key,
            Entry {
                file,
                last_used: now,
            },
        );
    }

    fn remove(&mut self, key: &CacheKey) {
        if let Some(entry) = self.entries.remove(key) {
            self.recency.remove(&entry.last_used);
            self.bytes = self.bytes.saturating_sub(entry.file.len());
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.recency.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    fn file(length: usize) -> Bytes {
        Bytes::from(vec![7; length])
    }

    fn record(certificate_id: &str, certificate: &str) -> RegistryRecord {
        serde_json::from_value(serde_json::json!({
            "preEnrollmentCode": "BEN1",
            "certificateId": certificate_id,
            "certificate": certificate,
            "osUpdatedAt": "2021-05-03T04:55:20.968Z",
        }))
        .unwrap()
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = RenderCache::new(true, 300);
        cache.insert(key(1), file(100));
        cache.insert(key(2), file(100));
        cache.insert(key(3), file(100));
        // Using 1 makes 2 the least recently used.
        assert!(cache.get(&key(1)).is_some());
        cache.insert(key(4), file(100));
        assert!(cache.get(&key(2)).is_none());
        assert!(cache.get(&key(1)).is_some());
        assert!(cache.get(&key(3)).is_some());
        assert!(cache.get(&key(4)).is_some());
        let stats = cache.stats();
        assert_eq!(stats.entries, 3);
        assert_eq!(stats.bytes, 300);
        assert_eq!(stats.hits, 4);
        assert_eq!(stats.misses, 1);
    }

    #[test]
    fn large_file_evicts_several() {
        let cache = RenderCache::new(true, 300);
        cache.insert(key(1), file(100));
        cache.insert(key(2), file(100));
        cache.insert(key(3), file(100));
        cache.insert(key(4), file(250));
        let stats = cache.stats();
        assert_eq!(stats.entries, 1);
        assert_eq!(stats.bytes, 250);
        assert!(cache.get_uncounted(&key(4)).is_some());
    }

    #[test]
    fn file_over_limit_not_stored() {
        let cache = RenderCache::new(true, 300);
        cache.insert(key(1), file(100));
        cache.insert(key(2), file(301));
        let stats = cache.stats();
        assert_eq!(stats.entries, 1);
        assert_eq!(stats.bytes, 100);
        assert!(cache.get_uncounted(&key(2)).is_none());
    }

    #[test]
    fn insert_same_key_replaces() {
        let cache = RenderCache::new(true, 300);
        cache.insert(key(1), file(100));
        cache.insert(key(1), file(50));
        let stats = cache.stats();
        assert_eq!(stats.entries, 1);
        assert_eq!(stats.bytes, 50);
    }

    #[test]
    fn disabled_stores_and_counts_nothing() {
        let cache = RenderCache::new(false, 300);
        cache.insert(key(1), file(100));
        assert!(cache.get(&key(1)).is_none());
        let stats = cache.stats();
        assert_eq!(
            stats,
            CacheStats {
                enabled: false,
                max_bytes: 0,
                hits: 0,
                misses: 0,
                entries: 0,
                bytes: 0,
            }
        );
    }

    #[test]
    fn poisoned_lock_empties_cache() {
        let cache = RenderCache::new(true, 300);
        cache.insert(key(1), file(100));
        let result = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _state = cache.state.lock();
                    panic!("poison the lock");
                })
                .join()
        });
        assert!(result.is_err());
        assert!(cache.get(&key(1)).is_none());
        cache.insert(key(2), file(100));
        assert!(cache.get(&key(2)).is_some());
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn key_changes_with_every_input() {
        let template = TemplateVersion::new(&PdfSettings::default(), &QrOptions::default(), 2);
        let dose1 = record("100", "{\"dose\":1}");
        let dose2 = record("200", "{\"dose\":2}");
        let base = CacheKey::new(&template, FileKind::Pdf, &dose2, &[&dose1, &dose2]);
        assert_eq!(
            base,
            CacheKey::new(&template, FileKind::Pdf, &dose2, &[&dose1, &dose2])
        );

        let qr = CacheKey::new(&template, FileKind::QrPng, &dose2, &[&dose1, &dose2]);
        assert_ne!(base, qr);

        let corrected = record("100", "{\"dose\":1,\"batch\":\"B\"}");
        let changed_text = CacheKey::new(&template, FileKind::Pdf, &dose2, &[&corrected, &dose2]);
        assert_ne!(base, changed_text);

        let mut later = dose1.clone();
        later.os_updated_at = Some(chrono::DateTime::UNIX_EPOCH);
        let changed_time = CacheKey::new(&template, FileKind::Pdf, &dose2, &[&later, &dose2]);
        assert_ne!(base, changed_time);

        let fewer = CacheKey::new(&template, FileKind::Pdf, &dose2, &[&dose2]);
        assert_ne!(base, fewer);

        let pixels = TemplateVersion::new(&PdfSettings::default(), &QrOptions::default(), 3);
        let other_template = CacheKey::new(&pixels, FileKind::Pdf, &dose2, &[&dose1, &dose2]);
        assert_ne!(base, other_template);
    }

    #[test]
    fn etag_is_strong_hex_prefix() {
        let tag = CacheKey([0xab; 32]).etag();
        assert!(!tag.weak);
        assert_eq!(tag.tag(), "abababababababababababababababab");
    }
}

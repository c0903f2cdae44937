//! Many finished certificate PDFs merged into one multi-page PDF for printing.
//!
//! [`BulkPdfWriter`] takes finished PDFs one at a time (the output of
//! [`crate::PdfRenderer::render`]), copies their pages into one document and
//! writes every object to the output as soon as it is copied. Memory therefore
//! grows only with the number of objects written (an offset and a hash each,
//! and a subset tag for each font program), never with the page content.
//!
//! Objects that are byte-for-byte the same after renumbering, such as the
//! built-in Helvetica font dictionaries that every certificate carries, are
//! written once and shared by all pages that use them. Two objects are the
//! same when the SHA-256 hashes of their serialized forms are equal.
//!
//! PDF requires different font subsets in one file to have different subset
//! tags, the six capital letters before the `+` of the font name (PDF
//! 32000-1:2008, section 9.6.4). The renderer derives each tag from a hash of
//! the subset, so two different subsets get the same tag only by chance, but
//! with 26^6 tags that chance grows with the square of the number of subsets.
//! The writer therefore gives a subset a new tag when its tag already belongs
//! to another font program in the merged file.

use std::collections::HashMap;
use std::io::Write;

use lopdf::{Dictionary, Document, Object, ObjectId, Writer};
use sha2::{Digest, Sha256};

use crate::embed::tag_letters;

/// Object number of the catalog in the merged file.
const CATALOG_ID: u32 = 1;
/// Object number of the page tree root in the merged file.
const PAGES_ID: u32 = 2;
/// Page attributes that a page may inherit from its ancestors in the page
/// tree (PDF 32000-1:2008, section 7.7.3.4).
const INHERITED_KEYS: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];
/// Font descriptor keys that refer to an embedded font program.
const FONT_FILE_KEYS: [&[u8]; 3] = [b"FontFile", b"FontFile2", b"FontFile3"];
/// Maximum nesting of arrays, dictionaries and references below a page that
/// [`BulkPdfWriter::add_pdf`] copies. Copying recurses once per level, and
/// without a limit a chain of a thousand references overflowed the 2 MB stack
/// of a test thread. The deepest objects of a rendered certificate, its
/// embedded font files, are 13 levels down.
pub const MAX_OBJECT_DEPTH: usize = 64;

/// Failure to merge a PDF or to write the merged file.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// An input PDF could not be read or has a broken page tree.
    #[error("invalid input PDF: {0}")]
    Input(String),
    /// Writing the output failed.
    #[error("writing the merged PDF failed: {0}")]
    Write(#[from] std::io::Error),
}

/// Counts of a finished merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkSummary {
    /// Pages in the merged file.
    pub pages: usize,
    /// Indirect objects written, page tree and catalog included.
    pub objects: usize,
    /// Objects of the inputs that were not written again because an identical
    /// object was already in the file.
    pub shared_objects: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes a multi-page PDF incrementally from finished single-page PDFs.
///
/// Call [`BulkPdfWriter::add_pdf`] once per input, then
/// [`BulkPdfWriter::finish`], which writes the page tree, the cross-reference
/// table and the trailer. A writer dropped before `finish` leaves an
/// incomplete file.
///
/// ```
/// use divoc_pdf::bulk::BulkPdfWriter;
/// # use divoc_model::VaccinationCredential;
/// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
/// # use divoc_qr::{CertificateQr, QrOptions};
/// # let renderer = PdfRenderer::new(PdfSettings::default())?;
/// # let render = |certificate_id: &str, name: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
/// #     let signed = format!(r#"{{"credentialSubject":{{"name":"{name}"}},"evidence":[{{"dose":1}}]}}"#);
/// #     let credential = VaccinationCredential::parse(certificate_id, &signed)?;
/// #     let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
/// #     let input = CertificateInput {
/// #         certificate_id,
/// #         credential: &credential,
/// #         doses: &[],
/// #         qr: &qr,
/// #         updated_at: None,
/// #     };
/// #     Ok(renderer.render(&input)?)
/// # };
/// let first = render("100000001", "Asha Rao")?;
/// let second = render("100000002", "Ravi Kumar")?;
///
/// let mut merged = BulkPdfWriter::new(Vec::new())?;
/// merged.add_pdf(&first)?;
/// merged.add_pdf(&second)?;
/// let (bytes, summary) = merged.finish()?;
/// assert_eq!(summary.pages, 2);
/// assert_eq!(summary.bytes, bytes.len() as u64);
/// // The two certificates share their built-in font dictionaries.
/// assert!(summary.shared_objects > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BulkPdfWriter<W: Write> {
    out: W,
    position: u64,
    /// Byte offset of each object written, indexed by object number minus one.
    offsets: Vec<Option<u64>>,
    /// Object number of each page, in page order.
    pages: Vec<u32>,
    /// Object number of each written object that may be shared, by content hash.
    shared: HashMap<[u8; 32], u32>,
    shared_objects: usize,
    /// Object number of the font program of each subset tag written.
    subset_tags: HashMap<[u8; 6], u32>,
}

impl<W: Write> BulkPdfWriter<W> {
    /// Writes the file header and reserves the catalog and page tree numbers.
    ///
    /// # Errors
    ///
    /// [`BulkError::Write`] when the output fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::bulk::{BulkError, BulkPdfWriter};
    ///
    /// let writer = BulkPdfWriter::new(Vec::new())?;
    /// assert_eq!(writer.page_count(), 0);
    /// // A PDF needs a page, so a writer without one cannot finish.
    /// assert!(matches!(writer.finish(), Err(BulkError::Input(_))));
    /// # Ok::<(), BulkError>(())
    /// ```
    pub fn new(out: W) -> Result<Self, BulkError> {
        let mut writer = BulkPdfWriter {
            out,
            position: 0,
            offsets: vec![None, None],
            pages: Vec::new(),
            shared: HashMap::new(),
            shared_objects: 0,
            subset_tags: HashMap::new(),
        };
        // The comment's bytes above 127 mark the file as binary for transfer tools.
        writer.write_bytes(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        Ok(writer)
    }

    /// Returns the number of pages added so far.
    ///
    /// See the example of [`BulkPdfWriter::add_pdf`].
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Copies every page of `pdf` to the end of the merged file and returns
    /// the number of pages copied.
    ///
    /// # Errors
    ///
    /// [`BulkError::Input`] when `pdf` cannot be parsed, its page tree is
    /// broken, or its objects are nested more than [`MAX_OBJECT_DEPTH`] levels
    /// below a page. Objects copied before the failure stay in the file, unused, but
    /// no page of `pdf` is added, so the merged file stays valid.
    /// [`BulkError::Write`] when the output fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::bulk::{BulkError, BulkPdfWriter};
    /// # use divoc_model::VaccinationCredential;
    /// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// # use divoc_qr::{CertificateQr, QrOptions};
    /// # let settings = PdfSettings { font_files: Vec::new(), ..PdfSettings::default() };
    /// # let renderer = PdfRenderer::new(settings)?;
    /// # let render = |certificate_id: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    /// #     let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1}]}"#;
    /// #     let credential = VaccinationCredential::parse(certificate_id, signed)?;
    /// #     let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// #     let input = CertificateInput {
    /// #         certificate_id,
    /// #         credential: &credential,
    /// #         doses: &[],
    /// #         qr: &qr,
    /// #         updated_at: None,
    /// #     };
    /// #     Ok(renderer.render(&input)?)
    /// # };
    /// // `render` returns the one-page PDF of a certificate, as in the crate example.
    /// let mut pair = BulkPdfWriter::new(Vec::new())?;
    /// assert_eq!(pair.add_pdf(&render("100000001")?)?, 1);
    /// assert_eq!(pair.add_pdf(&render("100000002")?)?, 1);
    /// let (pair, _) = pair.finish()?;
    ///
    /// let mut merged = BulkPdfWriter::new(Vec::new())?;
    /// // A merged file is an input like any other: all its pages are copied.
    /// assert_eq!(merged.add_pdf(&pair)?, 2);
    /// assert_eq!(merged.page_count(), 2);
    /// // An input that fails adds no page.
    /// assert!(matches!(merged.add_pdf(b"not a PDF"), Err(BulkError::Input(_))));
    /// assert_eq!(merged.page_count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pdf(&mut self, pdf: &[u8]) -> Result<usize, BulkError> {
        let document =
            Document::load_mem(pdf).map_err(|error| BulkError::Input(error.to_string()))?;
        let page_ids: Vec<ObjectId> = document.get_pages().into_values().collect();
        if page_ids.is_empty() {
            return Err(BulkError::Input("the PDF has no pages".to_owned()));
        }
        let mut copy = DocumentCopy {
            document: &document,
            mapped: HashMap::new(),
            in_progress: Vec::new(),
            retagged: HashMap::new(),
        };
        let mut new_pages = Vec::with_capacity(page_ids.len());
        for page_id in page_ids {
            let page = self.page_with_inherited(&document, page_id)?;
            let mut page = copy.rewrite_dictionary(self, &page, 0)?;
            page.set("Parent", Object::Reference((PAGES_ID, 0)));
            // A page is never shared, because its /Contents differ between certificates.
            let number = self.allocate();
            self.write_object(number, &Object::Dictionary(page))?;
            new_pages.push(number);
        }
        let copied = new_pages.len();
        self.pages.extend(new_pages);
        Ok(copied)
    }

    /// Writes the page tree, the catalog, the cross-reference table and the
    /// trailer, and returns the output with the counts.
    ///
    /// # Errors
    ///
    /// [`BulkError::Input`] when no page was added, because a PDF needs one.
    /// [`BulkError::Write`] when the output fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_pdf::bulk::{BulkPdfWriter, BulkSummary};
    /// # use divoc_model::VaccinationCredential;
    /// # use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings};
    /// # use divoc_qr::{CertificateQr, QrOptions};
    /// # let settings = PdfSettings { font_files: Vec::new(), ..PdfSettings::default() };
    /// # let renderer = PdfRenderer::new(settings)?;
    /// # let render = |certificate_id: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    /// #     let signed = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1}]}"#;
    /// #     let credential = VaccinationCredential::parse(certificate_id, signed)?;
    /// #     let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default())?;
    /// #     let input = CertificateInput {
    /// #         certificate_id,
    /// #         credential: &credential,
    /// #         doses: &[],
    /// #         qr: &qr,
    /// #         updated_at: None,
    /// #     };
    /// #     Ok(renderer.render(&input)?)
    /// # };
    /// // `render` returns the one-page PDF of a certificate, as in the crate example.
    /// let mut merged = BulkPdfWriter::new(Vec::new())?;
    /// merged.add_pdf(&render("100000001")?)?;
    /// let (bytes, summary) = merged.finish()?;
    /// assert!(bytes.starts_with(b"%PDF-1.7\n"));
    /// assert!(bytes.ends_with(b"%%EOF\n"));
    /// assert_eq!(
    ///     summary,
    ///     BulkSummary {
    ///         pages: 1,
    ///         // The catalog, the page tree, the page and the 5 objects it refers to.
    ///         objects: 8,
    ///         shared_objects: 0,
    ///         bytes: bytes.len() as u64,
    ///     }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(mut self) -> Result<(W, BulkSummary), BulkError> {
        if self.pages.is_empty() {
            return Err(BulkError::Input("no page was added".to_owned()));
        }
        let kids: Vec<Object> = self
            .pages
            .iter()
            .map(|&number| Object::Reference((number, 0)))
            .collect();
        let count = i64::try_from(self.pages.len()).unwrap_or(i64::MAX);
        let mut tree = Dictionary::new();
        tree.set("Type", Object::Name(b"Pages".to_vec()));
        tree.set("Kids", Object::Array(kids));
        tree.set("Count", Object::Integer(count));
        self.write_object(PAGES_ID, &Object::Dictionary(tree))?;

        let mut catalog = Dictionary::new();
        catalog.set("Type", Object::Name(b"Catalog".to_vec()));
        catalog.set("Pages", Object::Reference((PAGES_ID, 0)));
        self.write_object(CATALOG_ID, &Object::Dictionary(catalog))?;

        let xref_offset = self.position;
        let size = self.offsets.len() + 1;
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n").into_bytes();
        for offset in &self.offsets {
            match offset {
                Some(offset) => {
                    table.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes())
                }
                // Numbers allocated for an input that then failed: free entries.
                None => table.extend_from_slice(b"0000000000 00000 f \n"),
            }
        }
        self.write_bytes(&table)?;
        let trailer = format!(
            "trailer\n<</Size {size}/Root {CATALOG_ID} 0 R>>\nstartxref\n{xref_offset}\n%%EOF\n"
        );
        self.write_bytes(trailer.as_bytes())?;
        self.out.flush()?;
        let summary = BulkSummary {
            pages: self.pages.len(),
            objects: self
                .offsets
                .iter()
                .filter(|offset| offset.is_some())
                .count(),
            shared_objects: self.shared_objects,
            bytes: self.position,
        };
        Ok((self.out, summary))
    }

    /// Returns the page dictionary with the inheritable attributes of its
    /// ancestors filled in and without `/Parent`, which `add_pdf` points at
    /// the merged page tree.
    fn page_with_inherited(
        &self,
        document: &Document,
        page_id: ObjectId,
    ) -> Result<Dictionary, BulkError> {
        let mut page = dictionary(document, page_id)?.clone();
        let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
        // The depth limit stops a page tree whose /Parent links form a cycle.
        let mut depth = 0;
        while let Some(parent_id) = parent {
            depth += 1;
            if depth > 64 {
                return Err(BulkError::Input(
                    "the page tree is deeper than 64 levels or has a cycle".to_owned(),
                ));
            }
            let node = dictionary(document, parent_id)?;
            for key in INHERITED_KEYS {
                if !page.has(key)
                    && let Ok(value) = node.get(key)
                {
                    page.set(key, value.clone());
                }
            }
            parent = node.get(b"Parent").and_then(Object::as_reference).ok();
        }
        page.remove(b"Parent");
        Ok(page)
    }

    /// Writes `object` under a new number unless an identical object was
    /// written before, and returns the number to refer to.
    fn write_shared(&mut self, object: &Object) -> Result<u32, BulkError> {
        let mut body = Vec::new();
        Writer::write_object(&mut body, object)
            .map_err(|error| BulkError::Input(error.to_string()))?;
        let hash: [u8; 32] = Sha256::digest(&body).into();
        if let Some(&number) = self.shared.get(&hash) {
            self.shared_objects += 1;
            return Ok(number);
        }
        let number = self.allocate();
        self.write_framed(number, &body)?;
        self.shared.insert(hash, number);
        Ok(number)
    }

    /// Returns a new name for the subset font `name` whose font program is
    /// object `program` when the tag of `name` already belongs to another
    /// program, or `None` to keep `name`. Records the tag kept or given.
    ///
    /// A new tag is derived from `name` and a counter, so the same subset gets
    /// the same new tag in every input and stays shared.
    fn claim_subset_tag(&mut self, name: &[u8], program: u32) -> Option<Vec<u8>> {
        let (tag, base_name) = split_subset_name(name)?;
        let mut candidate = tag;
        let mut attempt: u32 = 0;
        loop {
            match self.subset_tags.get(&candidate) {
                None => {
                    self.subset_tags.insert(candidate, program);
                    break;
                }
                Some(&owner) if owner == program => break,
                Some(_) => {
                    attempt += 1;
                    let digest = Sha256::new()
                        .chain_update(name)
                        .chain_update(attempt.to_be_bytes())
                        .finalize();
                    candidate = tag_letters(&digest);
                }
            }
        }
        (candidate != tag).then(|| [&candidate[..], b"+", base_name].concat())
    }

    fn allocate(&mut self) -> u32 {
        self.offsets.push(None);
        u32::try_from(self.offsets.len()).unwrap_or(u32::MAX)
    }

    fn write_object(&mut self, number: u32, object: &Object) -> Result<(), BulkError> {
        let mut body = Vec::new();
        Writer::write_object(&mut body, object)
            .map_err(|error| BulkError::Input(error.to_string()))?;
        self.write_framed(number, &body)
    }

    fn write_framed(&mut self, number: u32, body: &[u8]) -> Result<(), BulkError> {
        let index = usize::try_from(number).unwrap_or(usize::MAX) - 1;
        if let Some(slot) = self.offsets.get_mut(index) {
            *slot = Some(self.position);
        }
        self.write_bytes(format!("{number} 0 obj\n").as_bytes())?;
        self.write_bytes(body)?;
        self.write_bytes(b"\nendobj\n")?;
        Ok(())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), BulkError> {
        self.out.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }
}

/// The objects of one input document already copied, by their input number.
struct DocumentCopy<'d> {
    document: &'d Document,
    mapped: HashMap<ObjectId, u32>,
    /// Objects being copied, to detect reference cycles.
    in_progress: Vec<ObjectId>,
    /// Subset font names of this input that got a new tag, old to new.
    retagged: HashMap<Vec<u8>, Vec<u8>>,
}

impl DocumentCopy<'_> {
    /// Copies the object `id`, found at nesting level `depth`, and everything
    /// it refers to, depth first, and returns its number in the merged file.
    fn copy<W: Write>(
        &mut self,
        writer: &mut BulkPdfWriter<W>,
        id: ObjectId,
        depth: usize,
    ) -> Result<u32, BulkError> {
        if let Some(&number) = self.mapped.get(&id) {
            return Ok(number);
        }
        // NOTE: shared objects are identified by content after their references
        // are copied, so a reference cycle outside the page tree cannot be
        // copied. Rendered certificates have none.
        if self.in_progress.contains(&id) {
            return Err(BulkError::Input(format!(
                "object {} {} takes part in a reference cycle",
                id.0, id.1
            )));
        }
        let object = self
            .document
            .get_object(id)
            .map_err(|error| BulkError::Input(format!("object {} {}: {error}", id.0, id.1)))?;
        self.in_progress.push(id);
        let mut rewritten = self.rewrite(writer, object, depth)?;
        if let Object::Dictionary(dictionary) = &mut rewritten {
            self.retag_subset(writer, dictionary);
        }
        self.in_progress.pop();
        let number = writer.write_shared(&rewritten)?;
        self.mapped.insert(id, number);
        Ok(number)
    }

    /// Gives the subset font of a font descriptor a new name when its tag
    /// belongs to another font program in the merged file, and gives each font
    /// dictionary of that subset the same new `BaseFont`.
    ///
    /// The descriptor is copied before the font dictionaries that refer to it,
    /// so the new name is known when they are written.
    fn retag_subset<W: Write>(
        &mut self,
        writer: &mut BulkPdfWriter<W>,
        dictionary: &mut Dictionary,
    ) {
        let program = FONT_FILE_KEYS
            .iter()
            .find_map(|key| dictionary.get(key).and_then(Object::as_reference).ok());
        let font_name = dictionary
            .get(b"FontName")
            .and_then(Object::as_name)
            .map(<[u8]>::to_vec);
        if let (Some((program, _)), Ok(font_name)) = (program, font_name)
            && let Some(renamed) = writer.claim_subset_tag(&font_name, program)
        {
            dictionary.set("FontName", Object::Name(renamed.clone()));
            self.retagged.insert(font_name, renamed);
        }

        // NOTE: renames are looked up by name, so an input with two different
        // subsets of the same name, which PDF forbids, may get a `BaseFont`
        // that differs from its descriptor's `FontName`. The renderer never
        // writes such an input.
        let renamed = dictionary
            .get(b"BaseFont")
            .and_then(Object::as_name)
            .ok()
            .and_then(|name| self.retagged.get(name))
            .cloned();
        if let Some(renamed) = renamed {
            dictionary.set("BaseFont", Object::Name(renamed));
        }
    }

    /// Copies `object`, nested `depth` levels below a page, renumbering the
    /// objects it refers to.
    fn rewrite<W: Write>(
        &mut self,
        writer: &mut BulkPdfWriter<W>,
        object: &Object,
        depth: usize,
    ) -> Result<Object, BulkError> {
        if depth > MAX_OBJECT_DEPTH {
            return Err(BulkError::Input(format!(
                "objects are nested more than {MAX_OBJECT_DEPTH} levels deep below a page"
            )));
        }
        Ok(match object {
            Object::Reference(id) => Object::Reference((self.copy(writer, *id, depth + 1)?, 0)),
            Object::Array(items) => {
                let mut copied = Vec::with_capacity(items.len());
                for item in items {
                    copied.push(self.rewrite(writer, item, depth + 1)?);
                }
                Object::Array(copied)
            }
            Object::Dictionary(dictionary) => {
                Object::Dictionary(self.rewrite_dictionary(writer, dictionary, depth)?)
            }
            Object::Stream(stream) => {
                let mut copied = stream.clone();
                copied.dict = self.rewrite_dictionary(writer, &stream.dict, depth)?;
                let length = i64::try_from(stream.content.len()).unwrap_or(i64::MAX);
                copied.dict.set("Length", Object::Integer(length));
                Object::Stream(copied)
            }
            other => other.clone(),
        })
    }

    fn rewrite_dictionary<W: Write>(
        &mut self,
        writer: &mut BulkPdfWriter<W>,
        dictionary: &Dictionary,
        depth: usize,
    ) -> Result<Dictionary, BulkError> {
        let mut copied = Dictionary::new();
        for (key, value) in dictionary.iter() {
            copied.set(key.clone(), self.rewrite(writer, value, depth + 1)?);
        }
        Ok(copied)
    }
}

/// Splits a subset font name such as `EOODIA+NotoSans` into its tag and the
/// name after the `+`, or returns `None` for a name without a subset tag.
fn split_subset_name(name: &[u8]) -> Option<([u8; 6], &[u8])> {
    let (tag, rest) = name.split_first_chunk::<6>()?;
    let base_name = rest.strip_prefix(b"+")?;
    tag.iter()
        .all(u8::is_ascii_uppercase)
        .then_some((*tag, base_name))
}

fn dictionary(document: &Document, id: ObjectId) -> Result<&Dictionary, BulkError> {
    document
        .get_object(id)
        .and_then(Object::as_dict)
        .map_err(|error| BulkError::Input(format!("object {} {}: {error}", id.0, id.1)))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use divoc_model::{Evidence, VaccinationCredential};
    use divoc_qr::{CertificateQr, QrOptions};
    use lopdf::Stream;

    use super::*;
    use crate::{CertificateInput, PdfRenderer, PdfSettings};

    fn render(certificate_id: &str, name: &str) -> Vec<u8> {
        let signed = format!(
            r#"{{"credentialSubject":{{"name":"{name}","gender":"Female","dob":"1990-02-03"}},
               "evidence":[{{"vaccine":"COVISHIELD","date":"2021-10-17T22:00:00Z","dose":1,"totalDoses":2}}]}}"#
        );
        let credential = VaccinationCredential::parse(certificate_id, &signed).unwrap();
        let qr = CertificateQr::new(signed.as_bytes(), &QrOptions::default()).unwrap();
        let doses: Vec<&Evidence> = credential.evidence.iter().collect();
        let input = CertificateInput {
            certificate_id,
            credential: &credential,
            doses: &doses,
            qr: &qr,
            updated_at: None,
        };
        PdfRenderer::new(PdfSettings::default())
            .unwrap()
            .render(&input)
            .unwrap()
    }

    /// Object numbers of the font dictionaries in a document.
    fn font_objects(document: &Document) -> Vec<ObjectId> {
        document
            .objects
            .iter()
            .filter(|(_, object)| {
                object
                    .as_dict()
                    .is_ok_and(|dictionary| dictionary.has_type(b"Font"))
            })
            .map(|(id, _)| *id)
            .collect()
    }

    #[test]
    fn merge_shares_font_objects() {
        let first = render("100000001", "Asha Rao");
        let second = render("100000002", "Meera Iyer");
        let single_fonts = font_objects(&Document::load_mem(&first).unwrap()).len();
        assert!(single_fonts > 0);

        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        assert_eq!(writer.add_pdf(&first).unwrap(), 1);
        assert_eq!(writer.add_pdf(&second).unwrap(), 1);
        assert_eq!(writer.page_count(), 2);
        let (bytes, summary) = writer.finish().unwrap();
        assert_eq!(summary.pages, 2);
        assert!(summary.shared_objects >= single_fonts);
        assert_eq!(summary.bytes, bytes.len() as u64);

        let merged = Document::load_mem(&bytes).unwrap();
        assert_eq!(merged.get_pages().len(), 2);
        // Both certificates use the same built-in fonts, so each is written once.
        assert_eq!(font_objects(&merged).len(), single_fonts);
        assert_eq!(merged.objects.len(), summary.objects);
    }

    /// Returns the `FontName` and the decoded `FontFile2` program of each
    /// font descriptor in a document.
    fn font_programs(document: &Document) -> Vec<(String, Vec<u8>)> {
        let mut programs = Vec::new();
        for object in document.objects.values() {
            let Ok(descriptor) = object.as_dict() else {
                continue;
            };
            let (Ok(name), Ok(program)) = (
                descriptor.get(b"FontName").and_then(Object::as_name),
                descriptor.get(b"FontFile2").and_then(Object::as_reference),
            ) else {
                continue;
            };
            let stream = document.get_object(program).unwrap().as_stream().unwrap();
            programs.push((
                String::from_utf8(name.to_vec()).unwrap(),
                stream.get_plain_content().unwrap(),
            ));
        }
        programs
    }

    /// Asserts that each subset tag in `programs` names one font program.
    fn assert_one_program_per_tag(programs: &[(String, Vec<u8>)]) {
        let mut by_tag: HashMap<&str, (&str, &[u8])> = HashMap::new();
        for (name, program) in programs {
            let (tag, _) = name.split_once('+').unwrap();
            if let Some((first_name, first_program)) = by_tag.insert(tag, (name, program)) {
                assert!(
                    first_program == program.as_slice(),
                    "{first_name} and {name} have the same tag but different font programs"
                );
            }
        }
    }

    #[test]
    fn merged_subset_tags_name_one_program() {
        // The names print in bold, with glyphs of an embedded Liberation Sans
        // Bold subset. They differ in one letter at the same place, so each
        // subset has different glyphs used in the same pattern.
        let names = ["Łucja Bąk", "Łucja Bęk", "Łucja Bśk", "Ńucja Bąk"];
        let pdfs: Vec<Vec<u8>> = names
            .iter()
            .enumerate()
            .map(|(index, name)| render(&format!("10000002{index}"), name))
            .collect();

        let mut rendered = Vec::new();
        for pdf in &pdfs {
            rendered.extend(font_programs(&Document::load_mem(pdf).unwrap()));
        }
        assert_eq!(rendered.len(), names.len(), "{rendered:?}");
        assert_one_program_per_tag(&rendered);

        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        for pdf in &pdfs {
            writer.add_pdf(pdf).unwrap();
        }
        let (bytes, _) = writer.finish().unwrap();
        let merged = font_programs(&Document::load_mem(&bytes).unwrap());
        assert_eq!(merged.len(), names.len(), "{merged:?}");
        assert_one_program_per_tag(&merged);
    }

    /// Builds a one-page PDF with a Type0 font `name` whose font program is `program`.
    fn subset_font_pdf(name: &str, program: &[u8]) -> Vec<u8> {
        let mut document = Document::with_version("1.7");
        let name = || Object::Name(name.as_bytes().to_vec());

        let font_file = document.add_object(Stream::new(Dictionary::new(), program.to_vec()));
        let descriptor = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"FontDescriptor".to_vec())),
            ("FontName", name()),
            ("FontFile2", Object::Reference(font_file)),
        ]));
        let cid_font = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"CIDFontType2".to_vec())),
            ("BaseFont", name()),
            ("FontDescriptor", Object::Reference(descriptor)),
        ]));
        let font = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"Type0".to_vec())),
            ("BaseFont", name()),
            (
                "DescendantFonts",
                Object::Array(vec![Object::Reference(cid_font)]),
            ),
        ]));

        let resources = Dictionary::from_iter([(
            "Font",
            Object::Dictionary(Dictionary::from_iter([("F1", Object::Reference(font))])),
        )]);
        let pages_id = document.new_object_id();
        let page = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
            ("Resources", Object::Dictionary(resources)),
        ]));
        document.objects.insert(
            pages_id,
            Object::Dictionary(Dictionary::from_iter([
                ("Type", Object::Name(b"Pages".to_vec())),
                ("Kids", Object::Array(vec![Object::Reference(page)])),
                ("Count", Object::Integer(1)),
            ])),
        );
        let catalog = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Catalog".to_vec())),
            ("Pages", Object::Reference(pages_id)),
        ]));
        document.trailer.set("Root", Object::Reference(catalog));

        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    /// Returns the `BaseFont` of each Type0 font in a document with the
    /// `BaseFont` of its descendant and the `FontName` of its descriptor.
    fn type0_names(document: &Document) -> Vec<[String; 3]> {
        let name_of = |dictionary: &Dictionary, key: &[u8]| {
            String::from_utf8(dictionary.get(key).unwrap().as_name().unwrap().to_vec()).unwrap()
        };
        let mut names = Vec::new();
        for object in document.objects.values() {
            let Ok(font) = object.as_dict() else {
                continue;
            };
            let Ok(descendants) = font.get(b"DescendantFonts").and_then(Object::as_array) else {
                continue;
            };
            let cid_font = document
                .get_dictionary(descendants[0].as_reference().unwrap())
                .unwrap();
            let descriptor = document
                .get_dictionary(
                    cid_font
                        .get(b"FontDescriptor")
                        .unwrap()
                        .as_reference()
                        .unwrap(),
                )
                .unwrap();
            names.push([
                name_of(font, b"BaseFont"),
                name_of(cid_font, b"BaseFont"),
                name_of(descriptor, b"FontName"),
            ]);
        }
        names
    }

    #[test]
    fn merge_retags_colliding_subsets() {
        let first = subset_font_pdf("ABCDEF+Test", b"first program");
        let second = subset_font_pdf("ABCDEF+Test", b"second program");
        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        // Each subset comes twice, so the second copy of each must reuse the
        // name and the objects of the first.
        for pdf in [&first, &second, &second, &first] {
            writer.add_pdf(pdf).unwrap();
        }
        let (bytes, summary) = writer.finish().unwrap();
        assert_eq!(summary.pages, 4);
        let merged = Document::load_mem(&bytes).unwrap();

        let programs = font_programs(&merged);
        assert_eq!(programs.len(), 2, "{programs:?}");
        assert_one_program_per_tag(&programs);
        let (first_name, _) = programs
            .iter()
            .find(|(_, program)| program == b"first program")
            .unwrap();
        assert_eq!(first_name, "ABCDEF+Test");
        let (second_name, _) = programs
            .iter()
            .find(|(_, program)| program == b"second program")
            .unwrap();
        assert_ne!(second_name, "ABCDEF+Test");
        let (tag, base_name) = split_subset_name(second_name.as_bytes()).unwrap();
        assert!(tag.iter().all(u8::is_ascii_uppercase), "{second_name}");
        assert_eq!(base_name, b"Test");

        let names = type0_names(&merged);
        assert_eq!(names.len(), 2, "{names:?}");
        for [base_font, descendant, font_name] in &names {
            assert_eq!(base_font, font_name);
            assert_eq!(descendant, font_name);
        }
    }

    #[test]
    fn subset_names_split_at_tag() {
        assert_eq!(
            split_subset_name(b"EOODIA+NotoSans"),
            Some((*b"EOODIA", &b"NotoSans"[..]))
        );
        for name in [
            &b"Helvetica"[..],
            b"EOODIa+NotoSans",
            b"EOODIA-NotoSans",
            b"ABCDE+X",
        ] {
            assert_eq!(split_subset_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn merge_keeps_page_order() {
        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        for id in ["100000003", "100000004", "100000005"] {
            writer.add_pdf(&render(id, "Asha Rao")).unwrap();
        }
        let (bytes, _) = writer.finish().unwrap();
        let merged = Document::load_mem(&bytes).unwrap();
        let texts: Vec<String> = (1..=3)
            .map(|page| merged.extract_text(&[page]).unwrap())
            .collect();
        assert!(texts[0].contains("100000003"), "{}", texts[0]);
        assert!(texts[1].contains("100000004"), "{}", texts[1]);
        assert!(texts[2].contains("100000005"), "{}", texts[2]);
    }

    #[test]
    fn invalid_input_leaves_file_valid() {
        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        let error = writer.add_pdf(b"not a PDF").unwrap_err();
        assert!(matches!(error, BulkError::Input(_)), "{error}");
        writer.add_pdf(&render("100000006", "Asha Rao")).unwrap();
        let (bytes, summary) = writer.finish().unwrap();
        assert_eq!(summary.pages, 1);
        assert_eq!(Document::load_mem(&bytes).unwrap().get_pages().len(), 1);
    }

    /// Builds a one-page PDF whose page refers to the first of `length`
    /// dictionaries, each referring to the next.
    fn reference_chain_pdf(length: usize) -> Vec<u8> {
        let mut document = Document::with_version("1.7");
        let pages_id = document.new_object_id();
        let mut chain = document.add_object(Dictionary::new());
        for _ in 1..length {
            chain =
                document.add_object(Dictionary::from_iter([("Next", Object::Reference(chain))]));
        }
        let page_id = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
            ("Chain", Object::Reference(chain)),
        ]));
        let pages = Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(vec![Object::Reference(page_id)])),
            ("Count", Object::Integer(1)),
        ]);
        document.objects.insert(pages_id, Object::Dictionary(pages));
        let catalog_id = document.add_object(Dictionary::from_iter([
            ("Type", Object::Name(b"Catalog".to_vec())),
            ("Pages", Object::Reference(pages_id)),
        ]));
        document.trailer.set("Root", Object::Reference(catalog_id));
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn long_reference_chain_rejected() {
        let mut writer = BulkPdfWriter::new(Vec::new()).unwrap();
        assert_eq!(writer.add_pdf(&reference_chain_pdf(30)).unwrap(), 1);

        // Without the depth limit, copying this chain overflows the stack.
        let error = writer.add_pdf(&reference_chain_pdf(5000)).unwrap_err();
        assert!(
            matches!(&error, BulkError::Input(reason) if reason.contains("nested more than 64 levels")),
            "{error}"
        );
        assert_eq!(writer.page_count(), 1);
        let (bytes, summary) = writer.finish().unwrap();
        assert_eq!(summary.pages, 1);
        assert_eq!(Document::load_mem(&bytes).unwrap().get_pages().len(), 1);
    }

    #[test]
    fn finish_without_pages_fails() {
        let writer = BulkPdfWriter::new(Vec::new()).unwrap();
        let error = writer.finish().map(|_| ()).unwrap_err();
        assert_eq!(error.to_string(), "invalid input PDF: no page was added");
    }
}

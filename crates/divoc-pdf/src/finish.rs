//! The lopdf pass that turns genpdf's output into the delivered file.
//!
//! The pass
//!
//! - rewrites the page content (see [`crate::content`]),
//! - embeds the font subsets that placeholders need,
//! - swaps in the QR image,
//! - removes printpdf's layer and empty outline,
//! - replaces the document information (printpdf's has PDF/X entries) and
//!   derives the file id from the content,
//! - and compresses the streams.

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use divoc_qr::{CertificateQr, QUIET_ZONE_MODULES};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};

use crate::content::{embedded_name, rewrite_content};
use crate::embed::{EmbeddedFont, FaceUsage, add_font};
use crate::fonts::FontSet;
use crate::image_flate::{self, RowGroups};
use crate::page::FRAME_RGB;
use crate::text::TextRun;

/// Pixels per QR module in the image. At 150 dpi a module is 2.5 to 2.8 device
/// pixels, so 4 image pixels are scaled down. poppler 22.12 smoothed an image
/// of 1 pixel per module scaled up to 150 dpi despite `/Interpolate false`,
/// and zbarimg could not read it.
pub(crate) const QR_PIXELS_PER_MODULE: u32 = 4;
/// zlib level of the content and font streams (see [`deflated`]).
const DEFLATE_LEVEL: i32 = 3;
/// Width of table frames and rules, in points.
const LINE_WIDTH_PT: f32 = 0.6;

/// Failure of the finishing pass.
#[derive(Debug)]
pub(crate) enum FinishError {
    /// genpdf produced this many pages.
    Pages(usize),
    /// Anything else, described.
    Pdf(String),
}

impl From<lopdf::Error> for FinishError {
    fn from(error: lopdf::Error) -> Self {
        FinishError::Pdf(error.to_string())
    }
}

fn invalid(reason: &str) -> FinishError {
    FinishError::Pdf(reason.to_owned())
}

/// Inputs of the finishing pass besides genpdf's bytes.
pub(crate) struct FinishInput<'a> {
    pub(crate) document_title: &'a str,
    pub(crate) fonts: &'a FontSet,
    pub(crate) runs: &'a [TextRun],
    pub(crate) qr: &'a CertificateQr,
    /// Creation and modification date of the file.
    pub(crate) date: DateTime<Utc>,
}

/// The delivered file.
pub(crate) struct Finished {
    pub(crate) bytes: Vec<u8>,
    pub(crate) uncovered_characters: usize,
}

/// Finishes the PDF that genpdf wrote.
pub(crate) fn finish(raw: &[u8], input: &FinishInput<'_>) -> Result<Finished, FinishError> {
    let mut document = Document::load_mem(raw)?;
    let pages = document.get_pages();
    if pages.len() != 1 {
        return Err(FinishError::Pages(pages.len()));
    }
    let page_id = *pages
        .values()
        .next()
        .ok_or_else(|| invalid("the PDF has no page"))?;

    let content = page_content(&document, page_id)?;
    let mut usage: Vec<FaceUsage> = input
        .fonts
        .faces
        .iter()
        .map(|_| FaceUsage::default())
        .collect();
    let [red, green, blue] = FRAME_RGB.map(|value| f32::from(value) / 255.0);
    let prefix = format!("{LINE_WIDTH_PT} w\n{red:.3} {green:.3} {blue:.3} RG\n");
    let rewritten = rewrite_content(&content, &prefix, input.fonts, input.runs, &mut usage)
        .map_err(FinishError::Pdf)?;
    let content_bytes = rewritten.bytes;

    let resources_id = page_resources_id(&document, page_id)?;
    let image_id = qr_image_id(&document, resources_id)?;
    let image = qr_image(input.qr)?;
    let image_hash = Sha256::digest(&image.content);
    document.objects.insert(image_id, Object::Stream(image));

    let mut embedded: Vec<(String, EmbeddedFont)> = Vec::new();
    for (index, (face, used)) in input.fonts.faces.iter().zip(&usage).enumerate() {
        if !used.is_empty() {
            let font = add_font(&mut document, face, used)?;
            embedded.push((embedded_name(index), font));
        }
    }
    set_fonts(
        &mut document,
        resources_id,
        &rewritten.builtin_fonts,
        &embedded,
    )?;

    let contents_id = document.add_object(deflated(Dictionary::new(), &content_bytes)?);
    let page = document.get_dictionary_mut(page_id)?;
    page.set("Contents", Object::Reference(contents_id));
    remove_layers(&mut document, resources_id)?;

    let mut hasher = Sha256::new();
    hasher.update(&content_bytes);
    hasher.update(image_hash);
    for (_, font) in &embedded {
        hasher.update(&font.program);
    }
    hasher.update(input.document_title.as_bytes());
    hasher.update(input.date.to_rfc3339().as_bytes());
    let digest = hasher.finalize();
    set_info(&mut document, input)?;
    let id = Object::String(digest[..16].to_vec(), StringFormat::Hexadecimal);
    document
        .trailer
        .set("ID", Object::Array(vec![id.clone(), id]));

    document.prune_objects();
    let mut bytes = Vec::with_capacity(raw.len());
    document
        .save_to(&mut bytes)
        .map_err(|error| FinishError::Pdf(error.to_string()))?;
    Ok(Finished {
        bytes,
        uncovered_characters: usage.iter().map(|used| used.uncovered).sum(),
    })
}

fn page_content(document: &Document, page_id: ObjectId) -> Result<Vec<u8>, FinishError> {
    let mut bytes = Vec::new();
    for id in document.get_page_contents(page_id) {
        let stream = document.get_object(id)?.as_stream()?;
        bytes.extend_from_slice(&stream.get_plain_content()?);
        bytes.push(b'\n');
    }
    Ok(bytes)
}

fn page_resources_id(document: &Document, page_id: ObjectId) -> Result<ObjectId, FinishError> {
    let page = document.get_dictionary(page_id)?;
    page.get(b"Resources")?
        .as_reference()
        .map_err(|_| invalid("the page resources are not an indirect object"))
}

/// Finds the placeholder image that genpdf drew for the QR code.
fn qr_image_id(document: &Document, resources_id: ObjectId) -> Result<ObjectId, FinishError> {
    let resources = document.get_dictionary(resources_id)?;
    let (_, xobjects) = document.dereference(resources.get(b"XObject")?)?;
    let xobjects = xobjects.as_dict()?;
    let mut images = xobjects
        .iter()
        .filter_map(|(_, value)| value.as_reference().ok());
    match (images.next(), images.next()) {
        (Some(id), None) => Ok(id),
        _ => Err(invalid(
            "expected exactly one image, the QR code placeholder",
        )),
    }
}

/// Builds the QR image: 1 bit per pixel, whole pixels per module, no smoothing.
///
/// Each module row repeats as [`QR_PIXELS_PER_MODULE`] image rows. The rows
/// carry PNG predictor tags: the first of each group is written as it is
/// ("None"), the repeats as the difference to the row above ("Up"), which is
/// all zeros. [`image_flate`] compresses the groups.
fn qr_image(qr: &CertificateQr) -> Result<Stream, FinishError> {
    // One module is one half of a byte, so the quiet zone is whole bytes.
    const _: () = assert!(QR_PIXELS_PER_MODULE == 4 && QUIET_ZONE_MODULES.is_multiple_of(2));
    let size = qr.size();
    let modules = size + 2 * QUIET_ZONE_MODULES;
    let side = modules * QR_PIXELS_PER_MODULE;
    let row_bytes = side.div_ceil(8) as usize;
    // DeviceGray at 1 bit: 1 is white. The quiet zone is 2 bytes per side.
    let quiet_bytes = (QUIET_ZONE_MODULES / 2) as usize;
    // A byte contains two modules, the left one in the high half, and a light
    // module is 0xF. The index is `left dark << 1 | right dark`.
    const MODULE_PAIRS: [u8; 4] = [0xFF, 0xF0, 0x0F, 0x00];
    let mut rows = vec![0xFF; row_bytes * modules as usize];
    let symbol_rows = rows
        .chunks_exact_mut(row_bytes)
        .skip(QUIET_ZONE_MODULES as usize);
    let pair_bytes = size.div_ceil(2) as usize;
    for (y, row) in (0..size as i32).zip(symbol_rows) {
        for (x, byte) in (0..)
            .step_by(2)
            .zip(row.iter_mut().skip(quiet_bytes).take(pair_bytes))
        {
            // A symbol has an odd number of modules per side, so the last
            // byte's right half is the first module of the quiet zone, which
            // `is_dark` reports light.
            let pair = usize::from(qr.is_dark(x, y)) << 1 | usize::from(qr.is_dark(x + 1, y));
            *byte = MODULE_PAIRS.get(pair).copied().unwrap_or(0xFF);
        }
    }
    let compressed = image_flate::compress(&RowGroups {
        row_bytes,
        repeats: QR_PIXELS_PER_MODULE as usize - 1,
        data_rows: &rows,
    })
    .map_err(|error| invalid(error.0))?;

    let dictionary = Dictionary::from_iter([
        ("Type", Object::Name(b"XObject".to_vec())),
        ("Subtype", Object::Name(b"Image".to_vec())),
        ("Width", Object::Integer(i64::from(side))),
        ("Height", Object::Integer(i64::from(side))),
        ("ColorSpace", Object::Name(b"DeviceGray".to_vec())),
        ("BitsPerComponent", Object::Integer(1)),
        ("Interpolate", Object::Boolean(false)),
        (
            "DecodeParms",
            Object::Dictionary(Dictionary::from_iter([
                ("Predictor", Object::Integer(15)),
                ("Colors", Object::Integer(1)),
                ("BitsPerComponent", Object::Integer(1)),
                ("Columns", Object::Integer(i64::from(side))),
            ])),
        ),
    ]);
    Ok(flate_stream(dictionary, compressed))
}

/// A zlib compressor and its output buffer, kept per thread and reset between
/// streams. Setting up a new compressor allocates and clears its tables,
/// which took about 7 % of a render in a profile.
struct StreamCompressor {
    deflate: zlib_rs::Deflate,
    output: Vec<u8>,
}

impl StreamCompressor {
    fn new() -> Self {
        StreamCompressor {
            deflate: zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: DEFLATE_LEVEL,
                ..zlib_rs::DeflateConfig::default()
            }),
            output: Vec::new(),
        }
    }

    /// Compresses `data` whole and returns the zlib stream.
    fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>, FinishError> {
        self.deflate.reset();
        // The bound holds for any input, so one call writes the whole stream.
        let bound = zlib_rs::compress_bound(data.len());
        if self.output.len() < bound {
            self.output.resize(bound, 0);
        }
        let status = self
            .deflate
            .compress(data, &mut self.output, zlib_rs::DeflateFlush::Finish)
            .map_err(|error| {
                FinishError::Pdf(format!("compressing a stream failed: {}", error.as_str()))
            })?;
        let written = usize::try_from(self.deflate.total_out()).unwrap_or(usize::MAX);
        match (status, self.output.get(..written)) {
            (zlib_rs::Status::StreamEnd, Some(compressed)) => Ok(compressed.to_vec()),
            _ => Err(invalid(
                "compressing a stream failed: the output bound was too small",
            )),
        }
    }
}

thread_local! {
    static COMPRESSOR: RefCell<StreamCompressor> = RefCell::new(StreamCompressor::new());
}

/// Builds a Flate-compressed stream with the thread's compressor.
///
/// lopdf's `compress` uses level 9, which spent about 5 ms per render, most
/// of it on the QR image, which [`image_flate`] now writes. At level 3 the
/// sample certificate rendered in a third of the time and came out 7% larger.
/// (Measured with lopdf 0.47 and zlib-rs on a 2-core x86-64 machine.)
pub(crate) fn deflated(dictionary: Dictionary, data: &[u8]) -> Result<Stream, FinishError> {
    let compressed = COMPRESSOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut compressor) => compressor.compress(data),
        // Not reached: nothing compresses while a stream is being compressed.
        Err(_) => StreamCompressor::new().compress(data),
    })?;
    Ok(flate_stream(dictionary, compressed))
}

/// Makes a stream of zlib data that lopdf will not compress again.
fn flate_stream(mut dictionary: Dictionary, compressed: Vec<u8>) -> Stream {
    dictionary.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    let mut stream = Stream::new(dictionary, compressed);
    stream.allows_compression = false;
    stream
}

/// Replaces the page's font dictionary with the fonts the content uses.
fn set_fonts(
    document: &mut Document,
    resources_id: ObjectId,
    builtin_fonts: &BTreeSet<Vec<u8>>,
    embedded: &[(String, EmbeddedFont)],
) -> Result<(), FinishError> {
    let resources = document.get_dictionary(resources_id)?;
    let (_, fonts) = document.dereference(resources.get(b"Font")?)?;
    let mut used_fonts = Dictionary::new();
    for (name, value) in fonts.as_dict()?.iter() {
        if builtin_fonts.contains(name) {
            used_fonts.set(name.clone(), value.clone());
        }
    }
    // Shaped Latin text can select a built-in font that genpdf did not.
    for name in builtin_fonts {
        if !used_fonts.has(name) {
            let font = Dictionary::from_iter([
                ("Type", Object::Name(b"Font".to_vec())),
                ("Subtype", Object::Name(b"Type1".to_vec())),
                ("BaseFont", Object::Name(name.clone())),
                ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
            ]);
            used_fonts.set(name.clone(), Object::Dictionary(font));
        }
    }
    for (name, font) in embedded {
        used_fonts.set(name.as_bytes().to_vec(), Object::Reference(font.font_id));
    }
    document
        .get_dictionary_mut(resources_id)?
        .set("Font", Object::Dictionary(used_fonts));
    Ok(())
}

/// Removes the optional-content group and the empty outline that printpdf writes.
fn remove_layers(document: &mut Document, resources_id: ObjectId) -> Result<(), FinishError> {
    document
        .get_dictionary_mut(resources_id)?
        .remove(b"Properties");
    let catalog = document.catalog_mut()?;
    catalog.remove(b"OCProperties");
    catalog.remove(b"Outlines");
    catalog.remove(b"PageMode");
    Ok(())
}

fn set_info(document: &mut Document, input: &FinishInput<'_>) -> Result<(), FinishError> {
    let date = Object::string_literal(input.date.format("D:%Y%m%d%H%M%SZ").to_string());
    let info = Dictionary::from_iter([
        ("Title", lopdf::text_string(input.document_title)),
        (
            "Producer",
            Object::string_literal(concat!("divoc-pdf ", env!("CARGO_PKG_VERSION"))),
        ),
        ("CreationDate", date.clone()),
        ("ModDate", date),
    ]);
    match document.trailer.get(b"Info").and_then(Object::as_reference) {
        Ok(info_id) => {
            document.objects.insert(info_id, Object::Dictionary(info));
        }
        Err(_) => {
            let info_id = document.add_object(info);
            document.trailer.set("Info", Object::Reference(info_id));
        }
    }
    Ok(())
}

//! Embedded font subsets for shaped text.
//!
//! Each face used gets one Type0 font with Identity-H encoding. Codes are
//! CIDs given out per glyph, extraction text and PDF width, in order of first
//! use and starting at 1, and a CIDToGIDMap maps them to glyphs of a
//! `subsetter` subset of the face. A glyph that stands for different texts
//! (the `.notdef` box for several missing characters) gets one CID per text,
//! so each keeps its own ToUnicode entry and text extraction returns the
//! original text. The width is the pen advance the content needs after the
//! glyph (see `content::write_shaped_run`).

use std::collections::HashMap;
use std::fmt::Write as _;

use lopdf::{Dictionary, Object, ObjectId};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use crate::finish::{FinishError, deflated};
use crate::fonts::{EmbeddableFace, Weight};

/// Glyphs of one face printed in this file.
#[derive(Debug, Default)]
pub(crate) struct FaceUsage {
    /// CID of each glyph, text and width, which is its index in `entries` plus 1.
    cids: HashMap<(u16, String, i32), u16>,
    /// Glyph, extraction text and width in thousandths of an em of each CID,
    /// in CID order.
    entries: Vec<(u16, String, i32)>,
    /// Printed `.notdef` glyphs, which stand for characters no font covers.
    pub(crate) uncovered: usize,
}

impl FaceUsage {
    /// Returns the CID of `glyph` standing for `text` with a width of `width`
    /// thousandths of an em, giving a new combination a new CID.
    pub(crate) fn encode(&mut self, glyph: u16, text: &str, width: i32) -> Result<u16, String> {
        if glyph == 0 {
            self.uncovered += 1;
        }
        let key = (glyph, text.to_owned(), width);
        if let Some(cid) = self.cids.get(&key) {
            return Ok(*cid);
        }
        // lopdf 0.47 garbles extracted text where two consecutive ToUnicode
        // entries map to the same string of several characters, so such a
        // pair is kept apart by an unused CID.
        let repeats = self
            .entries
            .last()
            .is_some_and(|(_, last, _)| last == text && text.chars().count() > 1);
        if repeats {
            self.entries.push((0, String::new(), 0));
        }
        let cid = u16::try_from(self.entries.len() + 1)
            .map_err(|_| "more than 65535 distinct glyphs in embedded text".to_owned())?;
        self.entries.push(key.clone());
        self.cids.insert(key, cid);
        Ok(cid)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Bytes of an embedded font, for the document id.
pub(crate) struct EmbeddedFont {
    pub(crate) font_id: ObjectId,
    pub(crate) program: Vec<u8>,
}

/// Adds the Type0 font for `usage` to `document` and returns its object id.
pub(crate) fn add_font(
    document: &mut lopdf::Document,
    face: &EmbeddableFace,
    usage: &FaceUsage,
) -> Result<EmbeddedFont, FinishError> {
    let mut remapper = GlyphRemapper::new();
    let glyphs: Vec<u16> = usage
        .entries
        .iter()
        .map(|(glyph, _, _)| remapper.remap(*glyph))
        .collect();
    let mut program = subsetter::subset(face.data, 0, &remapper).map_err(|error| {
        FinishError::Pdf(format!("subsetting {} failed: {error}", face.file_name))
    })?;
    widen_zero_advances(&mut program, face.units_per_em);

    let scale = 1000.0 / face.units_per_em;
    let widths: Vec<Object> = usage
        .entries
        .iter()
        .map(|(_, _, width)| Object::Integer(i64::from(*width)))
        .collect();
    let mut cid_to_gid = Vec::with_capacity((glyphs.len() + 1) * 2);
    cid_to_gid.extend_from_slice(&0u16.to_be_bytes());
    for glyph in &glyphs {
        cid_to_gid.extend_from_slice(&glyph.to_be_bytes());
    }

    let base_font = format!(
        "{}+{}",
        subset_tag(&face.file_name, &usage.entries),
        face.postscript_name
    );
    let font_file = document.add_object(deflated(
        Dictionary::from_iter([("Length1", Object::Integer(program.len() as i64))]),
        &program,
    )?);
    let descriptor = document.add_object(font_descriptor(face, &base_font, font_file, scale));
    let cid_to_gid_map = document.add_object(deflated(Dictionary::new(), &cid_to_gid)?);
    let cid_font = document.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"CIDFontType2".to_vec())),
        ("BaseFont", Object::Name(base_font.clone().into_bytes())),
        (
            "CIDSystemInfo",
            Object::Dictionary(Dictionary::from_iter([
                ("Registry", Object::string_literal("Adobe")),
                ("Ordering", Object::string_literal("Identity")),
                ("Supplement", Object::Integer(0)),
            ])),
        ),
        ("FontDescriptor", Object::Reference(descriptor)),
        ("DW", Object::Integer(1000)),
        (
            "W",
            Object::Array(vec![Object::Integer(1), Object::Array(widths)]),
        ),
        ("CIDToGIDMap", Object::Reference(cid_to_gid_map)),
    ]));
    let to_unicode = document.add_object(deflated(
        Dictionary::new(),
        &to_unicode_cmap(&usage.entries),
    )?);
    let font_id = document.add_object(Dictionary::from_iter([
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"Type0".to_vec())),
        ("BaseFont", Object::Name(base_font.into_bytes())),
        ("Encoding", Object::Name(b"Identity-H".to_vec())),
        (
            "DescendantFonts",
            Object::Array(vec![Object::Reference(cid_font)]),
        ),
        ("ToUnicode", Object::Reference(to_unicode)),
    ]));
    Ok(EmbeddedFont { font_id, program })
}

/// Advance given to zero-advance glyphs in embedded subsets, in ems.
const MARK_ADVANCE_EM: f64 = 0.35;

/// Gives glyphs without advance (combining marks) an advance of
/// [`MARK_ADVANCE_EM`] in the subset's `hmtx` table.
///
/// PDF viewers place glyphs by the `W` array, which keeps the real advance,
/// so the page does not change. MuPDF 1.21 extracts text by moving a pen by
/// each glyph's `hmtx` advance and inserts a space wherever the next glyph
/// starts more than 0.15 em after the pen. After a mark that the font shifts
/// left of its origin (Devanagari ृ by 0.23 em in Noto Sans Devanagari), the
/// next letter starts that far after the pen, so "कृष्ण" came out as
/// "कृ ष्ण". With this advance, marks shifted by up to 0.5 em extract whole.
/// The table checksum is left as it was, which PDF readers do not check.
fn widen_zero_advances(program: &mut [u8], units_per_em: f64) {
    let read_u16 = |data: &[u8], at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
    };
    let read_u32 = |data: &[u8], at: usize| -> Option<usize> {
        let bytes = data.get(at..at + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    };
    let table = |tag: &[u8; 4]| -> Option<(usize, usize)> {
        let count = usize::from(read_u16(program, 4)?);
        (0..count).find_map(|index| {
            let record = 12 + 16 * index;
            (program.get(record..record + 4)? == tag)
                .then(|| {
                    Some((
                        read_u32(program, record + 8)?,
                        read_u32(program, record + 12)?,
                    ))
                })
                .flatten()
        })
    };
    let (Some((hhea, _)), Some((hmtx, hmtx_length))) = (table(b"hhea"), table(b"hmtx")) else {
        return;
    };
    let Some(metrics) = read_u16(program, hhea + 34) else {
        return;
    };
    let advance = ((MARK_ADVANCE_EM * units_per_em).round() as u16).to_be_bytes();
    for index in 0..usize::from(metrics) {
        let at = hmtx + 4 * index;
        if at + 2 > hmtx + hmtx_length {
            break;
        }
        if read_u16(program, at) == Some(0)
            && let Some(slot) = program.get_mut(at..at + 2)
        {
            slot.copy_from_slice(&advance);
        }
    }
}

fn font_descriptor(
    face: &EmbeddableFace,
    base_font: &str,
    font_file: ObjectId,
    scale: f64,
) -> Dictionary {
    let metric = |value: i16| Object::Integer((f64::from(value) * scale).round() as i64);
    let tables = face.face.tables();
    let bbox = face.face.global_bounding_box();
    let (stem_v, weight_class) = match face.weight {
        Weight::Regular => (80, 400),
        Weight::Bold => (140, 700),
    };
    Dictionary::from_iter([
        ("Type", Object::Name(b"FontDescriptor".to_vec())),
        ("FontName", Object::Name(base_font.as_bytes().to_vec())),
        ("FontFamily", lopdf::text_string(&face.family_name)),
        ("FontWeight", Object::Integer(weight_class)),
        // Flag 6 (value 32): nonsymbolic, the Latin character set. Flag 3
        // (value 4): symbolic, glyphs outside it, as in the script fonts.
        ("Flags", Object::Integer(if face.latin { 32 } else { 4 })),
        (
            "FontBBox",
            Object::Array(vec![
                metric(bbox.x_min),
                metric(bbox.y_min),
                metric(bbox.x_max),
                metric(bbox.y_max),
            ]),
        ),
        ("ItalicAngle", Object::Integer(0)),
        ("Ascent", metric(tables.hhea.ascender)),
        ("Descent", metric(tables.hhea.descender)),
        (
            "CapHeight",
            metric(face.face.capital_height().unwrap_or(tables.hhea.ascender)),
        ),
        ("StemV", Object::Integer(stem_v)),
        ("FontFile2", Object::Reference(font_file)),
    ])
}

/// Derives the six capital letters that PDF requires before the name of a
/// subset font from everything that differs between two subsets of one face:
/// the original glyph, text and width of each CID. The subset program follows
/// from the face and those glyphs, so it need not be hashed too.
///
/// The remapped glyph ids in the CIDToGIDMap are no input. The remapper numbers
/// glyphs 1, 2, 3 and so on in order of use, so subsets with different glyphs
/// but the same order of first use have the same ids. The same content always
/// gets the same tag, so renders stay byte-identical.
fn subset_tag(file_name: &str, entries: &[(u16, String, i32)]) -> String {
    // Each variable-length part is preceded by its length, so that no two
    // different inputs hash the same bytes.
    let mut hasher = Sha256::new();
    hasher.update((file_name.len() as u64).to_be_bytes());
    hasher.update(file_name.as_bytes());
    for (glyph, text, width) in entries {
        hasher.update(glyph.to_be_bytes());
        hasher.update(width.to_be_bytes());
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
    }
    tag_letters(&hasher.finalize())
        .into_iter()
        .map(char::from)
        .collect()
}

/// Maps the first six bytes of `digest` to six capital ASCII letters.
pub(crate) fn tag_letters(digest: &[u8]) -> [u8; 6] {
    let mut tag = [b'A'; 6];
    for (letter, byte) in tag.iter_mut().zip(digest) {
        *letter = b'A' + byte % 26;
    }
    tag
}

/// Builds a ToUnicode CMap that maps each CID to its text. CIDs with an
/// empty text get no entry.
fn to_unicode_cmap(entries: &[(u16, String, i32)]) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let mapped: Vec<(usize, &str)> = entries
        .iter()
        .enumerate()
        .filter(|(_, (_, text, _))| !text.is_empty())
        .map(|(index, (_, text, _))| (index + 1, text.as_str()))
        .collect();
    for block in mapped.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for (cid, text) in block {
            let utf16: String = text
                .encode_utf16()
                .map(|unit| format!("{unit:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{cid:04X}> <{utf16}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::FontSet;

    #[test]
    fn cmap_maps_each_cid() {
        let entries = [
            (7, "ł".to_owned(), 500),
            (0, String::new(), 0),
            (0, "\u{1F600}".to_owned(), 750),
            (9, "क्ष".to_owned(), 600),
        ];
        let text = String::from_utf8(to_unicode_cmap(&entries)).unwrap();
        assert!(
            text.contains(
                "3 beginbfchar\n<0001> <0142>\n<0003> <D83DDE00>\n<0004> <0915094D0937>\nendbfchar\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn repeated_cluster_text_skips_a_cid() {
        let mut usage = FaceUsage::default();
        assert_eq!(usage.encode(5, "कि", 500), Ok(1));
        assert_eq!(usage.encode(6, "कि", 500), Ok(3));
        assert_eq!(usage.encode(5, "कि", 500), Ok(1));
        // A new width is a new CID, again apart from the same text before it.
        assert_eq!(usage.encode(5, "कि", 300), Ok(5));
        assert_eq!(usage.encode(0, "x", 556), Ok(6));
        assert_eq!(usage.uncovered, 1);
    }

    /// Returns a usage that prints each `(glyph, text, width)` in order.
    fn usage_of(entries: &[(u16, &str, i32)]) -> FaceUsage {
        let mut usage = FaceUsage::default();
        for (glyph, text, width) in entries {
            usage.encode(*glyph, text, *width).unwrap();
        }
        usage
    }

    /// Returns the `BaseFont` of the Type0 font that `add_font` writes for `usage`.
    fn base_font(face: &EmbeddableFace, usage: &FaceUsage) -> String {
        let mut document = lopdf::Document::with_version("1.7");
        let font = add_font(&mut document, face, usage).unwrap();
        let name = document
            .get_dictionary(font.font_id)
            .unwrap()
            .get(b"BaseFont")
            .unwrap()
            .as_name()
            .unwrap()
            .to_vec();
        String::from_utf8(name).unwrap()
    }

    #[test]
    fn tag_is_six_capitals() {
        let entries = [(5, "a".to_owned(), 500), (9, "b".to_owned(), 600)];
        let tag = subset_tag("a.ttf", &entries);
        assert_eq!(tag.len(), 6);
        assert!(tag.chars().all(|c| c.is_ascii_uppercase()), "{tag}");
        assert_eq!(tag, subset_tag("a.ttf", &entries));
        assert_ne!(tag, subset_tag("b.ttf", &entries));
    }

    #[test]
    fn tag_follows_subset_content() {
        let fonts = FontSet::load(&[]).unwrap();
        let face = fonts.face(Weight::Regular);
        let glyph_a = face.glyph('A').unwrap().0;
        let glyph_b = face.glyph('B').unwrap().0;
        let glyph_c = face.glyph('C').unwrap().0;
        let base_entries = [(glyph_a, "A", 667), (glyph_b, "B", 667)];
        let base = base_font(face, &usage_of(&base_entries));
        assert!(base.ends_with("+LiberationSans"), "{base}");
        assert_eq!(
            base,
            base_font(face, &usage_of(&base_entries)),
            "the same content must get the same tag"
        );

        // Each variant has the same usage pattern, two CIDs for two glyphs,
        // so the remapped glyph ids are 1 and 2 in every case.
        let variants = [
            ("other glyph", [(glyph_a, "A", 667), (glyph_c, "B", 667)]),
            ("glyphs swapped", [(glyph_b, "A", 667), (glyph_a, "B", 667)]),
            ("other text", [(glyph_a, "A", 667), (glyph_b, "C", 667)]),
            ("other width", [(glyph_a, "A", 667), (glyph_b, "B", 700)]),
        ];
        for (case, entries) in variants {
            assert_ne!(base, base_font(face, &usage_of(&entries)), "{case}");
        }
    }
}

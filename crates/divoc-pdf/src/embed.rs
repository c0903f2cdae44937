//! Embedded font subsets for text outside Windows-1252.
//!
//! Each weight used gets one Type0 font with Identity-H encoding. Codes are
//! CIDs given out per character in order of first use, starting at 1, and a
//! CIDToGIDMap maps them to glyphs of a `subsetter` subset of the bundled face.
//! One CID per character, rather than per glyph, lets every character that
//! falls back to the `.notdef` box keep its own ToUnicode entry, so text
//! extraction returns the original text even where the glyph is missing.

use std::collections::HashMap;
use std::fmt::Write as _;

use lopdf::{Dictionary, Object, ObjectId};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;
use ttf_parser::GlyphId;

use crate::finish::{FinishError, deflated};
use crate::fonts::{EmbeddableFace, Weight};

/// Characters of one weight printed with the embedded face.
#[derive(Debug, Default)]
pub(crate) struct FaceUsage {
    /// CID of each character, which is its index in `chars` plus 1.
    cids: HashMap<char, u16>,
    /// Characters in CID order, with their glyph (`None` when uncovered).
    chars: Vec<(char, Option<GlyphId>)>,
    /// Printed characters that the face does not cover.
    pub(crate) uncovered: usize,
}

impl FaceUsage {
    /// Encodes `text` as 2-byte CIDs, giving new characters new CIDs.
    pub(crate) fn encode(&mut self, face: &EmbeddableFace, text: &str) -> Result<Vec<u8>, String> {
        let mut codes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let cid = match self.cids.get(&c) {
                Some(cid) => *cid,
                None => {
                    let cid = u16::try_from(self.chars.len() + 1).map_err(|_| {
                        "more than 65535 distinct characters in embedded text".to_owned()
                    })?;
                    self.cids.insert(c, cid);
                    self.chars.push((c, face.glyph(c)));
                    cid
                }
            };
            if self.chars[usize::from(cid) - 1].1.is_none() {
                self.uncovered += 1;
            }
            codes.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(codes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chars.is_empty()
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
    weight: Weight,
    usage: &FaceUsage,
) -> Result<EmbeddedFont, FinishError> {
    let mut remapper = GlyphRemapper::new();
    let glyphs: Vec<u16> = usage
        .chars
        .iter()
        .map(|(_, glyph)| remapper.remap(glyph.map_or(0, |glyph| glyph.0)))
        .collect();
    let program = subsetter::subset(face.data, 0, &remapper).map_err(|error| {
        FinishError::Pdf(format!("subsetting {} failed: {error}", face.file_name))
    })?;

    let scale = 1000.0 / face.units_per_em;
    let widths: Vec<Object> = usage
        .chars
        .iter()
        .map(|(_, glyph)| {
            let advance = face.advance(glyph.unwrap_or(GlyphId(0)));
            Object::Integer((f64::from(advance) * scale).round() as i64)
        })
        .collect();
    let mut cid_to_gid = Vec::with_capacity((glyphs.len() + 1) * 2);
    cid_to_gid.extend_from_slice(&0u16.to_be_bytes());
    for glyph in &glyphs {
        cid_to_gid.extend_from_slice(&glyph.to_be_bytes());
    }

    let base_font = format!("{}+{}", subset_tag(weight, &glyphs), face.postscript_name);
    let font_file = document.add_object(deflated(
        Dictionary::from_iter([("Length1", Object::Integer(program.len() as i64))]),
        &program,
    )?);
    let descriptor =
        document.add_object(font_descriptor(face, weight, &base_font, font_file, scale));
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
    let to_unicode =
        document.add_object(deflated(Dictionary::new(), &to_unicode_cmap(&usage.chars))?);
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

fn font_descriptor(
    face: &EmbeddableFace,
    weight: Weight,
    base_font: &str,
    font_file: ObjectId,
    scale: f64,
) -> Dictionary {
    let metric = |value: i16| Object::Integer((f64::from(value) * scale).round() as i64);
    let tables = face.face.tables();
    let bbox = face.face.global_bounding_box();
    let (stem_v, weight_class) = match weight {
        Weight::Regular => (80, 400),
        Weight::Bold => (140, 700),
    };
    Dictionary::from_iter([
        ("Type", Object::Name(b"FontDescriptor".to_vec())),
        ("FontName", Object::Name(base_font.as_bytes().to_vec())),
        ("FontFamily", Object::string_literal("Liberation Sans")),
        ("FontWeight", Object::Integer(weight_class)),
        // Flag 6 (value 32): nonsymbolic, Latin text.
        ("Flags", Object::Integer(32)),
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

/// Derives the six capital letters that PDF requires before the name of a subset font.
fn subset_tag(weight: Weight, glyphs: &[u16]) -> String {
    let mut hasher = Sha256::new();
    hasher.update([weight as u8]);
    for glyph in glyphs {
        hasher.update(glyph.to_be_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|byte| char::from(b'A' + byte % 26))
        .collect()
}

/// Builds a ToUnicode CMap that maps each CID to its character.
fn to_unicode_cmap(chars: &[(char, Option<GlyphId>)]) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for (block_index, block) in chars.chunks(100).enumerate() {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for (offset, (c, _)) in block.iter().enumerate() {
            let cid = block_index * 100 + offset + 1;
            let mut units = [0u16; 2];
            let utf16: String = c
                .encode_utf16(&mut units)
                .iter()
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

    #[test]
    fn cmap_maps_each_cid() {
        let cmap = to_unicode_cmap(&[('ł', None), ('\u{1F600}', None)]);
        let text = String::from_utf8(cmap).unwrap();
        assert!(
            text.contains("2 beginbfchar\n<0001> <0142>\n<0002> <D83DDE00>\nendbfchar\n"),
            "{text}"
        );
    }

    #[test]
    fn tag_is_six_capitals() {
        let tag = subset_tag(Weight::Bold, &[0, 5, 9]);
        assert_eq!(tag.len(), 6);
        assert!(tag.chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(tag, subset_tag(Weight::Bold, &[0, 5, 9]));
        assert_ne!(tag, subset_tag(Weight::Regular, &[0, 5, 9]));
    }
}

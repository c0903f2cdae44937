//! Fonts: the bundled Liberation Sans (metrics for layout, genpdf font
//! families, embedded subsets for text outside Windows-1252) and the script
//! fonts read from configured paths (Devanagari, Tamil, Arabic and so on).
//!
//! Liberation Sans has the advance widths of Helvetica, so one set of metrics
//! serves both the built-in Helvetica text and the embedded text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use genpdf::fonts::{FontData, FontFamily};
use printpdf::BuiltinFont;
use ttf_parser::{Face, GlyphId};

use crate::PdfError;

const REGULAR_FILE: &str = "LiberationSans-Regular.ttf";
const BOLD_FILE: &str = "LiberationSans-Bold.ttf";
const REGULAR_TTF: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../fonts/LiberationSans-Bold.ttf");

/// Millimetres per PostScript point.
pub(crate) const MM_PER_PT: f64 = 25.4 / 72.0;

/// Characters outside ASCII and Latin-1 that Windows-1252 encodes in 0x80–0x9F.
const WIN_ANSI_EXTRAS: [char; 27] = [
    '\u{20AC}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
    '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{017D}', '\u{2018}', '\u{2019}', '\u{201C}',
    '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
    '\u{0153}', '\u{017E}', '\u{0178}',
];

/// Windows-1252 codes of [`WIN_ANSI_EXTRAS`], in the same order.
const WIN_ANSI_EXTRA_CODES: [u8; 27] = [
    0x80, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8E, 0x91, 0x92, 0x93,
    0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9E, 0x9F,
];

/// Returns the Windows-1252 code of `c` for a built-in font, or `None` for a
/// character outside the set of [`is_win_ansi`].
pub(crate) fn win_ansi_byte(c: char) -> Option<u8> {
    match u32::from(c) {
        code @ (0x20..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF) => u8::try_from(code).ok(),
        _ => WIN_ANSI_EXTRAS
            .iter()
            .position(|extra| *extra == c)
            .map(|index| WIN_ANSI_EXTRA_CODES[index]),
    }
}

/// Returns whether genpdf can print `c` with a built-in font.
///
/// This is the character set of the WinAnsi table in lopdf 0.26, which genpdf
/// 0.2 encodes with: Windows-1252 without U+00A0 (no-break space) and U+00AD
/// (soft hyphen), which that table maps to the ASCII space and hyphen.
pub(crate) fn is_win_ansi(c: char) -> bool {
    matches!(u32::from(c), 0x20..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF) || WIN_ANSI_EXTRAS.contains(&c)
}

/// Font weight used on the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// One face, parsed once: a bundled one or a script font read from a file.
pub(crate) struct EmbeddableFace {
    pub(crate) file_name: String,
    pub(crate) data: &'static [u8],
    pub(crate) face: Face<'static>,
    /// The same face prepared for shaping.
    pub(crate) shaper: rustybuzz::Face<'static>,
    pub(crate) weight: Weight,
    /// Family name written in the font descriptor.
    pub(crate) family_name: String,
    /// Whether the face is one of the bundled Liberation Sans faces.
    pub(crate) latin: bool,
    /// PostScript name, the base of the PDF font name.
    pub(crate) postscript_name: String,
    pub(crate) units_per_em: f64,
    /// Glyph and advance of U+0000–U+00FF, looked up once because layout
    /// measures the same Latin text many times.
    latin_glyphs: Vec<Option<(GlyphId, u16)>>,
    notdef_advance: u16,
    /// Descent below the baseline as a fraction of the em, from `hhea` as genpdf reads it.
    descent_em: f64,
    kern: Option<ttf_parser::kern::Subtable<'static>>,
    /// Kerning of every pair of U+0000–U+00FF in font units, row by left
    /// character. Looking a pair up in `kern` is a binary search, and layout
    /// kerns every pair of every line it measures.
    latin_kerning: Box<[i16]>,
    /// Factor from font units to the kerning that genpdf writes, computed in
    /// `f32` as rusttype 0.8 computes it (see [`EmbeddableFace::written_kerning`]).
    written_kerning_factor: f32,
}

impl std::fmt::Debug for EmbeddableFace {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EmbeddableFace")
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

impl EmbeddableFace {
    fn parse(file_name: &str, data: &'static [u8], latin: bool) -> Result<Self, PdfError> {
        let invalid = |reason: String| PdfError::Font {
            font: file_name.to_owned(),
            reason,
        };
        let face = Face::parse(data, 0).map_err(|error| invalid(error.to_string()))?;
        let shaper = rustybuzz::Face::from_slice(data, 0)
            .ok_or_else(|| invalid("rustybuzz could not read the font".to_owned()))?;
        let name = |id: u16| {
            face.names()
                .into_iter()
                .filter(|name| name.name_id == id)
                .find_map(|name| name.to_string())
        };
        let postscript_name = name(ttf_parser::name_id::POST_SCRIPT_NAME)
            .map(|name| name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', ""))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "Font".to_owned());
        let family_name =
            name(ttf_parser::name_id::FAMILY).unwrap_or_else(|| postscript_name.clone());
        let weight = if face.weight().to_number() >= 600 {
            Weight::Bold
        } else {
            Weight::Regular
        };
        let units_per_em = f64::from(face.units_per_em());
        let notdef_advance = face.glyph_hor_advance(GlyphId(0)).unwrap_or(0);
        let descent_em = -f64::from(face.tables().hhea.descender) / units_per_em;
        let latin_table: Vec<Option<(GlyphId, u16)>> = (0u8..=255)
            .map(|byte| {
                let glyph = face.glyph_index(char::from(byte))?;
                Some((glyph, face.glyph_hor_advance(glyph).unwrap_or(0)))
            })
            .collect();
        // stb_truetype, which measures genpdf's kerning, reads only the first
        // horizontal subtable, so reading the same one keeps widths equal.
        let kern = face.tables().kern.and_then(|table| {
            table
                .subtables
                .into_iter()
                .find(|subtable| subtable.horizontal)
        });
        let latin_kerning = latin_kerning_table(&latin_table, kern.as_ref());
        // genpdf scales a font to its glyph height in ems, and rusttype turns
        // that into a factor per font unit by dividing by the same height in
        // font units (hhea ascent minus descent).
        let height_units =
            f32::from(face.tables().hhea.ascender) - f32::from(face.tables().hhea.descender);
        let glyph_height = height_units / f32::from(face.units_per_em());
        let written_kerning_factor = glyph_height / height_units;
        Ok(EmbeddableFace {
            file_name: file_name.to_owned(),
            data,
            face,
            shaper,
            weight,
            family_name,
            latin,
            postscript_name,
            units_per_em,
            latin_glyphs: latin_table,
            notdef_advance,
            descent_em,
            kern,
            latin_kerning,
            written_kerning_factor,
        })
    }

    /// Returns the descent as a positive fraction of the em.
    pub(crate) fn descent_em(&self) -> f64 {
        self.descent_em
    }

    /// Returns the glyph of `c`, or `None` when the face has none.
    pub(crate) fn glyph(&self, c: char) -> Option<GlyphId> {
        match self.latin_glyphs.get(c as usize) {
            Some(entry) => entry.map(|(glyph, _)| glyph),
            None => self.face.glyph_index(c),
        }
    }

    /// Returns the advance of a glyph in font units.
    pub(crate) fn advance(&self, glyph: GlyphId) -> u16 {
        self.face
            .glyph_hor_advance(glyph)
            .unwrap_or(self.notdef_advance)
    }

    /// Returns the advance of `c` in font units. An uncovered character has the
    /// advance of the `.notdef` box that replaces it.
    pub(crate) fn char_advance(&self, c: char) -> u16 {
        match self.latin_glyphs.get(c as usize) {
            Some(Some((_, advance))) => *advance,
            Some(None) => self.notdef_advance,
            None => self
                .face
                .glyph_index(c)
                .map_or(self.notdef_advance, |glyph| self.advance(glyph)),
        }
    }

    /// Returns the kerning between two characters in font units (usually negative).
    fn kerning(&self, left: char, right: char) -> i32 {
        if let (Ok(left), Ok(right)) = (u8::try_from(left), u8::try_from(right))
            && let Some(units) = self
                .latin_kerning
                .get(usize::from(left) << 8 | usize::from(right))
        {
            return i32::from(*units);
        }
        let Some(kern) = &self.kern else { return 0 };
        match (self.glyph(left), self.glyph(right)) {
            (Some(left), Some(right)) => kern.glyphs_kerning(left, right).map_or(0, i32::from),
            _ => 0,
        }
    }

    /// Returns the kerning offset between two characters as genpdf 0.2 writes
    /// it into a `TJ` array for built-in font text: thousandths of an em, with
    /// the sign of a `TJ` offset (positive moves the next glyph left), cut
    /// towards zero. The arithmetic is rusttype's, in `f32`, so the offsets
    /// are the ones genpdf wrote when it printed such text itself.
    pub(crate) fn written_kerning(&self, left: char, right: char) -> i64 {
        let units = self.kerning(left, right);
        if units == 0 {
            return 0;
        }
        (self.written_kerning_factor * units as f32 * -1000.0) as i64
    }

    /// Returns the width of `text` in millimetres at `size` points.
    ///
    /// With `kerned`, pairs are kerned as genpdf kerns built-in font text.
    /// Embedded text is written without kerning.
    pub(crate) fn text_width_mm(&self, text: &str, size: f64, kerned: bool) -> f64 {
        let mut units: i64 = 0;
        let mut previous: Option<char> = None;
        for c in text.chars() {
            units += i64::from(self.char_advance(c));
            if kerned && let Some(left) = previous {
                units += i64::from(self.kerning(left, c));
            }
            previous = Some(c);
        }
        units as f64 / self.units_per_em * size * MM_PER_PT
    }
}

/// Builds [`EmbeddableFace::latin_kerning`]: 65,536 pairs, all 0 for a face
/// without kerning.
fn latin_kerning_table(
    latin_glyphs: &[Option<(GlyphId, u16)>],
    kern: Option<&ttf_parser::kern::Subtable<'_>>,
) -> Box<[i16]> {
    let mut table = vec![0i16; 256 * 256];
    let Some(kern) = kern else {
        return table.into_boxed_slice();
    };
    for (left_index, left) in latin_glyphs.iter().enumerate() {
        let Some((left, _)) = left else { continue };
        for (right_index, right) in latin_glyphs.iter().enumerate() {
            if let Some((right, _)) = right
                && let Some(units) = kern.glyphs_kerning(*left, *right)
                && let Some(slot) = table.get_mut(left_index << 8 | right_index)
            {
                *slot = units;
            }
        }
    }
    table.into_boxed_slice()
}

/// Index of a face in [`FontSet::faces`].
pub(crate) type FaceIndex = usize;

/// Everything about fonts that does not depend on the certificate.
pub(crate) struct FontSet {
    /// Liberation Sans Regular and Bold at indexes 0 and 1, then the script
    /// fonts that could be read, in configured order.
    pub(crate) faces: Vec<EmbeddableFace>,
    /// Helvetica, measured with Liberation Sans: the default family.
    pub(crate) builtin_family: FontFamily<FontData>,
    /// Courier with Liberation Sans metrics: text in these fonts is a
    /// placeholder that the lopdf pass replaces with embedded glyphs.
    pub(crate) placeholder_family: FontFamily<FontData>,
}

impl std::fmt::Debug for FontSet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FontSet")
            .field("faces", &self.faces)
            .finish_non_exhaustive()
    }
}

/// Base font names of the placeholder fonts, as printpdf names their resources.
pub(crate) const PLACEHOLDER_REGULAR: &str = "Courier";
pub(crate) const PLACEHOLDER_BOLD: &str = "Courier-Bold";

impl FontSet {
    /// Parses the bundled fonts and the script fonts at `font_files`.
    ///
    /// A script font that is missing or unreadable is logged as a warning and
    /// skipped, so the renderer still works and prints the characters that
    /// only it covered as boxes.
    pub(crate) fn load(font_files: &[PathBuf]) -> Result<Self, PdfError> {
        let mut faces = vec![
            EmbeddableFace::parse(REGULAR_FILE, REGULAR_TTF, true)?,
            EmbeddableFace::parse(BOLD_FILE, BOLD_TTF, true)?,
        ];
        for path in font_files {
            let file_name = path.display().to_string();
            let parsed = read_font_file(path)
                .and_then(|data| EmbeddableFace::parse(&file_name, data, false));
            match parsed {
                Ok(face) => faces.push(face),
                Err(error) => tracing::warn!(
                    font = %file_name,
                    %error,
                    "script font skipped; characters that only it covers are printed as boxes"
                ),
            }
        }
        let builtin_family = family(BuiltinFont::Helvetica, BuiltinFont::HelveticaBold)?;
        let placeholder_family = family(BuiltinFont::Courier, BuiltinFont::CourierBold)?;
        Ok(FontSet {
            faces,
            builtin_family,
            placeholder_family,
        })
    }

    /// Returns the Liberation Sans face of a weight.
    pub(crate) fn face(&self, weight: Weight) -> &EmbeddableFace {
        &self.faces[weight as usize]
    }

    /// Returns the file names of the script fonts that were read.
    pub(crate) fn script_font_files(&self) -> Vec<String> {
        self.faces
            .iter()
            .filter(|face| !face.latin)
            .map(|face| face.file_name.clone())
            .collect()
    }
}

/// Font files read so far, by path. Each file is read and leaked once per
/// process, because the parsed faces borrow the bytes for the life of every
/// renderer built from them. A server builds its renderer once.
static FONT_FILES: OnceLock<Mutex<HashMap<PathBuf, &'static [u8]>>> = OnceLock::new();

fn read_font_file(path: &Path) -> Result<&'static [u8], PdfError> {
    let files = FONT_FILES.get_or_init(Mutex::default);
    let mut files = files
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(data) = files.get(path) {
        return Ok(data);
    }
    let data = std::fs::read(path).map_err(|error| PdfError::Font {
        font: path.display().to_string(),
        reason: error.to_string(),
    })?;
    let data: &'static [u8] = Box::leak(data.into_boxed_slice());
    files.insert(path.to_owned(), data);
    Ok(data)
}

/// Builds a genpdf family of built-in fonts measured with Liberation Sans.
///
/// The certificate uses no italics, so the italic slots reuse the upright
/// fonts, which halves the font data genpdf keeps in memory.
fn family(regular: BuiltinFont, bold: BuiltinFont) -> Result<FontFamily<FontData>, PdfError> {
    let load = |file: &'static str, data: &[u8], builtin: BuiltinFont| {
        FontData::new(data.to_vec(), Some(builtin)).map_err(|error| PdfError::Font {
            font: file.to_owned(),
            reason: error.to_string(),
        })
    };
    let regular = load(REGULAR_FILE, REGULAR_TTF, regular)?;
    let bold = load(BOLD_FILE, BOLD_TTF, bold)?;
    Ok(FontFamily {
        italic: regular.clone(),
        bold_italic: bold.clone(),
        regular,
        bold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_set() {
        for c in ['A', '~', 'ñ', 'ÿ', '€', '’', '–', '…', 'Ž'] {
            assert!(is_win_ansi(c), "{c:?} should be WinAnsi");
        }
        for c in ['\u{A0}', '\u{AD}', '\t', 'ł', 'ő', 'ș', 'ễ', 'क'] {
            assert!(!is_win_ansi(c), "{c:?} should not be WinAnsi");
        }
    }

    #[test]
    fn win_ansi_bytes() {
        assert_eq!(win_ansi_byte('A'), Some(0x41));
        assert_eq!(win_ansi_byte('é'), Some(0xE9));
        assert_eq!(win_ansi_byte('€'), Some(0x80));
        assert_eq!(win_ansi_byte('…'), Some(0x85));
        assert_eq!(win_ansi_byte('Ÿ'), Some(0x9F));
        assert_eq!(win_ansi_byte('ł'), None);
        assert_eq!(win_ansi_byte('\u{AD}'), None);
    }

    #[test]
    fn liberation_covers_latin_extended() {
        let fonts = FontSet::load(&[]).unwrap();
        for c in ['ñ', 'ł', 'ő', 'ș', 'ễ', 'Ł', 'Ș'] {
            assert!(
                fonts.face(Weight::Regular).glyph(c).is_some(),
                "regular lacks {c:?}"
            );
            assert!(
                fonts.face(Weight::Bold).glyph(c).is_some(),
                "bold lacks {c:?}"
            );
        }
        assert_eq!(fonts.face(Weight::Regular).glyph('क'), None);
    }

    /// The lopdf pass writes the kerning of built-in font text itself. Each
    /// offset must be the one genpdf 0.2 wrote when it printed the text, for
    /// every pair of Windows-1252 characters in both weights.
    #[test]
    fn written_kerning_matches_genpdf() {
        let fonts = FontSet::load(&[]).unwrap();
        let cache = genpdf::fonts::FontCache::new(fonts.builtin_family.clone());
        let chars: Vec<char> = ('\u{20}'..='\u{2122}')
            .filter(|&c| is_win_ansi(c))
            .collect();
        assert_eq!(chars.len(), 216);
        let mut kerned_pairs = 0;
        for weight in [Weight::Regular, Weight::Bold] {
            let mut style = genpdf::style::Style::new();
            if weight == Weight::Bold {
                style.set_bold();
            }
            let font = style.font(&cache);
            let face = fonts.face(weight);
            for &left in &chars {
                for &right in &chars {
                    let genpdf = font.kerning(&cache, [left, right]);
                    let expected = (genpdf[1] * -1000.0) as i64;
                    assert_eq!(
                        face.written_kerning(left, right),
                        expected,
                        "{weight:?} {left:?}{right:?}"
                    );
                    kerned_pairs += usize::from(expected != 0);
                }
            }
        }
        // The pairs that the two bundled Liberation Sans faces kern. A kerning
        // table that failed to load would give none.
        assert_eq!(kerned_pairs, 205);
    }

    #[test]
    fn widths_match_helvetica() {
        let fonts = FontSet::load(&[]).unwrap();
        // Helvetica's AFM advance of "H" is 722/1000 em and of "e" 556/1000 em.
        let width = fonts
            .face(Weight::Regular)
            .text_width_mm("He", 1000.0 / MM_PER_PT, false);
        assert!((width - 1278.0).abs() < 1.0, "width {width}");
    }
}

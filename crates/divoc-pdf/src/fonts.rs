//! The bundled Liberation Sans fonts: metrics for layout, genpdf font families,
//! and the faces that are subset and embedded for text outside Windows-1252.
//!
//! Liberation Sans has the advance widths of Helvetica, so one set of metrics
//! serves both the built-in Helvetica text and the embedded text.

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

/// One bundled face, parsed once.
pub(crate) struct EmbeddableFace {
    pub(crate) file_name: &'static str,
    pub(crate) data: &'static [u8],
    pub(crate) face: Face<'static>,
    /// PostScript name, the base of the PDF font name.
    pub(crate) postscript_name: &'static str,
    pub(crate) units_per_em: f64,
    /// Glyph and advance of U+0000–U+00FF, looked up once because layout
    /// measures the same Latin text many times.
    latin: Vec<Option<(GlyphId, u16)>>,
    notdef_advance: u16,
    /// Descent below the baseline as a fraction of the em, from `hhea` as genpdf reads it.
    descent_em: f64,
    kern: Option<ttf_parser::kern::Subtable<'static>>,
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
    fn parse(
        file_name: &'static str,
        data: &'static [u8],
        postscript_name: &'static str,
    ) -> Result<Self, PdfError> {
        let face = Face::parse(data, 0).map_err(|error| PdfError::Font {
            font: file_name,
            reason: error.to_string(),
        })?;
        let units_per_em = f64::from(face.units_per_em());
        let notdef_advance = face.glyph_hor_advance(GlyphId(0)).unwrap_or(0);
        let descent_em = -f64::from(face.tables().hhea.descender) / units_per_em;
        let latin = (0u8..=255)
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
        Ok(EmbeddableFace {
            file_name,
            data,
            face,
            postscript_name,
            units_per_em,
            latin,
            notdef_advance,
            descent_em,
            kern,
        })
    }

    /// Returns the descent as a positive fraction of the em.
    pub(crate) fn descent_em(&self) -> f64 {
        self.descent_em
    }

    /// Returns the glyph of `c`, or `None` when the face has none.
    pub(crate) fn glyph(&self, c: char) -> Option<GlyphId> {
        match self.latin.get(c as usize) {
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
        match self.latin.get(c as usize) {
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
        let Some(kern) = &self.kern else { return 0 };
        match (self.glyph(left), self.glyph(right)) {
            (Some(left), Some(right)) => kern.glyphs_kerning(left, right).map_or(0, i32::from),
            _ => 0,
        }
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

/// Everything about fonts that does not depend on the certificate.
pub(crate) struct FontSet {
    pub(crate) regular: EmbeddableFace,
    pub(crate) bold: EmbeddableFace,
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
            .field("regular", &self.regular)
            .field("bold", &self.bold)
            .finish_non_exhaustive()
    }
}

/// Base font names of the placeholder fonts, as printpdf names their resources.
pub(crate) const PLACEHOLDER_REGULAR: &str = "Courier";
pub(crate) const PLACEHOLDER_BOLD: &str = "Courier-Bold";

impl FontSet {
    /// Parses the bundled fonts.
    pub(crate) fn load() -> Result<Self, PdfError> {
        let regular = EmbeddableFace::parse(REGULAR_FILE, REGULAR_TTF, "LiberationSans")?;
        let bold = EmbeddableFace::parse(BOLD_FILE, BOLD_TTF, "LiberationSans-Bold")?;
        let builtin_family = family(BuiltinFont::Helvetica, BuiltinFont::HelveticaBold)?;
        let placeholder_family = family(BuiltinFont::Courier, BuiltinFont::CourierBold)?;
        Ok(FontSet {
            regular,
            bold,
            builtin_family,
            placeholder_family,
        })
    }

    /// Returns the face of a weight.
    pub(crate) fn face(&self, weight: Weight) -> &EmbeddableFace {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// Builds a genpdf family of built-in fonts measured with Liberation Sans.
///
/// The certificate uses no italics, so the italic slots reuse the upright
/// fonts, which halves the font data genpdf keeps in memory.
fn family(regular: BuiltinFont, bold: BuiltinFont) -> Result<FontFamily<FontData>, PdfError> {
    let load = |file: &'static str, data: &[u8], builtin: BuiltinFont| {
        FontData::new(data.to_vec(), Some(builtin)).map_err(|error| PdfError::Font {
            font: file,
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
    fn liberation_covers_latin_extended() {
        let fonts = FontSet::load().unwrap();
        for c in ['ñ', 'ł', 'ő', 'ș', 'ễ', 'Ł', 'Ș'] {
            assert!(fonts.regular.glyph(c).is_some(), "regular lacks {c:?}");
            assert!(fonts.bold.glyph(c).is_some(), "bold lacks {c:?}");
        }
        assert_eq!(fonts.regular.glyph('क'), None);
    }

    #[test]
    fn widths_match_helvetica() {
        let fonts = FontSet::load().unwrap();
        // Helvetica's AFM advance of "H" is 722/1000 em and of "e" 556/1000 em.
        let width = fonts.regular.text_width_mm("He", 1000.0 / MM_PER_PT, false);
        assert!((width - 1278.0).abs() < 1.0, "width {width}");
    }
}

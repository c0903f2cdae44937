//! Shaping of embedded text: bidirectional reordering, font choice per
//! character, and glyph positions from rustybuzz.
//!
//! A line is split into runs of one embedding level by the Unicode
//! bidirectional algorithm (`unicode-bidi`), in visual order. Each run is
//! split into pieces of one face, and each piece is shaped by rustybuzz, which
//! returns the glyphs of a right-to-left piece in visual order too. So the
//! glyphs of a line, piece after piece, are in the order they are drawn from
//! left to right.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use rustybuzz::ttf_parser::Tag;
use rustybuzz::{Direction, Feature, UnicodeBuffer};
use unicode_bidi::BidiInfo;
use unicode_normalization::UnicodeNormalization;

use crate::fonts::{EmbeddableFace, FaceIndex, FontSet, MM_PER_PT, Weight};

/// One glyph as rustybuzz placed it, in font units of its face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlacedGlyph {
    pub(crate) glyph: u16,
    /// Origin from the left edge of the piece.
    pub(crate) x: i32,
    /// Origin above the baseline.
    pub(crate) y: i32,
    /// The characters that text extraction returns for this glyph. The texts
    /// of a piece's glyphs, in writing order, add up to the piece's text. A
    /// glyph that shares its cluster with more glyphs than the cluster has
    /// characters gets an empty text.
    pub(crate) text: String,
}

/// Glyphs of one face, in the order the content writes them.
///
/// Extraction tools read glyphs in content order. A left-to-right piece is
/// written from the left. A right-to-left piece is written in logical order,
/// from the right, because MuPDF 1.21 returns right-to-left text in content
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapedPiece {
    pub(crate) face: FaceIndex,
    pub(crate) rtl: bool,
    pub(crate) glyphs: Vec<PlacedGlyph>,
    /// Advance width of the whole piece.
    pub(crate) width: i32,
    /// Glyphs that are the face's `.notdef` box because no configured font
    /// covers the character.
    pub(crate) uncovered: usize,
}

/// A shaped line: its pieces from left to right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShapedLine {
    pub(crate) pieces: Vec<Arc<ShapedPiece>>,
}

impl ShapedLine {
    /// Returns the advance width in millimetres at `size` points.
    pub(crate) fn width_mm(&self, fonts: &FontSet, size: f64) -> f64 {
        let mut em = 0.0;
        for piece in &self.pieces {
            let face = &fonts.faces[piece.face];
            em += f64::from(piece.width) / face.units_per_em;
        }
        em * size * MM_PER_PT
    }
}

/// Key of a shaped piece: face, direction and text.
type PieceKey = (FaceIndex, bool, String);

/// Pieces shaped ahead of time, such as those of every label of every
/// language. It is built once and then only read, so renders share it
/// without a lock.
#[derive(Debug, Default)]
pub(crate) struct PieceCache {
    pieces: HashMap<PieceKey, Arc<ShapedPiece>>,
}

impl PieceCache {
    /// Shapes the words and whole texts of `texts` in both weights.
    ///
    /// Layout measures single words and prints whole lines, and a wrapped
    /// label prints part of its words, so both words and whole texts go in.
    pub(crate) fn build<'t>(fonts: &FontSet, texts: impl IntoIterator<Item = &'t str>) -> Self {
        let mut pieces: HashMap<PieceKey, Arc<ShapedPiece>> = HashMap::new();
        for text in texts {
            if text.chars().all(crate::fonts::is_win_ansi) {
                continue;
            }
            for weight in [Weight::Regular, Weight::Bold] {
                for part in std::iter::once(text).chain(text.split(' ')) {
                    for (face, rtl, range) in itemize(fonts, weight, part) {
                        let piece_text = &part[range];
                        pieces
                            .entry((face, rtl, piece_text.to_owned()))
                            .or_insert_with(|| {
                                Arc::new(shape_piece(&fonts.faces[face], face, piece_text, rtl))
                            });
                    }
                }
            }
        }
        PieceCache { pieces }
    }

    /// Returns the number of cached pieces.
    pub(crate) fn len(&self) -> usize {
        self.pieces.len()
    }
}

/// Shapes one line of text, taking pieces from `cache` where it has them.
pub(crate) fn shape_line(
    fonts: &FontSet,
    cache: &PieceCache,
    weight: Weight,
    text: &str,
) -> ShapedLine {
    let pieces = itemize(fonts, weight, text)
        .into_iter()
        .map(|(face, rtl, range)| {
            let piece_text = &text[range];
            let key = (face, rtl, piece_text.to_owned());
            match cache.pieces.get(&key) {
                Some(piece) => Arc::clone(piece),
                None => Arc::new(shape_piece(&fonts.faces[face], face, piece_text, rtl)),
            }
        })
        .collect();
    ShapedLine { pieces }
}

/// Splits a line into pieces of one face and one direction, in visual order
/// from left to right: face, whether right-to-left, and byte range.
fn itemize(fonts: &FontSet, weight: Weight, text: &str) -> Vec<(FaceIndex, bool, Range<usize>)> {
    let mut items = Vec::new();
    if text.is_empty() {
        return items;
    }
    let bidi = BidiInfo::new(text, None);
    for paragraph in &bidi.paragraphs {
        let (levels, runs) = bidi.visual_runs(paragraph, paragraph.range.clone());
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            let mut pieces = split_by_face(fonts, weight, text, run);
            if rtl {
                pieces.reverse();
            }
            items.extend(pieces.into_iter().map(|(face, range)| (face, rtl, range)));
        }
    }
    items
}

/// Returns whether `c` takes the face of the character before it: white space,
/// joiners, combining marks, digits and punctuation.
fn inherits_face(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_digit()
        || c.is_ascii_punctuation()
        || matches!(u32::from(c), 0x0300..=0x036F | 0x200B..=0x200F | 0x2010..=0x2027 | 0x2030..=0x205E)
}

/// Returns whether `c` is joined to its neighbours by shaping, so it must stay
/// in their piece even if the face has no glyph of its own for it.
fn is_joiner(c: char) -> bool {
    matches!(u32::from(c), 0x200C | 0x200D | 0x0300..=0x036F)
}

/// Returns whether Liberation Sans is the first choice for `c`: Latin, Greek,
/// Cyrillic and general punctuation, which it covers.
fn prefers_latin(c: char) -> bool {
    matches!(u32::from(c), 0..=0x058F | 0x1E00..=0x20CF)
}

/// Chooses the face for `c`: the first face in preference order that covers
/// it, else Liberation Sans of `weight`, whose `.notdef` box marks it.
fn face_for(fonts: &FontSet, weight: Weight, c: char) -> FaceIndex {
    let other = match weight {
        Weight::Regular => Weight::Bold,
        Weight::Bold => Weight::Regular,
    };
    let scripts = || {
        let same = fonts
            .faces
            .iter()
            .enumerate()
            .filter(move |(_, face)| !face.latin && face.weight == weight);
        let other_weight = fonts
            .faces
            .iter()
            .enumerate()
            .filter(move |(_, face)| !face.latin && face.weight == other);
        same.chain(other_weight).map(|(index, _)| index)
    };
    let latin = [weight as usize, other as usize];
    let covers = |index: &FaceIndex| fonts.faces[*index].glyph(c).is_some();
    let found = if prefers_latin(c) {
        latin.into_iter().chain(scripts()).find(covers)
    } else {
        scripts().chain(latin).find(covers)
    };
    found.unwrap_or(weight as usize)
}

/// Splits `text[run]` into ranges of one face, in logical order.
fn split_by_face(
    fonts: &FontSet,
    weight: Weight,
    text: &str,
    run: Range<usize>,
) -> Vec<(FaceIndex, Range<usize>)> {
    let chars: Vec<(usize, char)> = text[run.clone()]
        .char_indices()
        .map(|(offset, c)| (run.start + offset, c))
        .collect();
    let mut faces: Vec<Option<FaceIndex>> = chars
        .iter()
        .map(|(_, c)| (!inherits_face(*c)).then(|| face_for(fonts, weight, *c)))
        .collect();
    // Characters at the start of the run take the face of the first letter.
    let first = faces.iter().flatten().next().copied();
    let mut previous = first;
    for (slot, (_, c)) in faces.iter_mut().zip(&chars) {
        match slot {
            Some(face) => previous = Some(*face),
            None => {
                let inherited =
                    previous.filter(|face| is_joiner(*c) || fonts.faces[*face].glyph(*c).is_some());
                *slot = Some(inherited.unwrap_or_else(|| face_for(fonts, weight, *c)));
            }
        }
    }

    let mut pieces: Vec<(FaceIndex, Range<usize>)> = Vec::new();
    for ((offset, c), face) in chars.iter().zip(faces) {
        let face = face.unwrap_or(weight as usize);
        let end = offset + c.len_utf8();
        match pieces.last_mut() {
            Some((last_face, range)) if *last_face == face => range.end = end,
            _ => pieces.push((face, *offset..end)),
        }
    }
    pieces
}

/// Shapes `text` with one face in one direction.
pub(crate) fn shape_piece(
    face: &EmbeddableFace,
    index: FaceIndex,
    text: &str,
    rtl: bool,
) -> ShapedPiece {
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.set_direction(if rtl {
        Direction::RightToLeft
    } else {
        Direction::LeftToRight
    });
    buffer.guess_segment_properties();
    // Ligatures in Liberation Sans (such as "fi") would keep Latin text out
    // of the built-in fonts, which print one glyph per character.
    let features = if face.latin {
        vec![
            Feature::new(Tag::from_bytes(b"liga"), 0, ..),
            Feature::new(Tag::from_bytes(b"clig"), 0, ..),
        ]
    } else {
        Vec::new()
    };
    let output = rustybuzz::shape(&face.shaper, &features, buffer);
    let infos = output.glyph_infos();
    let positions = output.glyph_positions();

    // Cluster values are byte offsets into `text`. A cluster's text runs to
    // the next larger cluster value.
    let mut starts: Vec<usize> = infos.iter().map(|info| info.cluster as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    let cluster_text = |start: usize| {
        // A binary search, because a piece of one long word can have
        // thousands of clusters.
        let next = starts.partition_point(|&other| other <= start);
        let end = starts.get(next).copied().unwrap_or(text.len());
        text.get(start..end).unwrap_or("")
    };

    // Origins in visual order, as rustybuzz returns them. The sums saturate,
    // because a word of about a million glyphs passes `i32::MAX` font units
    // and layout only needs to know that such a word is too wide.
    let mut pen: i32 = 0;
    let mut placed: Vec<(u32, PlacedGlyph)> = Vec::with_capacity(infos.len());
    let mut uncovered = 0;
    for (info, position) in infos.iter().zip(positions) {
        let glyph = u16::try_from(info.glyph_id).unwrap_or(0);
        if glyph == 0 {
            uncovered += 1;
        }
        let glyph = PlacedGlyph {
            glyph,
            x: pen.saturating_add(position.x_offset),
            y: position.y_offset,
            text: String::new(),
        };
        placed.push((info.cluster, glyph));
        pen = pen.saturating_add(position.x_advance);
    }
    if rtl {
        placed.reverse();
    }

    // The cluster's text over its glyphs.
    let mut glyphs = Vec::with_capacity(placed.len());
    let mut rest = placed.as_mut_slice();
    while let Some(cluster) = rest.first().map(|(cluster, _)| *cluster) {
        let length = rest
            .iter()
            .position(|(other, _)| *other != cluster)
            .unwrap_or(rest.len());
        let (group, remainder) = rest.split_at_mut(length);
        let texts = distribute(cluster_text(cluster as usize), group.len());
        for ((_, glyph), text) in group.iter_mut().zip(texts) {
            glyph.text = text;
            glyphs.push(glyph.clone());
        }
        rest = remainder;
    }
    ShapedPiece {
        face: index,
        rtl,
        glyphs,
        width: pen,
        uncovered,
    }
}

/// Splits a cluster's text over its `count` glyphs: one character each in
/// order, the rest to the last glyph.
///
/// A cluster with more glyphs than characters, such as Tamil டோ drawn as
/// ே, ட and ா, is split in its canonical decomposition (NFD), which has a
/// character per part of a two-part vowel. Extraction then returns text
/// canonically equal to the input. Glyphs beyond even those characters get
/// an empty text.
fn distribute(text: &str, count: usize) -> Vec<String> {
    let mut texts = vec![String::new(); count];
    let decomposed: String;
    let text = if text.chars().count() < count {
        decomposed = text.nfd().collect();
        decomposed.as_str()
    } else {
        text
    };
    let mut chars = text.chars();
    for slot in texts.iter_mut().take(count.saturating_sub(1)) {
        if let Some(c) = chars.next() {
            slot.push(c);
        }
    }
    if let Some(last) = texts.last_mut() {
        last.extend(chars);
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributes_cluster_text() {
        assert_eq!(distribute("कि", 2), vec!["क", "ि"]);
        assert_eq!(distribute("क्ष", 1), vec!["क्ष"]);
        // ো decomposes into ে and া, one per glyph.
        assert_eq!(distribute("কো", 3), vec!["ক", "\u{9C7}", "\u{9BE}"]);
        assert_eq!(distribute("क", 2), vec!["क", ""]);
        assert_eq!(distribute("abc", 2), vec!["a", "bc"]);
    }

    #[test]
    fn long_word_one_cluster_per_character() {
        // Every character is a cluster of its own. A linear scan for each
        // cluster's end took minutes for this word.
        let fonts = FontSet::load(&[]).unwrap();
        let text = "\u{142}".repeat(200_000);
        let piece = shape_piece(&fonts.faces[0], 0, &text, false);
        assert_eq!(piece.glyphs.len(), 200_000);
        assert!(piece.glyphs.iter().all(|glyph| glyph.text == "\u{142}"));
    }

    #[test]
    fn piece_wider_than_i32_saturates() {
        // U+2030 is 2048 units wide in Liberation Sans, so 1.1 million of
        // them advance the pen past `i32::MAX`.
        let fonts = FontSet::load(&[]).unwrap();
        let face = &fonts.faces[0];
        let per_mille = face.glyph('\u{2030}').unwrap();
        assert_eq!(face.advance(per_mille), 2048);
        let text = "\u{2030}".repeat(1_100_000);
        let piece = shape_piece(face, 0, &text, false);
        assert_eq!(piece.width, i32::MAX);
        let last = piece.glyphs.last().unwrap();
        assert_eq!(last.x, i32::MAX);
        let line = ShapedLine {
            pieces: vec![Arc::new(piece)],
        };
        assert!(line.width_mm(&fonts, 10.0) > 1_000_000.0);
    }

    #[test]
    fn latin_without_script_fonts() {
        let fonts = FontSet::load(&[]).unwrap();
        let line = shape_line(&fonts, &PieceCache::default(), Weight::Regular, "Łódź 12");
        assert_eq!(line.pieces.len(), 1);
        let piece = &line.pieces[0];
        assert_eq!(piece.face, 0);
        assert_eq!(piece.uncovered, 0);
        let text: String = piece
            .glyphs
            .iter()
            .map(|glyph| glyph.text.as_str())
            .collect();
        assert_eq!(text, "Łódź 12");
    }

    #[test]
    fn uncovered_characters_are_counted() {
        let fonts = FontSet::load(&[]).unwrap();
        let line = shape_line(&fonts, &PieceCache::default(), Weight::Bold, "A कख");
        let uncovered: usize = line.pieces.iter().map(|piece| piece.uncovered).sum();
        assert_eq!(uncovered, 2);
        assert!(line.pieces.iter().all(|piece| piece.face == 1));
    }
}

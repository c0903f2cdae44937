//! Rewriting of the page content stream that printpdf 0.3 writes.
//!
//! printpdf (through lopdf 0.26) writes one operator per line, and genpdf
//! prints text only with `TJ` arrays of 2-byte hexadecimal strings and integer
//! kerning offsets, such as `[<0056> 55<0061>] TJ`. Working on those lines
//! directly is several times faster than decoding and re-encoding the stream
//! with lopdf, which spent a third of the render time formatting numbers. A
//! line that does not have the expected form is an error, never passed on
//! half-rewritten.

use std::collections::BTreeSet;

use std::fmt::Write as _;
use std::io::Write as _;

use crate::embed::FaceUsage;
use crate::fonts::{
    EmbeddableFace, FaceIndex, FontSet, PLACEHOLDER_BOLD, PLACEHOLDER_REGULAR, Weight,
    win_ansi_byte,
};
use crate::shape::ShapedLine;
use crate::shape::ShapedPiece;
use crate::text::TextRun;
use ttf_parser::GlyphId;

/// Kind of the font that the last `Tf` selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CurrentFont {
    /// A built-in font: text is WinAnsi, written as 2 bytes per character.
    Builtin,
    /// A placeholder font: text is the index of an embedded run.
    Placeholder(Weight),
}

/// The rewritten content and what it uses.
#[derive(Debug)]
pub(crate) struct RewrittenContent {
    pub(crate) bytes: Vec<u8>,
    /// Built-in font resources that the content selects.
    pub(crate) builtin_fonts: BTreeSet<Vec<u8>>,
}

/// Rewrites genpdf's content stream.
///
/// - Placeholder text becomes the text of its run. A shaped run becomes its
///   glyphs (see [`write_shaped_run`]), and `usage`, indexed by face, records
///   them for the font subsets. A plain run becomes Windows-1252 bytes in a
///   built-in font (see [`write_plain_run`]).
/// - Built-in font text that genpdf printed itself becomes one byte per
///   character: printpdf writes each WinAnsi code as 2 bytes, which MuPDF
///   shows letter-spaced. The text block prints none since every line is a
///   run, but the pass keeps accepting it.
/// - printpdf's optional-content wrapper (`/OC /MC0 BDC … EMC`) is dropped:
///   one layer needs none.
/// - The `prefix` lines, which set the line width and frame colour, go first.
pub(crate) fn rewrite_content(
    content: &[u8],
    prefix: &str,
    fonts: &FontSet,
    runs: &[TextRun],
    usage: &mut [FaceUsage],
) -> Result<RewrittenContent, String> {
    let mut bytes = Vec::with_capacity(content.len() / 2);
    bytes.extend_from_slice(prefix.as_bytes());
    let mut builtin_fonts = BTreeSet::new();
    let mut current = CurrentFont::Builtin;
    // Size operand of the last placeholder `Tf`, which the embedded fonts take over.
    let mut placeholder_size: Vec<u8> = Vec::new();
    for line in content.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty()
            || line == b"EMC"
            || (line.starts_with(b"/OC ") && line.ends_with(b" BDC"))
        {
            continue;
        }
        if let Some(operands) = line.strip_suffix(b" Tf") {
            let (name, size) = font_operands(operands)?;
            current = match name {
                name if name == PLACEHOLDER_REGULAR.as_bytes() => {
                    CurrentFont::Placeholder(Weight::Regular)
                }
                name if name == PLACEHOLDER_BOLD.as_bytes() => {
                    CurrentFont::Placeholder(Weight::Bold)
                }
                _ => CurrentFont::Builtin,
            };
            match current {
                CurrentFont::Builtin => {
                    builtin_fonts.insert(name.to_vec());
                    bytes.extend_from_slice(line);
                }
                CurrentFont::Placeholder(_) => {
                    // The run's own `Tf` operators are written with its glyphs.
                    placeholder_size = size.to_vec();
                    continue;
                }
            }
        } else if let Some(array) = line.strip_suffix(b" TJ") {
            let elements = parse_text_array(array)?;
            match current {
                CurrentFont::Builtin => write_single_byte_text(&mut bytes, &elements),
                CurrentFont::Placeholder(weight) => {
                    let run = placeholder_run(&elements, runs, weight)?;
                    match &run.shaped {
                        Some(line) => write_shaped_run(
                            &mut bytes,
                            &placeholder_size,
                            fonts,
                            (run, line),
                            usage,
                            &mut builtin_fonts,
                        )?,
                        None => write_plain_run(
                            &mut bytes,
                            &placeholder_size,
                            fonts,
                            run,
                            &mut builtin_fonts,
                        )?,
                    }
                }
            }
        } else {
            bytes.extend_from_slice(line);
        }
        bytes.push(b'\n');
    }
    Ok(RewrittenContent {
        bytes,
        builtin_fonts,
    })
}

/// Resource name of the embedded font of a face.
pub(crate) fn embedded_name(face: FaceIndex) -> String {
    format!("E{face}")
}

/// Writes the glyphs of a shaped run.
///
/// Each piece selects its font at `size` and writes its glyphs, in the order
/// of [`ShapedPiece`], in one `TJ` array per text rise. Every CID has the
/// glyph's `hmtx` advance as its width, and the numbers between glyphs
/// (thousandths of the font size, positive to the left) move the pen to the
/// next glyph's origin. A piece of Liberation Sans whose glyphs are single
/// Windows-1252 characters uses built-in Helvetica (same widths), which needs
/// no embedded font. A vertical offset, as for marks that the font stacks, is
/// a text rise (`Ts`), reset to 0 after the run.
fn write_shaped_run(
    out: &mut Vec<u8>,
    size: &[u8],
    fonts: &FontSet,
    (run, line): (&TextRun, &ShapedLine),
    usage: &mut [FaceUsage],
    builtin_fonts: &mut BTreeSet<Vec<u8>>,
) -> Result<(), String> {
    let size_text = std::str::from_utf8(size).map_err(|_| "font size is not text".to_owned())?;
    let size_pt: f64 = size_text
        .parse()
        .map_err(|_| format!("font size {size_text:?} is not a number"))?;
    // poppler 22.12 orders glyphs by position, which puts a mark written
    // before its base after it. The span's ActualText gives it the line as
    // written instead. poppler reorders right-to-left text itself and
    // reverses an ActualText span of it, so lines with right-to-left pieces
    // rely on their glyphs' ToUnicode texts alone.
    let actual_text = line.pieces.iter().all(|piece| !piece.rtl);
    let mut text = String::new();
    if actual_text {
        text.push_str("/Span <</ActualText <FEFF");
        for unit in run.text.encode_utf16() {
            let _ = write!(text, "{unit:04X}");
        }
        text.push_str(">>> BDC\n");
    }
    let mut rise = 0;
    for piece in &line.pieces {
        let face = fonts
            .faces
            .get(piece.face)
            .ok_or_else(|| format!("shaped text names face {} that is not loaded", piece.face))?;
        let scale = 1000.0 / face.units_per_em;
        let thousandths = |units: i32| (f64::from(units) * scale).round() as i32;
        let builtin = builtin_bytes(face, piece);
        match &builtin {
            Some(_) => {
                let name = builtin_name(piece.face);
                builtin_fonts.insert(name.as_bytes().to_vec());
                let _ = write!(text, "/{name} {size_text} Tf\n[");
            }
            None => {
                let _ = write!(text, "/{} {size_text} Tf\n[", embedded_name(piece.face));
            }
        }

        let mut cursor = 0;
        for (index, glyph) in piece.glyphs.iter().enumerate() {
            let origin = thousandths(glyph.x);
            let glyph_rise = thousandths(glyph.y);
            if glyph_rise != rise {
                let points = f64::from(glyph_rise) / 1000.0 * size_pt;
                let _ = write!(text, "] TJ\n{points:.2} Ts\n[");
                rise = glyph_rise;
            }
            if origin != cursor {
                let _ = write!(text, " {} ", cursor.saturating_sub(origin));
            }
            let width = thousandths(i32::from(face.advance(GlyphId(glyph.glyph))));
            match &builtin {
                Some(bytes) => write_literal_to(&mut text, bytes[index]),
                None => {
                    let used = usage
                        .get_mut(piece.face)
                        .ok_or_else(|| format!("no glyph usage for face {}", piece.face))?;
                    let cid = used.encode(glyph.glyph, &glyph.text, width)?;
                    let _ = write!(text, "<{cid:04X}>");
                }
            }
            cursor = origin.saturating_add(width);
        }
        let piece_width = thousandths(piece.width);
        if cursor != piece_width {
            let _ = write!(text, " {}", cursor.saturating_sub(piece_width));
        }
        text.push_str("] TJ\n");
    }
    if rise != 0 {
        text.push_str("0 Ts\n");
    }
    if actual_text {
        text.push_str("EMC\n");
    }
    // The caller ends the line.
    out.extend_from_slice(text.trim_end_matches('\n').as_bytes());
    Ok(())
}

/// Writes a line of Windows-1252 text in the built-in font of its weight,
/// one byte per character, with the kerning offsets that genpdf wrote when
/// it printed such lines itself (see [`EmbeddableFace::written_kerning`]).
fn write_plain_run(
    out: &mut Vec<u8>,
    size: &[u8],
    fonts: &FontSet,
    run: &TextRun,
    builtin_fonts: &mut BTreeSet<Vec<u8>>,
) -> Result<(), String> {
    let face = fonts.face(run.weight);
    let name = builtin_name(run.weight as FaceIndex);
    builtin_fonts.insert(name.as_bytes().to_vec());
    out.push(b'/');
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(size);
    out.extend_from_slice(b" Tf\n");

    // The error leaves out the text, because it is personal data and errors
    // are logged.
    let outside = || "a line for a built-in font has a character outside Windows-1252".to_owned();
    let mut chars = run.text.chars();
    if let (Some(only), None) = (chars.next(), chars.next()) {
        write_literal(out, &[win_ansi_byte(only).ok_or_else(outside)?]);
        out.extend_from_slice(b" Tj");
        return Ok(());
    }
    out.push(b'[');
    let mut text = Vec::with_capacity(run.text.len());
    let mut previous = None;
    for c in run.text.chars() {
        let byte = win_ansi_byte(c).ok_or_else(outside)?;
        let offset = previous.map_or(0, |left| face.written_kerning(left, c));
        if offset != 0 {
            if !text.is_empty() {
                write_literal(out, &text);
                text.clear();
            }
            let _ = write!(out, " {offset} ");
        }
        text.push(byte);
        previous = Some(c);
    }
    if !text.is_empty() {
        write_literal(out, &text);
    }
    out.extend_from_slice(b"] TJ");
    Ok(())
}

/// Resource name of the built-in font used in place of a Liberation Sans face.
fn builtin_name(face: FaceIndex) -> &'static str {
    if face == Weight::Bold as usize {
        "Helvetica-Bold"
    } else {
        "Helvetica"
    }
}

/// Returns the Windows-1252 byte of each glyph of `piece` when a built-in
/// font can print it: a left-to-right Liberation Sans piece whose glyphs each
/// stand for one Windows-1252 character.
fn builtin_bytes(face: &EmbeddableFace, piece: &ShapedPiece) -> Option<Vec<u8>> {
    if !face.latin || piece.rtl {
        return None;
    }
    piece
        .glyphs
        .iter()
        .map(|glyph| {
            let mut chars = glyph.text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if glyph.glyph != 0 => win_ansi_byte(c),
                _ => None,
            }
        })
        .collect()
}

/// Writes one byte as a literal string.
fn write_literal_to(text: &mut String, byte: u8) {
    let mut bytes = Vec::with_capacity(4);
    write_literal(&mut bytes, &[byte]);
    // Escaped bytes above 0x7F are written as octal to keep the text ASCII.
    for byte in bytes {
        if byte.is_ascii() {
            text.push(char::from(byte));
        } else {
            let _ = write!(text, "\\{byte:03o}");
        }
    }
}

/// Splits `/Name size` into the name without its slash and the size.
fn font_operands(operands: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let operands = operands.strip_prefix(b"/").ok_or_else(|| {
        format!(
            "unexpected Tf operands {:?}",
            String::from_utf8_lossy(operands)
        )
    })?;
    let space = operands
        .iter()
        .position(|&byte| byte == b' ')
        .ok_or_else(|| {
            format!(
                "unexpected Tf operands {:?}",
                String::from_utf8_lossy(operands)
            )
        })?;
    Ok((&operands[..space], &operands[space + 1..]))
}

/// One element of a `TJ` array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextElement {
    /// The bytes of a hexadecimal string.
    Codes(Vec<u8>),
    /// A kerning offset, as written.
    Offset(Vec<u8>),
}

/// Parses `[<0041><0042> -15<0043>]`.
fn parse_text_array(array: &[u8]) -> Result<Vec<TextElement>, String> {
    let invalid = || format!("unexpected TJ operand {:?}", String::from_utf8_lossy(array));
    let inner = array
        .strip_prefix(b"[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        .ok_or_else(invalid)?;
    let mut elements = Vec::new();
    let mut rest = inner;
    while let Some(&first) = rest.first() {
        match first {
            b' ' => rest = &rest[1..],
            b'<' => {
                let end = rest
                    .iter()
                    .position(|&byte| byte == b'>')
                    .ok_or_else(invalid)?;
                elements.push(TextElement::Codes(
                    decode_hex(&rest[1..end]).ok_or_else(invalid)?,
                ));
                rest = &rest[end + 1..];
            }
            b'-' | b'0'..=b'9' => {
                let end = rest
                    .iter()
                    .skip(1)
                    .position(|byte| !byte.is_ascii_digit())
                    .map_or(rest.len(), |position| position + 1);
                elements.push(TextElement::Offset(rest[..end].to_vec()));
                rest = &rest[end..];
            }
            _ => return Err(invalid()),
        }
    }
    Ok(elements)
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Writes built-in font text with one byte per character, keeping kerning offsets.
fn write_single_byte_text(out: &mut Vec<u8>, elements: &[TextElement]) {
    // A string of codes below 256 has a zero high byte: the low byte is the WinAnsi code.
    let low_bytes = |codes: &[u8]| {
        codes
            .chunks(2)
            .filter_map(|code| code.last().copied())
            .collect::<Vec<u8>>()
    };
    if let [TextElement::Codes(codes)] = elements {
        write_literal(out, &low_bytes(codes));
        out.extend_from_slice(b" Tj");
        return;
    }
    out.push(b'[');
    let mut text = Vec::new();
    for element in elements {
        match element {
            TextElement::Codes(codes) => text.extend(low_bytes(codes)),
            TextElement::Offset(offset) => {
                if !text.is_empty() {
                    write_literal(out, &std::mem::take(&mut text));
                }
                out.push(b' ');
                out.extend_from_slice(offset);
                out.push(b' ');
            }
        }
    }
    if !text.is_empty() {
        write_literal(out, &text);
    }
    out.extend_from_slice(b"] TJ");
}

/// Writes a literal string, escaping the bytes that end or escape one.
fn write_literal(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'(');
    for &byte in text {
        match byte {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(byte);
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(byte),
        }
    }
    out.push(b')');
}

/// Reads the run index that a placeholder prints.
fn placeholder_run<'r>(
    elements: &[TextElement],
    runs: &'r [TextRun],
    weight: Weight,
) -> Result<&'r TextRun, String> {
    let mut index = String::new();
    for element in elements {
        if let TextElement::Codes(codes) = element {
            index.extend(
                codes
                    .chunks(2)
                    .filter_map(|code| code.last().map(|byte| char::from(*byte))),
            );
        }
    }
    let run = index
        .parse::<usize>()
        .ok()
        .and_then(|index| runs.get(index))
        .ok_or_else(|| format!("placeholder {index:?} names no embedded text"))?;
    if run.weight != weight {
        return Err(format!(
            "placeholder {index} is printed in the wrong weight"
        ));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{PieceCache, shape_line};

    fn rewrite(content: &str, runs: &[TextRun]) -> Result<Vec<u8>, String> {
        let fonts = FontSet::load(&[]).map_err(|error| error.to_string())?;
        let mut usage = [FaceUsage::default(), FaceUsage::default()];
        let rewritten = rewrite_content(content.as_bytes(), "0.6 w\n", &fonts, runs, &mut usage)?;
        Ok(rewritten.bytes)
    }

    #[test]
    fn builtin_text_becomes_single_byte() {
        let content = "/OC /MC0 BDC\nq\nBT\n/Helvetica 9.00 Tf\n[<0041><0028> -15<005C><00E9>] TJ\n[<0056>] TJ\nET\nQ\nEMC\n";
        let expected: &[u8] =
            b"0.6 w\nq\nBT\n/Helvetica 9.00 Tf\n[(A\\() -15 (\\\\\xE9)] TJ\n(V) Tj\nET\nQ\n";
        assert_eq!(rewrite(content, &[]).unwrap(), expected);
    }

    #[test]
    fn placeholder_becomes_cids() {
        let fonts = FontSet::load(&[]).unwrap();
        let shaped = |weight, text| {
            std::rc::Rc::new(shape_line(&fonts, &PieceCache::default(), weight, text))
        };
        let runs = [
            TextRun {
                weight: Weight::Regular,
                text: "x".to_owned(),
                shaped: Some(shaped(Weight::Regular, "x")),
            },
            TextRun {
                weight: Weight::Bold,
                text: "łoł".to_owned(),
                shaped: Some(shaped(Weight::Bold, "łoł")),
            },
        ];
        let content =
            "BT\n/Courier-Bold 10.00 Tf\n[<0031>] TJ\n/Helvetica 9.00 Tf\n[<0041>] TJ\nET\n";
        let expected: &[u8] =
            b"0.6 w\nBT\n/Span <</ActualText <FEFF0142006F0142>>> BDC\n/E1 10.00 Tf\n[<0001><0002><0001>] TJ\nEMC\n/Helvetica 9.00 Tf\n(A) Tj\nET\n";
        assert_eq!(rewrite(content, &runs).unwrap(), expected);
    }

    #[test]
    fn plain_run_is_kerned_builtin_text() {
        let plain = |weight, text: &str| TextRun {
            weight,
            text: text.to_owned(),
            shaped: None,
        };
        let runs = [
            plain(Weight::Bold, "Vaccination"),
            plain(Weight::Regular, "x"),
            plain(Weight::Regular, "(a\\b) \u{20AC}"),
        ];
        let content = "BT\n0.04 0.24 0.43 rg\n/Courier-Bold 16.00 Tf\n[<0030>] TJ\nET\n\
            BT\n/Courier 9.00 Tf\n[<0031>] TJ\nET\nBT\n/Courier 9.00 Tf\n[<0032>] TJ\nET\n";
        // The offset 55 between "V" and "a" is the one genpdf 0.2 wrote when it
        // printed this line itself.
        let expected: &[u8] = b"0.6 w\nBT\n0.04 0.24 0.43 rg\n/Helvetica-Bold 16.00 Tf\n\
            [(V) 55 (accination)] TJ\nET\nBT\n/Helvetica 9.00 Tf\n(x) Tj\nET\n\
            BT\n/Helvetica 9.00 Tf\n[(\\(a\\\\b\\) \x80)] TJ\nET\n";
        assert_eq!(rewrite(content, &runs).unwrap(), expected);
    }

    #[test]
    fn plain_run_outside_windows_1252() {
        let runs = [TextRun {
            weight: Weight::Regular,
            text: "Łukasz".to_owned(),
            shaped: None,
        }];
        let content = "BT\n/Courier 9.00 Tf\n[<0030>] TJ\nET\n";
        assert_eq!(
            rewrite(content, &runs).unwrap_err(),
            "a line for a built-in font has a character outside Windows-1252"
        );
    }

    #[test]
    fn rejects_unknown_placeholder() {
        let content = "BT\n/Courier 10.00 Tf\n[<0037>] TJ\nET\n";
        assert_eq!(
            rewrite(content, &[]).unwrap_err(),
            "placeholder \"7\" names no embedded text"
        );
    }

    #[test]
    fn rejects_malformed_array() {
        let content = "BT\n/Helvetica 9.00 Tf\n[(A)] TJ\nET\n";
        assert!(
            rewrite(content, &[])
                .unwrap_err()
                .starts_with("unexpected TJ operand")
        );
    }
}

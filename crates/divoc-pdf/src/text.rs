//! The text element: wraps, shrinks and truncates text to fit its box, and
//! prints each line as a measured placeholder.
//!
//! genpdf's built-in fonts can only print Windows-1252. A block with any other
//! character is shaped (see [`crate::shape`]) and laid out here with the shaped
//! widths. Every line, shaped or not, is printed as a placeholder: the decimal
//! index of a [`TextRun`], in a placeholder font (built-in Courier measured
//! with Liberation Sans, so that genpdf places it as it would place the
//! line). The lopdf pass replaces each placeholder with the run's text:
//! shaped glyphs in embedded font subsets, or Windows-1252 bytes in built-in
//! Helvetica.
//!
//! Printing the line itself through genpdf cost more than the rest of its
//! layout: genpdf kerns each pair with a linear search of the font's kerning
//! table, and printpdf writes each character as a formatted hexadecimal
//! string, which the lopdf pass then parsed back.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use genpdf::error::Error;
use genpdf::fonts::{Font, FontFamily};
use genpdf::style::{Color, Style};
use genpdf::{Alignment, Context, Element, Mm, Position, RenderResult, Size, render};

use crate::fonts::{FontSet, Weight, is_win_ansi};
use crate::shape::{PieceCache, ShapedLine, shape_line};

/// A line of text that the lopdf pass prints in place of its placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextRun {
    pub(crate) weight: Weight,
    /// The line as written, in logical order.
    pub(crate) text: String,
    /// The shaped line, printed with embedded fonts. `None` for a line of
    /// Windows-1252 characters, printed in a built-in font.
    pub(crate) shaped: Option<Rc<ShapedLine>>,
}

/// State shared by the elements of one render and read by the lopdf pass.
pub(crate) struct RenderState {
    pub(crate) fonts: Arc<FontSet>,
    /// Label pieces shaped when the renderer was built.
    pub(crate) pieces: Arc<PieceCache>,
    /// The placeholder family as registered in this document's font cache.
    pub(crate) placeholder_family: FontFamily<Font>,
    /// Placeholders printed so far. A placeholder's text is its index here.
    pub(crate) runs: RefCell<Vec<TextRun>>,
    /// Lines shaped during this render, because layout measures a text
    /// several times while it looks for the font size and line breaks.
    pub(crate) lines: RefCell<HashMap<(Weight, String), Rc<ShapedLine>>>,
}

impl RenderState {
    /// Adds a run for a line and returns its index. `shaped` tells whether
    /// the line needs shaping and embedded fonts.
    fn register(&self, weight: Weight, text: &str, shaped: bool) -> usize {
        let shaped = shaped.then(|| self.shaped(weight, text));
        let mut runs = self.runs.borrow_mut();
        runs.push(TextRun {
            weight,
            text: text.to_owned(),
            shaped,
        });
        runs.len() - 1
    }

    /// Returns the shaped form of `text`, shaping it on first use.
    fn shaped(&self, weight: Weight, text: &str) -> Rc<ShapedLine> {
        let key = (weight, text.to_owned());
        if let Some(line) = self.lines.borrow().get(&key) {
            return Rc::clone(line);
        }
        let line = Rc::new(shape_line(&self.fonts, &self.pieces, weight, text));
        self.lines.borrow_mut().insert(key, Rc::clone(&line));
        line
    }

    /// Returns the shaped width of `text` in millimetres at `size` points.
    fn shaped_width_mm(&self, weight: Weight, text: &str, size: f64) -> f64 {
        self.shaped(weight, text).width_mm(&self.fonts, size)
    }
}

/// Look of a text block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextStyle {
    pub(crate) weight: Weight,
    /// Size in points. The block shrinks towards `min_size` before it truncates.
    pub(crate) size: u8,
    pub(crate) min_size: u8,
    /// Fill colour. `None` is black and writes no colour operator.
    pub(crate) color: Option<Color>,
    /// Maximum number of lines. Text beyond them ends in an ellipsis.
    pub(crate) max_lines: usize,
    pub(crate) alignment: Alignment,
}

impl TextStyle {
    /// Text of `size` points that may shrink by 2 points and wrap to `max_lines`.
    pub(crate) fn new(weight: Weight, size: u8, color: Option<Color>, max_lines: usize) -> Self {
        TextStyle {
            weight,
            size,
            min_size: size.saturating_sub(2).max(6),
            color,
            max_lines,
            alignment: Alignment::Left,
        }
    }

    /// Returns this style with another alignment.
    pub(crate) fn aligned(mut self, alignment: Alignment) -> Self {
        self.alignment = alignment;
        self
    }
}

/// Lines chosen for a width.
#[derive(Debug, Clone)]
struct Layout {
    width: f64,
    size: u8,
    lines: Vec<String>,
}

/// A block of text in one style.
pub(crate) struct TextBlock {
    text: String,
    style: TextStyle,
    state: Rc<RenderState>,
    /// Whether the text needs the embedded font.
    embedded: bool,
    layout: Option<Layout>,
    next_line: usize,
}

/// The ellipsis that ends truncated text, 0x85 in Windows-1252.
const ELLIPSIS: char = '\u{2026}';

impl TextBlock {
    /// Creates a block. Control characters and runs of white space become one space.
    pub(crate) fn new(text: &str, style: TextStyle, state: &Rc<RenderState>) -> Self {
        let text = clean_text(text);
        let embedded = !text.chars().all(is_win_ansi);
        TextBlock {
            text,
            style,
            state: Rc::clone(state),
            embedded,
            layout: None,
            next_line: 0,
        }
    }

    /// Returns the height this block takes in a box of `width`.
    pub(crate) fn measure(&mut self, width: Mm, context: &Context) -> Mm {
        let layout = self.layout_for(f64::from(width));
        line_height(context, layout.size) * layout.lines.len() as f64
    }

    fn layout_for(&mut self, width: f64) -> &Layout {
        let layout = match self.layout.take() {
            Some(layout) if (layout.width - width).abs() < 1e-6 => layout,
            _ => self.compute_layout(width),
        };
        self.layout.insert(layout)
    }

    fn compute_layout(&self, width: f64) -> Layout {
        let face = self.state.fonts.face(self.style.weight);
        let mut size = self.style.size;
        loop {
            let measure = |text: &str| {
                if self.embedded {
                    self.state
                        .shaped_width_mm(self.style.weight, text, f64::from(size))
                } else {
                    face.text_width_mm(text, f64::from(size), true)
                }
            };
            let mut lines = wrap(&self.text, width, &measure);
            if lines.len() <= self.style.max_lines.max(1) {
                return Layout { width, size, lines };
            }
            if size > self.style.min_size {
                size -= 1;
                continue;
            }
            lines.truncate(self.style.max_lines.max(1));
            if let Some(last) = lines.last_mut() {
                *last = with_ellipsis(last, width, &measure);
            }
            return Layout { width, size, lines };
        }
    }

    fn line_style(&self, size: u8) -> Style {
        let mut style = Style::new().with_font_size(size);
        if let Some(color) = self.style.color {
            style.set_color(color);
        }
        if self.style.weight == Weight::Bold {
            style.set_bold();
        }
        style.set_font_family(self.state.placeholder_family);
        style
    }
}

impl Element for TextBlock {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        _style: Style,
    ) -> Result<RenderResult, Error> {
        let width = area.size().width;
        self.layout_for(f64::from(width));
        let Some(layout) = self.layout.as_ref() else {
            // Not reached: `layout_for` has just stored the layout.
            return Err(Error::new(
                "the layout of a text block is missing",
                genpdf::error::ErrorKind::Internal,
            ));
        };
        let size = layout.size;
        let style = self.line_style(size);
        let line_height = line_height(context, size);
        let face = self.state.fonts.face(self.style.weight);
        // genpdf puts the baseline one glyph height (ascent + descent) below the
        // line top. Moving the line up by the descent puts the ascent at the top.
        let raise = Mm::from(printpdf::Pt(face.descent_em() * f64::from(size)));

        let mut result = RenderResult::default();
        let mut row = 0.0;
        let mut next_line = self.next_line;
        while let Some(line) = layout.lines.get(next_line) {
            let line_width = if self.embedded {
                self.state
                    .shaped_width_mm(self.style.weight, line, f64::from(size))
            } else {
                face.text_width_mm(line, f64::from(size), true)
            };
            let line_width = Mm::from(line_width);
            let x = match self.style.alignment {
                Alignment::Left => Mm::from(0.0),
                Alignment::Center => (width - line_width) / 2.0,
                Alignment::Right => width - line_width,
            };
            let position = Position::new(x, line_height * row - raise);
            let Some(mut section) = area.text_section(&context.font_cache, position, style) else {
                result.has_more = true;
                break;
            };
            let index = self.state.register(self.style.weight, line, self.embedded);
            section.print_str(index.to_string(), style)?;
            drop(section);
            next_line += 1;
            row += 1.0;
        }
        self.next_line = next_line;
        result.size = Size::new(width, line_height * row);
        Ok(result)
    }
}

/// Line height of the default family at `size` points, as genpdf computes it.
fn line_height(context: &Context, size: u8) -> Mm {
    Style::new()
        .with_font_size(size)
        .line_height(&context.font_cache)
}

/// Replaces control characters and white-space runs with one space and trims.
pub(crate) fn clean_text(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
            continue;
        }
        if c == '\u{AD}' {
            continue;
        }
        if pending_space && !cleaned.is_empty() {
            cleaned.push(' ');
        }
        pending_space = false;
        cleaned.push(c);
    }
    cleaned
}

/// Breaks `text` into lines no wider than `width`, at spaces where possible and
/// inside a word only when the word alone is too wide.
fn wrap(text: &str, width: f64, measure: &dyn Fn(&str) -> f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    let space = measure(" ");
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        let word_width = measure(word);
        if !line.is_empty() && line_width + space + word_width <= width {
            line.push(' ');
            line.push_str(word);
            line_width += space + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if word_width <= width {
            line.push_str(word);
            line_width = word_width;
            continue;
        }
        // A word wider than the box: break it between characters.
        // NOTE: this can split a shaped cluster (a consonant and its vowel
        // sign), which then prints as two clusters. Only a word wider than
        // its box is affected.
        line_width = 0.0;
        for c in word.chars() {
            let char_width = measure(c.encode_utf8(&mut [0; 4]));
            if !line.is_empty() && line_width + char_width > width {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            line.push(c);
            line_width += char_width;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Shortens `line` to its longest prefix that fits `width` with an ellipsis
/// after it, or to the ellipsis alone when no prefix fits.
///
/// The cut is found by binary search over the character boundaries. Cutting
/// one character at a time measured the line once per character, which is
/// quadratic for a line of many zero-width characters such as combining marks.
fn with_ellipsis(line: &str, width: f64, measure: &dyn Fn(&str) -> f64) -> String {
    let mut ends: Vec<usize> = line.char_indices().map(|(offset, _)| offset).collect();
    ends.push(line.len());
    let candidate = |index: usize| {
        let end = ends.get(index).copied().unwrap_or(0);
        let prefix = line.get(..end).unwrap_or("");
        format!("{}{ELLIPSIS}", prefix.trim_end())
    };
    let fits = |index: usize| measure(&candidate(index)) <= width;

    let mut high = ends.len().saturating_sub(1);
    if fits(high) {
        return candidate(high);
    }
    // `low` fits or is the empty prefix, and `high` does not fit.
    let mut low = 0;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if fits(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    candidate(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_chars(text: &str) -> f64 {
        text.chars().count() as f64
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5.0, &by_chars), vec!["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc", 8.0, &by_chars), vec!["aa bb cc"]);
    }

    #[test]
    fn breaks_long_words() {
        assert_eq!(
            wrap("abcdefgh ij", 3.0, &by_chars),
            vec!["abc", "def", "gh", "ij"]
        );
    }

    #[test]
    fn ellipsis_fits() {
        assert_eq!(with_ellipsis("abcdef", 4.0, &by_chars), "abc\u{2026}");
        assert_eq!(with_ellipsis("ab", 4.0, &by_chars), "ab\u{2026}");
        assert_eq!(with_ellipsis("ab cdef", 4.0, &by_chars), "ab\u{2026}");
        assert_eq!(with_ellipsis("abcdef", 0.5, &by_chars), "\u{2026}");
        assert_eq!(with_ellipsis("", 4.0, &by_chars), "\u{2026}");
        assert_eq!(
            with_ellipsis("\u{e9}\u{e8}x", 3.0, &by_chars),
            "\u{e9}\u{e8}\u{2026}"
        );
    }

    #[test]
    fn ellipsis_after_many_marks() {
        // Combining marks have no width, as after shaping.
        let calls = std::cell::Cell::new(0_usize);
        let measure = |text: &str| {
            calls.set(calls.get() + 1);
            text.chars()
                .filter(|c| !('\u{300}'..='\u{36F}').contains(c))
                .count() as f64
        };
        let line = format!("abcd{}", "\u{301}".repeat(20_000));
        assert_eq!(with_ellipsis(&line, 3.0, &measure), "ab\u{2026}");
        assert!(calls.get() <= 40, "{} measurements", calls.get());
    }

    #[test]
    fn cleans_controls_and_spaces() {
        assert_eq!(
            clean_text("  Asha\t\n Rao\u{A0}Kumar\u{AD}i "),
            "Asha Rao Kumari"
        );
    }
}

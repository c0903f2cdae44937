//! The page layout: which element goes where, in which style.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use genpdf::elements::{CellDecorator, LinearLayout, PaddedElement, TableLayout};
use genpdf::error::Error;
use genpdf::style::{Color, Style};
use genpdf::{Alignment, Document, Element, Margins, Mm, Position, SimplePageDecorator, render};

use crate::elements::{Footer, Gap, QrSlot};
use crate::fonts::{FontSet, Weight};
use crate::format::fill;
use crate::settings::Labels;
use crate::shape::PieceCache;
use crate::text::{RenderState, TextBlock, TextStyle};
use crate::view::{CertificateView, Field, FieldKind};

/// Page margins in millimetres.
const MARGIN_TOP: f64 = 12.0;
const MARGIN_BOTTOM: f64 = 10.0;
const MARGIN_SIDE: f64 = 15.0;
/// Width between the side margins of an A4 page, in millimetres.
const CONTENT_WIDTH: f64 = 210.0 - 2.0 * MARGIN_SIDE;
/// Space between the title column and the QR code, in millimetres.
const HEADER_GAP: f64 = 6.0;
/// Footer lines printed at most.
pub(crate) const MAX_FOOTER_LINES: usize = 3;

const TITLE_COLOR: Option<Color> = Some(Color::Rgb(0x0b, 0x3d, 0x6e));
const LABEL_COLOR: Option<Color> = Some(Color::Rgb(0x3c, 0x46, 0x52));
/// Values are black, the default fill colour, so genpdf writes no colour for them.
const VALUE_COLOR: Option<Color> = None;
const MUTED_COLOR: Option<Color> = Some(Color::Rgb(0x55, 0x5f, 0x6b));
/// Colour of every line on the page. Lines are drawn without a colour of their
/// own and the lopdf pass sets this one once at the start of the page, which
/// keeps two colour operators per line out of the content stream.
pub(crate) const FRAME_RGB: [u8; 3] = [0x8c, 0x97, 0xa3];

/// How much room texts and the doses table may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    title_lines: usize,
    name_lines: usize,
    address_lines: usize,
    /// Lines of a label or column header.
    label_lines: usize,
    /// Lines of any other value.
    value_lines: usize,
    pub(crate) dose_rows: usize,
}

impl Limits {
    /// Room for every realistic certificate in full: a 200-character name, a
    /// long address, eight doses.
    pub(crate) const NORMAL: Limits = Limits {
        title_lines: 3,
        name_lines: 6,
        address_lines: 5,
        label_lines: 2,
        value_lines: 2,
        dose_rows: 8,
    };

    /// The fallback when the normal layout needs a second page, which only
    /// happens when many values are at their longest. Values get one line and
    /// fewer doses are listed. The test `overflow_falls_back_to_compact_layout`
    /// renders it with two-line labels, cut values, 14 doses and three
    /// two-line footer lines on one page.
    pub(crate) const COMPACT: Limits = Limits {
        title_lines: 2,
        name_lines: 4,
        address_lines: 3,
        label_lines: 2,
        value_lines: 1,
        dose_rows: 6,
    };
}

/// Cell padding in millimetres: top, right, bottom, left.
fn cell_padding() -> Margins {
    Margins::trbl(1.1, 1.6, 1.0, 1.6)
}

/// Builds the genpdf document of one certificate and the state its text elements share.
pub(crate) fn build_document(
    view: &CertificateView,
    labels: &Labels,
    fonts: &Arc<FontSet>,
    pieces: &Arc<PieceCache>,
    qr_width_mm: f64,
    limits: Limits,
) -> Result<(Document, Rc<RenderState>), Error> {
    let mut document = Document::new(fonts.builtin_family.clone());
    let placeholder_family = document.add_font_family(fonts.placeholder_family.clone());
    document.set_minimal_conformance();
    let mut decorator = SimplePageDecorator::new();
    decorator.set_margins(Margins::trbl(
        MARGIN_TOP,
        MARGIN_SIDE,
        MARGIN_BOTTOM,
        MARGIN_SIDE,
    ));
    document.set_page_decorator(decorator);

    let state = Rc::new(RenderState {
        fonts: Arc::clone(fonts),
        pieces: Arc::clone(pieces),
        placeholder_family,
        runs: RefCell::default(),
        lines: RefCell::default(),
    });
    let page = PageBuilder {
        state: &state,
        labels,
        limits,
    };

    document.push(page.header(view, qr_width_mm)?);
    if !view.vaccination.is_empty() {
        document.push(Gap(5.0));
        document.push(page.heading(&labels.vaccination_heading));
        document.push(page.paired_table(&view.vaccination)?);
    }
    if !view.doses.is_empty() {
        document.push(Gap(5.0));
        document.push(page.heading(&labels.doses_heading));
        document.push(page.doses_table(&view.doses)?);
    }
    document.push(page.footer());
    Ok((document, state))
}

struct PageBuilder<'a> {
    state: &'a Rc<RenderState>,
    labels: &'a Labels,
    limits: Limits,
}

impl PageBuilder<'_> {
    fn text(&self, text: &str, style: TextStyle) -> TextBlock {
        TextBlock::new(text, style, self.state)
    }

    fn cell(&self, text: &str, style: TextStyle) -> PaddedElement<TextBlock> {
        PaddedElement::new(self.text(text, style), cell_padding())
    }

    /// Style of a table label or column header.
    fn label_style(&self) -> TextStyle {
        TextStyle::new(Weight::Bold, 8, LABEL_COLOR, self.limits.label_lines)
    }

    /// Style of a table value, which may shrink to 7 points before it is cut.
    fn value_style(&self, kind: FieldKind) -> TextStyle {
        let (weight, size, lines) = match kind {
            FieldKind::Name => (Weight::Bold, 10, self.limits.name_lines),
            FieldKind::Address => (Weight::Regular, 9, self.limits.address_lines),
            FieldKind::Plain => (Weight::Regular, 9, self.limits.value_lines),
        };
        TextStyle {
            min_size: 7,
            ..TextStyle::new(weight, size, VALUE_COLOR, lines)
        }
    }

    fn heading(&self, text: &str) -> impl Element + use<> {
        let style = TextStyle::new(Weight::Bold, 11, TITLE_COLOR, 1);
        LinearLayout::vertical()
            .element(self.text(text, style))
            .element(Gap(1.5))
    }

    /// Builds the header: title, certificate id, issuer and beneficiary table on
    /// the left, QR code on the right.
    fn header(
        &self,
        view: &CertificateView,
        qr_width_mm: f64,
    ) -> Result<impl Element + use<>, Error> {
        let mut left = LinearLayout::vertical();
        let title_style = TextStyle::new(Weight::Bold, 16, TITLE_COLOR, self.limits.title_lines);
        left.push(self.text(&view.title.title, title_style));
        if let Some(subtitle) = &view.title.subtitle {
            left.push(Gap(0.8));
            left.push(self.text(subtitle, TextStyle::new(Weight::Bold, 11, TITLE_COLOR, 1)));
        }
        left.push(Gap(3.0));
        let mut summary = vec![(
            self.labels.certificate_id.as_str(),
            view.certificate_id.as_str(),
        )];
        if let Some(issuer) = &view.issuer {
            summary.push((self.labels.issuer.as_str(), issuer.as_str()));
        }
        left.push(self.summary_table(&summary)?);
        left.push(Gap(4.0));
        left.push(self.heading(&self.labels.beneficiary_heading));
        left.push(self.beneficiary_table(&view.beneficiary)?);

        let caption_style =
            TextStyle::new(Weight::Regular, 8, MUTED_COLOR, 2).aligned(Alignment::Center);
        let qr = QrSlot {
            width_mm: qr_width_mm,
            caption: self.text(&self.labels.qr_caption, caption_style),
        };

        let right_width = qr_width_mm + HEADER_GAP;
        let mut header = TableLayout::new(vec![
            tenths(CONTENT_WIDTH - right_width),
            tenths(right_width),
        ]);
        header.push_row(vec![Box::new(left), Box::new(qr)])?;
        Ok(header)
    }

    /// Unframed label and value lines under the title.
    fn summary_table(&self, fields: &[(&str, &str)]) -> Result<TableLayout, Error> {
        let label_style = TextStyle::new(Weight::Regular, 9, LABEL_COLOR, self.limits.label_lines);
        let value_style = TextStyle::new(Weight::Bold, 9, VALUE_COLOR, self.limits.value_lines);
        let mut table = TableLayout::new(vec![30, 70]);
        for (label, value) in fields {
            let label =
                PaddedElement::new(self.text(label, label_style), Margins::trbl(0.4, 1, 0.4, 0));
            let value =
                PaddedElement::new(self.text(value, value_style), Margins::trbl(0.4, 0, 0.4, 0));
            table.push_row(vec![Box::new(label), Box::new(value)])?;
        }
        Ok(table)
    }

    fn beneficiary_table(&self, fields: &[Field]) -> Result<TableLayout, Error> {
        let mut table = grid_table(vec![36, 64]);
        for field in fields {
            let row = vec![
                Box::new(self.cell(&field.label, self.label_style())) as Box<dyn Element>,
                Box::new(self.cell(&field.value, self.value_style(field.kind))),
            ];
            table.push_row(row)?;
        }
        Ok(table)
    }

    /// Two label and value pairs per row.
    fn paired_table(&self, fields: &[Field]) -> Result<TableLayout, Error> {
        let mut table = grid_table(vec![27, 63, 27, 63]);
        for pair in fields.chunks(2) {
            let mut row: Vec<Box<dyn Element>> = Vec::with_capacity(4);
            for field in pair {
                row.push(Box::new(self.cell(&field.label, self.label_style())));
                row.push(Box::new(
                    self.cell(&field.value, self.value_style(field.kind)),
                ));
            }
            while row.len() < 4 {
                row.push(Box::new(self.cell("", self.label_style())));
            }
            table.push_row(row)?;
        }
        Ok(table)
    }

    fn doses_table(&self, doses: &[[String; 6]]) -> Result<impl Element + use<>, Error> {
        let labels = self.labels;
        let mut table = grid_table(vec![24, 26, 28, 48, 27, 27]);
        let headers = [
            &labels.column_date,
            &labels.column_dose_type,
            &labels.column_vaccine,
            &labels.column_vaccine_type,
            &labels.column_batch,
            &labels.column_country,
        ];
        let header_row = headers
            .iter()
            .map(|header| Box::new(self.cell(header, self.label_style())) as Box<dyn Element>)
            .collect();
        table.push_row(header_row)?;
        for dose in doses.iter().take(self.limits.dose_rows) {
            let row = dose
                .iter()
                .map(|value| {
                    Box::new(self.cell(value, self.value_style(FieldKind::Plain)))
                        as Box<dyn Element>
                })
                .collect();
            table.push_row(row)?;
        }
        let mut layout = LinearLayout::vertical().element(table);
        if doses.len() > self.limits.dose_rows {
            let omitted = (doses.len() - self.limits.dose_rows).to_string();
            let note = fill(&labels.doses_omitted, &[("count", &omitted)]);
            layout.push(Gap(1.0));
            layout.push(self.text(&note, TextStyle::new(Weight::Regular, 8, MUTED_COLOR, 1)));
        }
        Ok(layout)
    }

    fn footer(&self) -> Footer {
        let style = TextStyle::new(Weight::Regular, 8, MUTED_COLOR, 2).aligned(Alignment::Center);
        let lines = self.labels.footer.iter().take(MAX_FOOTER_LINES);
        Footer {
            blocks: lines.map(|line| self.text(line, style)).collect(),
        }
    }
}

fn grid_table(weights: Vec<usize>) -> TableLayout {
    let mut table = TableLayout::new(weights);
    table.set_cell_decorator(GridDecorator);
    table
}

/// Draws each cell's right and bottom border, and the outer top and left
/// borders. genpdf's `FrameCellDecorator` draws all four sides of every cell,
/// so each inner line twice.
struct GridDecorator;

impl CellDecorator for GridDecorator {
    fn decorate_cell(
        &mut self,
        column: usize,
        row: usize,
        _has_more: bool,
        area: render::Area<'_>,
        _style: Style,
    ) {
        let size = area.size();
        let zero = Mm::from(0.0);
        let line = |from: Position, to: Position| area.draw_line(vec![from, to], Style::new());
        if row == 0 {
            line(Position::new(zero, zero), Position::new(size.width, zero));
        }
        if column == 0 {
            line(Position::new(zero, zero), Position::new(zero, size.height));
        }
        line(
            Position::new(size.width, zero),
            Position::new(size.width, size.height),
        );
        line(
            Position::new(zero, size.height),
            Position::new(size.width, size.height),
        );
    }
}

/// Converts millimetres to table weights in tenths of a millimetre.
fn tenths(mm: f64) -> usize {
    (mm * 10.0).round().max(1.0) as usize
}

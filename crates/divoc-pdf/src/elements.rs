//! genpdf elements besides text: vertical gaps, rules, the QR slot and the
//! footer pinned to the bottom of the page.

use genpdf::error::Error;
use genpdf::style::Style;
use genpdf::{Context, Element, Mm, Position, RenderResult, Rotation, Scale, Size, render};
use image::{DynamicImage, GrayImage, Luma};

use crate::fonts::MM_PER_PT;
use crate::text::TextBlock;

/// Empty vertical space.
pub(crate) struct Gap(pub(crate) f64);

impl Element for Gap {
    fn render(
        &mut self,
        _context: &Context,
        area: render::Area<'_>,
        _style: Style,
    ) -> Result<RenderResult, Error> {
        let height = self.0.min(f64::from(area.size().height));
        Ok(RenderResult {
            size: Size::new(0, height),
            has_more: false,
        })
    }
}

/// A horizontal line across the box, in the middle of `height` millimetres,
/// in the page's line colour.
pub(crate) struct Rule {
    pub(crate) height: f64,
}

impl Element for Rule {
    fn render(
        &mut self,
        _context: &Context,
        area: render::Area<'_>,
        _style: Style,
    ) -> Result<RenderResult, Error> {
        let width = area.size().width;
        let middle = Mm::from(self.height / 2.0);
        area.draw_line(
            vec![Position::new(0, middle), Position::new(width, middle)],
            Style::new(),
        );
        Ok(RenderResult {
            size: Size::new(width, Mm::from(self.height)),
            has_more: false,
        })
    }
}

/// Room for the QR code, right-aligned, with a caption centred under it.
///
/// genpdf draws a 1×1 image scaled to the QR size here. The lopdf pass swaps
/// that image's data for the QR code's, so the file gets a 1-bit image with
/// whole pixels per module instead of the 8-bit image printpdf would write.
pub(crate) struct QrSlot {
    pub(crate) width_mm: f64,
    pub(crate) caption: TextBlock,
}

/// Space between the QR code and its caption, in millimetres.
const CAPTION_GAP_MM: f64 = 1.0;

impl Element for QrSlot {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> Result<RenderResult, Error> {
        let side = Mm::from(self.width_mm);
        let x = area.size().width - side;
        let caption_top = side + Mm::from(CAPTION_GAP_MM);
        let caption_height = self.caption.measure(side, context);
        if caption_top + caption_height > area.size().height {
            return Ok(RenderResult {
                size: Size::new(0, 0),
                has_more: true,
            });
        }

        let pixel = DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([255])));
        let side_pt = self.width_mm / MM_PER_PT;
        // At 72 dpi the pixel is 1 pt wide, so the scale is the side in points.
        // Images are placed by their bottom-left corner.
        area.add_image(
            &pixel,
            Position::new(x, side),
            Scale::new(side_pt, side_pt),
            Rotation::from_degrees(0.0),
            Some(72.0),
        );

        let mut caption_area = area.clone();
        caption_area.add_offset(Position::new(x, caption_top));
        caption_area.set_width(side);
        let caption = self.caption.render(context, caption_area, style)?;
        Ok(RenderResult {
            size: Size::new(area.size().width, caption_top + caption.size.height),
            has_more: false,
        })
    }
}

/// Text blocks under a rule, pinned to the bottom of the remaining area.
pub(crate) struct Footer {
    pub(crate) blocks: Vec<TextBlock>,
}

/// Height of the footer's rule band, in millimetres.
const FOOTER_RULE_MM: f64 = 3.0;

impl Element for Footer {
    fn render(
        &mut self,
        context: &Context,
        area: render::Area<'_>,
        style: Style,
    ) -> Result<RenderResult, Error> {
        let width = area.size().width;
        let mut height = Mm::from(FOOTER_RULE_MM);
        for block in &mut self.blocks {
            height += block.measure(width, context);
        }
        let available = area.size().height;
        if height > available {
            return Ok(RenderResult {
                size: Size::new(0, 0),
                has_more: true,
            });
        }

        let mut rest = area.clone();
        rest.add_offset(Position::new(0, available - height));
        Rule {
            height: FOOTER_RULE_MM,
        }
        .render(context, rest.clone(), style)?;
        rest.add_offset(Position::new(0, FOOTER_RULE_MM));
        for block in &mut self.blocks {
            let block_result = block.render(context, rest.clone(), style)?;
            rest.add_offset(Position::new(0, block_result.size.height));
        }
        Ok(RenderResult {
            size: Size::new(width, available),
            has_more: false,
        })
    }
}

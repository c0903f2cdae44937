//! PNG, SVG and grayscale renderings of a [`CertificateQr`].

use std::fmt::Write as _;

use crate::error::QrError;
use crate::symbol::{CertificateQr, QUIET_ZONE_MODULES};

/// Largest accepted pixels per module.
///
/// At version 40 this gives an image of 185 × 32 = 5920 pixels per side:
/// 4.4 MB of packed PNG rows before compression and 35 MB from
/// [`CertificateQr::to_luma`].
pub const MAX_PIXELS_PER_MODULE: u32 = 32;

/// Pixels per module of DIVOC's own QR images, and the usual default here.
pub const DEFAULT_PIXELS_PER_MODULE: u32 = 2;

impl CertificateQr {
    /// Returns the number of modules per side including the quiet zone.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, QUIET_ZONE_MODULES, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    /// assert_eq!(qr.size_with_quiet_zone(), qr.size() + 2 * QUIET_ZONE_MODULES);
    /// assert_eq!(qr.size_with_quiet_zone(), 65);
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn size_with_quiet_zone(&self) -> u32 {
        self.size() + 2 * QUIET_ZONE_MODULES
    }

    /// Renders the symbol as a 1-bit grayscale PNG with a 4-module quiet zone.
    ///
    /// Dark modules are black and everything else is white. The image is
    /// `(size() + 8) * pixels_per_module` pixels wide and high.
    ///
    /// # Errors
    ///
    /// [`QrError::InvalidPixelsPerModule`] unless `pixels_per_module` is 1 to
    /// [`MAX_PIXELS_PER_MODULE`], and [`QrError::PngEncoding`] if the encoder
    /// fails.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, QrError, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    ///
    /// let png = qr.to_png(3)?;
    /// assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    /// // The IHDR chunk follows: width, height, bit depth 1 and color type 0 (grayscale).
    /// assert_eq!(&png[12..16], b"IHDR");
    /// let side = (qr.size_with_quiet_zone() * 3).to_be_bytes();
    /// assert_eq!(png[16..20], side);
    /// assert_eq!(png[20..24], side);
    /// assert_eq!(png[24..26], [1, 0]);
    ///
    /// assert!(matches!(
    ///     qr.to_png(0),
    ///     Err(QrError::InvalidPixelsPerModule { value: 0, max: 32 })
    /// ));
    /// # Ok::<(), QrError>(())
    /// ```
    pub fn to_png(&self, pixels_per_module: u32) -> Result<Vec<u8>, QrError> {
        let scale = validate_scale(pixels_per_module)?;
        let side = self.size_with_quiet_zone() * scale;
        let rows = self.packed_rows(scale);

        let mut png_bytes = Vec::with_capacity(rows.len() / 4 + 128);
        let mut encoder = png::Encoder::new(&mut png_bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        // Without a row filter, each repeated pixel row compresses to one
        // back-reference. For the 2 KB test certificate at 2 pixels per
        // module, a one-off measurement gave 3.8 KB against 5.2 KB with the
        // adaptive filter, and faster encoding.
        encoder.set_deflate_compression(png::DeflateCompression::Level(6));
        encoder.set_filter(png::Filter::NoFilter);
        let mut writer = encoder.write_header().map_err(QrError::PngEncoding)?;
        writer
            .write_image_data(&rows)
            .map_err(QrError::PngEncoding)?;
        writer.finish().map_err(QrError::PngEncoding)?;
        Ok(png_bytes)
    }

    /// Renders the symbol as SVG with a 4-module quiet zone.
    ///
    /// The view box is measured in modules (`0 0 n n` with `n = size() + 8`)
    /// and the width and height attributes are `n * pixels_per_module`
    /// pixels. All dark modules form one path, drawn with
    /// `shape-rendering="crispEdges"` over a white background.
    /// `pixels_per_module` is clamped to 1..=[`MAX_PIXELS_PER_MODULE`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    ///
    /// let svg = qr.to_svg(2);
    /// assert!(svg.starts_with(concat!(
    ///     r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" "#,
    ///     r#"width="130" height="130" viewBox="0 0 65 65""#,
    /// )));
    /// assert!(svg.ends_with(r#""/></svg>"#));
    /// // The top-left finder pattern starts the path: a run of 7 dark modules
    /// // at column 4, row 4, after the quiet zone.
    /// assert!(svg.contains(r##"<path fill="#000" d="M4 4h7v1h-7z"##));
    ///
    /// // A scale of 0 is clamped to 1.
    /// assert!(qr.to_svg(0).contains(r#"width="65" height="65""#));
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn to_svg(&self, pixels_per_module: u32) -> String {
        let scale = clamp_scale(pixels_per_module);
        let side_modules = self.size_with_quiet_zone();
        let side_pixels = side_modules * scale;
        let path = self.dark_module_path();

        let mut svg = String::with_capacity(path.len() + 320);
        // Writing to a String cannot fail, so the fmt::Result is ignored.
        let _ = write!(
            svg,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" "#,
                r#"width="{px}" height="{px}" viewBox="0 0 {n} {n}" "#,
                r#"shape-rendering="crispEdges">"#,
                r##"<rect width="{n}" height="{n}" fill="#fff"/>"##,
                r##"<path fill="#000" d="{path}"/></svg>"##,
            ),
            px = side_pixels,
            n = side_modules,
            path = path,
        );
        svg
    }

    /// Renders the symbol as 8-bit grayscale pixels with a 4-module quiet zone.
    ///
    /// Returns the side length in pixels and the pixels row by row, 0 for
    /// dark and 255 for light. `pixels_per_module` is clamped to
    /// 1..=[`MAX_PIXELS_PER_MODULE`], and the returned side reflects the
    /// clamped value.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, QUIET_ZONE_MODULES, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    ///
    /// let (side, pixels) = qr.to_luma(2);
    /// assert_eq!(side, qr.size_with_quiet_zone() * 2);
    /// assert_eq!(pixels.len(), (side * side) as usize);
    /// // The image's top-left pixel is in the quiet zone, so it is light.
    /// assert_eq!(pixels[0], 255);
    /// // The symbol's top-left module, a finder pattern corner, is dark.
    /// let corner = (QUIET_ZONE_MODULES * 2) as usize;
    /// assert_eq!(pixels[corner * side as usize + corner], 0);
    ///
    /// // A scale above the maximum is clamped to 32.
    /// assert_eq!(qr.to_luma(100).0, qr.size_with_quiet_zone() * 32);
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn to_luma(&self, pixels_per_module: u32) -> (u32, Vec<u8>) {
        let scale = clamp_scale(pixels_per_module);
        let side = self.size_with_quiet_zone() * scale;
        let side_pixels = side as usize;
        let scale = scale as usize;
        let quiet_pixels = QUIET_ZONE_MODULES as usize * scale;

        let mut pixels = Vec::with_capacity(side_pixels * side_pixels);
        pixels.resize(quiet_pixels * side_pixels, 255);
        let mut row = Vec::with_capacity(side_pixels);
        for y in 0..self.size_i32() {
            row.clear();
            row.resize(quiet_pixels, 255);
            for x in 0..self.size_i32() {
                let value = if self.is_dark(x, y) { 0 } else { 255 };
                row.extend(std::iter::repeat_n(value, scale));
            }
            row.resize(side_pixels, 255);
            for _ in 0..scale {
                pixels.extend_from_slice(&row);
            }
        }
        pixels.resize(side_pixels * side_pixels, 255);
        (side, pixels)
    }

    /// Returns the symbol size as `i32`, the coordinate type of [`CertificateQr::is_dark`].
    fn size_i32(&self) -> i32 {
        // qrcodegen sizes are 21 to 177, so the conversion cannot fail.
        i32::try_from(self.size()).unwrap_or(0)
    }

    /// Packs the image rows at one bit per pixel, most significant bit first,
    /// 0 for black and 1 for white, as 1-bit grayscale PNG expects.
    fn packed_rows(&self, scale: u32) -> Vec<u8> {
        let scale = scale as usize;
        let side = self.size_with_quiet_zone() as usize * scale;
        let row_bytes = side.div_ceil(8);
        let quiet_pixels = QUIET_ZONE_MODULES as usize * scale;

        // White quiet zone rows above the symbol.
        let mut rows = Vec::with_capacity(row_bytes * side);
        rows.resize(quiet_pixels * row_bytes, 0xFF);
        let mut row = BitRow::with_capacity(row_bytes);
        for y in 0..self.size_i32() {
            row.clear();
            row.push_run(true, quiet_pixels);
            for x in 0..self.size_i32() {
                row.push_run(!self.is_dark(x, y), scale);
            }
            row.push_run(true, quiet_pixels);
            let packed = row.finish();
            for _ in 0..scale {
                rows.extend_from_slice(packed);
            }
        }
        // White quiet zone rows below the symbol.
        rows.resize(row_bytes * side, 0xFF);
        rows
    }

    /// Builds SVG path data that covers every dark module, one subpath per
    /// horizontal run, in module units offset by the quiet zone.
    fn dark_module_path(&self) -> String {
        let size = self.size_i32();
        let mut path = String::with_capacity((self.size() * self.size()) as usize);
        for y in 0..size {
            let mut x = 0;
            while x < size {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let run_start = x;
                while x < size && self.is_dark(x, y) {
                    x += 1;
                }
                let quiet = QUIET_ZONE_MODULES.cast_signed();
                let run_length = x - run_start;
                // "M{x} {y}h{len}v1h-{len}z", without format! machinery,
                // which took half of the SVG time.
                path.push('M');
                push_decimal(&mut path, run_start + quiet);
                path.push(' ');
                push_decimal(&mut path, y + quiet);
                path.push('h');
                push_decimal(&mut path, run_length);
                path.push_str("v1h-");
                push_decimal(&mut path, run_length);
                path.push('z');
            }
        }
        path
    }
}

/// One image row being packed at one bit per pixel, most significant bit first.
struct BitRow {
    bytes: Vec<u8>,
    pending: u8,
    pending_bits: u32,
}

impl BitRow {
    fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            pending: 0,
            pending_bits: 0,
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.pending = 0;
        self.pending_bits = 0;
    }

    fn push_run(&mut self, bit: bool, count: usize) {
        for _ in 0..count {
            self.pending = (self.pending << 1) | u8::from(bit);
            self.pending_bits += 1;
            if self.pending_bits == 8 {
                self.bytes.push(self.pending);
                self.pending = 0;
                self.pending_bits = 0;
            }
        }
    }

    /// Pads the last byte with 1 bits (white) and returns the packed row.
    fn finish(&mut self) -> &[u8] {
        if self.pending_bits > 0 {
            let padding = 8 - self.pending_bits;
            self.bytes
                .push((self.pending << padding) | ((1_u8 << padding) - 1));
            self.pending = 0;
            self.pending_bits = 0;
        }
        &self.bytes
    }
}

/// Appends a non-negative integer in decimal.
fn push_decimal(text: &mut String, value: i32) {
    let mut digits = [0_u8; 10];
    let mut start = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        start -= 1;
        // `rest % 10` is below 10, so the cast cannot truncate.
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        text.push(char::from(digit));
    }
}

fn validate_scale(pixels_per_module: u32) -> Result<u32, QrError> {
    if (1..=MAX_PIXELS_PER_MODULE).contains(&pixels_per_module) {
        Ok(pixels_per_module)
    } else {
        Err(QrError::InvalidPixelsPerModule {
            value: pixels_per_module,
            max: MAX_PIXELS_PER_MODULE,
        })
    }
}

fn clamp_scale(pixels_per_module: u32) -> u32 {
    pixels_per_module.clamp(1, MAX_PIXELS_PER_MODULE)
}

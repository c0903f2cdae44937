//! Helpers shared by the integration tests: fixture loading and real QR decoding.

// Not every test crate uses every helper, and helpers are test code.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::PathBuf;

/// Path of a file under `tests/data`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// The realistic 1971-byte signed certificate fixture.
pub fn certificate_2kb() -> Vec<u8> {
    std::fs::read(data_path("certificate_2kb.json")).expect("read certificate_2kb.json")
}

/// A decoded PNG: width, height and 8-bit gray pixels.
pub struct GrayImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Decodes a PNG to 8-bit grayscale with the png crate (1-bit rows are
/// expanded to 0 and 255).
pub fn decode_png_gray(png_bytes: &[u8]) -> GrayImage {
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("PNG buffer size")];
    let frame = reader.next_frame(&mut pixels).expect("PNG frame");
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    pixels.truncate(frame.buffer_size());
    GrayImage {
        width: frame.width,
        height: frame.height,
        pixels,
    }
}

/// What rqrr read from an image.
pub struct Scan {
    pub bytes: Vec<u8>,
    pub version: usize,
    pub mask: u16,
}

/// Finds exactly one QR code in an 8-bit grayscale image with rqrr and
/// returns its raw segment bytes.
pub fn rqrr_scan_gray(width: u32, height: u32, pixels: &[u8]) -> Result<Scan, String> {
    let width = width as usize;
    let height = height as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    if grids.len() != 1 {
        return Err(format!("rqrr found {} QR grids, expected 1", grids.len()));
    }
    let mut bytes = Vec::new();
    let meta = grids[0]
        .decode_to(&mut bytes)
        .map_err(|error| format!("rqrr failed to decode: {error:?}"))?;
    Ok(Scan {
        bytes,
        version: meta.version.0,
        mask: meta.mask,
    })
}

/// Decodes a PNG and scans it with rqrr.
pub fn rqrr_scan_png(png_bytes: &[u8]) -> Result<Scan, String> {
    let image = decode_png_gray(png_bytes);
    rqrr_scan_gray(image.width, image.height, &image.pixels)
}

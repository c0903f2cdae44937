//! Compares the eight QR masks on variants of the test certificate, the
//! survey behind `DEFAULT_MASK`.
//!
//! Each variant replaces the 342 signature characters of the `jws` value in
//! `tests/data/certificate_2kb.json` with pseudo-random base64url characters
//! from a fixed seed, so the results are reproducible. For each payload form
//! and mask the survey counts:
//!
//! - how often qrcodegen's penalty-based selection picks the mask,
//! - how often rqrr reads the symbol rendered at 1 pixel per module,
//! - how often rqrr reads it at 2.2 pixels per module, area-averaged from an
//!   8 pixels per module rendering (gray edges, as from a camera or a scaler),
//! - how often `zbarimg` reads it at 1.6 pixels per module, area-averaged the
//!   same way, if zbarimg is installed.
//!
//! Run with `cargo run --release -p divoc-qr --example mask_survey [VARIANTS]`
//! (default 40 variants).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::path::Path;
use std::process::Command;

use divoc_qr::{CertificateQr, MaskSelection, PayloadForm, QrOptions, decode_payload};

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// End of the JWS header of the fixture, right before the signature.
const SIGNATURE_PREFIX: &[u8] = b"Il19..";
const SIGNATURE_CHARS: usize = 342;
const FORMS: [PayloadForm; 2] = [PayloadForm::DivocExpanded, PayloadForm::Raw];
const SOURCE_SCALE: u32 = 8;

/// Success counts of one form, indexed by mask.
#[derive(Default)]
struct Counts {
    automatic_picks: [u32; 8],
    rqrr_1: [u32; 8],
    rqrr_2_2: [u32; 8],
    zbar_1_6: [u32; 8],
}

fn main() -> Result<(), Box<dyn Error>> {
    let variants: usize = match std::env::args().nth(1) {
        Some(argument) => argument.parse()?,
        None => 40,
    };
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/certificate_2kb.json"
    ))?;
    let signature_start = fixture
        .windows(SIGNATURE_PREFIX.len())
        .position(|window| window == SIGNATURE_PREFIX)
        .ok_or("signature prefix not found in the fixture")?
        + SIGNATURE_PREFIX.len();
    let signature_end = signature_start + SIGNATURE_CHARS;
    if signature_end > fixture.len() {
        return Err("fixture signature is shorter than expected".into());
    }

    let zbar_available = Command::new("zbarimg").arg("--version").output().is_ok();
    if !zbar_available {
        eprintln!("zbarimg not found: the zbar column stays empty");
    }
    let scratch = std::env::temp_dir().join(format!("divoc-qr-mask-survey-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;

    // 64-bit linear congruential generator (Knuth's MMIX constants).
    let mut state: u64 = 12345;
    let mut counts = [Counts::default(), Counts::default()];

    for _ in 0..variants {
        let mut certificate = fixture.clone();
        for byte in &mut certificate[signature_start..signature_end] {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *byte = BASE64URL[(state >> 58) as usize];
        }

        for (form, counts) in FORMS.into_iter().zip(&mut counts) {
            let automatic = QrOptions {
                form,
                mask: MaskSelection::Automatic,
                ..QrOptions::default()
            };
            let picked = CertificateQr::new(&certificate, &automatic)?.mask();
            counts.automatic_picks[usize::from(picked)] += 1;

            for mask in 0..8_u8 {
                let options = QrOptions {
                    form,
                    mask: MaskSelection::Fixed(mask),
                    ..QrOptions::default()
                };
                let qr = CertificateQr::new(&certificate, &options)?;
                let index = usize::from(mask);

                let (side, pixels) = qr.to_luma(1);
                counts.rqrr_1[index] += u32::from(rqrr_reads(side, &pixels, &certificate));

                let (side, pixels) = qr.to_luma(SOURCE_SCALE);
                let (small_side, small) = area_downscale(&pixels, side, 2.2);
                counts.rqrr_2_2[index] += u32::from(rqrr_reads(small_side, &small, &certificate));

                if zbar_available {
                    let (small_side, small) = area_downscale(&pixels, side, 1.6);
                    let path = scratch.join("symbol.png");
                    write_gray_png(&path, small_side, &small)?;
                    counts.zbar_1_6[index] += u32::from(zbar_reads(&path, &certificate)?);
                }
            }
        }
    }
    std::fs::remove_dir_all(&scratch)?;

    println!("{variants} variants; counts per mask 0 to 7");
    for (form, counts) in FORMS.iter().zip(&counts) {
        println!("{form:?}");
        println!("  automatic picks:   {:?}", counts.automatic_picks);
        println!("  rqrr at 1 ppm:     {:?}", counts.rqrr_1);
        println!("  rqrr at 2.2 ppm:   {:?}", counts.rqrr_2_2);
        println!("  zbarimg at 1.6 ppm: {:?}", counts.zbar_1_6);
    }
    Ok(())
}

/// Resamples a `SOURCE_SCALE` pixels per module image to `scale` pixels per
/// module, each output pixel being the mean of the source pixels it covers.
fn area_downscale(pixels: &[u8], side: u32, scale: f64) -> (u32, Vec<u8>) {
    let factor = f64::from(SOURCE_SCALE) / scale;
    let out_side = (f64::from(side) / factor).floor() as u32;
    let source_index = |value: u32| ((f64::from(value) * factor) as u32).min(side);
    let mut out = Vec::with_capacity((out_side * out_side) as usize);
    for out_y in 0..out_side {
        for out_x in 0..out_side {
            let (x0, x1) = (source_index(out_x), source_index(out_x + 1));
            let (y0, y1) = (source_index(out_y), source_index(out_y + 1));
            let mut sum = 0_u32;
            let mut count = 0_u32;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += u32::from(pixels[(y * side + x) as usize]);
                    count += 1;
                }
            }
            out.push(u8::try_from(sum / count.max(1)).unwrap_or(u8::MAX));
        }
    }
    (out_side, out)
}

fn rqrr_reads(side: u32, pixels: &[u8], certificate: &[u8]) -> bool {
    let width = side as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, width, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    let [grid] = grids.as_slice() else {
        return false;
    };
    let mut bytes = Vec::new();
    grid.decode_to(&mut bytes).is_ok()
        && decode_payload(&bytes).is_ok_and(|decoded| decoded == certificate)
}

fn write_gray_png(path: &Path, side: u32, pixels: &[u8]) -> Result<(), Box<dyn Error>> {
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    std::fs::write(path, png_bytes)?;
    Ok(())
}

fn zbar_reads(path: &Path, certificate: &[u8]) -> Result<bool, Box<dyn Error>> {
    let output = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sbinary"])
        .arg(path)
        .output()?;
    Ok(output.status.success()
        && decode_payload(&output.stdout).is_ok_and(|decoded| decoded == certificate))
}

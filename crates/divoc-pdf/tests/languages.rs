//! Certificates in each shipped language and names in complex scripts,
//! checked with poppler (`pdftotext`, `pdftoppm`), MuPDF (`mutool`) and
//! HarfBuzz (`hb-shape`), with the Noto fonts of Debian's `fonts-noto-core`.
//!
//! A test whose tool or font is missing prints a notice and passes, unless
//! `DIVOC_REQUIRE_TOOLS=1` is set, in which case it fails and names the Debian
//! package. Rendered pages are compared with the reference images in
//! `tests/reference/`; `DIVOC_UPDATE_REFERENCE_IMAGES=1` writes them anew.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{
    CertificateInput, DEBIAN_NOTO_FONTS, LabelSet, Labels, PdfRenderer, PdfSettings, RenderedPdf,
};
use divoc_qr::{CertificateQr, QrOptions};
use lopdf::Document;
use unicode_normalization::UnicodeNormalization;

const CREDENTIAL: &str = include_str!("data/credential-v2.json");
const CERTIFICATE_ID: &str = "731904562";
const NOTO: &str = "/usr/share/fonts/truetype/noto";

/// A name per shipped language, in that language's script.
const LANGUAGE_NAMES: [(&str, &str); 5] = [
    ("en", "Meenakshi Venkataraman Iyer"),
    ("hi", "कृष्ण क्षत्रिय"),
    ("ta", "விக்னேஷ் குமார்"),
    ("si", "ශ්‍රියානි පෙරේරා"),
    ("bn", "আমিনুল ইসলাম"),
];

/// Names in every supported script, with the bold font that prints them
/// (names are printed in bold).
const SCRIPT_NAMES: [(&str, &str); 6] = [
    ("कृष्ण क्षत्रिय", "NotoSansDevanagari-Bold.ttf"),
    ("விக்னேஷ் குமார்", "NotoSansTamil-Bold.ttf"),
    ("ශ්‍රියානි පෙරේරා", "NotoSansSinhala-Bold.ttf"),
    ("আমিনুল ইসলাম", "NotoSansBengali-Bold.ttf"),
    ("محمد عارف", "NotoNaskhArabic-Bold.ttf"),
    ("ലക്ഷ്മി നായർ", "NotoSansMalayalam-Bold.ttf"),
];

fn require_tools() -> bool {
    std::env::var("DIVOC_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// Returns whether `tool` can run. A missing tool prints a notice, or fails the
/// test under `DIVOC_REQUIRE_TOOLS=1`.
fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            !require_tools(),
            "{tool} is required (DIVOC_REQUIRE_TOOLS=1) but not installed: apt-get install {package}"
        );
        eprintln!("skipping: {tool} is not installed (Debian package {package})");
    }
    found
}

/// Returns whether the Noto fonts are installed, with the same rule as tools.
fn fonts_available() -> bool {
    let missing: Vec<&str> = DEBIAN_NOTO_FONTS
        .iter()
        .copied()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if !missing.is_empty() {
        assert!(
            !require_tools(),
            "fonts are required (DIVOC_REQUIRE_TOOLS=1) but missing: {missing:?}: apt-get install fonts-noto-core"
        );
        eprintln!("skipping: fonts {missing:?} are missing (Debian package fonts-noto-core)");
    }
    missing.is_empty()
}

fn updated_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-10-17T22:05:43.112Z")
        .unwrap()
        .to_utc()
}

fn renderer(settings: PdfSettings) -> PdfRenderer {
    PdfRenderer::new(PdfSettings {
        time_zone: "Asia/Kolkata".parse().unwrap(),
        issuer_name: Some("Ministry of Health and Family Welfare".to_owned()),
        ..settings
    })
    .unwrap()
}

/// Renders the sample credential with `name` and `address` in `language`.
fn render(
    renderer: &PdfRenderer,
    language: &str,
    name: &str,
    address: Option<&str>,
) -> RenderedPdf {
    let mut credential = VaccinationCredential::parse(CERTIFICATE_ID, CREDENTIAL).unwrap();
    credential.credential_subject.name = Some(name.to_owned());
    if let Some(address) = address {
        let subject_address = credential.credential_subject.address.as_mut().unwrap();
        subject_address.street_address = Some(address.to_owned());
        subject_address.street_address2 = None;
    }
    let qr = CertificateQr::new(CREDENTIAL.as_bytes(), &QrOptions::default()).unwrap();
    let doses: Vec<&Evidence> = credential.evidence.iter().collect();
    let input = CertificateInput {
        certificate_id: CERTIFICATE_ID,
        credential: &credential,
        doses: &doses,
        qr: &qr,
        updated_at: Some(updated_at()),
    };
    renderer
        .render_with_report_in(&input, Some(language))
        .unwrap()
}

fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(tool).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Text of the page from pdftotext, without the embedding marks (U+202B,
/// U+202C) that poppler puts around right-to-left text.
fn pdftotext(path: &Path) -> String {
    let text = run("pdftotext", &["-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    String::from_utf8(text)
        .unwrap()
        .replace(['\u{202B}', '\u{202C}'], "")
}

/// Text of the page from MuPDF, in canonical composition (NFC).
///
/// Two-part vowels (Tamil ோ, Bengali ো, Sinhala ො) are two glyphs each, and
/// their ToUnicode texts are the two parts of the vowel's canonical
/// decomposition, so MuPDF, which reads glyph by glyph, returns the
/// decomposed form. pdftotext reads the ActualText of the line and returns
/// the text as written.
fn mutool_text(path: &Path) -> String {
    let text = run(
        "mutool",
        &["draw", "-q", "-F", "txt", "-o", "-", path.to_str().unwrap()],
    );
    String::from_utf8(text).unwrap().nfc().collect()
}

/// Collapses white space, which extraction tools place freely at line ends.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn write_pdf(directory: &Path, name: &str, pdf: &[u8]) -> PathBuf {
    let path = directory.join(name);
    std::fs::write(&path, pdf).unwrap();
    path
}

/// The label set of `language`: the built-in English one or a shipped file.
fn label_set(language: &str) -> Labels {
    if language == "en" {
        return Labels::default();
    }
    LabelSet::built_in()
        .unwrap()
        .into_iter()
        .find(|set| set.language == language)
        .unwrap()
        .labels
}

/// Label texts that the sample certificate prints whole.
fn printed_labels(labels: &Labels) -> Vec<String> {
    vec![
        labels.title_final.replace("{program}", "COVID-19"),
        labels.beneficiary_heading.clone(),
        labels.vaccination_heading.clone(),
        labels.doses_heading.clone(),
        labels.name.clone(),
        labels.age.clone(),
        labels.gender.clone(),
        labels.address.clone(),
        labels.vaccine.clone(),
        labels.manufacturer.clone(),
        labels.batch.clone(),
        labels.qr_caption.clone(),
        labels.footer[0].clone(),
        labels.footer[1].clone(),
        labels.id_types.aadhaar.clone(),
    ]
}

#[test]
fn language_certificates_match_labels_and_references() {
    if !fonts_available()
        || !tool_available("pdftotext", "poppler-utils")
        || !tool_available("mutool", "mupdf-tools")
    {
        return;
    }
    let renderer = renderer(PdfSettings::default());
    let directory = tempfile::tempdir().unwrap();
    for (language, name) in LANGUAGE_NAMES {
        let rendered = render(&renderer, language, name, None);
        assert_eq!(rendered.uncovered_characters, 0, "{language}");
        let pdf = Document::load_mem(&rendered.bytes).unwrap();
        assert_eq!(pdf.get_pages().len(), 1, "{language}");
        let path = write_pdf(
            directory.path(),
            &format!("{language}.pdf"),
            &rendered.bytes,
        );

        let english = printed_labels(&Labels::default());
        let local = printed_labels(&label_set(language));
        for (tool, text) in [
            ("pdftotext", normalise(&pdftotext(&path))),
            ("mutool", normalise(&mutool_text(&path))),
        ] {
            for expected in [name, CERTIFICATE_ID, "XXXX XXXX XXXX", "2222", "17-"] {
                assert!(
                    text.contains(expected),
                    "{language}, {tool}: {expected:?} missing from {text}"
                );
            }
            // English is printed beside every other language.
            for expected in local.iter().chain(&english) {
                assert!(
                    text.contains(expected.as_str()),
                    "{language}, {tool}: label {expected:?} missing from {text}"
                );
            }
        }
        compare_with_reference(&path, language);
    }
}

/// Maximum difference of a gray level that counts as anti-aliasing.
const PIXEL_TOLERANCE: u8 = 64;
/// Maximum fraction of pixels beyond the tolerance. A misplaced vowel sign
/// in the name changes more than 60 pixels at 75 dpi.
const MAX_DIFFERING_FRACTION: f64 = 0.0001;

/// Renders the page at 75 dpi and compares it in gray with
/// `tests/reference/{language}.png`.
fn compare_with_reference(pdf: &Path, language: &str) {
    if !tool_available("pdftoppm", "poppler-utils") {
        return;
    }
    let prefix = pdf.with_extension("");
    run(
        "pdftoppm",
        &[
            "-r",
            "75",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let rendered_path = prefix.with_extension("png");
    let reference_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(format!("{language}.png"));
    if std::env::var("DIVOC_UPDATE_REFERENCE_IMAGES").as_deref() == Ok("1") {
        std::fs::create_dir_all(reference_path.parent().unwrap()).unwrap();
        std::fs::copy(&rendered_path, &reference_path).unwrap();
        eprintln!("wrote {}", reference_path.display());
        return;
    }
    let (width, height, rendered) = read_gray_png(&rendered_path);
    let (reference_width, reference_height, reference) = read_gray_png(&reference_path);
    assert_eq!(
        (width, height),
        (reference_width, reference_height),
        "{language}: page size"
    );
    let differing = rendered
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a.abs_diff(**b) > PIXEL_TOLERANCE)
        .count();
    let fraction = differing as f64 / rendered.len() as f64;
    assert!(
        fraction <= MAX_DIFFERING_FRACTION,
        "{language}: {differing} pixels ({fraction:.5}) differ from {}; if the change is intended, \
         review the new page and regenerate with DIVOC_UPDATE_REFERENCE_IMAGES=1",
        reference_path.display()
    );
}

fn read_gray_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    pixels.truncate(info.buffer_size());
    // pdftoppm 22.12 writes RGB even with `-gray`, so RGB is averaged.
    let gray = match info.color_type {
        png::ColorType::Grayscale => pixels,
        png::ColorType::Rgb => pixels
            .chunks(3)
            .map(|rgb| ((u16::from(rgb[0]) + u16::from(rgb[1]) + u16::from(rgb[2])) / 3) as u8)
            .collect(),
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    (info.width, info.height, gray)
}

#[test]
fn script_names_extract_exactly() {
    if !fonts_available()
        || !tool_available("pdftotext", "poppler-utils")
        || !tool_available("mutool", "mupdf-tools")
    {
        return;
    }
    let renderer = renderer(PdfSettings::default());
    let directory = tempfile::tempdir().unwrap();
    for (index, (name, _)) in SCRIPT_NAMES.iter().enumerate() {
        for language in ["en", "hi"] {
            let rendered = render(&renderer, language, name, None);
            assert_eq!(rendered.uncovered_characters, 0, "{name}");
            let path = write_pdf(
                directory.path(),
                &format!("{index}-{language}.pdf"),
                &rendered.bytes,
            );
            let lines = pdftotext(&path);
            assert!(
                lines.lines().any(|line| line == *name),
                "pdftotext, {language}: {name:?} missing from {lines}"
            );
            // MuPDF puts a value beside its label on one line.
            let text = mutool_text(&path);
            assert!(
                text.contains(name),
                "mutool, {language}: {name:?} missing from {text}"
            );
        }
    }
}

/// A glyph as drawn: position in thousandths of an em and an outline
/// signature, which is the same in a subset and in the original font.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct DrawnGlyph {
    x: i64,
    y: i64,
    outline: Vec<i32>,
}

#[derive(Default)]
struct OutlineRecorder(Vec<i32>);

impl ttf_parser::OutlineBuilder for OutlineRecorder {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.extend([0, x.round() as i32, y.round() as i32]);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.extend([1, x.round() as i32, y.round() as i32]);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.extend([2, x1.round() as i32, y1.round() as i32]);
        self.0.extend([x.round() as i32, y.round() as i32]);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.extend([3, x1.round() as i32, y1.round() as i32]);
        self.0.extend([x2.round() as i32, y2.round() as i32]);
        self.0.extend([x.round() as i32, y.round() as i32]);
    }
    fn close(&mut self) {
        self.0.push(4);
    }
}

fn outline(face: &ttf_parser::Face<'_>, glyph: u16) -> Vec<i32> {
    let mut recorder = OutlineRecorder::default();
    face.outline_glyph(ttf_parser::GlyphId(glyph), &mut recorder);
    recorder.0
}

/// Glyphs that the page draws with the embedded font whose name contains
/// `font_name`, with positions from the first glyph.
fn drawn_glyphs(pdf: &[u8], font_name: &str) -> Vec<DrawnGlyph> {
    let document = Document::load_mem(pdf).unwrap();
    let page_id = *document.get_pages().values().next().unwrap();
    let fonts = document.get_page_fonts(page_id).unwrap();
    let (resource, font) = fonts
        .iter()
        .find(|(_, font)| {
            let base = font.get(b"BaseFont").unwrap().as_name().unwrap();
            String::from_utf8_lossy(base).contains(font_name)
        })
        .unwrap_or_else(|| panic!("no font {font_name}"));
    let descendant = font.get(b"DescendantFonts").unwrap().as_array().unwrap()[0]
        .as_reference()
        .unwrap();
    let cid_font = document.get_dictionary(descendant).unwrap();
    let widths = cid_font.get(b"W").unwrap().as_array().unwrap();
    let first_cid = widths[0].as_i64().unwrap();
    let widths: Vec<i64> = widths[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|width| width.as_i64().unwrap())
        .collect();
    let stream = |key: &[u8], dictionary: &lopdf::Dictionary| {
        let id = dictionary.get(key).unwrap().as_reference().unwrap();
        document
            .get_object(id)
            .unwrap()
            .as_stream()
            .unwrap()
            .get_plain_content()
            .unwrap()
    };
    let cid_to_gid = stream(b"CIDToGIDMap", cid_font);
    let descriptor_id = cid_font
        .get(b"FontDescriptor")
        .unwrap()
        .as_reference()
        .unwrap();
    let program = stream(
        b"FontFile2",
        document.get_dictionary(descriptor_id).unwrap(),
    );
    let face = ttf_parser::Face::parse(&program, 0).unwrap();

    let mut content = String::new();
    for id in document.get_page_contents(page_id) {
        let stream = document.get_object(id).unwrap().as_stream().unwrap();
        content.push_str(&String::from_utf8_lossy(
            &stream.get_plain_content().unwrap(),
        ));
    }
    let selector = format!("/{} ", String::from_utf8_lossy(resource));
    let mut glyphs = Vec::new();
    let mut active = false;
    let mut rise = 0;
    for line in content.lines() {
        if line.ends_with(" Tf") {
            active = line.starts_with(&selector);
        } else if let Some(value) = line.strip_suffix(" Ts") {
            rise = value.parse::<f64>().unwrap().round() as i64;
        } else if active && line.ends_with("] TJ") {
            let mut x = 0;
            let mut rest = line.trim_start_matches('[').trim_end_matches("] TJ");
            while !rest.is_empty() {
                if let Some(hex) = rest.strip_prefix('<') {
                    let end = hex.find('>').unwrap();
                    let cid = i64::from_str_radix(&hex[..end], 16).unwrap();
                    let index = usize::try_from(cid * 2).unwrap();
                    let gid = u16::from_be_bytes([cid_to_gid[index], cid_to_gid[index + 1]]);
                    glyphs.push(DrawnGlyph {
                        x,
                        y: rise,
                        outline: outline(&face, gid),
                    });
                    x += widths[usize::try_from(cid - first_cid).unwrap()];
                    rest = &hex[end + 1..];
                } else {
                    let end = rest.find('<').unwrap_or(rest.len());
                    let number = rest[..end].trim();
                    if !number.is_empty() {
                        x -= number.parse::<i64>().unwrap();
                    }
                    rest = &rest[end..];
                }
            }
        }
    }
    glyphs
}

/// Glyphs of `text` as hb-shape places them in `font`, in the same units.
fn harfbuzz_glyphs(font: &Path, text: &str) -> Vec<DrawnGlyph> {
    let output = run(
        "hb-shape",
        &[
            "--no-glyph-names",
            "--no-clusters",
            font.to_str().unwrap(),
            text,
        ],
    );
    let data = std::fs::read(font).unwrap();
    let face = ttf_parser::Face::parse(&data, 0).unwrap();
    let scale = 1000.0 / f64::from(face.units_per_em());
    let output = String::from_utf8(output).unwrap();
    let mut pen = 0;
    let mut glyphs = Vec::new();
    for item in output.trim().trim_matches(['[', ']']).split('|') {
        // gid[@x_offset,y_offset]+x_advance
        let (head, advance) = item.split_once('+').unwrap();
        let (gid, offset) = head.split_once('@').unwrap_or((head, "0,0"));
        let (x_offset, y_offset) = offset.split_once(',').unwrap();
        let (x_offset, y_offset): (i64, i64) =
            (x_offset.parse().unwrap(), y_offset.parse().unwrap());
        glyphs.push(DrawnGlyph {
            x: pen + x_offset,
            y: y_offset,
            outline: outline(&face, gid.parse().unwrap()),
        });
        pen += advance.parse::<i64>().unwrap();
    }
    glyphs
        .into_iter()
        .map(|glyph| DrawnGlyph {
            x: (glyph.x as f64 * scale).round() as i64,
            y: glyph.y,
            ..glyph
        })
        .collect()
}

#[test]
fn drawn_glyphs_match_harfbuzz() {
    if !fonts_available() || !tool_available("hb-shape", "libharfbuzz-bin") {
        return;
    }
    let renderer = renderer(PdfSettings::default());
    for (name, font_file) in SCRIPT_NAMES {
        let rendered = render(&renderer, "en", name, None);
        let font_name = font_file.trim_end_matches(".ttf");
        let mut drawn = drawn_glyphs(&rendered.bytes, font_name);
        let mut expected = harfbuzz_glyphs(&Path::new(NOTO).join(font_file), name);
        assert_eq!(drawn.len(), expected.len(), "{name}: glyph count");
        // The content writes marks before their base (see `ShapedPiece`), so
        // glyphs are compared by position, then outline.
        drawn.sort();
        expected.sort();
        for (drawn, expected) in drawn.iter().zip(&expected) {
            assert!(
                (drawn.x - expected.x).abs() <= 2,
                "{name}: glyph at {} drawn at {}",
                expected.x,
                drawn.x
            );
            assert_eq!(
                drawn.outline, expected.outline,
                "{name}: glyph at {}",
                expected.x
            );
            assert_eq!(
                drawn.y != 0,
                expected.y != 0,
                "{name}: rise at {}",
                expected.x
            );
        }
    }
}

#[test]
fn mixed_scripts_extract_in_order() {
    if !fonts_available()
        || !tool_available("pdftotext", "poppler-utils")
        || !tool_available("mutool", "mupdf-tools")
    {
        return;
    }
    let renderer = renderer(PdfSettings::default());
    let name = "K. कृष्ण Rao";
    let address = "फ्लैट 12/3, 4th Cross";
    let rendered = render(&renderer, "hi", name, Some(address));
    let directory = tempfile::tempdir().unwrap();
    let path = write_pdf(directory.path(), "mixed.pdf", &rendered.bytes);
    for (tool, text) in [
        ("pdftotext", normalise(&pdftotext(&path))),
        ("mutool", normalise(&mutool_text(&path))),
    ] {
        assert!(text.contains(name), "{tool}: {name:?} missing from {text}");
        assert!(
            text.contains(address),
            "{tool}: {address:?} missing from {text}"
        );
    }
}

#[test]
fn right_to_left_run_follows_bidi() {
    if !fonts_available() || !tool_available("hb-shape", "libharfbuzz-bin") {
        return;
    }
    // Left-to-right paragraph: "Rao" on the left, then the Arabic run, whose
    // first word (محمد) is on the right of its second (عارف).
    let renderer = renderer(PdfSettings::default());
    let rendered = render(&renderer, "en", "Rao محمد عارف", None);
    let drawn = drawn_glyphs(&rendered.bytes, "NotoNaskhArabic-Bold");
    let font = Path::new(NOTO).join("NotoNaskhArabic-Bold.ttf");
    let mut expected = harfbuzz_glyphs(&font, "محمد عارف");
    let mut drawn_sorted = drawn.clone();
    drawn_sorted.sort();
    expected.sort();
    let outlines = |glyphs: &[DrawnGlyph]| -> Vec<Vec<i32>> {
        glyphs.iter().map(|glyph| glyph.outline.clone()).collect()
    };
    assert_eq!(outlines(&drawn_sorted), outlines(&expected));
    // Glyphs are written in logical order, so from right to left.
    let first = drawn.first().unwrap().x;
    let last = drawn.last().unwrap().x;
    assert!(first > last, "first glyph at {first}, last at {last}");
}

#[test]
fn long_devanagari_name_wraps_at_words() {
    if !fonts_available() || !tool_available("pdftotext", "poppler-utils") {
        return;
    }
    let renderer = renderer(PdfSettings::default());
    let words = [
        "श्रीमती",
        "अन्नपूर्णा",
        "देवी",
        "राजलक्ष्मी",
        "वेंकटरमण",
        "सुब्रह्मण्यम",
        "कृष्णमूर्ति",
        "चक्रवर्ती",
        "त्रिपाठी",
        "क्षत्रिय",
    ];
    let name = words.join(" ");
    let address = "मकान संख्या 221/बी, गली संख्या 7, राजेन्द्र नगर, पटना, बिहार, 800016";
    let rendered = render(&renderer, "hi", &name, Some(address));
    let pdf = Document::load_mem(&rendered.bytes).unwrap();
    assert_eq!(pdf.get_pages().len(), 1);
    let directory = tempfile::tempdir().unwrap();
    let path = write_pdf(directory.path(), "long.pdf", &rendered.bytes);
    let raw = pdftotext(&path);
    let text = normalise(&raw);
    assert!(text.contains(&name), "{text}");
    assert!(text.contains(address), "{text}");
    // The name wraps, and every line break falls between words.
    let name_lines: Vec<&str> = raw
        .lines()
        .filter(|line| words.iter().any(|word| line.contains(word)))
        .collect();
    assert!(name_lines.len() > 1, "{name_lines:?}");
    for line in &name_lines {
        for part in line.split_whitespace() {
            assert!(
                words.contains(&part),
                "{part:?} is not a whole word: {name_lines:?}"
            );
        }
    }
}

#[test]
fn request_language_falls_back_to_default() {
    let renderer = renderer(PdfSettings {
        language: "ta".to_owned(),
        ..PdfSettings::default()
    });
    assert_eq!(renderer.languages(), ["bn", "en", "hi", "si", "ta"]);
    assert_eq!(renderer.resolve_language(Some("hi")), "hi");
    assert_eq!(renderer.resolve_language(Some("HI-in")), "hi");
    assert_eq!(renderer.resolve_language(Some("fr")), "ta");
    assert_eq!(renderer.resolve_language(Some("")), "ta");
    assert_eq!(renderer.resolve_language(None), "ta");

    let error = PdfRenderer::new(PdfSettings {
        language: "fr".to_owned(),
        ..PdfSettings::default()
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid PDF settings: `language` \"fr\" has no label set; known languages: bn, en, hi, si, ta"
    );
}

#[test]
fn label_files_add_languages() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("ml.toml"),
        "language = \"ml\"\nname = \"മലയാളം\"\nneeds_review = true\n[labels]\nname = \"പേര്\"\n",
    )
    .unwrap();
    std::fs::write(directory.path().join("notes.txt"), "not a label set").unwrap();
    let settings = PdfSettings {
        labels_dir: Some(directory.path().to_owned()),
        language: "ml".to_owned(),
        show_english: false,
        ..PdfSettings::default()
    };
    let renderer = renderer(settings);
    assert_eq!(renderer.resolve_language(None), "ml");
    let rendered = render(&renderer, "ml", "ലക്ഷ്മി നായർ", None);
    if fonts_available() && tool_available("pdftotext", "poppler-utils") {
        assert_eq!(rendered.uncovered_characters, 0);
        let path = write_pdf(directory.path(), "ml.pdf", &rendered.bytes);
        let text = normalise(&pdftotext(&path));
        // The label from the file, and English where the file has no text.
        assert!(text.contains("പേര് ലക്ഷ്മി നായർ"), "{text}");
        assert!(text.contains("Vaccination Details"), "{text}");
        assert!(!text.contains("Beneficiary Name"), "{text}");
    }

    std::fs::write(
        directory.path().join("xx.toml"),
        "language = \"XX\"\nname = \"x\"\n[labels]\n",
    )
    .unwrap();
    let error = PdfRenderer::new(PdfSettings {
        labels_dir: Some(directory.path().to_owned()),
        ..PdfSettings::default()
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("xx.toml"), "{error}");
    assert!(error.contains("invalid language code \"XX\""), "{error}");
}

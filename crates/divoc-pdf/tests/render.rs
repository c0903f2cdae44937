//! Renders certificates and checks them with lopdf and with real PDF tools:
//! poppler (`pdftotext`, `pdfinfo`, `pdftoppm`), MuPDF (`mutool`) and zbar
//! (`zbarimg`). A test whose tool is missing prints a notice and passes, unless
//! `DIVOC_REQUIRE_TOOLS=1` is set, in which case it fails and names the Debian package.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use divoc_model::{Evidence, VaccinationCredential};
use divoc_pdf::{CertificateInput, PdfRenderer, PdfSettings, RenderedPdf};
use divoc_qr::{CertificateQr, QrOptions, decode_payload};

const CREDENTIAL: &str = include_str!("data/credential-v2.json");
const CERTIFICATE_ID: &str = "731904562";
const NAME: &str = "Meenakshi Venkataraman Iyer";

fn renderer() -> PdfRenderer {
    let settings = PdfSettings {
        time_zone: "Asia/Kolkata".parse().unwrap(),
        issuer_name: Some("Ministry of Health and Family Welfare".to_owned()),
        ..PdfSettings::default()
    };
    PdfRenderer::new(settings).unwrap()
}

fn credential() -> VaccinationCredential {
    VaccinationCredential::parse(CERTIFICATE_ID, CREDENTIAL).unwrap()
}

fn qr_for(text: &str) -> CertificateQr {
    CertificateQr::new(text.as_bytes(), &QrOptions::default()).unwrap()
}

fn updated_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-10-17T22:05:43.112Z")
        .unwrap()
        .to_utc()
}

/// Builds the first dose of the sample credential's beneficiary.
fn first_dose(credential: &VaccinationCredential) -> Evidence {
    let mut dose = credential.evidence[0].clone();
    dose.dose = Some(1);
    dose.date = Some("2021-07-02T09:10:00.000Z".to_owned());
    dose.batch = Some("4121Z045".to_owned());
    dose
}

fn render(
    credential: &VaccinationCredential,
    doses: &[&Evidence],
    qr: &CertificateQr,
) -> RenderedPdf {
    let input = CertificateInput {
        certificate_id: CERTIFICATE_ID,
        credential,
        doses,
        qr,
        updated_at: Some(updated_at()),
    };
    renderer().render_with_report(&input).unwrap()
}

/// Renders the sample credential with `name` in place of its name.
fn render_named(name: &str) -> RenderedPdf {
    let mut credential = credential();
    credential.credential_subject.name = Some(name.to_owned());
    let first = first_dose(&credential);
    let doses = [&credential.evidence[0], &first];
    render(&credential, &doses, &qr_for(CREDENTIAL))
}

fn page_count(pdf: &[u8]) -> usize {
    lopdf::Document::load_mem(pdf).unwrap().get_pages().len()
}

/// Collapses white space, which extraction tools place freely at line ends.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Returns whether `tool` can run. A missing tool prints a notice, or fails the
/// test under `DIVOC_REQUIRE_TOOLS=1`.
fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var("DIVOC_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{tool} is required (DIVOC_REQUIRE_TOOLS=1) but not installed: apt-get install {package}"
        );
        eprintln!("skipping: {tool} is not installed (Debian package {package})");
    }
    found
}

fn write_pdf(directory: &Path, pdf: &[u8]) -> PathBuf {
    let path = directory.join("certificate.pdf");
    std::fs::write(&path, pdf).unwrap();
    path
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

fn pdftotext(path: &Path) -> String {
    let text = run("pdftotext", &["-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    String::from_utf8(text).unwrap()
}

fn mutool_text(path: &Path) -> String {
    let text = run(
        "mutool",
        &["draw", "-q", "-F", "txt", "-o", "-", path.to_str().unwrap()],
    );
    String::from_utf8(text).unwrap()
}

#[test]
fn sample_certificate_text() {
    let rendered = render_named(NAME);
    assert_eq!(rendered.uncovered_characters, 0);
    assert_eq!(page_count(&rendered.bytes), 1);
    assert!(
        rendered.bytes.len() <= 40 * 1024,
        "{} bytes",
        rendered.bytes.len()
    );
    if !tool_available("pdftotext", "poppler-utils") {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let path = write_pdf(directory.path(), &rendered.bytes);
    let text = normalise(&pdftotext(&path));
    for expected in [
        "Final Certificate for COVID-19 Vaccination",
        NAME,
        CERTIFICATE_ID,
        "Aadhaar # XXXX XXXX XXXX 2222",
        "Flat 7, Sri Lakshmi Residency, 3rd Cross, Jayanagar 4th Block, Bengaluru, Bengaluru Urban, Karnataka, 560011, IND",
        // 2021-10-17T22:00:00Z is the next day in Asia/Kolkata.
        "Date of Dose 18-Oct-2021",
        "Dose Type Primary Dose 2",
        "Valid From 18-Oct-2021",
        "18-Oct-2021 Primary Dose 2 COVISHIELD",
        "02-Jul-2021 Primary Dose 1 COVISHIELD",
        "Ministry of Health and Family Welfare",
    ] {
        assert!(
            text.contains(expected),
            "pdftotext lacks {expected:?}:\n{text}"
        );
    }

    let info = String::from_utf8(run("pdfinfo", &[path.to_str().unwrap()])).unwrap();
    assert!(info.contains("\nPages:           1\n"), "{info}");
    assert!(
        info.contains("Title:           Vaccination Certificate 731904562\n"),
        "{info}"
    );
    assert!(
        info.contains("CreationDate:    Sun Oct 17 22:05:43 2021 UTC\n"),
        "{info}"
    );
}

#[test]
fn mupdf_reads_single_byte_text() {
    if !tool_available("mutool", "mupdf-tools") {
        return;
    }
    let rendered = render_named(NAME);
    let directory = tempfile::tempdir().unwrap();
    let path = write_pdf(directory.path(), &rendered.bytes);
    let text = mutool_text(&path);
    // With 2-byte codes MuPDF put U+FFFD between the letters.
    assert!(!text.contains('\u{FFFD}'), "{text}");
    let text = normalise(&text);
    assert!(text.contains(NAME), "{text}");
    assert!(text.contains(CERTIFICATE_ID), "{text}");
    assert!(
        text.contains("Final Certificate for COVID-19 Vaccination"),
        "{text}"
    );
}

#[test]
fn accented_names_extract_exactly() {
    let names = [
        "Begoña Ibáñez Muñoz",
        "Łukasz Wróbel-Żądło",
        "Erdős Pál Ödön",
        "Ștefan Țăranu",
        "Nguyễn Thị Ánh Tuyết",
    ];
    for name in names {
        let rendered = render_named(name);
        assert_eq!(rendered.uncovered_characters, 0, "{name}");
        assert_eq!(page_count(&rendered.bytes), 1, "{name}");
        assert!(
            rendered.bytes.len() <= 100 * 1024,
            "{name}: {} bytes",
            rendered.bytes.len()
        );
        let directory = tempfile::tempdir().unwrap();
        let path = write_pdf(directory.path(), &rendered.bytes);
        if tool_available("pdftotext", "poppler-utils") {
            let text = normalise(&pdftotext(&path));
            assert!(text.contains(name), "pdftotext lacks {name:?}:\n{text}");
        }
        if tool_available("mutool", "mupdf-tools") {
            let text = normalise(&mutool_text(&path));
            assert!(text.contains(name), "mutool lacks {name:?}:\n{text}");
        }
    }
}

#[test]
fn qr_decodes_from_rendered_page() {
    let rendered = render_named(NAME);
    if !tool_available("pdftoppm", "poppler-utils") {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let path = write_pdf(directory.path(), &rendered.bytes);
    let path = path.to_str().unwrap();
    let prefix = |name: &str| directory.path().join(name).to_str().unwrap().to_owned();

    // zbarimg reads the page rendered at 150 dpi by poppler and by MuPDF.
    if tool_available("zbarimg", "zbar-tools") {
        run(
            "pdftoppm",
            &["-r", "150", "-png", "-singlefile", path, &prefix("poppler")],
        );
        let mut pages = vec![directory.path().join("poppler.png")];
        if tool_available("mutool", "mupdf-tools") {
            let mupdf = prefix("mupdf.png");
            run("mutool", &["draw", "-q", "-r", "150", "-o", &mupdf, path]);
            pages.push(mupdf.into());
        }
        for page in pages {
            let payload = run(
                "zbarimg",
                &["--raw", "-q", "-Sbinary", page.to_str().unwrap()],
            );
            // zbarimg ends its output with a newline.
            let payload = payload.strip_suffix(b"\n").unwrap_or(&payload);
            assert_eq!(
                decode_payload(payload).unwrap(),
                CREDENTIAL.as_bytes(),
                "{}",
                page.display()
            );
        }
    }

    // rqrr reads the page at 300 dpi, because its finder misses modules of 2.5 pixels.
    run(
        "pdftoppm",
        &["-r", "300", "-gray", "-singlefile", path, &prefix("page")],
    );
    let (width, height, pixels) = read_pgm(&directory.path().join("page.pgm"));
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "rqrr found {} QR codes", grids.len());
    let mut payload = Vec::new();
    grids[0].decode_to(&mut payload).unwrap();
    assert_eq!(decode_payload(&payload).unwrap(), CREDENTIAL.as_bytes());
}

/// Reads a binary PGM (P5) file with 8-bit samples.
fn read_pgm(path: &Path) -> (usize, usize, Vec<u8>) {
    let data = std::fs::read(path).unwrap();
    let mut fields = Vec::new();
    let mut position = 0;
    while fields.len() < 4 {
        while data[position].is_ascii_whitespace() {
            position += 1;
        }
        let start = position;
        while !data[position].is_ascii_whitespace() {
            position += 1;
        }
        fields.push(String::from_utf8(data[start..position].to_vec()).unwrap());
    }
    assert_eq!(fields[0], "P5");
    assert_eq!(fields[3], "255");
    let width: usize = fields[1].parse().unwrap();
    let height: usize = fields[2].parse().unwrap();
    let pixels = data[position + 1..].to_vec();
    assert_eq!(pixels.len(), width * height);
    (width, height, pixels)
}

#[test]
fn qr_image_has_whole_pixels_and_no_smoothing() {
    let qr = qr_for(CREDENTIAL);
    let rendered = render_named(NAME);
    let document = lopdf::Document::load_mem(&rendered.bytes).unwrap();
    let page = *document.get_pages().values().next().unwrap();
    let images = document.get_page_images(page).unwrap();
    assert_eq!(images.len(), 1);
    let image = &images[0];
    let modules = i64::from(qr.size() + 8);
    assert_eq!(image.width % modules, 0);
    assert_eq!(image.width / modules, 4);
    assert_eq!(image.height, image.width);
    assert_eq!(image.bits_per_component, Some(1));
    let dictionary = &image.origin_dict;
    assert_eq!(
        dictionary.get(b"Interpolate").unwrap(),
        &lopdf::Object::Boolean(false)
    );
}

/// Reads the QR image stream back, undoing the PNG row tags by hand, and
/// compares every pixel with the symbol.
#[test]
fn qr_image_pixels_are_the_symbol_modules() {
    use std::io::Read as _;

    let qr = qr_for(CREDENTIAL);
    let rendered = render_named(NAME);
    let document = lopdf::Document::load_mem(&rendered.bytes).unwrap();
    let page = *document.get_pages().values().next().unwrap();
    let image = &document.get_page_images(page).unwrap()[0];
    let parameters = image
        .origin_dict
        .get(b"DecodeParms")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(parameters.get(b"Predictor").unwrap().as_i64().unwrap(), 15);
    assert_eq!(parameters.get(b"Colors").unwrap().as_i64().unwrap(), 1);
    assert_eq!(
        parameters
            .get(b"BitsPerComponent")
            .unwrap()
            .as_i64()
            .unwrap(),
        1
    );
    let side = usize::try_from(image.width).unwrap();
    assert_eq!(
        parameters.get(b"Columns").unwrap().as_i64().unwrap(),
        image.width
    );

    let mut tagged = Vec::new();
    flate2::read::ZlibDecoder::new(image.content)
        .read_to_end(&mut tagged)
        .unwrap();
    let row_bytes = side.div_ceil(8);
    assert_eq!(tagged.len(), side * (row_bytes + 1));
    let mut previous = vec![0u8; row_bytes];
    let mut rows = Vec::new();
    for chunk in tagged.chunks(row_bytes + 1) {
        let row: Vec<u8> = match chunk[0] {
            0 => chunk[1..].to_vec(),
            2 => chunk[1..]
                .iter()
                .zip(&previous)
                .map(|(byte, above)| byte.wrapping_add(*above))
                .collect(),
            tag => panic!("unexpected PNG row tag {tag}"),
        };
        previous.clone_from(&row);
        rows.push(row);
    }

    let quiet = 4;
    let mut mismatches = 0;
    for (y, row) in rows.iter().enumerate() {
        for x in 0..side {
            let white = row[x / 8] & (0x80 >> (x % 8)) != 0;
            let module_x = i32::try_from(x / 4).unwrap() - quiet;
            let module_y = i32::try_from(y / 4).unwrap() - quiet;
            if white == qr.is_dark(module_x, module_y) {
                mismatches += 1;
            }
        }
    }
    assert_eq!(mismatches, 0);
    // The symbol has dark modules, so the check above can fail.
    assert!(qr.is_dark(0, 0));
}

#[test]
fn renders_are_byte_identical() {
    let first = render_named(NAME);
    let second = render_named(NAME);
    assert!(
        first.bytes == second.bytes,
        "two renders of the same input differ"
    );

    let mut credential = credential();
    credential.credential_subject.name = Some(NAME.to_owned());
    let qr = qr_for(CREDENTIAL);
    let input = CertificateInput {
        certificate_id: CERTIFICATE_ID,
        credential: &credential,
        doses: &[],
        qr: &qr,
        updated_at: None,
    };
    let renderer = renderer();
    let undated = renderer.render(&input).unwrap();
    assert_eq!(undated, renderer.render(&input).unwrap());
    let document = lopdf::Document::load_mem(&undated).unwrap();
    let info_id = document
        .trailer
        .get(b"Info")
        .unwrap()
        .as_reference()
        .unwrap();
    let info = document.get_dictionary(info_id).unwrap();
    assert_eq!(
        info.get(b"CreationDate").unwrap().as_str().unwrap(),
        b"D:19700101000000Z"
    );
    let id = document.trailer.get(b"ID").unwrap().as_array().unwrap();
    assert_eq!(id.len(), 2);
    assert_eq!(id[0].as_str().unwrap().len(), 16);
}

#[test]
fn devanagari_without_fonts_renders_boxes() {
    let name = "सुरेश कुमार";
    let settings = PdfSettings {
        time_zone: "Asia/Kolkata".parse().unwrap(),
        font_files: Vec::new(),
        ..PdfSettings::default()
    };
    let renderer = PdfRenderer::new(settings).unwrap();
    assert!(renderer.script_fonts().is_empty());
    let mut credential = credential();
    credential.credential_subject.name = Some(name.to_owned());
    let doses = [&credential.evidence[0]];
    let input = CertificateInput {
        certificate_id: CERTIFICATE_ID,
        credential: &credential,
        doses: &doses,
        qr: &qr_for(CREDENTIAL),
        updated_at: Some(updated_at()),
    };
    let rendered = renderer.render_with_report(&input).unwrap();
    // One box per character: the Liberation Sans `.notdef` glyph.
    assert_eq!(
        rendered.uncovered_characters,
        name.chars().filter(|c| *c != ' ').count()
    );
    assert_eq!(page_count(&rendered.bytes), 1);
    assert!(
        rendered.bytes.len() <= 100 * 1024,
        "{} bytes",
        rendered.bytes.len()
    );
    if tool_available("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let path = write_pdf(directory.path(), &rendered.bytes);
        // The boxes keep their characters in the text layer.
        let text = normalise(&pdftotext(&path));
        assert!(text.contains(name), "{text}");
        assert!(text.contains(CERTIFICATE_ID), "{text}");
    }
}

#[test]
fn sparse_credential_renders() {
    let text = r#"{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"dose":1}]}"#;
    let credential = VaccinationCredential::parse("100000001", text).unwrap();
    let qr = qr_for(text);
    let input = CertificateInput {
        certificate_id: "100000001",
        credential: &credential,
        doses: &[&credential.evidence[0]],
        qr: &qr,
        updated_at: None,
    };
    let pdf = PdfRenderer::new(PdfSettings::default())
        .unwrap()
        .render(&input)
        .unwrap();
    assert_eq!(page_count(&pdf), 1);
    if tool_available("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let text = normalise(&pdftotext(&write_pdf(directory.path(), &pdf)));
        assert!(
            text.contains("Certificate for COVID-19 Vaccination (Dose 1)"),
            "{text}"
        );
        assert!(text.contains("Beneficiary Name Asha Rao"), "{text}");
        assert!(text.contains("Dose Type Dose 1"), "{text}");
        assert!(!text.contains("Issued by"), "{text}");
    }
}

#[test]
fn empty_credential_renders() {
    let text = r#"{"credentialSubject":{}}"#;
    let credential = VaccinationCredential::parse("100000002", text).unwrap();
    let qr = qr_for(text);
    let input = CertificateInput {
        certificate_id: "100000002",
        credential: &credential,
        doses: &[],
        qr: &qr,
        updated_at: None,
    };
    let pdf = PdfRenderer::new(PdfSettings::default())
        .unwrap()
        .render(&input)
        .unwrap();
    assert_eq!(page_count(&pdf), 1);
}

/// Builds a name of exactly 200 characters, in words.
fn long_name() -> String {
    let words = [
        "Venkata",
        "Lakshmi",
        "Narasimha",
        "Satyanarayana",
        "Subrahmanya",
        "Sri",
        "Krishna",
        "Chaitanya",
    ];
    let mut name = String::new();
    for word in words.iter().cycle() {
        let next = if name.is_empty() {
            (*word).to_owned()
        } else {
            format!("{name} {word}")
        };
        if next.chars().count() > 200 {
            break;
        }
        name = next;
    }
    while name.chars().count() < 200 {
        name.push('a');
    }
    name
}

#[test]
fn long_name_wraps_on_one_page() {
    let name = long_name();
    assert_eq!(name.chars().count(), 200);
    let rendered = render_named(&name);
    assert_eq!(page_count(&rendered.bytes), 1);
    if tool_available("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let text = normalise(&pdftotext(&write_pdf(directory.path(), &rendered.bytes)));
        assert!(
            text.contains(&name),
            "the name is not printed in full:\n{text}"
        );
    }
}

/// Builds a credential, doses and settings with every value at its longest.
fn longest_input() -> (VaccinationCredential, Vec<Evidence>, PdfSettings) {
    let long = "Primary Health Centre of the Greater Municipal Corporation, Ward Number 118, Block C, \
                Opposite the Old Railway Goods Shed and the Regional Transport Office";
    let mut credential = credential();
    let subject = &mut credential.credential_subject;
    subject.name = Some(long_name());
    if let Some(address) = subject.address.as_mut() {
        address.street_address = Some(format!("{long} {long}"));
    }
    subject.gender = Some(long.to_owned());
    subject.ref_id = Some(long.to_owned());

    let evidence = &mut credential.evidence[0];
    evidence.vaccine = Some(long.to_owned());
    evidence.manufacturer = Some(long.to_owned());
    evidence.batch = Some(long.to_owned());
    evidence.verifier = Some(divoc_model::Verifier {
        name: Some(long.to_owned()),
    });
    evidence.dose = Some(14);

    let doses = (1..=14)
        .rev()
        .map(|dose| Evidence {
            dose: Some(dose),
            ..credential.evidence[0].clone()
        })
        .collect();

    let settings = PdfSettings {
        issuer_name: Some(long.to_owned()),
        ..PdfSettings::default()
    };
    (credential, doses, settings)
}

fn render_longest(settings: PdfSettings) -> Vec<u8> {
    let (credential, doses, _) = longest_input();
    let dose_refs: Vec<&Evidence> = doses.iter().collect();
    let qr = qr_for(CREDENTIAL);
    let input = CertificateInput {
        certificate_id: CERTIFICATE_ID,
        credential: &credential,
        doses: &dose_refs,
        qr: &qr,
        updated_at: None,
    };
    PdfRenderer::new(settings).unwrap().render(&input).unwrap()
}

#[test]
fn longest_values_stay_on_one_page() {
    let (_, _, settings) = longest_input();
    let pdf = render_longest(settings);
    assert_eq!(page_count(&pdf), 1);
    if tool_available("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let text = normalise(&pdftotext(&write_pdf(directory.path(), &pdf)));
        // The normal layout lists eight of the fourteen doses.
        assert!(text.contains("6 earlier doses are not listed."), "{text}");
        assert!(text.contains("Booster Dose 5"), "{text}");
        assert!(!text.contains("Booster Dose 4"), "{text}");
    }
}

#[test]
fn overflow_falls_back_to_compact_layout() {
    let (_, _, mut settings) = longest_input();
    // Labels that wrap make every row two lines high: too much for one page.
    let labels = &mut settings.labels;
    for label in [
        &mut labels.name,
        &mut labels.age,
        &mut labels.gender,
        &mut labels.identity,
        &mut labels.beneficiary_id,
        &mut labels.address,
        &mut labels.vaccine,
        &mut labels.vaccine_type,
        &mut labels.manufacturer,
        &mut labels.dose,
        &mut labels.vaccination_date,
        &mut labels.batch,
        &mut labels.vaccinated_by,
        &mut labels.vaccinated_at,
        &mut labels.valid_from,
        &mut labels.valid_until,
    ] {
        label.push_str(" as recorded by the vaccination centre");
    }
    labels.footer = vec![labels.footer[0].repeat(3); 3];
    let pdf = render_longest(settings);
    assert_eq!(page_count(&pdf), 1);
    if tool_available("pdftotext", "poppler-utils") {
        let directory = tempfile::tempdir().unwrap();
        let text = normalise(&pdftotext(&write_pdf(directory.path(), &pdf)));
        // The compact layout lists six doses.
        assert!(text.contains("8 earlier doses are not listed."), "{text}");
    }
}

#[test]
fn settings_load_from_partial_json() {
    let settings: PdfSettings = serde_json::from_str(
        r#"{"time_zone": "Asia/Kolkata", "program_name": "Measles", "labels": {"title_final": "Certificate of {program} Immunisation"}}"#,
    )
    .unwrap();
    assert_eq!(settings.time_zone.name(), "Asia/Kolkata");
    assert_eq!(
        settings.labels.title_final,
        "Certificate of {program} Immunisation"
    );
    assert_eq!(
        settings.labels.title_provisional,
        "Provisional Certificate for {program} Vaccination"
    );
    assert_eq!(settings.qr_min_width_mm, 35.0);

    let error = serde_json::from_str::<PdfSettings>(r#"{"time_zone": "India/Delhi"}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unknown time zone \"India/Delhi\""),
        "{error}"
    );

    let settings = PdfSettings {
        labels: divoc_pdf::Labels {
            months: vec!["Jan".to_owned()],
            ..divoc_pdf::Labels::default()
        },
        ..PdfSettings::default()
    };
    let error = PdfRenderer::new(settings).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid PDF settings: `labels.months` must list 12 month names, found 1"
    );

    let settings = PdfSettings {
        qr_module_mm: 0.3,
        ..PdfSettings::default()
    };
    let error = PdfRenderer::new(settings).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid PDF settings: `qr_module_mm` must be between 0.43 and 0.48 mm, found 0.3"
    );
}

#[test]
fn renderer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PdfRenderer>();
    assert_send_sync::<divoc_pdf::PdfError>();
}

//! Building the QR symbol from a certificate.

use std::fmt;

use qrcodegen::{DataTooLong, Mask, QrCode, QrCodeEcc, QrSegment, Version};

use crate::error::QrError;
use crate::payload::{PayloadForm, encode_payload};

/// Mask used by [`MaskSelection::default`].
///
/// Any of the eight masks is valid and decoders read the mask number from
/// the symbol, but masks differ in how well low-resolution images read.
/// `examples/mask_survey.rs` rendered 160 variants of the 2 KB test
/// certificate in the expanded form with each mask. At 1.6 pixels per
/// module (area-averaged), zbarimg 0.23.92 read none of the mask 0 and
/// mask 1 symbols and 132 to 146 of the others. Mask 2 (every third column
/// inverted) was the most consistent: zbarimg read 139 of its symbols at
/// 1.6 pixels per module and rqrr 0.11 read 140 at 1 pixel per module, the
/// highest rqrr count of all masks.
pub const DEFAULT_MASK: u8 = 2;

/// Number of modules of light margin around the symbol in every rendering.
pub const QUIET_ZONE_MODULES: u32 = 4;

/// QR error correction level, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ErrorCorrection {
    /// Level L: about 7 % of the codewords can be restored.
    Low,
    /// Level M: about 15 % of the codewords can be restored.
    #[default]
    Medium,
    /// Level Q: about 25 % of the codewords can be restored.
    Quartile,
    /// Level H: about 30 % of the codewords can be restored.
    High,
}

impl ErrorCorrection {
    /// Returns the next lower level, or `None` for [`ErrorCorrection::Low`].
    fn lower(self) -> Option<Self> {
        match self {
            Self::Low => None,
            Self::Medium => Some(Self::Low),
            Self::Quartile => Some(Self::Medium),
            Self::High => Some(Self::Quartile),
        }
    }

    fn to_qrcodegen(self) -> QrCodeEcc {
        match self {
            Self::Low => QrCodeEcc::Low,
            Self::Medium => QrCodeEcc::Medium,
            Self::Quartile => QrCodeEcc::Quartile,
            Self::High => QrCodeEcc::High,
        }
    }

    fn from_qrcodegen(level: QrCodeEcc) -> Self {
        match level {
            QrCodeEcc::Low => Self::Low,
            QrCodeEcc::Medium => Self::Medium,
            QrCodeEcc::Quartile => Self::Quartile,
            QrCodeEcc::High => Self::High,
        }
    }

    /// Maximum byte-mode payload of a version 40 symbol at this level.
    ///
    /// Each value is the number of data codewords of version 40 at this level
    /// (2956, 2334, 1666 and 1276) minus the 20-bit byte-mode header, rounded
    /// down to whole bytes.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{ErrorCorrection, PayloadForm, QrError, check_qr_capacity};
    ///
    /// assert_eq!(ErrorCorrection::Medium.max_payload_bytes(), 2331);
    /// // Certificates that do not fit at level L fit in no QR code.
    /// let capacity = ErrorCorrection::Low.max_payload_bytes();
    /// let payload_bytes = check_qr_capacity(br#"{"credentialSubject":{}}"#, PayloadForm::Raw)?;
    /// assert!(payload_bytes <= capacity);
    /// # Ok::<(), QrError>(())
    /// ```
    pub const fn max_payload_bytes(self) -> usize {
        match self {
            Self::Low => 2953,
            Self::Medium => 2331,
            Self::Quartile => 1663,
            Self::High => 1273,
        }
    }
}

/// Strategy for choosing the mask pattern of the symbol.
///
/// qrcodegen 1.8's automatic selection draws all eight masks and scores
/// each by the penalty rules of the QR standard. For the 2 KB test
/// certificate, building the symbol took about 4.5 ms that way against
/// 0.22 ms with one fixed mask (`benches/qr.rs`, release build, 2-core Xeon
/// virtual machine). The default is therefore the fixed [`DEFAULT_MASK`],
/// which keeps building a QR PNG near half a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskSelection {
    /// Use this mask number (0 to 7).
    Fixed(u8),
    /// Score all eight masks by the penalty rules of the QR standard and use
    /// the lowest score.
    ///
    /// NOTE: for expanded-form certificates the penalty rules mostly pick
    /// mask 0 (107 of the 160 variants in `examples/mask_survey.rs`). In that
    /// survey zbarimg read no mask 0 symbol at 1.6 pixels per module, so this
    /// choice is less robust for low-resolution scans than the default.
    Automatic,
}

impl Default for MaskSelection {
    fn default() -> Self {
        Self::Fixed(DEFAULT_MASK)
    }
}

/// Options for [`CertificateQr::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QrOptions {
    /// Payload form. Default: [`PayloadForm::DivocExpanded`].
    pub form: PayloadForm,
    /// Preferred error correction level. Default: [`ErrorCorrection::Medium`].
    ///
    /// The smallest version that fits the payload at this level is used. If
    /// even version 40 cannot, each lower level is tried in turn, down to
    /// [`ErrorCorrection::Low`].
    pub min_error_correction: ErrorCorrection,
    /// Whether the level is raised above the one used while the payload
    /// still fits the same version, which costs no symbol size. Default: `true`.
    pub boost_error_correction: bool,
    /// Mask strategy. Default: [`MaskSelection::Fixed`] with [`DEFAULT_MASK`].
    pub mask: MaskSelection,
}

impl Default for QrOptions {
    fn default() -> Self {
        Self {
            form: PayloadForm::DivocExpanded,
            min_error_correction: ErrorCorrection::Medium,
            boost_error_correction: true,
            mask: MaskSelection::default(),
        }
    }
}

/// The QR symbol of one certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateQr {
    code: QrCode,
    form: PayloadForm,
    payload_len: usize,
}

impl CertificateQr {
    /// Builds the QR symbol for a certificate.
    ///
    /// The certificate is zipped and converted by [`encode_payload`], then
    /// written as one byte-mode segment without ECI header in the smallest
    /// version that fits, at the error correction level described in
    /// [`QrOptions::min_error_correction`].
    ///
    /// # Errors
    ///
    /// [`QrError::InvalidMask`] for a fixed mask above 7,
    /// [`QrError::PayloadTooLarge`] if the payload does not fit at any level
    /// tried, and the errors of [`crate::zip_certificate`].
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, ErrorCorrection, MaskSelection, QrError, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    /// assert_eq!(qr.version(), 10);
    ///
    /// // A higher minimum level needs a larger version for the same payload.
    /// let high = QrOptions {
    ///     min_error_correction: ErrorCorrection::High,
    ///     ..QrOptions::default()
    /// };
    /// let qr = CertificateQr::new(certificate, &high)?;
    /// assert_eq!(qr.version(), 14);
    /// assert_eq!(qr.error_correction(), ErrorCorrection::High);
    ///
    /// let bad_mask = QrOptions {
    ///     mask: MaskSelection::Fixed(8),
    ///     ..QrOptions::default()
    /// };
    /// assert!(matches!(
    ///     CertificateQr::new(certificate, &bad_mask),
    ///     Err(QrError::InvalidMask(8))
    /// ));
    /// # Ok::<(), QrError>(())
    /// ```
    pub fn new(certificate: &[u8], options: &QrOptions) -> Result<Self, QrError> {
        // Reject an invalid mask before spending time on the zip.
        if let MaskSelection::Fixed(number @ 8..) = options.mask {
            return Err(QrError::InvalidMask(number));
        }
        let payload = encode_payload(certificate, options.form)?;
        Self::from_payload(&payload, options)
    }

    /// Builds the QR symbol from payload bytes that are already in their
    /// final form, for example the output of [`encode_payload`].
    ///
    /// The bytes go into the byte-mode segment unchanged. `options.form` is
    /// only recorded and reported in errors, and the other options apply as
    /// in [`CertificateQr::new`].
    ///
    /// # Errors
    ///
    /// [`QrError::InvalidMask`] for a fixed mask above 7 and
    /// [`QrError::PayloadTooLarge`] if the payload does not fit at any level
    /// tried.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, PayloadForm, QrOptions, encode_payload};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let raw = QrOptions {
    ///     form: PayloadForm::Raw,
    ///     ..QrOptions::default()
    /// };
    /// let payload = encode_payload(certificate, PayloadForm::Raw)?;
    /// let qr = CertificateQr::from_payload(&payload, &raw)?;
    /// assert_eq!(qr, CertificateQr::new(certificate, &raw)?);
    /// assert_eq!(qr.payload_len(), payload.len());
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn from_payload(payload: &[u8], options: &QrOptions) -> Result<Self, QrError> {
        let mask = match options.mask {
            MaskSelection::Fixed(number) if number <= 7 => Some(Mask::new(number)),
            MaskSelection::Fixed(number) => return Err(QrError::InvalidMask(number)),
            MaskSelection::Automatic => None,
        };
        let code = encode_symbol(payload, options, mask)?;
        Ok(Self {
            code,
            form: options.form,
            payload_len: payload.len(),
        })
    }

    /// Returns the number of modules per side, without quiet zone (21 to 177).
    ///
    /// # Example
    ///
    /// The symbol's parameters, as [`CertificateQr::new`] chose them:
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, ErrorCorrection, PayloadForm, QrOptions, encode_payload};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    ///
    /// assert_eq!(qr.version(), 10);
    /// // Version v has 4 * v + 17 modules per side.
    /// assert_eq!(qr.size(), 57);
    /// assert_eq!(qr.error_correction(), ErrorCorrection::Medium);
    /// assert_eq!(qr.mask(), 2);
    /// assert_eq!(qr.payload_form(), PayloadForm::DivocExpanded);
    /// let payload = encode_payload(certificate, PayloadForm::DivocExpanded)?;
    /// assert_eq!(qr.payload_len(), payload.len());
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn size(&self) -> u32 {
        self.code.size().unsigned_abs()
    }

    /// Returns whether the module at column `x`, row `y` is dark.
    ///
    /// The origin is the top-left module of the symbol. Coordinates outside
    /// the symbol, such as the quiet zone, are light.
    ///
    /// # Example
    ///
    /// ```
    /// use divoc_qr::{CertificateQr, QrOptions};
    ///
    /// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
    /// let qr = CertificateQr::new(certificate, &QrOptions::default())?;
    ///
    /// // The top-left finder pattern: a dark 7 × 7 ring, then a light separator.
    /// assert!(qr.is_dark(0, 0));
    /// assert!(qr.is_dark(6, 6));
    /// assert!(!qr.is_dark(7, 0));
    /// // The quiet zone around the symbol.
    /// assert!(!qr.is_dark(-1, -1));
    /// # Ok::<(), divoc_qr::QrError>(())
    /// ```
    pub fn is_dark(&self, x: i32, y: i32) -> bool {
        self.code.get_module(x, y)
    }

    /// Returns the QR version (1 to 40).
    ///
    /// See the example of [`CertificateQr::size`].
    pub fn version(&self) -> u8 {
        self.code.version().value()
    }

    /// Returns the error correction level of the symbol.
    ///
    /// See the example of [`CertificateQr::size`].
    pub fn error_correction(&self) -> ErrorCorrection {
        ErrorCorrection::from_qrcodegen(self.code.error_correction_level())
    }

    /// Returns the mask number of the symbol (0 to 7).
    ///
    /// See the example of [`CertificateQr::size`].
    pub fn mask(&self) -> u8 {
        self.code.mask().value()
    }

    /// Returns the payload form the symbol was built with.
    ///
    /// See the example of [`CertificateQr::size`].
    pub fn payload_form(&self) -> PayloadForm {
        self.form
    }

    /// Returns the number of payload bytes in the symbol's byte-mode segment.
    ///
    /// See the example of [`CertificateQr::size`].
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }
}

/// Checks that a certificate fits in a QR code in `form`, without building
/// the symbol, and returns the size of its payload in bytes.
///
/// It zips and converts the certificate as [`CertificateQr::new`] does, but
/// skips the error correction and the mask, which cost most of a build. A
/// payload fits when it is at most [`ErrorCorrection::max_payload_bytes`] of
/// [`ErrorCorrection::Low`], the last level that [`CertificateQr::new`]
/// tries, so every certificate that passes builds with any [`QrOptions`] of
/// the same form and a valid mask.
///
/// # Errors
///
/// [`QrError::PayloadTooLarge`] with both sizes when the payload does not
/// fit, and the errors of [`crate::zip_certificate`].
///
/// # Example
///
/// ```
/// use divoc_qr::{PayloadForm, QrError, check_qr_capacity, encode_payload};
///
/// let certificate = br#"{"credentialSubject":{"name":"Asha Rao"}}"#;
/// let payload = encode_payload(certificate, PayloadForm::Raw)?;
/// assert_eq!(check_qr_capacity(certificate, PayloadForm::Raw)?, payload.len());
///
/// // 6000 pseudo-random letters, which DEFLATE cannot shrink below the capacity.
/// let mut state: u32 = 1;
/// let letters: String = (0..6000)
///     .map(|_| {
///         state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
///         char::from(b'a' + ((state >> 16) % 26) as u8)
///     })
///     .collect();
/// let large = format!(r#"{{"x":"{letters}"}}"#);
/// assert!(matches!(
///     check_qr_capacity(large.as_bytes(), PayloadForm::Raw),
///     Err(QrError::PayloadTooLarge { capacity_bytes: 2953, .. })
/// ));
/// # Ok::<(), QrError>(())
/// ```
pub fn check_qr_capacity(certificate: &[u8], form: PayloadForm) -> Result<usize, QrError> {
    let payload_bytes = encode_payload(certificate, form)?.len();
    let capacity_bytes = ErrorCorrection::Low.max_payload_bytes();
    if payload_bytes > capacity_bytes {
        return Err(QrError::PayloadTooLarge {
            payload_bytes,
            capacity_bytes,
            form,
        });
    }
    Ok(payload_bytes)
}

impl fmt::Debug for CertificateQr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CertificateQr")
            .field("version", &self.version())
            .field("size", &self.size())
            .field("error_correction", &self.error_correction())
            .field("mask", &self.mask())
            .field("form", &self.form)
            .field("payload_len", &self.payload_len)
            .finish()
    }
}

/// Encodes the payload at the preferred level, falling back to lower levels.
fn encode_symbol(
    payload: &[u8],
    options: &QrOptions,
    mask: Option<Mask>,
) -> Result<QrCode, QrError> {
    let segments = [QrSegment::make_bytes(payload)];
    let mut level = options.min_error_correction;
    loop {
        let result = QrCode::encode_segments_advanced(
            &segments,
            level.to_qrcodegen(),
            Version::MIN,
            Version::MAX,
            mask,
            options.boost_error_correction,
        );
        match result {
            Ok(code) => return Ok(code),
            Err(DataTooLong::SegmentTooLong | DataTooLong::DataOverCapacity(..)) => {}
        }
        match level.lower() {
            Some(lower) => level = lower,
            None => {
                return Err(QrError::PayloadTooLarge {
                    payload_bytes: payload.len(),
                    capacity_bytes: level.max_payload_bytes(),
                    form: options.form,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Returns `length` bytes of JSON text that DEFLATE barely compresses.
    fn incompressible_certificate(length: usize) -> Vec<u8> {
        let mut state: u32 = 12345;
        let mut text = b"{\"x\":\"".to_vec();
        while text.len() < length - 2 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            text.push(b'a' + ((state >> 16) % 26) as u8);
        }
        text.extend_from_slice(b"\"}");
        text
    }

    #[test]
    fn capacity_check_agrees_with_build() {
        let mut fits = 0;
        for form in [PayloadForm::DivocExpanded, PayloadForm::Raw] {
            for length in (1_000..4_000).step_by(50) {
                let certificate = incompressible_certificate(length);
                let options = QrOptions {
                    form,
                    ..QrOptions::default()
                };
                let built = CertificateQr::new(&certificate, &options);
                match check_qr_capacity(&certificate, form) {
                    Ok(payload_bytes) => {
                        fits += 1;
                        assert_eq!(built.unwrap().payload_len(), payload_bytes, "{length}");
                    }
                    Err(QrError::PayloadTooLarge {
                        payload_bytes,
                        capacity_bytes,
                        form: error_form,
                    }) => {
                        assert_eq!(capacity_bytes, 2953);
                        assert_eq!(error_form, form);
                        assert_eq!(
                            encode_payload(&certificate, form).unwrap().len(),
                            payload_bytes
                        );
                        assert!(
                            matches!(built, Err(QrError::PayloadTooLarge { .. })),
                            "{length}: {built:?}"
                        );
                    }
                    Err(other) => panic!("{length}: {other}"),
                }
            }
        }
        // Both sides of the limit are reached in both forms.
        assert!(fits > 0, "no certificate fits");
        assert!(fits < 120, "every certificate fits");
    }
}

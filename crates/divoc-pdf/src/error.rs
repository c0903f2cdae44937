//! The error type of this crate.

/// Errors from building a [`crate::PdfRenderer`] or rendering a certificate.
///
/// Render errors name the certificate. No variant carries personal data such as
/// the beneficiary's name, so the messages are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A value in [`crate::PdfSettings`] is invalid.
    #[error("invalid PDF settings: `{field}` {reason}")]
    InvalidSettings {
        /// Settings field, such as `labels.months`.
        field: String,
        /// The problem with the value.
        reason: String,
    },
    /// A font could not be read. For a bundled font this is a packaging error,
    /// not a data error.
    #[error("font {font} could not be read: {reason}")]
    Font {
        /// File name or path of the font.
        font: String,
        /// What failed.
        reason: String,
    },
    /// genpdf failed to lay out or write the page.
    #[error("certificate {certificate_id}: laying out the PDF failed: {reason}")]
    Layout {
        /// The certificate being rendered.
        certificate_id: String,
        /// genpdf's message.
        reason: String,
    },
    /// The content did not fit on one A4 page.
    #[error(
        "certificate {certificate_id}: the content needs {pages} pages, but a certificate must fit on one"
    )]
    PageOverflow {
        /// The certificate being rendered.
        certificate_id: String,
        /// Number of pages genpdf produced.
        pages: usize,
    },
    /// The lopdf pass that finishes the file failed.
    #[error("certificate {certificate_id}: finishing the PDF failed: {reason}")]
    Finish {
        /// The certificate being rendered.
        certificate_id: String,
        /// What failed.
        reason: String,
    },
}

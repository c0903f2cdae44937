//! The caller of a request, as established from a verified token.

/// The caller of a request, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub` claim, if any. Stored in the audit trail, never logged.
    pub subject: Option<String>,
    /// The token has a distribution role: lookups by beneficiary id for anyone.
    pub distribution: bool,
    /// The token has a print role: facility search and printing for anyone.
    pub print: bool,
    /// The citizen's mobile number (`preferred_username` or `Phone`), read only
    /// when the token has neither role.
    pub mobile: Option<String>,
}

/// Access a request was granted, as written to the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Distribution role.
    Distribution,
    /// Print role.
    Print,
    /// A citizen reaching their own certificates.
    Citizen,
}

impl Access {
    /// Name stored in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Distribution => "distribution",
            Access::Print => "print",
            Access::Citizen => "citizen",
        }
    }
}

impl Principal {
    /// Returns true when the token has neither a distribution nor a print role.
    #[allow(dead_code, reason = "used by the citizen routes")]
    pub fn is_citizen(&self) -> bool {
        !self.distribution && !self.print
    }
}

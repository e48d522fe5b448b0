//! Diagnostics: errors and warnings that name the file, the resource and the field.
//! Imports nothing of the crate.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The config is still valid; something is odd or ignored.
    Warning,
    /// The config cannot be used.
    Error,
}

/// One finding about the configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the resource came from.
    pub file: Option<PathBuf>,
    /// `Kind namespace/name`, e.g. `VirtualService challengeistio/backend-vs`.
    pub resource: Option<String>,
    /// Field path inside the resource, e.g. `spec.http[1].route[0].destination.subset`.
    pub field: Option<String>,
    /// What is wrong and, where possible, what to do.
    pub message: String,
    /// The `istioctl analyze` code of a finding about how resources refer to each other
    /// (`IST0101`: a referenced host or subset not found), where Istio has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl Diagnostic {
    /// An error with a message only; add context with the builder methods.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: None,
            resource: None,
            field: None,
            message: message.into(),
            code: None,
        }
    }

    /// A warning with a message only.
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    /// Sets the file.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Sets the resource.
    pub fn in_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sets the field path.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Sets the `istioctl analyze` code.
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => f.write_str("error: ")?,
            Severity::Warning => f.write_str("warning: ")?,
        }
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(resource) = &self.resource {
            write!(f, "{resource}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        if let Some(code) = self.code {
            write!(f, "{code} ")?;
        }
        f.write_str(&self.message)
    }
}

/// Collects diagnostics for one resource, so each call site names only the field.
pub struct Reporter<'a> {
    out: &'a mut Vec<Diagnostic>,
    file: PathBuf,
    resource: String,
}

impl<'a> Reporter<'a> {
    /// Reports into `out` for `resource` read from `file`.
    pub fn new(out: &'a mut Vec<Diagnostic>, file: PathBuf, resource: String) -> Self {
        Self {
            out,
            file,
            resource,
        }
    }

    /// Records an error at `field`.
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push(Diagnostic::error(message), field.into());
    }

    /// Records a warning at `field`.
    pub fn warning(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push(Diagnostic::warning(message), field.into());
    }

    /// Records a finding `istioctl analyze` reports under `code`, as an error at `field`.
    pub fn error_coded(
        &mut self,
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Diagnostic::error(message).coded(code), field.into());
    }

    /// Records a finding `istioctl analyze` reports under `code`, as a warning at `field`.
    pub fn warning_coded(
        &mut self,
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Diagnostic::warning(message).coded(code), field.into());
    }

    /// Records `d` as found (it may name another resource), unless the same finding is
    /// already recorded.
    pub fn forward(&mut self, d: Diagnostic) {
        if !self.out.contains(&d) {
            self.out.push(d);
        }
    }

    fn push(&mut self, d: Diagnostic, field: String) {
        self.out.push(
            d.in_file(self.file.clone())
                .in_resource(self.resource.clone())
                .at(field),
        );
    }
}

//! Configuration as written: Istio's own YAML resources, read from files and folders.
//!
//! - [`wire`]: serde types shaped like Istio's `networking.istio.io` resources;
//! - [`resources`]: the typed resources read ([`ConfigSet`]) and duplicate names;
//! - [`files`]: files, folders, multi-document YAML, kinds, syntax errors;
//! - [`diag`]: errors and warnings naming file, resource and field.
//!
//! The bottom layer: imports nothing of the crate. `model` checks what the resources mean.

pub mod diag;
pub mod files;
mod precheck;
pub mod resources;
pub mod wire;

pub use diag::{Diagnostic, Severity};
pub use files::{list_files, parse_into, parse_object, read_files};
pub use resources::{ConfigSet, Kind, Resource, ResourceId, Skipped, check_duplicates};

//! Configuration as written: Istio's own YAML resources, read from files and folders.
//!
//! - [`wire`]: serde types shaped like Istio's `networking.istio.io` resources;
//! - [`load`]: files, folders, multi-document YAML, kinds, syntax errors, duplicates;
//! - [`diag`]: errors and warnings naming file, resource and field.

pub mod diag;
pub mod load;
pub mod wire;

pub use diag::{Diagnostic, Severity};
pub use load::{ConfigSet, Kind, Resource, ResourceId, load};

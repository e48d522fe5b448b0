//! Tools around the product, not the product: the narrated [`demo`], the loop-mode load
//! generator ([`loadgen`], `shadowmesh load`) and the [`sample`] services (calc v1/v2/v3,
//! greeter, echo) the demo and the tests run behind the proxy.
//!
//! Tools may use the library (they start the real proxy through [`crate::app`]); the proxy's
//! modules never import them.

pub mod demo;
pub mod loadgen;
pub mod sample;

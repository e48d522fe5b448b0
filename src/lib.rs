//! shadowmesh: an Istio-compatible HTTP proxy that routes and **mirrors** live traffic to a new
//! service version, and compares the answers, so a new version can be tested with real requests
//! before any user sees it.
//!
//! Data flows one way: [`config`] (Istio YAML) -> [`model`] (checked, compiled snapshot) ->
//! [`route`] (pure decision per request) -> [`proxy`] (forwarding, [`upstream`] pools,
//! [`mirror`] copies) -> [`telemetry`] (access log). [`admin`] serves the control endpoints and
//! [`reload`] keeps the snapshot current.

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(clippy::too_many_lines)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod compare;
pub mod config;
pub mod kubernetes;
pub mod model;
pub mod proxy;
pub mod reload;
pub mod route;
pub mod telemetry;
pub mod tools;
pub mod upstream;

#[cfg(test)]
mod architecture_tests;

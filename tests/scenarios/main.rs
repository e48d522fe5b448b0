//! Scenario tests: real backends, the real proxy, real sockets on loopback. Each file is one
//! user story; `support/` holds the builders they share.

#![warn(clippy::too_many_lines)]

mod support;

mod bodies;
mod cli;
mod client_http1;
mod client_http1_edges;
mod compare;
mod compare_semantics;
mod consistent_hash;
mod cors;
mod delegate;
mod demo;
mod errors;
mod exhaustion;
mod fault;
mod grpc;
mod hostile;
mod hostile_config;
mod hostile_mirror;
mod istio_routing;
mod istio_vs_cases;
mod kubernetes;
mod kubernetes_deploy;
mod method_policy;
mod mirror_failures;
mod prometheus;
mod reload;
mod report_gate;
mod retries;
mod seeds;
mod soak;
mod statistics;
mod tls;
mod web;
mod websocket;

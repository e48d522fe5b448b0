//! Scenario tests: real backends, the real proxy, real sockets on loopback.

mod support;

mod bodies;
mod cli;
mod errors;
mod mirror_failures;
mod prometheus;
mod reload;
mod seeds;
mod statistics;

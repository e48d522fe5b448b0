//! Scenario tests: real backends, the real proxy, real sockets on loopback.

mod support;

mod bodies;
mod cli;
mod compare;
mod demo;
mod errors;
mod mirror_failures;
mod prometheus;
mod reload;
mod seeds;
mod statistics;
mod web;

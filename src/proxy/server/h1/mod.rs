//! The project's HTTP/1.1 server: a client connection's requests read, handed to the service
//! and answered, by the connection's own task, through a pure codec (`head`: the request head;
//! `answer`: the response head and its framing) and a write queue (`out`).
//!
//! Why not hyper's server: it was about a third of a proxied request's instructions (its
//! dispatcher and state machine, a header-timeout timer allocated per request, a body channel
//! even for a GET). Here a request without a body costs no channel, no timer and no
//! allocation of the connection's own; a body goes through a one-frame pipe (`body`). The
//! behaviours kept, changed on purpose, and the tests that pin them are listed in
//! `docs/hyper-server-behaviours.md`. HTTP/2 (prior knowledge, sniffed from the first bytes)
//! is still hyper's.

mod answer;
mod body;
mod conn;
mod exchange;
mod head;
mod out;
mod upgrade;

pub use body::H1Body;
pub use conn::{Connection, Settings, Sniffed};
pub use head::HeadLimits;
pub use upgrade::{OnUpgrade, Prefixed, Upgraded};

//! Request matchers, one per file, each compiled from its wire type and tested on its own:
//!
//! - [`string`]: Istio's `StringMatch` (exact, plain prefix, whole-value RE2 regex, present);
//! - [`header`]: `headers` and `withoutHeaders` entries;
//! - [`query`]: `queryParams` entries;
//! - [`request`]: one `HTTPMatchRequest` block (all conditions AND'ed) and the
//!   [`RequestHead`] it looks at;
//! - [`regex_cache`]: each distinct regex compiled once and shared while a snapshot uses it.
//!
//! Imports only [`crate::config::wire`] (the types they are compiled from); never `route`, which
//! walks them, nor anything that touches a socket.

pub mod header;
pub mod query;
pub mod regex_cache;
pub mod request;
pub mod string;

pub use header::HeaderMatcher;
pub use query::QueryMatcher;
pub use request::{RequestHead, RequestMatch};
pub use string::StringMatcher;

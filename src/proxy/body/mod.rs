//! Bodies the proxy wraps around hyper's:
//! - [`TeeBody`]: the client's request body on its way to the primary, copying each data frame
//!   (a refcounted `Bytes` clone) to every mirror's [`Tap`], never waiting for a mirror, and
//!   reporting the upload's progress ([`Upload`]): bytes, its end, and how it failed;
//! - [`ReplayBody`]: one try's body of the primary: the frames earlier tries took, then the
//!   rest of the client's body, kept (within [`REPLAY_LIMIT`]) for a retry ([`Replay`]);
//! - [`ChannelBody`]: a mirror's request body, fed by its tap;
//! - [`ObservedBody`]: a response body that counts bytes, optionally captures the first bytes,
//!   and reports once when it ends, fails or is dropped.

mod observed;
mod replay;
mod tee;

pub use observed::{BodySummary, ObservedBody, OnBodyEnd};
pub use replay::{REPLAY_LIMIT, Replay, ReplayBody};
#[cfg(test)]
pub(crate) use tee::feed_for_test;
pub use tee::{ChannelBody, ClientBodyFailure, Stall, Tap, TapError, TeeBody, Upload};

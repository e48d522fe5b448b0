//! The outcome of one compared pair ([`PairResult`], the `result` label of
//! `shadowmesh_compare_total`) and how a diff, minus its noise, becomes one
//! ([`classify_pair`]).

use serde::Serialize;

use super::diff::Found;
use super::kind::{DiffKind, Difference};

/// The comparison's outcome for one pair (the `result` label of `shadowmesh_compare_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairResult {
    /// Same answer.
    Match,
    /// Different status.
    StatusMismatch,
    /// Same status and body, different headers.
    HeaderMismatch,
    /// Different body.
    BodyMismatch,
    /// Differences, all of them noise.
    Noise,
    /// Not paired (timeout or memory budget).
    Unpaired,
}

impl PairResult {
    /// All results, in label order.
    pub const ALL: [PairResult; 6] = [
        Self::Match,
        Self::StatusMismatch,
        Self::HeaderMismatch,
        Self::BodyMismatch,
        Self::Noise,
        Self::Unpaired,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::StatusMismatch => "status_mismatch",
            Self::HeaderMismatch => "header_mismatch",
            Self::BodyMismatch => "body_mismatch",
            Self::Noise => "noise",
            Self::Unpaired => "unpaired",
        }
    }
}

/// The result of a compared pair whose differences are `found`: the first kind of difference,
/// in the order status, body, headers, that `is_noise` (asked with the counted field) does not
/// cancel; [`PairResult::Noise`] when it cancels them all.
pub fn classify_pair(found: &[Found], is_noise: impl Fn(&Difference) -> bool) -> PairResult {
    let real = |of_kind: fn(DiffKind) -> bool| {
        (found.iter()).any(|f| of_kind(f.field.kind) && !is_noise(&f.field))
    };
    if found.is_empty() {
        PairResult::Match
    } else if real(|k| k == DiffKind::Status) {
        PairResult::StatusMismatch
    } else if real(|k| !matches!(k, DiffKind::Status | DiffKind::Header)) {
        PairResult::BodyMismatch
    } else if real(|k| k == DiffKind::Header) {
        PairResult::HeaderMismatch
    } else {
        PairResult::Noise
    }
}

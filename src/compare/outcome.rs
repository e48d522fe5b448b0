//! The outcome of one compared pair ([`PairResult`], the `result` label of
//! `shadowmesh_compare_total`) and how a diff, minus its noise, becomes one
//! ([`classify_pair`]).

use serde::Serialize;

use super::diff::PairDiff;
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

/// The result of a compared pair whose differences are `d`: the first kind of difference, in the
/// order status, body, headers, that `is_noise` does not cancel; [`PairResult::Noise`] when it
/// cancels them all.
pub fn classify_pair(d: &PairDiff, is_noise: impl Fn(&Difference) -> bool) -> PairResult {
    let fields = d.fields();
    let real = |kind: DiffKind| fields.iter().any(|f| f.kind == kind && !is_noise(f));
    if d.is_empty() {
        PairResult::Match
    } else if real(DiffKind::Status) {
        PairResult::StatusMismatch
    } else if d.body.iter().any(|f| !is_noise(f)) {
        PairResult::BodyMismatch
    } else if real(DiffKind::Header) {
        PairResult::HeaderMismatch
    } else {
        PairResult::Noise
    }
}

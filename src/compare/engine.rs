//! Pairing and aggregation, pure and synchronous (the comparator feeds it from one task).
//!
//! Exchanges arrive one by one, primary and mirrors in any order. An entry per `x-request-id`
//! waits until the primary and every mirror sent for it have arrived, then each candidate is
//! compared with the primary. Waiting entries are bounded by count and by bytes; entries that
//! overflow the budget, or wait longer than the pair timeout, are dropped and counted
//! `unpaired`.
//!
//! Noise (after Twitter's Diffy): a mirror to the primary's own version is a **secondary**; a
//! field that differs between primary and secondary about as often as between primary and
//! candidate is noise. Without a secondary, fields that differ between two answers of the
//! primary to the same request (method and path) are noise.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::diff::{Ignore, PairDiff, Side, diff_pair};
use super::json_diff::normalize;
use super::stats::{LatencySummary, PairedLatency};
use super::verdict::{ErrorRates, FieldRate, Thresholds, Verdict, decide};
use crate::telemetry::Flag;

/// Examples kept per field.
pub const EXAMPLES_PER_FIELD: usize = 3;
/// Distinct fields tracked per group (more are counted under `(other)`).
pub const MAX_FIELDS: usize = 100;
/// Bytes of each body kept in an example.
pub const EXAMPLE_BYTES: usize = 1024;
/// Bytes of body kept per remembered answer.
pub const REPEAT_BODY_BYTES: usize = 8 * 1024;
/// Primary answers remembered for repeat-noise detection.
pub const REPEAT_KEYS: usize = 256;

/// One exchange as the comparison sees it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Pairs the primary with its mirrors (made by the proxy, unique per request).
    pub pair: u64,
    /// A mirrored copy?
    pub mirror: bool,
    /// Fully qualified service.
    pub service: String,
    /// Route name.
    pub route: String,
    /// Version that answered.
    pub version: String,
    /// Status (0: none).
    pub status: u16,
    /// Response flag.
    pub flag: Flag,
    /// Response headers.
    pub headers: Option<HeaderMap>,
    /// First bytes of the body.
    pub body: Option<Bytes>,
    /// Full body size.
    pub size: u64,
    /// Duration.
    pub duration: Duration,
    /// `GET /path?query`.
    pub request: String,
    /// Mirrors sent for this request (primary only).
    pub mirrors_sent: u8,
    /// Fields to ignore for this route (annotation `shadowmesh.io/compare-ignore`).
    pub ignore: Arc<Vec<String>>,
}

impl Observed {
    fn side(&self) -> Side<'_> {
        Side {
            status: self.status,
            headers: self.headers.as_ref(),
            body: self.body.as_ref(),
            size: self.size,
        }
    }

    fn bytes(&self) -> usize {
        256 + self.body.as_ref().map_or(0, Bytes::len)
            + self.service.len()
            + self.route.len()
            + self.version.len()
            + self.headers.as_ref().map_or(0, |h| h.len() * 64)
            + self.request.len()
    }

    fn failed(&self) -> bool {
        self.status == 0 || self.status >= 500
    }
}

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

/// Primary/candidate group: service, route, primary version, candidate version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKey {
    /// Service.
    pub service: String,
    /// Route.
    pub route: String,
    /// Primary version.
    pub primary: String,
    /// Candidate version.
    pub candidate: String,
}

/// A differing pair, shown to the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Example {
    /// `GET /api/calculation?number=36`.
    pub request: String,
    /// Primary status and body.
    pub primary_status: u16,
    /// Primary body (first bytes).
    pub primary: String,
    /// Candidate status.
    pub candidate_status: u16,
    /// Candidate body (first bytes).
    pub candidate: String,
}

#[derive(Debug, Clone, Default)]
struct FieldStat {
    /// Pairs where primary and candidate differ here.
    candidate: u64,
    /// Pairs where primary and secondary differ here.
    secondary: u64,
    examples: Vec<Example>,
}

#[derive(Debug, Default)]
struct Group {
    results: BTreeMap<&'static str, u64>,
    pairs: u64,
    secondary_pairs: u64,
    fields: BTreeMap<String, FieldStat>,
    latency: PairedLatency,
    primary_failed: u64,
    candidate_5xx: u64,
    candidate_timeouts: u64,
    candidate_resets: u64,
}

#[derive(Debug)]
struct Pending {
    primary: Option<Observed>,
    mirrors: Vec<Observed>,
    bytes: usize,
}

/// Limits of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes of waiting exchanges kept at most.
    pub memory_budget: usize,
    /// Waiting entries kept at most.
    pub max_pending: usize,
    /// How long an entry waits for its other half.
    pub pair_timeout: Duration,
    /// Ignored fields for every route (flag).
    pub ignore: Vec<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            memory_budget: 64 << 20,
            max_pending: 100_000,
            pair_timeout: Duration::from_secs(15),
            ignore: Vec::new(),
        }
    }
}

/// The pairing and aggregation state.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    pending: HashMap<u64, Pending>,
    order: VecDeque<(Instant, u64)>,
    pending_bytes: usize,
    groups: BTreeMap<GroupKey, Group>,
    repeat: HashMap<(String, String), Observed>,
    repeat_order: VecDeque<(String, String)>,
    repeat_noise: HashMap<(String, String), BTreeSet<String>>,
    /// Built ignore lists, by route annotation (kept alive so their addresses stay unique).
    ignore_cache: Vec<(Arc<Vec<String>>, Arc<Ignore>)>,
    primaries_seen: u64,
    /// Exchanges that could not be paired, by service.
    pub unpaired: BTreeMap<String, u64>,
}

/// One primary in this many teaches repeat noise (a diff with the previous identical request).
const REPEAT_SAMPLE: u64 = 8;

impl Engine {
    /// An empty engine.
    pub fn new(cfg: EngineConfig) -> Self {
        Self {
            cfg,
            pending: HashMap::new(),
            order: VecDeque::new(),
            pending_bytes: 0,
            groups: BTreeMap::new(),
            repeat: HashMap::new(),
            repeat_order: VecDeque::new(),
            repeat_noise: HashMap::new(),
            ignore_cache: Vec::new(),
            primaries_seen: 0,
            unpaired: BTreeMap::new(),
        }
    }

    /// Bytes held by waiting entries.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Waiting entries.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Takes one exchange. Returns the results of the pairs it completed (or dropped).
    pub fn ingest(&mut self, ob: Observed, now: Instant) -> Vec<(GroupKey, PairResult)> {
        let mut out = Vec::new();
        let bytes = ob.bytes();
        if bytes > self.cfg.memory_budget {
            self.count_unpaired(&ob, &mut out);
            return out;
        }
        if !self.pending.contains_key(&ob.pair) {
            while !self.order.is_empty()
                && (self.pending.len() >= self.cfg.max_pending
                    || self.pending_bytes + bytes > self.cfg.memory_budget)
            {
                self.evict_oldest(&mut out);
            }
            self.order.push_back((now, ob.pair));
        }
        let entry = self.pending.entry(ob.pair).or_insert_with(|| Pending {
            primary: None,
            mirrors: Vec::new(),
            bytes: 0,
        });
        entry.bytes += bytes;
        self.pending_bytes += bytes;
        if ob.mirror {
            entry.mirrors.push(ob);
        } else {
            entry.primary = Some(ob);
        }
        let complete = entry
            .primary
            .as_ref()
            .is_some_and(|p| entry.mirrors.len() >= p.mirrors_sent as usize);
        let id = entry.primary.as_ref().map_or(0, |p| p.pair);
        if complete && let Some(done) = self.take(id) {
            self.compare(done, &mut out);
        }
        // Completed entries leave their id in `order` until it expires; keep that bounded too.
        if self.order.len() > 4 * self.cfg.max_pending.max(1) {
            let pending = &self.pending;
            self.order.retain(|(_, id)| pending.contains_key(id));
        }
        out
    }

    /// Drops entries older than the pair timeout; a primary with some mirrors is still compared.
    pub fn expire(&mut self, now: Instant) -> Vec<(GroupKey, PairResult)> {
        let mut out = Vec::new();
        while let Some((created, id)) = self.order.front().cloned() {
            if now.duration_since(created) < self.cfg.pair_timeout {
                break;
            }
            self.order.pop_front();
            if let Some(p) = self.take(id) {
                if p.primary.is_some() && !p.mirrors.is_empty() {
                    self.compare(p, &mut out);
                } else {
                    self.drop_entry(p, &mut out);
                }
            }
        }
        out
    }

    fn take(&mut self, id: u64) -> Option<Pending> {
        let p = self.pending.remove(&id)?;
        self.pending_bytes -= p.bytes;
        Some(p)
    }

    fn evict_oldest(&mut self, out: &mut Vec<(GroupKey, PairResult)>) {
        if let Some((_, id)) = self.order.pop_front()
            && let Some(p) = self.take(id)
        {
            self.drop_entry(p, out);
        }
    }

    fn drop_entry(&mut self, p: Pending, out: &mut Vec<(GroupKey, PairResult)>) {
        for ob in p.primary.iter().chain(&p.mirrors) {
            self.count_unpaired(ob, out);
        }
    }

    fn count_unpaired(&mut self, ob: &Observed, out: &mut Vec<(GroupKey, PairResult)>) {
        *self.unpaired.entry(ob.service.clone()).or_default() += 1;
        let key = GroupKey {
            service: ob.service.clone(),
            route: ob.route.clone(),
            primary: if ob.mirror {
                "unknown".into()
            } else {
                ob.version.clone()
            },
            candidate: if ob.mirror {
                ob.version.clone()
            } else {
                "unknown".into()
            },
        };
        out.push((key, PairResult::Unpaired));
    }

    fn compare(&mut self, entry: Pending, out: &mut Vec<(GroupKey, PairResult)>) {
        let Some(primary) = entry.primary else { return };
        let ignore = self.ignore_for(&primary.ignore);
        let route_key = (primary.service.clone(), primary.route.clone());
        let (secondaries, candidates): (Vec<&Observed>, Vec<&Observed>) = entry
            .mirrors
            .iter()
            .partition(|m| m.version == primary.version);
        self.primaries_seen += 1;
        if secondaries.is_empty() && self.primaries_seen.is_multiple_of(REPEAT_SAMPLE) {
            self.learn_repeat_noise(&primary, &ignore);
        }
        let secondary_fields: BTreeSet<String> = secondaries
            .iter()
            .flat_map(|s| diff_pair(primary.side(), s.side(), &ignore).fields())
            .map(|f| normalize(&f))
            .collect();
        let repeat_noise = self
            .repeat_noise
            .get(&route_key)
            .cloned()
            .unwrap_or_default();
        for cand in candidates {
            let key = GroupKey {
                service: primary.service.clone(),
                route: primary.route.clone(),
                primary: primary.version.clone(),
                candidate: cand.version.clone(),
            };
            let d = diff_pair(primary.side(), cand.side(), &ignore);
            if !self.groups.contains_key(&key) {
                self.groups.insert(key.clone(), Group::default());
            }
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            let result = classify(
                &d,
                group,
                &secondary_fields,
                &repeat_noise,
                !secondaries.is_empty(),
            );
            group.pairs += 1;
            *group.results.entry(result.as_str()).or_default() += 1;
            if !secondaries.is_empty() {
                group.secondary_pairs += 1;
                for f in &secondary_fields {
                    field_stat(group, f).secondary += 1;
                }
            }
            for f in d.fields() {
                let stat = field_stat(group, &normalize(&f));
                stat.candidate += 1;
                if stat.examples.len() < EXAMPLES_PER_FIELD {
                    stat.examples.push(example(&primary, cand));
                }
            }
            group.latency.record(
                primary.duration.as_micros() as u64,
                cand.duration.as_micros() as u64,
            );
            group.primary_failed += u64::from(primary.failed());
            match (cand.status, cand.flag) {
                (0, Flag::Timeout) => group.candidate_timeouts += 1,
                (0, _) => group.candidate_resets += 1,
                (s, _) if s >= 500 => group.candidate_5xx += 1,
                _ => {}
            }
            out.push((key, result));
        }
    }

    fn ignore_for(&mut self, route: &Arc<Vec<String>>) -> Arc<Ignore> {
        if let Some((_, built)) = self
            .ignore_cache
            .iter()
            .find(|(r, _)| Arc::ptr_eq(r, route))
        {
            return built.clone();
        }
        if self.ignore_cache.len() >= 64 {
            self.ignore_cache.clear();
        }
        let built = Arc::new(Ignore::new(
            self.cfg
                .ignore
                .iter()
                .chain(route.iter())
                .map(String::as_str),
        ));
        self.ignore_cache.push((route.clone(), built.clone()));
        built
    }

    fn learn_repeat_noise(&mut self, primary: &Observed, ignore: &Ignore) {
        let key = (primary.service.clone(), primary.request.clone());
        if let Some(prev) = self.repeat.get(&key) {
            let fields: Vec<String> = diff_pair(prev.side(), primary.side(), ignore)
                .fields()
                .iter()
                .map(|f| normalize(f))
                .collect();
            if !fields.is_empty() {
                self.repeat_noise
                    .entry((primary.service.clone(), primary.route.clone()))
                    .or_default()
                    .extend(fields);
            }
        } else {
            self.repeat_order.push_back(key.clone());
            if self.repeat_order.len() > REPEAT_KEYS
                && let Some(old) = self.repeat_order.pop_front()
            {
                self.repeat.remove(&old);
            }
        }
        // A compact copy: a slice would keep the connection's whole read buffer alive.
        let mut kept = primary.clone();
        kept.body = kept
            .body
            .map(|b| Bytes::copy_from_slice(&b[..b.len().min(REPEAT_BODY_BYTES)]));
        self.repeat.insert(key, kept);
    }

    /// The report on every group.
    pub fn report(&self, t: &Thresholds) -> Vec<CandidateReport> {
        self.groups
            .iter()
            .map(|(key, g)| {
                let repeat = self
                    .repeat_noise
                    .get(&(key.service.clone(), key.route.clone()))
                    .cloned()
                    .unwrap_or_default();
                let pairs = g.pairs.max(1) as f64;
                let mut fields: Vec<FieldReport> = g
                    .fields
                    .iter()
                    .filter(|(_, s)| s.candidate > 0)
                    .map(|(name, s)| {
                        let rate = s.candidate as f64 / pairs;
                        let secondary_rate = if g.secondary_pairs > 0 {
                            s.secondary as f64 / g.secondary_pairs as f64
                        } else {
                            0.0
                        };
                        FieldReport {
                            field: name.clone(),
                            count: s.candidate,
                            rate,
                            secondary_rate,
                            noise: repeat.contains(name)
                                || (g.secondary_pairs > 0 && secondary_rate >= 0.5 * rate),
                            examples: s.examples.clone(),
                        }
                    })
                    .collect();
                fields.sort_by(|a, b| {
                    (a.noise, std::cmp::Reverse(a.count))
                        .cmp(&(b.noise, std::cmp::Reverse(b.count)))
                });
                let latency = g.latency.summary();
                let errors = ErrorRates {
                    primary_rate: g.primary_failed as f64 / pairs,
                    candidate_rate: (g.candidate_5xx + g.candidate_timeouts + g.candidate_resets)
                        as f64
                        / pairs,
                    candidate_5xx: g.candidate_5xx,
                    candidate_timeouts: g.candidate_timeouts,
                    candidate_resets: g.candidate_resets,
                };
                let rates: Vec<FieldRate> = fields
                    .iter()
                    .map(|f| FieldRate {
                        field: f.field.clone(),
                        rate: f.rate,
                        noise: f.noise,
                    })
                    .collect();
                let (verdict, reasons) = decide(t, g.pairs, &rates, &errors, &latency);
                let summary = format!("{}: {}", verdict.as_str(), reasons.join("; "));
                CandidateReport {
                    service: key.service.clone(),
                    route: key.route.clone(),
                    primary_version: key.primary.clone(),
                    candidate_version: key.candidate.clone(),
                    pairs: g.pairs,
                    with_secondary: g.secondary_pairs,
                    results: PairResult::ALL
                        .iter()
                        .map(|r| {
                            (
                                r.as_str().to_string(),
                                g.results.get(r.as_str()).copied().unwrap_or(0),
                            )
                        })
                        .collect(),
                    fields,
                    latency,
                    errors,
                    verdict,
                    reasons,
                    summary,
                }
            })
            .collect()
    }
}

fn field_stat<'g>(group: &'g mut Group, field: &str) -> &'g mut FieldStat {
    if !group.fields.contains_key(field) && group.fields.len() >= MAX_FIELDS {
        return group.fields.entry("(other)".to_string()).or_default();
    }
    group.fields.entry(field.to_string()).or_default()
}

fn classify(
    d: &PairDiff,
    group: &Group,
    secondary_fields: &BTreeSet<String>,
    repeat_noise: &BTreeSet<String>,
    has_secondary: bool,
) -> PairResult {
    if d.is_empty() {
        return PairResult::Match;
    }
    let is_noise = |field: &str| {
        let f = normalize(field);
        if secondary_fields.contains(&f) || repeat_noise.contains(&f) {
            return true;
        }
        // A field the secondary has differed on about as often as the candidate.
        has_secondary
            && group.fields.get(&f).is_some_and(|s| {
                group.secondary_pairs > 0
                    && s.secondary as f64 / group.secondary_pairs as f64
                        >= 0.5 * s.candidate as f64 / group.pairs.max(1) as f64
            })
    };
    if d.status && !is_noise("status") {
        PairResult::StatusMismatch
    } else if d.body.iter().any(|f| !is_noise(f)) {
        PairResult::BodyMismatch
    } else if d.headers.iter().any(|h| !is_noise(&format!("header:{h}"))) {
        PairResult::HeaderMismatch
    } else {
        PairResult::Noise
    }
}

fn snippet(b: &Option<Bytes>) -> String {
    match b {
        Some(b) => String::from_utf8_lossy(&b[..b.len().min(EXAMPLE_BYTES)]).into_owned(),
        None => String::new(),
    }
}

fn example(p: &Observed, c: &Observed) -> Example {
    Example {
        request: p.request.clone(),
        primary_status: p.status,
        primary: snippet(&p.body),
        candidate_status: c.status,
        candidate: snippet(&c.body),
    }
}

/// One field in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldReport {
    /// `status`, `header:NAME` or a JSON path (indices as `*`).
    pub field: String,
    /// Pairs where it differs.
    pub count: u64,
    /// Share of pairs where it differs.
    pub rate: f64,
    /// Share of primary/secondary pairs where it differs.
    pub secondary_rate: f64,
    /// Judged noise.
    pub noise: bool,
    /// Up to three examples.
    pub examples: Vec<Example>,
}

/// The report on one candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateReport {
    /// Service.
    pub service: String,
    /// Route.
    pub route: String,
    /// Primary version.
    pub primary_version: String,
    /// Candidate version.
    pub candidate_version: String,
    /// Pairs compared.
    pub pairs: u64,
    /// Of which had a secondary.
    pub with_secondary: u64,
    /// Pairs by result.
    pub results: BTreeMap<String, u64>,
    /// Differing fields, real ones first, most frequent first.
    pub fields: Vec<FieldReport>,
    /// Latency.
    pub latency: LatencySummary,
    /// Failures.
    pub errors: ErrorRates,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reasons: Vec<String>,
    /// `reject: 3.1% of responses differ at /factors (not noise); p99 42% faster`.
    pub summary: String,
}

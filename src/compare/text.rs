//! The comparison report as a readable table, for `shadowmesh report`.

use std::fmt::Write;

use super::Report;
use super::report::{CandidateReport, FieldReport};

/// Fields shown per candidate.
const FIELDS_SHOWN: usize = 8;

/// Whether to colour what goes to `stream`: a terminal, and `NO_COLOR` unset (no-color.org).
pub fn colour_for(stream: &impl std::io::IsTerminal) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && stream.is_terminal()
}

/// `reject` in bold red, `hold` in yellow, `promote` in green, when `colour`.
fn paint(text: &str, verdict: super::verdict::Verdict, colour: bool) -> String {
    use super::verdict::Verdict;
    if !colour {
        return text.to_string();
    }
    let code = match verdict {
        Verdict::Reject => "1;31",
        Verdict::Hold => "1;33",
        Verdict::Promote => "1;32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Renders `report` for a terminal; `colour` paints the verdicts.
pub fn render(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    if report.candidates.is_empty() {
        out.push_str("no mirrored pairs yet: send traffic through a route with a mirror\n");
    }
    for c in &report.candidates {
        render_candidate(&mut out, c, colour);
        out.push('\n');
    }
    render_totals(&mut out, report);
    out
}

/// One candidate: heading, verdict, pairs, latency, errors and fields.
fn render_candidate(out: &mut String, c: &CandidateReport, colour: bool) {
    let _ = writeln!(
        out,
        "{}  route {}: primary {} vs candidate {}",
        c.service, c.route, c.primary_version, c.candidate_version
    );
    let verdict = c.verdict.as_str().to_uppercase();
    let rest = c
        .summary
        .strip_prefix(c.verdict.as_str())
        .unwrap_or(&c.summary);
    let _ = writeln!(
        out,
        "  verdict   {}{rest}",
        paint(&verdict, c.verdict, colour)
    );
    let results: Vec<String> = c.results.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(out, "  pairs     {} ({})", c.pairs, results.join(", "));
    render_latency(out, c);
    let _ = writeln!(
        out,
        "  errors    primary {:.1}%, candidate {:.1}% ({} 5xx, {} timeouts, {} resets)",
        c.errors.primary_rate * 100.0,
        c.errors.candidate_rate * 100.0,
        c.errors.candidate_5xx,
        c.errors.candidate_timeouts,
        c.errors.candidate_resets
    );
    if let Some(warning) = unsafe_warning(c) {
        let _ = writeln!(out, "  warning   {warning}");
    }
    if !c.fields.is_empty() {
        let _ = writeln!(
            out,
            "  fields    {:<28} {:<24} {:>8} {:>8}  ",
            "", "change", "pairs", "rate"
        );
        for f in c.fields.iter().take(FIELDS_SHOWN) {
            render_field(out, f);
        }
    }
}

/// One short line when writes were mirrored: the candidate may have written twice.
pub fn unsafe_warning(c: &CandidateReport) -> Option<String> {
    (c.unsafe_methods_mirrored > 0).then(|| {
        format!(
            "{} POST/PUT/PATCH/DELETE requests mirrored: writes may have happened twice",
            c.unsafe_methods_mirrored
        )
    })
}

/// The latency table: one line per quantile.
fn render_latency(out: &mut String, c: &CandidateReport) {
    let _ = writeln!(
        out,
        "  latency   {:<6} {:>11} {:>11} {:>9} {:>22}",
        "", "primary", "candidate", "change", "95% CI of change"
    );
    for q in &c.latency.quantiles {
        let _ = writeln!(
            out,
            "            p{:<5} {:>8.2} ms {:>8.2} ms {:>+8.0}% {:>10.2}..{:.2} ms{}",
            (q.quantile * 100.0).round(),
            q.primary_ms,
            q.candidate_ms,
            q.diff_pct,
            q.ci95_ms.0,
            q.ci95_ms.1,
            if q.significant { "" } else { " (n.s.)" }
        );
    }
}

/// One differing field, with an example when it is not noise.
fn render_field(out: &mut String, f: &FieldReport) {
    let _ = writeln!(
        out,
        "            {:<28} {:<24} {:>8} {:>7.1}%  {}",
        f.field,
        f.change,
        f.count,
        f.rate * 100.0,
        if f.noise { "noise" } else { "DIFFERS" }
    );
    if let Some(ex) = f.examples.first().filter(|_| !f.noise) {
        let _ = writeln!(out, "              e.g. {}", ex.request);
        if !ex.path.is_empty() {
            let _ = writeln!(
                out,
                "                at {}: {} -> {}",
                ex.path, ex.primary_value, ex.candidate_value
            );
        }
        let _ = writeln!(
            out,
            "                primary   {} {}",
            ex.primary_status,
            ex.primary.trim()
        );
        let _ = writeln!(
            out,
            "                candidate {} {}",
            ex.candidate_status,
            ex.candidate.trim()
        );
    }
}

/// Sampled-out, unpaired and dropped exchanges, when there are any.
fn render_totals(out: &mut String, report: &Report) {
    if report.sampled_out > 0 {
        let _ = writeln!(
            out,
            "sampled: {} mirrored requests not compared (more than --compare-max-rate per second came)",
            report.sampled_out
        );
    }
    let unpaired: u64 = report.unpaired.values().sum();
    if unpaired > 0 || report.dropped > 0 {
        let _ = writeln!(
            out,
            "unpaired exchanges {unpaired}, dropped (queue full) {}",
            report.dropped
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::engine::{Engine, EngineConfig};
    use crate::compare::verdict::Thresholds;

    fn report() -> Report {
        let mut engine = Engine::new(EngineConfig::default());
        let now = tokio::time::Instant::now();
        let ob = crate::compare::engine_tests::ob;
        engine.ingest(ob("r1", false, "v1", "{}".into(), 1, 1), now);
        engine.ingest(ob("r1", true, "v3", "{}".into(), 1, 0), now);
        let t = Thresholds::default();
        Report {
            generated_at: 0,
            candidates: engine.report(&t),
            thresholds: t,
            unpaired: Default::default(),
            dropped: 0,
            sampled_out: 0,
        }
    }

    #[test]
    fn the_verdict_is_in_capitals_and_coloured_only_when_asked() {
        let plain = render(&report(), false);
        assert!(
            plain.contains("verdict   HOLD: only 1 of the 100"),
            "{plain}"
        );
        assert!(!plain.contains('\x1b'), "no escape codes: {plain}");
        let coloured = render(&report(), true);
        assert!(
            coloured.contains("verdict   \x1b[1;33mHOLD\x1b[0m: only 1"),
            "{coloured}"
        );
    }
}

//! Scrape parsing, one place for it: the proxy's `/metrics` text ([`Scrape`]) and a Prometheus
//! server's instant-query results ([`value`], [`by_label`]).

use serde_json::Value;

/// A parsed Prometheus text exposition.
pub struct Scrape {
    pub text: String,
    samples: Vec<prometheus_parse::Sample>,
}

impl Scrape {
    /// Parses `text` (panics on text Prometheus could not read).
    pub fn parse(text: &str) -> Self {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
        Self {
            text: text.to_string(),
            samples: scrape.samples,
        }
    }

    /// The value of the series `name` whose labels are exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let sample = self.samples.iter().find(|s| {
            s.metric == name
                && s.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        })?;
        match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        }
    }
}

impl Scrape {
    /// The sum of the series `name` whose labels include `labels` (0 when none does).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        (self.samples.iter())
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .filter_map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => Some(v),
                _ => None,
            })
            .sum()
    }
}

/// The value of one sample of an instant query's result.
pub fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The sample of `result` whose `label` is `want`.
pub fn by_label<'a>(result: &'a [Value], label: &str, want: &str) -> Option<&'a Value> {
    result.iter().find(|s| s["metric"][label] == want)
}

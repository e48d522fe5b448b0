//! Weighted choice among a route's destinations, built once per config generation.
//!
//! Istio 1.15+ semantics: each destination gets `weight / sum of weights`; weight 0 gets nothing.
//! The compiler ([`crate::model::compile`]) refuses negative weights and all-zero sets. Imports
//! nothing of the crate.

/// A precomputed weighted distribution over `n` items.
#[derive(Debug, Clone)]
pub struct Distribution {
    /// Running sums of the weights; the item for roll `r` in `[0, total)` is the first whose
    /// running sum exceeds `r`.
    cumulative: Vec<u64>,
}

impl Distribution {
    /// Builds from weights. Returns `None` when the total is zero or does not fit a `u64` (the
    /// compiler keeps weights to Istio's int32, so a real route never comes near).
    pub fn new(weights: &[u64]) -> Option<Self> {
        let mut sum = 0u64;
        let mut cumulative = Vec::with_capacity(weights.len());
        for w in weights {
            sum = sum.checked_add(*w)?;
            cumulative.push(sum);
        }
        (sum > 0).then_some(Self { cumulative })
    }

    /// Total weight.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Picks an index given a uniform roll in `[0, 1)`.
    pub fn pick(&self, roll: f64) -> usize {
        if self.cumulative.len() == 1 {
            return 0;
        }
        let target = (roll * self.total() as f64) as u64;
        let idx = self.cumulative.partition_point(|&c| c <= target);
        idx.min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(weights: &[u64], steps: usize) -> Vec<usize> {
        let d = Distribution::new(weights).unwrap();
        let mut counts = vec![0; weights.len()];
        for i in 0..steps {
            counts[d.pick(i as f64 / steps as f64)] += 1;
        }
        counts
    }

    #[test]
    fn splits_exactly_over_a_uniform_sweep() {
        assert_eq!(shares(&[20, 80], 1000), vec![200, 800]);
        assert_eq!(shares(&[1, 3], 1000), vec![250, 750]);
        assert_eq!(shares(&[100], 10), vec![10]);
        assert_eq!(shares(&[0, 5, 0], 100), vec![0, 100, 0]);
    }

    #[test]
    fn all_zero_is_refused() {
        assert!(Distribution::new(&[0, 0]).is_none());
        assert!(Distribution::new(&[]).is_none());
    }

    #[test]
    fn a_total_past_u64_is_refused_not_wrapped() {
        assert!(Distribution::new(&[u64::MAX, 1]).is_none());
        assert_eq!(
            Distribution::new(&[u64::MAX - 1, 1]).unwrap().total(),
            u64::MAX
        );
    }

    #[test]
    fn extreme_rolls_stay_in_range() {
        let d = Distribution::new(&[1, 1]).unwrap();
        assert_eq!(d.pick(0.0), 0);
        assert_eq!(d.pick(0.999_999_999), 1);
    }
}

//! Compiled regexes shared by every snapshot that uses them.
//!
//! A regex costs far more to compile than anything else in a config: the `regex` crate builds
//! a full DFA for a small pattern up front (about 0.3 ms for Istio's `.*Mobile.*`), so 1,000
//! VirtualServices with one header regex each spent three quarters of a rebuild compiling the
//! same pattern 1,000 times. Here each distinct pattern is compiled once and shared (`Arc`)
//! by every matcher and every snapshot that uses it; an unchanged resource's regexes are never
//! compiled again when another resource changes.
//!
//! The cache holds only `Weak` references: a pattern lives exactly as long as some snapshot
//! (or a build in progress) holds it, and dead entries are swept when the map has grown to
//! twice what was alive at the last sweep. Used at compile time only, never on the data path,
//! so the mutex is never contended by requests. Imports nothing from the crate.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use regex::Regex;

/// Fewest entries before a sweep is considered.
const SWEEP_FLOOR: usize = 64;

struct Cache {
    entries: HashMap<String, Weak<Regex>>,
    /// Map size above which the next insert sweeps dead entries.
    sweep_at: usize,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| {
    Mutex::new(Cache {
        entries: HashMap::new(),
        sweep_at: SWEEP_FLOOR,
    })
});

/// `pattern` compiled, shared with every other user of the same pattern.
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    if let Some(re) = lookup(pattern) {
        return Ok(re);
    }
    // Compiled outside the lock: two builds racing on a new pattern both compile it, and the
    // second insert wins; both results are correct.
    let re = Arc::new(Regex::new(pattern)?);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.entries.len() >= cache.sweep_at {
        cache.entries.retain(|_, weak| weak.strong_count() > 0);
        cache.sweep_at = (cache.entries.len() * 2).max(SWEEP_FLOOR);
    }
    cache
        .entries
        .insert(pattern.to_string(), Arc::downgrade(&re));
    Ok(re)
}

fn lookup(pattern: &str) -> Option<Arc<Regex>> {
    let cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.entries.get(pattern).and_then(Weak::upgrade)
}

/// Checks `pattern`'s syntax as Istio's validation does (RE2 syntax, parsed, not compiled):
/// cheap, and the same error text `Regex::new` gives for a syntax error.
pub fn check_syntax(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pattern_is_compiled_once_while_someone_holds_it() {
        let a = compiled("^(?:.*cache-test-one.*)$").unwrap();
        let b = compiled("^(?:.*cache-test-one.*)$").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(b.is_match("x cache-test-one y"));
    }

    #[test]
    fn a_pattern_nobody_holds_is_compiled_afresh() {
        let first = compiled("^cache-test-two$").unwrap();
        let addr = Arc::as_ptr(&first) as usize;
        drop(first);
        let again = compiled("^cache-test-two$").unwrap();
        assert!(again.is_match("cache-test-two"));
        // The old entry was dead: a new compile, not a dangling share.
        assert_eq!(Arc::strong_count(&again), 1, "{addr:x}");
    }

    #[test]
    fn dead_entries_are_swept_as_the_map_grows() {
        for i in 0..SWEEP_FLOOR * 4 {
            drop(compiled(&format!("^cache-sweep-{i}$")).unwrap());
        }
        let len = CACHE.lock().unwrap().entries.len();
        assert!(len < SWEEP_FLOOR * 4, "{len} entries kept");
    }

    #[test]
    fn syntax_errors_read_as_the_regex_crates() {
        let unclosed = String::from("(");
        let ours = check_syntax(&unclosed).unwrap_err();
        let theirs = Regex::new(&unclosed).unwrap_err().to_string();
        assert!(theirs.contains(&ours), "{ours} vs {theirs}");
        assert!(check_syntax(r"\p{Nope}").is_err());
        assert!(check_syntax(".*Mobile.*").is_ok());
    }
}

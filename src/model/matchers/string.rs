//! Istio's `StringMatch`, compiled: `exact`, `prefix` (a plain string prefix) or `regex` (RE2
//! syntax, matched against the **whole** value), or `{}` which holds whenever the value is present.
//!
//! Owns the checks on a `StringMatch` (one kind only, empty prefixes, regex length and syntax).
//! Regexes come from the shared cache ([`super::regex_cache`]). Imports only
//! [`crate::config::wire`].

use std::sync::Arc;

use regex::Regex;

use crate::config::wire::StringMatch;

/// Istio refuses regexes longer than this (Envoy's default program size guard is similar).
pub const MAX_REGEX_LEN: usize = 1024;

/// A compiled `StringMatch`.
#[derive(Debug, Clone)]
pub enum StringMatcher {
    /// Equal to the whole value.
    Exact(String),
    /// Plain string prefix: `/usrv` matches `/usrv-expand`.
    Prefix(String),
    /// Anchored regex: compiled as `^(?:re)$` so `a|ab` matches `ab` whole.
    Regex(Arc<Regex>),
    /// `{}`: matches any value, as long as there is one.
    Present,
}

/// Why a `StringMatch` could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StringMatchError {
    /// More than one of exact/prefix/regex.
    #[error("set only one of exact, prefix and regex")]
    SeveralKinds,
    /// Empty prefix where Istio refuses one.
    #[error("an empty prefix matches everything: remove the match instead")]
    EmptyPrefix,
    /// Regex over the length limit.
    #[error("regex is {0} characters long; Istio allows at most {MAX_REGEX_LEN}")]
    RegexTooLong(usize),
    /// Regex that does not compile.
    #[error("invalid regex: {0}")]
    BadRegex(String),
}

impl TryFrom<&StringMatch> for StringMatcher {
    type Error = StringMatchError;

    /// Compiles a `StringMatch` anywhere but `uri`: an empty prefix is refused (see
    /// [`StringMatcher::try_from_uri`]).
    fn try_from(wire: &StringMatch) -> Result<Self, Self::Error> {
        Self::convert(wire, false)
    }
}

impl StringMatcher {
    /// Compiles a `uri` match, the one place Istio accepts an empty prefix (it matches every
    /// path).
    pub fn try_from_uri(wire: &StringMatch) -> Result<Self, StringMatchError> {
        Self::convert(wire, true)
    }

    fn convert(wire: &StringMatch, allow_empty_prefix: bool) -> Result<Self, StringMatchError> {
        let set = [
            wire.exact.is_some(),
            wire.prefix.is_some(),
            wire.regex.is_some(),
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            return Err(StringMatchError::SeveralKinds);
        }
        if let Some(exact) = &wire.exact {
            return Ok(Self::Exact(exact.clone()));
        }
        if let Some(prefix) = &wire.prefix {
            if prefix.is_empty() && !allow_empty_prefix {
                return Err(StringMatchError::EmptyPrefix);
            }
            return Ok(Self::Prefix(prefix.clone()));
        }
        if let Some(re) = &wire.regex {
            return compile_regex(re).map(Self::Regex);
        }
        Ok(Self::Present)
    }

    /// Does `value` satisfy the match?
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => value == s,
            Self::Prefix(p) => value.starts_with(p.as_str()),
            Self::Regex(re) => re.is_match(value),
            Self::Present => true,
        }
    }

    /// Like [`matches`](Self::matches) but `exact` and `prefix` ignore ASCII case (Istio's
    /// `ignoreUriCase`; regexes are unaffected).
    pub fn matches_ignore_case(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => value.eq_ignore_ascii_case(s),
            Self::Prefix(p) => value
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
            other => other.matches(value),
        }
    }

    /// True for `prefix` matches (rewrite replaces just the prefix).
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Self::Prefix(p) => Some(p),
            _ => None,
        }
    }

    /// A short description for config dumps: `prefix:/api`.
    pub fn describe(&self) -> String {
        match self {
            Self::Exact(s) => format!("exact:{s}"),
            Self::Prefix(s) => format!("prefix:{s}"),
            Self::Regex(r) => format!("regex:{}", unanchor(r.as_str())),
            Self::Present => "present".to_string(),
        }
    }
}

/// Compiles an RE2-syntax regex as a whole-value match.
pub fn compile_regex(re: &str) -> Result<Arc<Regex>, StringMatchError> {
    if re.len() > MAX_REGEX_LEN {
        return Err(StringMatchError::RegexTooLong(re.len()));
    }
    super::regex_cache::compiled(&format!("^(?:{re})$")).map_err(|e| {
        // The regex crate's message spans lines; keep the first useful one.
        let msg = e.to_string();
        let short = msg
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .unwrap_or(msg.lines().next().unwrap_or(""))
            .trim()
            .to_string();
        StringMatchError::BadRegex(short)
    })
}

fn unanchor(s: &str) -> &str {
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sm(exact: Option<&str>, prefix: Option<&str>, regex: Option<&str>) -> StringMatch {
        StringMatch {
            exact: exact.map(str::to_string),
            prefix: prefix.map(str::to_string),
            regex: regex.map(str::to_string),
        }
    }

    fn regex(re: &str) -> StringMatcher {
        StringMatcher::try_from(&sm(None, None, Some(re))).unwrap()
    }

    #[test]
    fn regex_must_match_the_whole_value() {
        let cases = [
            (r"\d+$", "123", true),
            (r"\d+$", "a123", false), // Istio's own example
            ("a|ab", "ab", true),     // find() + length check would say no
            ("a|ab", "abc", false),
            (".*Mobile.*", "Foo Mobile Bar", true),
            (".*Mobile.*", "Mozilla/5.0 (X11)", false),
            (".*Mobile.*", "mobile", false), // case-sensitive
            ("v[12]", "v12", false),
        ];
        for (re, value, want) in cases {
            assert_eq!(regex(re).matches(value), want, "{re} on {value}");
        }
    }

    #[test]
    fn prefix_is_a_plain_string_prefix() {
        let m = StringMatcher::try_from_uri(&sm(None, Some("/usrv"), None)).unwrap();
        assert!(m.matches("/usrv"));
        assert!(m.matches("/usrv-expand"));
        assert!(m.matches("/usrv/x"));
        assert!(!m.matches("/usr"));
        assert!(!m.matches("/USRV"));
        assert!(m.matches_ignore_case("/USRV-x"));
        assert!(!m.matches_ignore_case("/us"));
    }

    #[test]
    fn exact_and_ignore_case() {
        let m = StringMatcher::try_from_uri(&sm(Some("/Hello"), None, None)).unwrap();
        assert!(m.matches("/Hello"));
        assert!(!m.matches("/hello"));
        assert!(m.matches_ignore_case("/hello"));
        assert!(!m.matches_ignore_case("/hello/"));
        // ignoreUriCase leaves regexes alone
        assert!(!regex("/hello").matches_ignore_case("/HELLO"));
    }

    #[test]
    fn empty_match_means_present() {
        let m = StringMatcher::try_from(&sm(None, None, None)).unwrap();
        assert!(m.matches(""));
        assert!(m.matches("anything"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            StringMatcher::try_from_uri(&sm(Some("a"), Some("b"), None)).unwrap_err(),
            StringMatchError::SeveralKinds
        );
        assert_eq!(
            StringMatcher::try_from(&sm(None, Some(""), None)).unwrap_err(),
            StringMatchError::EmptyPrefix
        );
        assert!(StringMatcher::try_from_uri(&sm(None, Some(""), None)).is_ok());
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        assert_eq!(
            StringMatcher::try_from(&sm(None, None, Some(&long))).unwrap_err(),
            StringMatchError::RegexTooLong(MAX_REGEX_LEN + 1)
        );
        let bad = StringMatcher::try_from(&sm(None, None, Some("(unclosed"))).unwrap_err();
        assert!(
            matches!(bad, StringMatchError::BadRegex(ref m) if m.contains("unclosed")),
            "{bad}"
        );
    }

    #[test]
    fn describe_shows_the_regex_as_written() {
        assert_eq!(regex(".*Mobile.*").describe(), "regex:.*Mobile.*");
    }
}

//! Cheap checks on a file's text before it is parsed as YAML: a file with no resource at all,
//! and nesting so deep that parsing it would take long (the parser's cost grows with the square
//! of the depth). Imports nothing of the crate.

/// Does the text hold anything but blank lines, comments and document markers?
pub(super) fn has_content(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| !(l.is_empty() || l.starts_with('#') || l == "---" || l == "..."))
}

/// Deepest nesting of YAML flow collections (`[`, `{`) the parser is given: deeper text is
/// refused before parsing, as parsing it costs time quadratic in its depth.
pub const MAX_FLOW_DEPTH: usize = 64;

/// The deepest run of open `[`/`{` in `text`, outside quoted strings and comments.
pub(super) fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        match (quote, c) {
            (_, '\n') => {
                comment = false;
                if quote == Some('#') {
                    quote = None;
                }
            }
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_comment_and_marker_lines_are_no_content() {
        assert!(!has_content(""));
        assert!(!has_content("\n  \n# only a comment\n---\n...\n"));
        assert!(has_content("# a VirtualService\nkind: VirtualService\n"));
    }

    #[test]
    fn flow_depth_counts_open_brackets_outside_strings_and_comments() {
        assert_eq!(flow_depth("hosts: [a, b]\nport: {number: 80}\n"), 1);
        assert_eq!(flow_depth("x: [[{a: [1]}]]"), 4);
        assert_eq!(flow_depth("regex: \"[[[[\"\n# {{{{\nb: '[['\n"), 0);
        assert_eq!(flow_depth(&"[".repeat(100_000)), 100_000);
    }
}

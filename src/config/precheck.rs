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
///
/// It must never count less than the YAML scanner will nest (a file it under-counts is parsed,
/// slowly); counting more only refuses text no config holds. So a quote opens a quoted string
/// only where the scanner starts one (after `[`, `{`, `,`, `: `, `- ` or at the start of a line
/// outside brackets), not inside a plain scalar (`kind: don't`); a quoted string is not followed
/// past its line, and `#` starts a comment only after a blank or at the start of a line.
pub(super) fn flow_depth(text: &str) -> usize {
    let mut scan = DepthScan::default();
    for line in text.split('\n') {
        scan.line(line);
    }
    scan.deepest
}

#[derive(Default)]
struct DepthScan {
    depth: usize,
    deepest: usize,
    /// The last character that was not blank, outside quotes and comments (`None`: a new node
    /// may start here).
    prev: Option<char>,
}

impl DepthScan {
    fn line(&mut self, line: &str) {
        if self.depth == 0 {
            self.prev = None;
        }
        let mut chars = line.chars().peekable();
        let mut raw_prev: Option<char> = None;
        while let Some(c) = chars.next() {
            let after_blank = raw_prev.is_none_or(|p| p == ' ' || p == '\t');
            raw_prev = Some(c);
            match c {
                ' ' | '\t' | '\r' => continue,
                '#' if after_blank => return,
                '\'' | '"' if self.node_starts() => {
                    let closed = skip_quoted(&mut chars, c);
                    if !closed {
                        return;
                    }
                }
                '[' | '{' => {
                    self.depth += 1;
                    self.deepest = self.deepest.max(self.depth);
                }
                ']' | '}' => self.depth = self.depth.saturating_sub(1),
                '-' | '?'
                    if self.prev.is_none() && matches!(chars.peek(), Some(' ' | '\t') | None) =>
                {
                    continue;
                }
                ':' if matches!(chars.peek(), Some(' ' | '\t') | None) => {
                    self.prev = Some(':');
                    continue;
                }
                _ => {}
            }
            self.prev = Some(c);
        }
    }

    /// Would a quote here start a quoted scalar?
    fn node_starts(&self) -> bool {
        matches!(self.prev, None | Some('[' | '{' | ',' | ':'))
    }
}

/// Skips a quoted string opened by `quote` up to its closing quote; `false` if the line ends
/// first.
fn skip_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> bool {
    while let Some(c) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => return true,
            _ => {}
        }
    }
    false
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
        assert_eq!(flow_depth("a: {b: \"x\\\"[[\", c: ['[[', \"]\"]}\n"), 2);
    }

    #[test]
    fn quotes_inside_plain_scalars_hide_nothing() {
        let deep = "[".repeat(1000);
        for hostile in [
            format!("kind: don't\nb: {deep}\n"),
            format!("a: [it 'x, {deep}\n"),
            format!("a: [b\n 'c, {deep}\n"),
            format!("a: [x#y, {deep}\n"),
            format!("a: '\nb: {deep}\n"),
            format!("a: \"x\\\\\" {deep}\n"),
        ] {
            assert!(flow_depth(&hostile) >= 1000, "{hostile:.40}");
        }
    }
}

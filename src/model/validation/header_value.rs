//! Envoy's syntax for custom header values (`%HOSTNAME%`, `%REQ(x-a)%`, `%VAR(["a", "b"])%`,
//! `%%` for a literal `%`), checked as Istio's `header_value_validator.go` checks it (a port of
//! Envoy's `header_parser.cc`). It says whether the value parses, not whether the variable
//! exists. Imports nothing of the crate.

/// Where the parser is inside a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Literal,
    VariableName,
    ExpectArray,
    ExpectString,
    String,
    ExpectArrayDelimiterOrEnd,
    ExpectArgsEnd,
    ExpectVariableEnd,
}

const UNESCAPED: &str = "invalid header configuration. Un-escaped %";
const EXPECT_DELIMITER: &str = "invalid header configuration. Expecting ',', ']', or whitespace";
const EXPECT_QUOTE: &str = "invalid header configuration. Expecting '\"'";
const OPEN_BACKSLASH: &str = "invalid header configuration. Un-terminated backslash in JSON string";
const EXPECT_PAREN: &str = "invalid header configuration. Expecting ')' or whitespace";
const EXPECT_PERCENT: &str = "invalid header configuration. Expecting '%' or whitespace after";

/// Checks `value`; `Err` says what is malformed.
pub(crate) fn envoy_format(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let mut state = State::Literal;
    let mut pos = 0;
    while pos < bytes.len() {
        let ch = bytes[pos];
        let has_next = pos + 1 < bytes.len();
        state = match state {
            State::Literal => match (ch, bytes.get(pos + 1)) {
                (b'%', None) => return Err(UNESCAPED.into()),
                (b'%', Some(b'%')) => {
                    pos += 1;
                    State::Literal
                }
                (b'%', _) => State::VariableName,
                _ => State::Literal,
            },
            State::VariableName => match ch {
                b'%' => State::Literal,
                b'(' => State::ExpectArray,
                _ => State::VariableName,
            },
            State::ExpectArray => match ch {
                b'[' => State::ExpectString,
                b' ' => State::ExpectArray,
                _ => State::String,
            },
            State::ExpectArrayDelimiterOrEnd => match ch {
                b',' => State::ExpectString,
                b']' => State::ExpectArgsEnd,
                b' ' => State::ExpectArrayDelimiterOrEnd,
                _ => {
                    return Err(EXPECT_DELIMITER.into());
                }
            },
            State::ExpectString => match ch {
                b'"' => State::String,
                b' ' => State::ExpectString,
                _ => return Err(EXPECT_QUOTE.into()),
            },
            State::String => match ch {
                b'\\' if !has_next => {
                    return Err(OPEN_BACKSLASH.into());
                }
                b'\\' => {
                    pos += 1;
                    State::String
                }
                b')' => State::ExpectVariableEnd,
                b'"' => State::ExpectArrayDelimiterOrEnd,
                _ => State::String,
            },
            State::ExpectArgsEnd => match ch {
                b')' => State::ExpectVariableEnd,
                b' ' => State::ExpectArgsEnd,
                _ => {
                    return Err(EXPECT_PAREN.into());
                }
            },
            State::ExpectVariableEnd => match ch {
                b'%' => State::Literal,
                b' ' => State::ExpectVariableEnd,
                _ => {
                    return Err(EXPECT_PERCENT.into());
                }
            },
        };
        pos += 1;
    }
    if state != State::Literal {
        return Err(format!(
            "invalid header configuration. Un-terminated variable expression '{value}'"
        ));
    }
    Ok(())
}

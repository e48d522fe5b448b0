//! What kind of difference a field shows ([`DiffKind`]): a changed value, a changed JSON type
//! (number vs string, integer vs float, null vs missing), a missing or extra field, an array
//! of another length, the status, a header, or a body that could not be decoded. A report groups
//! differences by field **and** kind, and says the kind in plain short words ([`DiffKind::words`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_diff::normalize;

/// A JSON value's type as a comparison distinguishes it (integers apart from floats, a missing
/// object member apart from `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number without fraction or exponent (`3`).
    Integer,
    /// Any other number (`3.0`, `1e3`).
    Float,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
    /// An object member that is not there.
    Missing,
}

impl JsonType {
    /// The type of `v`.
    pub fn of(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Integer,
            Value::Number(_) => Self::Float,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }

    /// `integer`, `float`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool => "boolean",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::String => "string",
            Self::Array => "array",
            Self::Object => "object",
            Self::Missing => "missing",
        }
    }
}

/// The kind of one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DiffKind {
    /// Same type, another value.
    Value,
    /// Another JSON type: the primary's, then the candidate's.
    Type(JsonType, JsonType),
    /// A member the primary has and the candidate does not.
    Missing,
    /// A member the candidate has and the primary does not.
    Extra,
    /// An array of another length (or, compared as a set, other elements).
    Length,
    /// The status.
    Status,
    /// A header's values.
    Header,
    /// A body that could not be decoded per its `content-encoding`.
    Encoding,
}

impl DiffKind {
    /// The kind's name in reports and JSON: `value`, `type`, `missing`, `extra`, `length`,
    /// `status`, `header`, `encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Type(..) => "type",
            Self::Missing => "missing",
            Self::Extra => "extra",
            Self::Length => "length",
            Self::Status => "status",
            Self::Header => "header",
            Self::Encoding => "encoding",
        }
    }

    /// Plain short words: `integer became float`, `missing in candidate`, ... (the status and
    /// headers just `differs`: their field says the rest).
    pub fn words(self) -> String {
        match self {
            Self::Value => "value differs".into(),
            Self::Type(a, b) => format!("{} became {}", a.as_str(), b.as_str()),
            Self::Missing => "missing in candidate".into(),
            Self::Extra => "extra in candidate".into(),
            Self::Length => "array length differs".into(),
            Self::Status | Self::Header => "differs".into(),
            Self::Encoding => "body not decodable".into(),
        }
    }

    /// The kind of difference between two values at the same place (`None`: equal).
    pub fn between(a: &Value, b: &Value) -> Option<Self> {
        let (ta, tb) = (JsonType::of(a), JsonType::of(b));
        if ta != tb {
            Some(Self::Type(ta, tb))
        } else if a == b {
            None
        } else if let (Value::Array(x), Value::Array(y)) = (a, b)
            && x.len() != y.len()
        {
            Some(Self::Length)
        } else {
            Some(Self::Value)
        }
    }

    /// The kind of a member present on one side only (`primary` tells which): `null` against
    /// nothing is a type change, anything else missing or extra.
    pub fn one_sided(value: &Value, primary: bool) -> Self {
        match (value.is_null(), primary) {
            (true, true) => Self::Type(JsonType::Null, JsonType::Missing),
            (true, false) => Self::Type(JsonType::Missing, JsonType::Null),
            (false, true) => Self::Missing,
            (false, false) => Self::Extra,
        }
    }
}

impl fmt::Display for DiffKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words())
    }
}

/// One difference: where (`status`, `header:NAME` or a JSON pointer) and what kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Difference {
    /// `status`, `header:NAME`, or a JSON pointer (`/` for the whole body).
    pub field: String,
    /// What kind of difference.
    pub kind: DiffKind,
}

impl Difference {
    /// A difference at `field` of `kind`.
    pub fn new(field: impl Into<String>, kind: DiffKind) -> Self {
        Self {
            field: field.into(),
            kind,
        }
    }

    /// The same difference with array indices as `*` (`/items/3/price` is `/items/*/price`),
    /// for counting "the same field" across pairs.
    pub fn normalized(&self) -> Self {
        Self::new(normalize(&self.field), self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_between_values() {
        let k = |a, b| DiffKind::between(&a, &b);
        assert_eq!(k(json!(1), json!(1)), None);
        assert_eq!(k(json!(1), json!(2)), Some(DiffKind::Value));
        assert_eq!(
            k(json!(3), json!(3.0)),
            Some(DiffKind::Type(JsonType::Integer, JsonType::Float))
        );
        assert_eq!(
            k(json!(3), json!("3")),
            Some(DiffKind::Type(JsonType::Integer, JsonType::String))
        );
        assert_eq!(k(json!([1, 2]), json!([1])), Some(DiffKind::Length));
        assert_eq!(
            DiffKind::one_sided(&json!(null), true),
            DiffKind::Type(JsonType::Null, JsonType::Missing)
        );
        assert_eq!(DiffKind::one_sided(&json!(1), false), DiffKind::Extra);
    }

    #[test]
    fn kinds_in_plain_words() {
        let t = DiffKind::Type(JsonType::Integer, JsonType::Float);
        assert_eq!(
            (t.as_str(), t.words().as_str()),
            ("type", "integer became float")
        );
        assert_eq!(DiffKind::Missing.words(), "missing in candidate");
    }
}

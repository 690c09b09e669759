//! Canonical JSON, byte for byte as the original makes it:
//! `JSON.stringify(sortObjectKeys(JSON.parse(text)))` (federation.md §5).
//!
//! The JavaScript semantics it reproduces:
//! - strings are sequences of UTF-16 code units (lone surrogates survive and are written as
//!   `\udxxx`); keys sort by code unit, not by code point;
//! - keys that are array indices (`"0"` … `"4294967294"` in canonical decimal form) are written
//!   first, in numeric order, as JS engines order own properties;
//! - numbers are IEEE-754 doubles printed with ECMAScript `Number::toString` (`-0` → `0`,
//!   `1e21` → `1e+21`, NaN and infinities → `null`);
//! - duplicate keys: the last value wins; a member named `__proto__` is dropped by the re-keying.
//!
//! This module has its own value type because `serde_json` can neither hold lone surrogates nor
//! order keys this way. [`Value::from`] converts a `serde_json::Value`.

use std::cmp::Ordering;

/// Deepest nesting accepted from untrusted text (JSON.parse has no limit, but recursion here
/// must stay bounded).
pub const MAX_DEPTH: usize = 128;

/// Errors of parsing JSON text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The text is not JSON.
    #[error("invalid JSON at byte {offset}: {reason}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// A JavaScript string: UTF-16 code units.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct JsString(Vec<u16>);

impl JsString {
    /// The code units.
    pub fn units(&self) -> &[u16] {
        &self.0
    }

    /// The string as Rust text; `None` if it holds a lone surrogate.
    pub fn to_rust_string(&self) -> Option<String> {
        String::from_utf16(&self.0).ok()
    }

    /// Equality with a Rust string without allocating.
    pub fn eq_str(&self, other: &str) -> bool {
        self.0.iter().copied().eq(other.encode_utf16())
    }

    /// If this key is an array index (`0` … `4294967294`, canonical decimal), its value.
    fn array_index(&self) -> Option<u32> {
        let units = &self.0;
        if units.is_empty() || units.len() > 10 || (units.len() > 1 && units[0] == u16::from(b'0'))
        {
            return None;
        }
        let mut n: u64 = 0;
        for &u in units {
            if !(u16::from(b'0')..=u16::from(b'9')).contains(&u) {
                return None;
            }
            n = n * 10 + u64::from(u - u16::from(b'0'));
        }
        u32::try_from(n).ok().filter(|&n| n != u32::MAX)
    }
}

impl From<&str> for JsString {
    fn from(s: &str) -> Self {
        JsString(s.encode_utf16().collect())
    }
}

impl std::fmt::Debug for JsString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf16_lossy(&self.0))
    }
}

/// A JSON value with JavaScript semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A double.
    Number(f64),
    /// A string.
    String(JsString),
    /// An array.
    Array(Vec<Value>),
    /// An object: members in insertion order, keys unique.
    Object(Object),
}

/// An object's members in insertion order (keys unique; re-inserting keeps the first position,
/// as assignment to an existing JS property does).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object(Vec<(JsString, Value)>);

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (replacing the value in place if present).
    pub fn insert(&mut self, key: impl Into<JsString>, value: Value) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k.eq_str(key)).map(|(_, v)| v)
    }

    /// Members in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&JsString, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<JsString>> FromIterator<(K, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl Value {
    /// A string value.
    pub fn string(s: &str) -> Value {
        Value::String(JsString::from(s))
    }

    /// The string, if this is a string without lone surrogates.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Value::String(s) => s.to_rust_string(),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// `sortObjectKeys`: every object's keys re-inserted in UTF-16 order, recursively;
    /// `__proto__` members dropped.
    pub fn sorted(&self) -> Value {
        match self {
            Value::Array(items) => Value::Array(items.iter().map(Value::sorted).collect()),
            Value::Object(object) => {
                let mut members: Vec<(JsString, Value)> = object
                    .0
                    .iter()
                    .filter(|(k, _)| !k.eq_str("__proto__"))
                    .map(|(k, v)| (k.clone(), v.sorted()))
                    .collect();
                members.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
                Value::Object(Object(members))
            }
            other => other.clone(),
        }
    }

    /// `JSON.stringify` of this value as it is (no sorting).
    pub fn stringify(&self) -> String {
        let mut out = String::new();
        write_value(self, &mut out);
        out
    }

    /// The canonical form: `JSON.stringify(sortObjectKeys(value))`.
    pub fn canonical(&self) -> String {
        self.sorted().stringify()
    }
}

impl From<&serde_json::Value> for Value {
    fn from(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Number),
            serde_json::Value::String(s) => Value::string(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (JsString::from(k.as_str()), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&Value> for serde_json::Value {
    /// Lossy only where JSON text has no form: lone surrogates become U+FFFD, non-finite
    /// numbers `null`.
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
                    // Integral doubles below 2^53 are exact as i64.
                    serde_json::Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into)
                }
            }
            Value::String(s) => serde_json::Value::String(String::from_utf16_lossy(&s.0)),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(serde_json::Value::from).collect())
            }
            Value::Object(o) => serde_json::Value::Object(
                o.0.iter()
                    .map(|(k, v)| (String::from_utf16_lossy(&k.0), serde_json::Value::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Parses JSON text with `JSON.parse` semantics.
pub fn parse(text: &str) -> Result<Value, CanonicalError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("unexpected trailing characters"));
    }
    Ok(value)
}

/// The canonical form of JSON text.
pub fn canonicalize(text: &str) -> Result<String, CanonicalError> {
    parse(text).map(|v| v.canonical())
}

/// The canonical form of anything serde can serialize to JSON.
pub fn to_canonical_string<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<String, serde_json::Error> {
    Ok(Value::from(&serde_json::to_value(value)?).canonical())
}

/// The original's `buildSignableMessage(type, payload)`:
/// `JSON.stringify({type, ...sortKeysRecursive(payload)})` (crypto.md §9). `type` is the first
/// key; a payload `type` overrides its value but not its position.
pub fn legacy_signable(message_type: &str, payload: &Object) -> String {
    let mut object = Object::new();
    object.insert("type", Value::string(message_type));
    if let Value::Object(sorted) = Value::Object(payload.clone()).sorted() {
        for (k, v) in sorted.0 {
            object.insert(k, v);
        }
    }
    Value::Object(object).stringify()
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> CanonicalError {
        CanonicalError::Syntax {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, CanonicalError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        if depth > MAX_DEPTH {
            return Err(CanonicalError::TooDeep);
        }
        match self.bytes.get(self.pos) {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.pos += 1;
        let mut object = Object::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Object(object));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            object.insert(key, value);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(object));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, CanonicalError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let mut n: u16 = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("bad hex digit in \\u escape"))?;
            n = n * 16 + v as u16;
        }
        self.pos += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<JsString, CanonicalError> {
        self.pos += 1; // opening quote
        let mut units = Vec::new();
        loop {
            let start = self.pos;
            // Copy a run of plain characters at once.
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // `start..pos` ends before an ASCII byte, so it is on a char boundary.
            units.extend(self.text[start..self.pos].encode_utf16());
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(JsString(units));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = *self
                        .bytes
                        .get(self.pos)
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    let unit = match escape {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => self.hex4()?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    };
                    units.push(unit);
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, CanonicalError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.bytes.get(p.pos) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("digits expected after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("digits expected in exponent"));
            }
        }
        // Rust's float parsing is correctly rounded, like JSON.parse; overflow gives ±inf.
        self.text[start..self.pos]
            .parse::<f64>()
            .map(Value::Number)
            .map_err(|_| self.error("invalid number"))
    }
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(object) => {
            // JS own-property order: array-index keys first (ascending), then insertion order.
            let mut indexed: Vec<(u32, &JsString, &Value)> = Vec::new();
            let mut named: Vec<(&JsString, &Value)> = Vec::new();
            for (k, v) in &object.0 {
                match k.array_index() {
                    Some(i) => indexed.push((i, k, v)),
                    None => named.push((k, v)),
                }
            }
            indexed.sort_by_key(|m| m.0);
            out.push('{');
            let members = indexed.iter().map(|(_, k, v)| (*k, *v)).chain(named);
            for (i, (k, v)) in members.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out);
            }
            out.push('}');
        }
    }
}

/// `n` as JavaScript's `String(n)` writes it (`NaN` and infinities as `null`, as JSON does).
/// Also what error messages use: Rust's own float formatting adds ~20 KB to a WASM module.
pub fn number_text(n: f64) -> String {
    let mut out = String::new();
    write_number(n, &mut out);
    out
}

fn write_number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n == 0.0 {
        out.push('0'); // also -0
    } else {
        out.push_str(ryu_js::Buffer::new().format_finite(n));
    }
}

fn write_string(s: &JsString, out: &mut String) {
    out.push('"');
    for unit in char::decode_utf16(s.0.iter().copied()) {
        match unit {
            Ok(c) => match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{08}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{0c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            },
            Err(lone) => out.push_str(&format!("\\u{:04x}", lone.unpaired_surrogate())),
        }
    }
    out.push('"');
}

/// Compares two strings in UTF-16 code-unit order (JS `<`).
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_of_the_spec() {
        let input = r#"{"b":1,"a":{"d":[{"z":1,"y":2},3],"c":"é😀\u0007\"/"},"10":true,"2":null,"B":1.50,"_":1e21,"n":-0,"arr":[null,1]}"#;
        assert_eq!(
            canonicalize(input).unwrap(),
            r#"{"2":null,"10":true,"B":1.5,"_":1e+21,"a":{"c":"é😀\u0007\"/","d":[{"y":2,"z":1},3]},"arr":[null,1],"b":1,"n":0}"#
        );
    }

    #[test]
    fn legacy_signable_example() {
        let payload: Object = [
            ("to", Value::string("c@d.com")),
            ("from", Value::string("a@b.com")),
            ("timestamp", Value::string("2026-04-20T00:00:00Z")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            legacy_signable("FRIEND_INVITE", &payload),
            r#"{"type":"FRIEND_INVITE","from":"a@b.com","timestamp":"2026-04-20T00:00:00Z","to":"c@d.com"}"#
        );
    }

    #[test]
    fn rejects_bad_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            "\"\\x\"",
            "tru",
            "[1] x",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep), Err(CanonicalError::TooDeep));
    }
}

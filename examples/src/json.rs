//! A small JSON writer for `--json` output (the CLI only writes JSON, never reads it).
//!
//! Documents are built as [`Value`]s; listings are streamed with [`Stream`], which writes
//! `{"entries":[` first, each entry as it comes, and `]}` at the end, so a listing of any
//! size is printed without being collected.

use std::fmt::Write as _;
use std::io::{self, Write};

/// A JSON value. Objects keep their field order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An unsigned number.
    Num(u64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object with fields in this order.
    Obj(Vec<(&'static str, Value)>),
}

impl Value {
    /// A string, or `null` for `None`.
    pub fn opt_str(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::Str)
    }

    /// The compact text of this value.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }

    fn write_to(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Str(s) => quote(s, out),
            Value::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_to(out);
                }
                out.push(']');
            }
            Value::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(k, out);
                    out.push(':');
                    v.write_to(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Num(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// Append `s` as a JSON string literal (RFC 8259 escapes).
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{"entries":[ ... ]}` written one entry at a time.
pub struct Stream<W: Write> {
    out: W,
    count: usize,
}

impl<W: Write> Stream<W> {
    /// Write the opening of the document.
    pub fn start(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\"entries\":[")?;
        Ok(Stream { out, count: 0 })
    }

    /// Write one entry (one per line, so the output streams to a pipe line by line).
    pub fn entry(&mut self, v: &Value) -> io::Result<()> {
        let sep: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
        self.count += 1;
        self.out.write_all(sep)?;
        self.out.write_all(v.to_text().as_bytes())?;
        self.out.flush()
    }

    /// The writer.
    pub fn inner(&self) -> &W {
        &self.out
    }

    /// Close the document.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let v = Value::Obj(vec![
            ("name", "a \"b\"\n\\c\u{1}".into()),
            ("size", 42u64.into()),
            ("dir", false.into()),
            ("t", Value::Null),
            ("list", Value::Arr(vec!["x".into(), Value::Num(0)])),
        ]);
        assert_eq!(
            v.to_text(),
            r#"{"name":"a \"b\"\n\\c\u0001","size":42,"dir":false,"t":null,"list":["x",0]}"#
        );
    }

    #[test]
    fn streamed_listing() {
        let mut buf = Vec::new();
        let mut s = Stream::start(&mut buf).unwrap();
        s.finish().unwrap();
        assert_eq!(buf, b"{\"entries\":[\n]}\n");
        let mut buf = Vec::new();
        s = Stream::start(&mut buf).unwrap();
        s.entry(&Value::Num(1)).unwrap();
        s.entry(&Value::Num(2)).unwrap();
        s.finish().unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"entries\":[\n1,\n2\n]}\n"
        );
    }
}

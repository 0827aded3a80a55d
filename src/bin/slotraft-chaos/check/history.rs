//! The history file: one JSON object per line, written by the workload as operations complete
//! and read by the checker in one pass.
//!
//! ```text
//! {"process":3,"call":1764043200123456,"ret":1764043200125001,"outcome":"ok","op":{"f":"write","key":"chaos:r:4","value":812}}
//! {"process":7,"call":…,"ret":…,"outcome":"info","op":{"f":"txn","mops":[{"f":"append","key":"{chaos:l:2}a","elem":90}]},"error":"no reply within 4000 ms"}
//! {"done":["chaos:r:4"]}
//! ```
//! Times are microseconds since the Unix epoch (so they line up with the nemesis log). Lines
//! are in the order operations completed, not the order they were invoked: the checker needs
//! no order but that a key's operations come before its `done` line. To read a history in
//! invocation order, `sort -t, -k2,2 history.jsonl` (the times have the same number of digits).
//! A `done` line says that no operation on those keys follows: the checker checks them there
//! and forgets them, so its memory is bounded by the keys in use at once, not by the length of
//! the run. Keys that never get one (older histories, keys still in use at the end) are
//! checked at the end of the file.

use std::io::{BufRead, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::Outcome;
use super::list_append::Mop;

/// The error of a compare-and-set whose EXEC was aborted: a failure that is an answer.
pub const ABORTED: &str = "EXEC aborted: a watched key changed";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Op {
    /// GET of a register.
    Read { key: String, value: Option<u64> },
    /// SET of a register.
    Write { key: String, value: u64 },
    /// Compare-and-set of a register (WATCH, GET, MULTI, SET, EXEC).
    Cas {
        key: String,
        expect: Option<u64>,
        new: u64,
        swapped: bool,
    },
    /// A list-append transaction (MULTI, RPUSH / LRANGE of keys of one slot, EXEC).
    Txn { mops: Vec<Mop> },
}

impl Op {
    /// The name the report groups operations by.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::Cas { .. } => "cas",
            Op::Txn { .. } => "txn",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// A worker's logical process: a new one after each operation of unknown outcome, since
    /// that operation may still be in flight.
    pub process: u64,
    /// Invocation and completion, µs since the Unix epoch.
    pub call: u64,
    pub ret: u64,
    pub outcome: Outcome,
    pub op: Op,
    /// Why the operation failed or its outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Record(Record),
    /// No operation on these keys follows.
    Done(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct DoneLine {
    done: Vec<String>,
}

impl Line {
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self {
            Line::Record(r) => serde_json::to_writer(&mut *out, r)?,
            Line::Done(keys) => serde_json::to_writer(&mut *out, &DoneLine { done: keys.clone() })?,
        }
        out.write_all(b"\n")
    }

    pub fn parse(text: &str) -> Result<Line, serde_json::Error> {
        let done = text
            .trim_start()
            .strip_prefix('{')
            .is_some_and(|rest| rest.trim_start().starts_with("\"done\""));
        if done {
            Ok(Line::Done(serde_json::from_str::<DoneLine>(text)?.done))
        } else {
            serde_json::from_str(text).map(Line::Record)
        }
    }
}

/// A thread that writes the lines sent to it, so that the workload's tasks never wait on the
/// disk and nothing of the history stays in memory. Dropping every sender ends it; joining it
/// gives the operations written.
pub fn spawn_writer(
    path: &Path,
) -> std::io::Result<(mpsc::Sender<Line>, std::thread::JoinHandle<std::io::Result<u64>>)> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let (tx, rx) = mpsc::channel::<Line>();
    let writer = std::thread::Builder::new()
        .name("history-writer".into())
        .spawn(move || {
            let mut records = 0;
            for line in rx {
                line.write_to(&mut out)?;
                records += u64::from(matches!(line, Line::Record(_)));
            }
            out.flush()?;
            Ok(records)
        })?;
    Ok((tx, writer))
}

/// A run of whole lines of a history, as read: its place in the file and its bytes.
pub struct Block {
    /// Byte offset of `bytes` in the file.
    pub offset: u64,
    /// Line number (from 1) of its first line.
    pub first_line: u64,
    pub bytes: Vec<u8>,
}

/// Cuts a history into blocks of whole lines of about `size` bytes, for parsing on several
/// threads.
pub struct Blocks<R> {
    input: R,
    size: usize,
    carry: Vec<u8>,
    offset: u64,
    line: u64,
    eof: bool,
}

impl<R: Read> Blocks<R> {
    pub fn new(input: R, size: usize) -> Blocks<R> {
        Blocks {
            input,
            size: size.max(1),
            carry: Vec::new(),
            offset: 0,
            line: 1,
            eof: false,
        }
    }

    pub fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            // Read until the block is full (or the file ends), then cut after its last newline;
            // a line longer than a block makes the block longer.
            let mut filled = buf.len();
            while filled < self.size && !self.eof {
                buf.resize(self.size.max(filled + 64 * 1024), 0);
                match self.input.read(&mut buf[filled..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            if buf.is_empty() {
                return Ok(None);
            }
            let cut = match buf.iter().rposition(|&b| b == b'\n') {
                Some(nl) => nl + 1,
                None if self.eof => buf.len(),
                None => {
                    self.size = self.size.saturating_mul(2);
                    continue;
                }
            };
            self.carry = buf.split_off(cut);
            let block = Block {
                offset: self.offset,
                first_line: self.line,
                bytes: buf,
            };
            self.offset += block.bytes.len() as u64;
            self.line += block.bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            return Ok(Some(block));
        }
    }
}

/// The lines of a block with their byte offsets in the file; blank lines are skipped. An
/// error names the line.
pub fn parse_block(block: &Block) -> Result<Vec<(u64, Line)>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    for (n, raw) in block.bytes.split(|&b| b == b'\n').enumerate() {
        let offset = block.offset + at as u64;
        at += raw.len() + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = block.first_line + n as u64;
        let text = std::str::from_utf8(raw).map_err(|e| format!("{line}: {e}"))?;
        out.push((offset, Line::parse(text).map_err(|e| format!("{line}: {e}"))?));
    }
    Ok(out)
}

/// The line that starts at `offset` of a history, without its newline: how the report shows
/// the operations an anomaly involves.
pub fn line_at(input: &mut (impl Read + Seek), offset: u64) -> std::io::Result<String> {
    input.seek(std::io::SeekFrom::Start(offset))?;
    let mut line = String::new();
    std::io::BufReader::new(input).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

// The operations are read by hand-written visitors rather than serde's derive for an
// internally tagged enum, which buffers every object (and each list read in it) into a generic
// tree before choosing the variant: that buffering was most of the time of parsing a history.

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum OpField {
    F,
    Key,
    Value,
    Expect,
    New,
    Swapped,
    Mops,
    Elem,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum OpName {
    Read,
    Write,
    Cas,
    Txn,
    Append,
}

/// The fields of an operation or of a micro-operation, in whatever order they come.
struct Fields<V> {
    f: Option<OpName>,
    key: Option<String>,
    value: Option<V>,
    expect: Option<u64>,
    new: Option<u64>,
    swapped: Option<bool>,
    mops: Option<Vec<Mop>>,
    elem: Option<u64>,
}

impl<V> Fields<V> {
    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Fields<V>, A::Error>
    where
        V: Deserialize<'de>,
    {
        let mut f = Fields {
            f: None,
            key: None,
            value: None,
            expect: None,
            new: None,
            swapped: None,
            mops: None,
            elem: None,
        };
        while let Some(field) = map.next_key::<OpField>()? {
            match field {
                OpField::F => f.f = Some(map.next_value()?),
                OpField::Key => f.key = Some(map.next_value()?),
                OpField::Value => f.value = map.next_value()?,
                OpField::Expect => f.expect = map.next_value()?,
                OpField::New => f.new = Some(map.next_value()?),
                OpField::Swapped => f.swapped = Some(map.next_value()?),
                OpField::Mops => f.mops = Some(map.next_value()?),
                OpField::Elem => f.elem = Some(map.next_value()?),
                OpField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(f)
    }
}

fn need<T, E: de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
    v.ok_or_else(|| E::missing_field(name))
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        struct OpVisitor;
        impl<'de> Visitor<'de> for OpVisitor {
            type Value = Op;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an operation (read, write, cas or txn)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Op, A::Error> {
                let f = Fields::<u64>::read(map)?;
                Ok(match need(f.f, "f")? {
                    OpName::Read => Op::Read {
                        key: need(f.key, "key")?,
                        value: f.value,
                    },
                    OpName::Write => Op::Write {
                        key: need(f.key, "key")?,
                        value: need(f.value, "value")?,
                    },
                    OpName::Cas => Op::Cas {
                        key: need(f.key, "key")?,
                        expect: f.expect,
                        new: need(f.new, "new")?,
                        swapped: need(f.swapped, "swapped")?,
                    },
                    OpName::Txn => Op::Txn {
                        mops: need(f.mops, "mops")?,
                    },
                    OpName::Append => return Err(de::Error::custom("append is a micro-operation of a txn")),
                })
            }
        }
        d.deserialize_map(OpVisitor)
    }
}

impl<'de> Deserialize<'de> for Mop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mop, D::Error> {
        struct MopVisitor;
        impl<'de> Visitor<'de> for MopVisitor {
            type Value = Mop;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a micro-operation (append or read)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Mop, A::Error> {
                let f = Fields::<Vec<u64>>::read(map)?;
                Ok(match need(f.f, "f")? {
                    OpName::Append => Mop::Append {
                        key: need(f.key, "key")?,
                        elem: need(f.elem, "elem")?,
                    },
                    OpName::Read => Mop::Read {
                        key: need(f.key, "key")?,
                        value: f.value,
                    },
                    _ => return Err(de::Error::custom("a micro-operation is an append or a read")),
                })
            }
        }
        d.deserialize_map(MopVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Record> {
        vec![
            Record {
                process: 1,
                call: 10,
                ret: 20,
                outcome: Outcome::Ok,
                op: Op::Read {
                    key: "k".into(),
                    value: None,
                },
                error: None,
            },
            Record {
                process: 2,
                call: 11,
                ret: 30,
                outcome: Outcome::Info,
                op: Op::Txn {
                    mops: vec![
                        Mop::Append {
                            key: "{t}a".into(),
                            elem: 5,
                        },
                        Mop::Read {
                            key: "{t}b".into(),
                            value: None,
                        },
                        Mop::Read {
                            key: "{t}b".into(),
                            value: Some(vec![1, 2]),
                        },
                    ],
                },
                error: Some("no reply".into()),
            },
            Record {
                process: 3,
                call: 12,
                ret: 13,
                outcome: Outcome::Fail,
                op: Op::Cas {
                    key: "k".into(),
                    expect: Some(4),
                    new: 6,
                    swapped: true,
                },
                error: Some(ABORTED.into()),
            },
        ]
    }

    #[test]
    fn lines_round_trip_through_a_file_in_blocks() {
        let mut lines: Vec<Line> = records().into_iter().map(Line::Record).collect();
        lines.insert(1, Line::Done(vec!["k".into(), "{t}a".into()]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let (tx, writer) = spawn_writer(&path).unwrap();
        for l in &lines {
            tx.send(l.clone()).unwrap();
        }
        drop(tx);
        assert_eq!(writer.join().unwrap().unwrap(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                "{\"process\":1,\"call\":10,\"ret\":20,\"outcome\":\"ok\",\"op\":{\"f\":\"read\",\"key\":\"k\",\"value\":null}}\n{\"done\":[\"k\",\"{t}a\"]}\n"
            ),
            "{text}"
        );
        // Any block size gives the same lines, at the right offsets.
        for size in [1, 7, 100, 1 << 20] {
            let mut blocks = Blocks::new(std::fs::File::open(&path).unwrap(), size);
            let mut got = Vec::new();
            while let Some(b) = blocks.next_block().unwrap() {
                got.extend(parse_block(&b).unwrap());
            }
            assert_eq!(
                got.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(),
                lines,
                "size {size}"
            );
            let mut file = std::fs::File::open(&path).unwrap();
            for (offset, l) in &got {
                let text = line_at(&mut file, *offset).unwrap();
                assert_eq!(&Line::parse(&text).unwrap(), l);
            }
        }
    }

    #[test]
    fn fields_may_come_in_any_order_and_errors_name_the_line() {
        let text =
            r#"{"op":{"value":null,"key":"k","f":"read","extra":[1]},"outcome":"ok","ret":20,"call":10,"process":1}"#;
        assert_eq!(Line::parse(text).unwrap(), Line::Record(records()[0].clone()));
        let mops = r#"{"process":2,"call":11,"ret":30,"outcome":"info","error":"no reply","op":{"mops":[{"elem":5,"f":"append","key":"{t}a"},{"key":"{t}b","f":"read"},{"value":[1,2],"key":"{t}b","f":"read"}],"f":"txn"}}"#;
        assert_eq!(Line::parse(mops).unwrap(), Line::Record(records()[1].clone()));
        let block = Block {
            offset: 0,
            first_line: 1,
            bytes: b"\n{\"done\":[]}\n{\"process\":1}\n".to_vec(),
        };
        assert!(parse_block(&block).unwrap_err().starts_with("3: "));
        assert!(Line::parse(r#"{"process":1,"call":1,"ret":2,"outcome":"ok","op":{"f":"read"}}"#).is_err());
    }
}

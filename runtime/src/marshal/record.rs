//! The record log: the calls an API server must replay to re-create a
//! guest's objects on a fresh server (migration, recovery), as the spec's
//! `obj_record` says.
//!
//! The server appends one entry per successful call that has an
//! `obj_record` value: the call message exactly as the guest sent it, the
//! handle ids the call issued (in the order it issued them), and the objects
//! the record belongs to. When an object is released the server appends a
//! *forget* entry; a record all of whose objects were forgotten is not
//! replayed. Replaying runs each live record's message through the same
//! checks as a guest's call, and gives every object the call creates the id
//! the guest already holds, so the guest goes on with its handles.
//!
//! The file is append-only and flushed after every entry, so a server that
//! dies leaves a log that replays up to its last complete entry. Layout,
//! little-endian: tag (u8: 1 record, 2 forget), then for a record the
//! object count (u32) and ids (u64 each), the issued count (u32) and ids,
//! the message length (u32) and bytes; for a forget, the id (u64).

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Record { objects: Vec<u64>, issued: Vec<u64>, message: Vec<u8> },
    Forget(u64),
}

const RECORD: u8 = 1;
const FORGET: u8 = 2;

impl Entry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Entry::Record { objects, issued, message } => {
                out.push(RECORD);
                for ids in [objects, issued] {
                    out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
                    for id in ids {
                        out.extend_from_slice(&id.to_le_bytes());
                    }
                }
                out.extend_from_slice(&(message.len() as u32).to_le_bytes());
                out.extend_from_slice(message);
            }
            Entry::Forget(id) => {
                out.push(FORGET);
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
    }
}

/// An append-only log file.
#[derive(Debug)]
pub struct RecordLog {
    file: BufWriter<std::fs::File>,
    scratch: Vec<u8>,
}

impl RecordLog {
    /// Creates (or truncates) the log at `path`.
    pub fn create(path: &Path) -> std::io::Result<RecordLog> {
        Ok(RecordLog { file: BufWriter::new(std::fs::File::create(path)?), scratch: Vec::new() })
    }

    pub fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        self.scratch.clear();
        entry.encode(&mut self.scratch);
        self.file.write_all(&self.scratch)?;
        self.file.flush()
    }
}

/// Reads every complete entry of a log; a cut-off last entry (the server
/// died while writing it) is dropped, and said so in the second value.
pub fn decode(bytes: &[u8]) -> (Vec<Entry>, bool) {
    let mut entries = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(bytes, &mut at) {
            Some(entry) => entries.push(entry),
            None => return (entries, true),
        }
    }
    (entries, false)
}

fn decode_one(bytes: &[u8], at: &mut usize) -> Option<Entry> {
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let slice = bytes.get(*at..at.checked_add(n)?)?;
        *at += n;
        Some(slice)
    };
    let u32_at = |at: &mut usize| take(at, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    let u64_at = |at: &mut usize| take(at, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    match *take(at, 1)?.first()? {
        RECORD => {
            let mut lists = [Vec::new(), Vec::new()];
            for list in &mut lists {
                let n = u32_at(at)? as usize;
                if n > bytes.len() / 8 {
                    return None;
                }
                for _ in 0..n {
                    list.push(u64_at(at)?);
                }
            }
            let len = u32_at(at)? as usize;
            let message = take(at, len)?.to_vec();
            let [objects, issued] = lists;
            Some(Entry::Record { objects, issued, message })
        }
        FORGET => Some(Entry::Forget(u64_at(at)?)),
        _ => None,
    }
}

/// The records to replay, in order: those with an object not forgotten
/// after them (or with no objects at all). Each comes with the ids its
/// call issued.
pub fn live(entries: &[Entry]) -> Vec<(&[u64], &[u8])> {
    let mut forgotten = HashSet::new();
    let mut keep = Vec::new();
    for entry in entries.iter().rev() {
        match entry {
            Entry::Forget(id) => {
                forgotten.insert(*id);
            }
            Entry::Record { objects, issued, message } => {
                if objects.is_empty() || objects.iter().any(|o| !forgotten.contains(o)) {
                    keep.push((issued.as_slice(), message.as_slice()));
                }
            }
        }
    }
    keep.reverse();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(objects: &[u64], message: &[u8]) -> Entry {
        Entry::Record { objects: objects.to_vec(), issued: objects.to_vec(), message: message.to_vec() }
    }

    #[test]
    fn entries_round_trip_and_a_cut_off_tail_is_dropped() {
        let entries = vec![record(&[1, 2], b"create"), Entry::Forget(2), record(&[], b"setting")];
        let mut bytes = Vec::new();
        for e in &entries {
            e.encode(&mut bytes);
        }
        assert_eq!(decode(&bytes), (entries.clone(), false));
        for cut in 1..bytes.len() {
            let (partial, truncated) = decode(&bytes[..cut]);
            assert!(entries.starts_with(&partial), "cut at {cut}");
            assert!(truncated || partial.len() < entries.len() || cut == bytes.len());
        }
        // hostile counts allocate nothing
        assert_eq!(decode(&[RECORD, 0xff, 0xff, 0xff, 0xff]), (vec![], true));
        assert_eq!(decode(&[9]), (vec![], true));
    }

    #[test]
    fn a_record_lives_while_one_of_its_objects_does() {
        let entries = vec![
            record(&[1], b"create 1"),
            record(&[2], b"create 2"),
            record(&[1, 2], b"link 1 and 2"),
            Entry::Forget(1),
            record(&[], b"global setting"),
            // an id reused after the forget belongs to a new record
            record(&[1], b"create 1 again"),
        ];
        let messages: Vec<&[u8]> = live(&entries).into_iter().map(|(_, m)| m).collect();
        assert_eq!(messages, [&b"create 2"[..], b"link 1 and 2", b"global setting", b"create 1 again"]);
    }
}

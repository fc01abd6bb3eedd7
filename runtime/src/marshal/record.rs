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
//! Handle ids belong to a guest process (each has its own table), so every
//! entry names its [`Owner`]: the process's number and process id. A
//! replay re-creates each process's objects in that process's state, bound
//! to the same process id, which the process finds when it reconnects.
//!
//! The file is append-only and flushed after every entry, so a server that
//! dies leaves a log that replays up to its last complete entry. Layout,
//! little-endian: tag (u8: 3 record, 4 forget; 1 and 2 were the entries
//! before they named their owner, and are refused), the owner's process
//! number (u64) and process id (u32), then for a record the object count
//! (u32) and ids (u64 each), the issued count (u32) and ids, the message
//! length (u32) and bytes; for a forget, the id (u64).

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Record { objects: Vec<u64>, issued: Vec<u64>, message: Vec<u8> },
    Forget(u64),
}

/// The guest process an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The number its hello gave.
    pub process: u64,
    /// Its process id.
    pub pid: u32,
}

const RECORD: u8 = 3;
const FORGET: u8 = 4;

impl Entry {
    pub fn encode(&self, owner: Owner, out: &mut Vec<u8>) {
        let tag = match self {
            Entry::Record { .. } => RECORD,
            Entry::Forget(_) => FORGET,
        };
        out.push(tag);
        out.extend_from_slice(&owner.process.to_le_bytes());
        out.extend_from_slice(&owner.pid.to_le_bytes());
        match self {
            Entry::Record { objects, issued, message } => {
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

    pub fn append(&mut self, owner: Owner, entry: &Entry) -> std::io::Result<()> {
        self.scratch.clear();
        entry.encode(owner, &mut self.scratch);
        self.file.write_all(&self.scratch)?;
        self.file.flush()
    }
}

/// Reads every complete entry of a log, with its owner; a cut-off last
/// entry (the server died while writing it) is dropped, and said so in the
/// second value, as is everything from an entry of an unknown kind on.
pub fn decode(bytes: &[u8]) -> (Vec<(Owner, Entry)>, bool) {
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

fn decode_one(bytes: &[u8], at: &mut usize) -> Option<(Owner, Entry)> {
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let slice = bytes.get(*at..at.checked_add(n)?)?;
        *at += n;
        Some(slice)
    };
    let u32_at = |at: &mut usize| take(at, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    let u64_at = |at: &mut usize| take(at, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    let tag = *take(at, 1)?.first()?;
    if tag != RECORD && tag != FORGET {
        return None;
    }
    let owner = Owner { process: u64_at(at)?, pid: u32_at(at)? };
    let entry = match tag {
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
            Entry::Record { objects, issued, message }
        }
        _ => Entry::Forget(u64_at(at)?),
    };
    Some((owner, entry))
}

/// The records to replay, in order: those with an object not forgotten
/// after them by the same process (or with no objects at all). Each comes
/// with its owner and the ids its call issued.
pub fn live(entries: &[(Owner, Entry)]) -> Vec<(Owner, &[u64], &[u8])> {
    let mut forgotten = HashSet::new();
    let mut keep = Vec::new();
    for (owner, entry) in entries.iter().rev() {
        match entry {
            Entry::Forget(id) => {
                forgotten.insert((owner.process, *id));
            }
            Entry::Record { objects, issued, message } => {
                if objects.is_empty() || objects.iter().any(|o| !forgotten.contains(&(owner.process, *o))) {
                    keep.push((*owner, issued.as_slice(), message.as_slice()));
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

    const A: Owner = Owner { process: 0x1234, pid: 77 };
    const B: Owner = Owner { process: 0x5678, pid: 78 };

    fn record(objects: &[u64], message: &[u8]) -> (Owner, Entry) {
        (A, Entry::Record { objects: objects.to_vec(), issued: objects.to_vec(), message: message.to_vec() })
    }

    #[test]
    fn entries_round_trip_and_a_cut_off_tail_is_dropped() {
        let entries = vec![record(&[1, 2], b"create"), (B, Entry::Forget(2)), record(&[], b"setting")];
        let mut bytes = Vec::new();
        for (owner, e) in &entries {
            e.encode(*owner, &mut bytes);
        }
        assert_eq!(decode(&bytes), (entries.clone(), false));
        for cut in 1..bytes.len() {
            let (partial, truncated) = decode(&bytes[..cut]);
            assert!(entries.starts_with(&partial), "cut at {cut}");
            assert!(truncated || partial.len() < entries.len() || cut == bytes.len());
        }
        // hostile counts allocate nothing
        let mut hostile = vec![RECORD];
        hostile.extend_from_slice(&[0; 12]);
        hostile.extend_from_slice(&[0xff; 4]);
        assert_eq!(decode(&hostile), (vec![], true));
        assert_eq!(decode(&[9]), (vec![], true));
        // a log of the layout before entries named their owner
        assert_eq!(decode(&[2, 1, 0, 0, 0, 0, 0, 0, 0]), (vec![], true));
    }

    #[test]
    fn a_record_lives_while_one_of_its_objects_does() {
        let entries = vec![
            record(&[1], b"create 1"),
            record(&[2], b"create 2"),
            record(&[1, 2], b"link 1 and 2"),
            (A, Entry::Forget(1)),
            record(&[], b"global setting"),
            // an id reused after the forget belongs to a new record
            record(&[1], b"create 1 again"),
            // another process's object 1 is another object: its forget leaves A's alone
            (B, Entry::Record { objects: vec![1], issued: vec![1], message: b"B creates its 1".to_vec() }),
            (B, Entry::Forget(1)),
        ];
        let messages: Vec<&[u8]> = live(&entries).into_iter().map(|(_, _, m)| m).collect();
        assert_eq!(messages, [&b"create 2"[..], b"link 1 and 2", b"global setting", b"create 1 again"]);
        assert!(live(&entries).iter().all(|(owner, _, _)| *owner == A));
    }
}

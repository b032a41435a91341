//! The audit log: every command, acknowledgement, enrolment and removal, appended to a
//! local file before it takes effect — if the log cannot be written, the command is not
//! sent. Each line is a JSON record carrying the hash of the line before it
//! and its own (SHA-256 over its content and that previous hash), so a changed, removed or
//! reordered line breaks the chain and [`Audit::verify`] says where. The app, enrolment
//! and the CLI may all write it at once: each append takes an exclusive lock on the file
//! and continues the chain from the line it finds last, never from a tail it remembers.
//! The chain's head (the newest record's sequence number and hash) is also kept in the
//! device's keychain ([`Audit::open_anchored`]): a log deleted, cut short or rewritten is
//! reported — "N records missing" — and never silently started anew; starting a new chain
//! is an act of its own ([`Audit::start_new`]), and the new chain's first record. (Cutting lines off
//! the end leaves a shorter valid chain; the sites' own records — output state "by",
//! alert updates — are the outside witness.) Records hold ids, never a URL or a secret.

use crate::Secret;
use crate::vault::SecretStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// UTC, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The broker user who acted.
    pub user: String,
    /// `command` (written before it is sent), `ack` (an acknowledgement, likewise),
    /// `outcome` (after either), `enrol` or `remove` (a profile, one record per site),
    /// `clip` (video saved or deleted).
    pub what: String,
    pub site: String,
    /// `output:{id}` or `site`.
    pub target: String,
    /// `on`, `off`, `pulse:N`, `lock`, `unlock`, `arm`, `arm_partial`, `disarm`.
    pub action: String,
    pub request_id: String,
    /// For a command: `sent`, `refused` (by the core), `not sent: offline`; for an outcome:
    /// `done`, `denied`, `failed`, `expired`, `unconfirmed`.
    pub outcome: String,
    pub note: Option<String>,
}

/// A record as stored: its place in the chain.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    seq: u64,
    /// Monotonic time since this process started, in ms: orders records even when the
    /// wall clock jumps.
    mono_ms: u64,
    #[serde(flatten)]
    record: Record,
    /// The previous line's `hash`, or 64 zeros for the first.
    prev: String,
    /// SHA-256 (hex) of this line as written with an empty `hash`.
    hash: String,
}

impl Line {
    fn digest(&mut self) -> Result<String, AuditError> {
        let own = std::mem::take(&mut self.hash);
        let text = serde_json::to_string(self).map_err(|e| AuditError::Io(e.to_string()));
        self.hash = own;
        Ok(hash(&text?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Io(String),
    #[error("line {line}: {problem}")]
    Broken { line: u64, problem: String },
    #[error(
        "the audit log has lost {0} records this device wrote (deleted or cut short); start a new chain on purpose to go on (mimamori audit --start-new)"
    )]
    Missing(u64),
    #[error(
        "the audit log was rewritten: record {0}, which this device wrote, is not in it; start a new chain on purpose to go on (mimamori audit --start-new)"
    )]
    Rewritten(u64),
    /// The keychain that keeps the chain's head cannot be read or written.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

pub struct Audit {
    path: PathBuf,
    /// The keychain that keeps the chain's head, when the log is anchored.
    anchor: Option<Arc<dyn SecretStore>>,
}

/// The keychain entry of the chain's head of the log at `path`: `{seq}:{hash}` of its
/// newest record. One per log (a settings directory of its own is another device's), named
/// after the log's full path.
fn head_entry(path: &Path) -> String {
    let dir = path.parent().and_then(|d| d.canonicalize().ok()).unwrap_or_default();
    let full = dir.join(path.file_name().unwrap_or_default());
    format!("audit-head/{}", &hash(&full.to_string_lossy())[..16])
}

fn read_head(store: &dyn SecretStore, path: &Path) -> Result<Option<(u64, String)>, AuditError> {
    let kept = store.get(&head_entry(path))?;
    Ok(kept.and_then(|k| {
        let (seq, hash) = k.expose().split_once(':')?;
        Some((seq.parse().ok()?, hash.to_owned()))
    }))
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hash(line: &str) -> String {
    Sha256::digest(line.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn started() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

impl Audit {
    /// Opens (or starts) the log at `path`; an existing log is verified first, and a broken
    /// one is refused: appending to it would hide the break.
    pub fn open(path: impl Into<PathBuf>) -> Result<Audit, AuditError> {
        Audit::open_with(path.into(), None)
    }

    /// Opens the log anchored to the device's keychain `store`, which keeps the chain's
    /// head after every append: a log that no longer holds the record this device wrote
    /// last — deleted, cut short or rewritten — is refused with what was found.
    pub fn open_anchored(path: impl Into<PathBuf>, store: Arc<dyn SecretStore>) -> Result<Audit, AuditError> {
        Audit::open_with(path.into(), Some(store))
    }

    /// Reads the log once: its chain verified and, when anchored, held against the head.
    fn open_with(path: PathBuf, anchor: Option<Arc<dyn SecretStore>>) -> Result<Audit, AuditError> {
        started();
        match std::fs::File::open(&path) {
            Ok(_) => crate::dirs::make_private(&path)
                .map_err(|e| AuditError::Io(format!("cannot protect the audit log: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AuditError::Io(format!("cannot read the audit log: {e}"))),
        }
        Audit::read_anchored(&path, anchor.as_deref())?;
        Ok(Audit { path, anchor })
    }

    /// Every record of the log at `path`, its chain verified and held against the head the
    /// keychain `store` keeps (none for a log without one): what Settings shows.
    pub fn records_anchored(path: &Path, store: Option<&dyn SecretStore>) -> Result<Vec<Record>, AuditError> {
        Audit::read_anchored(path, store)
    }

    /// The records of the log (none when there is no file), after checking its chain and,
    /// with `store`, that it still holds the record this device wrote last.
    fn read_anchored(path: &Path, store: Option<&dyn SecretStore>) -> Result<Vec<Record>, AuditError> {
        let (records, _, hashes) = if path.exists() {
            Audit::read(path)?
        } else {
            (Vec::new(), (0, GENESIS.to_owned()), Vec::new())
        };
        let Some((seq, hash)) = store.map(|s| read_head(s, path)).transpose()?.flatten() else {
            return Ok(records);
        };
        let held = hashes.len() as u64;
        if held < seq {
            return Err(AuditError::Missing(seq - held));
        }
        if seq > 0 && hashes[(seq - 1) as usize] != hash {
            return Err(AuditError::Rewritten(seq));
        }
        Ok(records)
    }

    /// Starts the chain anew, on purpose, after the log was found missing or changed:
    /// what is left of the old log is kept beside it (`audit.log.{time_ms}.old`), and the
    /// new chain's first record says who started it and what was found.
    pub fn start_new(
        path: impl Into<PathBuf>,
        store: Arc<dyn SecretStore>,
        user: &str,
        found: &str,
        time_ms: u64,
    ) -> Result<Audit, AuditError> {
        let path = path.into();
        if path.exists() {
            let kept = path.with_extension(format!("log.{time_ms}.old"));
            std::fs::rename(&path, &kept)
                .map_err(|e| AuditError::Io(format!("cannot set the old log aside: {e}")))?;
        }
        store.delete(&head_entry(&path))?;
        let audit = Audit { path, anchor: Some(store) };
        audit.append(Record {
            time_ms,
            user: user.to_owned(),
            what: "chain".to_owned(),
            site: String::new(),
            target: "audit".to_owned(),
            action: "restart".to_owned(),
            request_id: String::new(),
            outcome: "started".to_owned(),
            note: Some(found.chars().take(500).collect()),
        })?;
        Ok(audit)
    }

    /// The log beside the settings (`audit.log`).
    pub fn open_default() -> Result<Audit, AuditError> {
        let dir = crate::dirs::settings();
        crate::dirs::private_dir(&dir)
            .map_err(|e| AuditError::Io(format!("cannot create the settings directory: {e}")))?;
        Audit::open(dir.join("audit.log"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record and syncs it to disk before answering. Whoever else writes the log
    /// (another window, the CLI, an enrolment) waits on the file's lock, and the record
    /// follows the last line in the file.
    pub fn append(&self, record: Record) -> Result<(), AuditError> {
        let mut file = crate::dirs::private_options()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| AuditError::Io(format!("cannot open the audit log: {e}")))?;
        file.lock().map_err(|e| AuditError::Io(format!("cannot lock the audit log: {e}")))?;
        let (seq, prev) = last_line(&mut file)?;
        if let Some(store) = &self.anchor {
            // Deleted or cut short behind this writer's back: not started anew unnoticed.
            match read_head(&**store, &self.path)? {
                Some((head, _)) if seq < head => return Err(AuditError::Missing(head - seq)),
                Some((head, hash)) if seq == head && prev != hash => return Err(AuditError::Rewritten(head)),
                _ => {}
            }
        }
        let mut line = Line {
            seq: seq + 1,
            mono_ms: started().elapsed().as_millis() as u64,
            record,
            prev,
            hash: String::new(),
        };
        line.hash = line.digest()?;
        let text = serde_json::to_string(&line).map_err(|e| AuditError::Io(e.to_string()))?;
        file.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| AuditError::Io(format!("cannot write the audit log: {e}")))?;
        if let Some(store) = &self.anchor {
            // Still under the lock. A head left behind only weakens the next check.
            let head = Secret::new(format!("{}:{}", line.seq, line.hash));
            if let Err(e) = store.set(&head_entry(&self.path), &head) {
                tracing::warn!("the audit log's head could not be kept in the keychain: {e}");
            }
        }
        Ok(())
        // The lock goes with the file.
    }

    /// Records a clip of a camera saved (`action` = `save`) or deleted (`delete`), by its
    /// id. Video leaving the live view is what an investigation asks about first.
    pub fn clip(
        &self,
        user: &str,
        site: &str,
        camera: &str,
        action: &str,
        clip_id: &str,
        time_ms: u64,
    ) -> Result<(), AuditError> {
        self.append(Record {
            time_ms,
            user: user.to_owned(),
            what: "clip".to_owned(),
            site: site.to_owned(),
            target: format!("camera:{camera}"),
            action: action.to_owned(),
            request_id: clip_id.to_owned(),
            outcome: "done".to_owned(),
            note: None,
        })
    }

    /// Checks the whole chain; answers the last sequence number and hash.
    pub fn verify(path: &Path) -> Result<(u64, String), AuditError> {
        Ok(Audit::read(path)?.1)
    }

    /// Every record, after checking the chain.
    pub fn records(path: &Path) -> Result<Vec<Record>, AuditError> {
        Ok(Audit::read(path)?.0)
    }

    /// The records, the last sequence number and hash, and every line's hash in order.
    #[allow(clippy::type_complexity)]
    fn read(path: &Path) -> Result<(Vec<Record>, (u64, String), Vec<String>), AuditError> {
        let file = std::fs::File::open(path)
            .map_err(|e| AuditError::Io(format!("cannot read the audit log: {e}")))?;
        let mut prev = GENESIS.to_owned();
        let mut seq = 0;
        let mut records = Vec::new();
        let mut hashes = Vec::new();
        for (i, text) in std::io::BufReader::new(file).lines().enumerate() {
            let n = i as u64 + 1;
            let text = text.map_err(|e| AuditError::Broken { line: n, problem: e.to_string() })?;
            let mut line: Line = serde_json::from_str(&text).map_err(|e| AuditError::Broken {
                line: n,
                problem: format!("not a record ({:?})", e.classify()),
            })?;
            if line.digest()? != line.hash {
                return Err(AuditError::Broken {
                    line: n,
                    problem: "was changed after it was written".into(),
                });
            }
            if line.prev != prev {
                return Err(AuditError::Broken {
                    line: n,
                    problem: "does not follow the line before (changed, removed or reordered)".into(),
                });
            }
            if line.seq != seq + 1 {
                return Err(AuditError::Broken {
                    line: n,
                    problem: format!("sequence {} where {} was due", line.seq, seq + 1),
                });
            }
            seq = line.seq;
            hashes.push(line.hash.clone());
            prev = line.hash;
            records.push(line.record);
        }
        Ok((records, (seq, prev), hashes))
    }
}

/// The sequence number and hash of the log's last line, checked against its own content
/// (0 and the genesis hash for an empty log). Reads back from the end, so it costs the
/// same however long the log grows.
fn last_line(file: &mut std::fs::File) -> Result<(u64, String), AuditError> {
    let io = |e: std::io::Error| AuditError::Io(format!("cannot read the audit log: {e}"));
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    if len == 0 {
        return Ok((0, GENESIS.to_owned()));
    }
    // A record is well under this; its line ends with the newline written with it.
    const WINDOW: u64 = 64 * 1024;
    let start = len.saturating_sub(WINDOW);
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut tail = Vec::new();
    file.take(len - start).read_to_end(&mut tail).map_err(io)?;
    let broken = |problem: &str| AuditError::Broken { line: 0, problem: format!("the last line {problem}") };
    let body = tail.strip_suffix(b"\n").ok_or_else(|| broken("was cut off"))?;
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or_default();
    if start > 0 && last.len() == body.len() {
        return Err(broken("is longer than any record"));
    }
    let mut line: Line = serde_json::from_slice(last).map_err(|_| broken("is not a record"))?;
    if line.digest()? != line.hash {
        return Err(broken("was changed after it was written"));
    }
    Ok((line.seq, line.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: &str) -> Record {
        Record {
            time_ms: 1,
            user: "ken".into(),
            what: "command".into(),
            site: "hq".into(),
            target: "output:siren".into(),
            action: "on".into(),
            request_id: "r-1".into(),
            outcome: outcome.into(),
            note: Some("テスト".into()),
        }
    }

    fn temp() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mimamori-audit-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("audit.log")
    }

    #[test]
    fn a_chain_verifies_and_survives_reopening() {
        let path = temp();
        let audit = Audit::open(&path).unwrap();
        audit.append(record("sent")).unwrap();
        audit.append(record("done")).unwrap();
        drop(audit);
        let audit = Audit::open(&path).unwrap();
        audit.append(record("sent")).unwrap();
        let records = Audit::records(&path).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].outcome, "done");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the log is its owner's only");
        }
    }

    #[test]
    fn a_changed_removed_or_reordered_line_is_found() {
        let path = temp();
        let audit = Audit::open(&path).unwrap();
        for o in ["sent", "done", "sent", "denied"] {
            audit.append(record(o)).unwrap();
        }
        let good = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let write = |ls: Vec<String>| std::fs::write(&path, ls.join("\n") + "\n").unwrap();
        write(lines.iter().map(|l| l.replace("denied", "done")).collect());
        assert!(matches!(Audit::verify(&path), Err(AuditError::Broken { line: 4, .. })));
        write(lines.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| l.to_string()).collect());
        assert!(matches!(Audit::verify(&path), Err(AuditError::Broken { line: 2, .. })));
        write(vec![lines[1].into(), lines[0].into(), lines[2].into(), lines[3].into()]);
        assert!(matches!(Audit::verify(&path), Err(AuditError::Broken { line: 1, .. })));
        write(vec!["{oops".into()]);
        assert!(matches!(Audit::verify(&path), Err(AuditError::Broken { line: 1, .. })));
        // A broken log is not appended to.
        assert!(Audit::open(&path).is_err());
    }

    #[test]
    fn an_unwritable_log_refuses() {
        let dir = temp().parent().unwrap().join("missing").join("deeper");
        let audit = Audit { path: dir.join("audit.log"), anchor: None };
        assert!(matches!(audit.append(record("sent")), Err(AuditError::Io(_))));
    }

    /// A log deleted, cut short or rewritten behind the device's back is reported, at the
    /// next open and by a writer already open, until a new chain is started on purpose.
    #[test]
    fn the_keychain_keeps_the_head_and_a_lost_log_is_reported() {
        use crate::vault::MemoryStore;
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
        // Another log of the same user (another settings directory) has a head of its own.
        let elsewhere = Audit::open_anchored(temp(), store.clone()).unwrap();
        elsewhere.append(record("sent")).unwrap();
        let path = temp();
        let audit = Audit::open_anchored(&path, store.clone()).unwrap();
        for o in ["sent", "done", "sent"] {
            audit.append(record(o)).unwrap();
        }
        let whole = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = whole.lines().collect();
        // Cut short by one record: at the next open, and for the writer still open.
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        assert_eq!(Audit::open_anchored(&path, store.clone()).err(), Some(AuditError::Missing(1)));
        assert_eq!(audit.append(record("done")), Err(AuditError::Missing(1)));
        // Gone.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(Audit::open_anchored(&path, store.clone()).err(), Some(AuditError::Missing(3)));
        assert_eq!(audit.append(record("done")), Err(AuditError::Missing(3)));
        // Rewritten as a valid chain of the same length.
        let other = Audit::open(&path).unwrap();
        for o in ["x", "y", "z"] {
            other.append(record(o)).unwrap();
        }
        assert_eq!(Audit::open_anchored(&path, store.clone()).err(), Some(AuditError::Rewritten(3)));
        // Started anew on purpose: the old log is kept aside, the act is the first record.
        let fresh = Audit::start_new(&path, store.clone(), "mari", "3 records rewritten", 42).unwrap();
        fresh.append(record("sent")).unwrap();
        let records = Audit::records(&path).unwrap();
        assert_eq!((records[0].what.as_str(), records[0].user.as_str()), ("chain", "mari"));
        assert_eq!(records[0].note.as_deref(), Some("3 records rewritten"));
        assert!(path.with_extension("log.42.old").exists());
        Audit::open_anchored(&path, store).unwrap();
    }

    /// The app keeps its log open for its whole life while enrolment and the CLI open
    /// their own: their records interleave, and the chain holds.
    #[test]
    fn writers_that_take_turns_keep_one_chain() {
        let path = temp();
        let app = Audit::open(&path).unwrap();
        app.append(record("sent")).unwrap();
        let cli = Audit::open(&path).unwrap();
        cli.append(record("done")).unwrap();
        app.append(record("sent")).unwrap();
        // Many at once, from threads with handles of their own.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let writer = Audit::open(&path).unwrap();
                    for _ in 0..25 {
                        writer.append(record("done")).unwrap();
                    }
                });
            }
        });
        app.append(record("sent")).unwrap();
        assert_eq!(Audit::verify(&path).unwrap().0, 104);
    }
}

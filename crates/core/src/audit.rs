//! The audit log: every command, acknowledgement, enrolment and removal, appended to a
//! local file before it takes effect — if the log cannot be written, the command is not
//! sent. Each line is a JSON record carrying the hash of the line before it
//! and its own (SHA-256 over its content and that previous hash), so a changed, removed or
//! reordered line breaks the chain and [`Audit::verify`] says where. (Cutting lines off
//! the end leaves a shorter valid chain; the sites' own records — output state "by",
//! alert updates — are the outside witness.) Records hold ids, never a URL or a secret.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
}

pub struct Audit {
    path: PathBuf,
    /// The last line's sequence number and hash.
    tail: Mutex<(u64, String)>,
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
        let path = path.into();
        started();
        let tail = match std::fs::File::open(&path) {
            Ok(_) => {
                crate::dirs::make_private(&path)
                    .map_err(|e| AuditError::Io(format!("cannot protect the audit log: {e}")))?;
                Audit::verify(&path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, GENESIS.to_owned()),
            Err(e) => return Err(AuditError::Io(format!("cannot read the audit log: {e}"))),
        };
        Ok(Audit { path, tail: Mutex::new(tail) })
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

    /// Appends a record and syncs it to disk before answering.
    pub fn append(&self, record: Record) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let mut line = Line {
            seq: tail.0 + 1,
            mono_ms: started().elapsed().as_millis() as u64,
            record,
            prev: tail.1.clone(),
            hash: String::new(),
        };
        line.hash = line.digest()?;
        let text = serde_json::to_string(&line).map_err(|e| AuditError::Io(e.to_string()))?;
        let mut file = crate::dirs::private_options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| AuditError::Io(format!("cannot open the audit log: {e}")))?;
        file.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| AuditError::Io(format!("cannot write the audit log: {e}")))?;
        *tail = (line.seq, line.hash);
        Ok(())
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

    fn read(path: &Path) -> Result<(Vec<Record>, (u64, String)), AuditError> {
        let file = std::fs::File::open(path)
            .map_err(|e| AuditError::Io(format!("cannot read the audit log: {e}")))?;
        let mut prev = GENESIS.to_owned();
        let mut seq = 0;
        let mut records = Vec::new();
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
            prev = line.hash;
            records.push(line.record);
        }
        Ok((records, (seq, prev)))
    }
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
        let audit = Audit { path: dir.join("audit.log"), tail: Mutex::new((0, GENESIS.into())) };
        assert!(matches!(audit.append(record("sent")), Err(AuditError::Io(_))));
    }
}

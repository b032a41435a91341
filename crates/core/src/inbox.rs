//! The alert inbox: every event of every site, committed to a local SQLite store before
//! the broker is told it arrived (manual PUBACK in `bus/connection.rs`), so that an app
//! killed at any moment gets it again. Events are de-duplicated by (site, epoch, seq) and
//! the store knows which sequence numbers are still missing: the gaps that recovery from
//! the site must fill. See "Delivery rules" in `docs/site-protocol.md`.

use crate::protocol::event::{Alert, AlertKind, Event, EventBody};
use crate::video::snapshot;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The store cannot be written (disk full, read-only, damaged): the event is not
    /// acknowledged to the broker and will come again.
    #[error("the alert store cannot be written: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("the alert store's folder cannot be made: {0}")]
    Folder(#[from] std::io::Error),
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// Seen before (QoS 1 may deliver twice): nothing changed.
    Duplicate,
}

/// A run of sequence numbers that has not arrived: `from..=to` of `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub epoch: u64,
    pub from: u64,
    pub to: u64,
}

/// Events a site reported it no longer has: a *possible gap*, shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PossibleGap {
    pub site_id: String,
    #[ts(type = "number")]
    pub from_seq: u64,
    /// Absent when the site had nothing left of that run of its counter.
    #[ts(type = "number | null")]
    pub to_seq: Option<u64>,
    /// When this device learnt of it, ms since the Unix epoch.
    #[ts(type = "number")]
    pub noted_ms: u64,
}

/// One alert as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub site_id: String,
    pub id: String,
    #[ts(type = "number")]
    pub time_ms: u64,
    pub kind: AlertKind,
    pub zone: Option<String>,
    pub title: String,
    pub cameras: Vec<String>,
    /// A thumbnail of the picture sent with the alert is stored ([`Inbox::picture`]).
    pub has_snapshot: bool,
    /// Why the alert has no picture although it was sent with one.
    pub picture_problem: Option<String>,
    pub acknowledged_by: Option<String>,
    #[ts(type = "number | null")]
    pub acknowledged_ms: Option<u64>,
    pub note: Option<String>,
}

pub struct Inbox {
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS events (
  site TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  PRIMARY KEY (site, epoch, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (
  site TEXT NOT NULL, epoch INTEGER NOT NULL, contiguous INTEGER NOT NULL,
  PRIMARY KEY (site, epoch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  site TEXT NOT NULL, id TEXT NOT NULL, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  zone TEXT, title TEXT NOT NULL, cameras TEXT NOT NULL, snapshot BLOB,
  acked_by TEXT, acked_ms INTEGER, note TEXT, received_ms INTEGER NOT NULL,
  epoch INTEGER NOT NULL, seq INTEGER NOT NULL, picture_problem TEXT,
  PRIMARY KEY (site, id));
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (time_ms DESC);
CREATE TABLE IF NOT EXISTS pending_updates (
  site TEXT NOT NULL, alert_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
  by_user TEXT NOT NULL, at_ms INTEGER NOT NULL, note TEXT,
  PRIMARY KEY (site, alert_id, epoch, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (
  site TEXT NOT NULL, epoch INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  PRIMARY KEY (site, epoch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gone (
  site TEXT NOT NULL, epoch INTEGER NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER,
  noted_ms INTEGER NOT NULL,
  PRIMARY KEY (site, epoch, from_seq)) WITHOUT ROWID;
";

/// The epoch under which alerts raised by this device are stored: no site's epoch is
/// negative.
const LOCAL_EPOCH: i64 = -1;

fn int(n: u64) -> i64 {
    // Event numbers are checked to fit when decoded; anything else saturates.
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn kind_from(s: &str) -> AlertKind {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(AlertKind::System)
}

impl Inbox {
    /// Opens (or creates) the inbox at `path`, for this user only: SQLite gives its journal
    /// files the database's own mode.
    pub fn open(path: &Path) -> Result<Inbox, InboxError> {
        crate::dirs::private_options().write(true).create(true).truncate(false).open(path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            crate::dirs::make_private(Path::new(&name))?;
        }
        Inbox::with(Connection::open(path)?)
    }

    /// This device's inbox: `alerts.db` in the settings directory, shared by the app and the
    /// CLI (each event is stored once whoever receives it first).
    pub fn open_default() -> Result<Inbox, InboxError> {
        let dir = crate::dirs::settings();
        crate::dirs::private_dir(&dir)?;
        Inbox::open(&dir.join("alerts.db"))
    }

    pub fn in_memory() -> Result<Inbox, InboxError> {
        Inbox::with(Connection::open_in_memory()?)
    }

    fn with(db: Connection) -> Result<Inbox, InboxError> {
        db.execute_batch(SCHEMA)?;
        // A store made before alert pictures were checked lacks this column.
        let has_problem: bool = db.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('alerts') WHERE name = 'picture_problem')",
            [],
            |r| r.get(0),
        )?;
        if !has_problem {
            db.execute_batch("ALTER TABLE alerts ADD COLUMN picture_problem TEXT")?;
        }
        Ok(Inbox { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses every write from now on (`true`) or allows them again: how tests stand in
    /// for a full disk.
    pub fn set_read_only(&self, read_only: bool) -> Result<(), InboxError> {
        self.db().pragma_update(None, "query_only", read_only)?;
        Ok(())
    }

    /// Commits one event. Only after this returns `Ok` may the broker be told.
    pub fn record(&self, site: &str, event: &Event, received_ms: u64) -> Result<Recorded, InboxError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO events (site, epoch, seq, received_ms) VALUES (?1, ?2, ?3, ?4)",
            params![site, int(event.epoch), int(event.seq), int(received_ms)],
        )?;
        if inserted == 0 {
            return Ok(Recorded::Duplicate);
        }
        // The first epoch this device ever sees of a site starts at the first event it gets
        // (what came before its enrolment is not missing); a later epoch starts at 1.
        let known: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM streams WHERE site = ?1)", [site], |r| r.get(0))?;
        let start = if known { 0 } else { int(event.seq) - 1 };
        tx.execute(
            "INSERT OR IGNORE INTO streams (site, epoch, contiguous) VALUES (?1, ?2, ?3)",
            params![site, int(event.epoch), start],
        )?;
        // Advance the contiguous mark over every number now present.
        let mut contiguous: i64 = tx.query_row(
            "SELECT contiguous FROM streams WHERE site = ?1 AND epoch = ?2",
            params![site, int(event.epoch)],
            |r| r.get(0),
        )?;
        loop {
            let next: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM events WHERE site = ?1 AND epoch = ?2 AND seq = ?3",
                    params![site, int(event.epoch), contiguous + 1],
                    |r| r.get(0),
                )
                .optional()?;
            match next {
                Some(seq) => contiguous = seq,
                None => break,
            }
        }
        tx.execute(
            "UPDATE streams SET contiguous = ?3 WHERE site = ?1 AND epoch = ?2",
            params![site, int(event.epoch), contiguous],
        )?;
        match &event.body {
            EventBody::Alert(a) => {
                Self::insert_alert(&tx, site, (int(event.epoch), int(event.seq)), a, received_ms)?;
            }
            EventBody::AlertUpdate(u) => {
                let applied =
                    Self::apply_update(&tx, site, &u.alert_id, &u.by, int(u.at), u.note.as_deref())?;
                if !applied {
                    // Its alert has not arrived yet (replay can bring them in any order):
                    // kept until it does.
                    tx.execute(
                        "INSERT OR IGNORE INTO pending_updates (site, alert_id, epoch, seq, by_user, at_ms, note)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![site, u.alert_id, int(event.epoch), int(event.seq), u.by, int(u.at), u.note],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(Recorded::New)
    }

    /// Applies an alert update: the first acknowledges, later ones only add their note.
    /// False when the alert is not stored.
    fn apply_update(
        tx: &rusqlite::Transaction<'_>,
        site: &str,
        alert_id: &str,
        by: &str,
        at: i64,
        note: Option<&str>,
    ) -> Result<bool, InboxError> {
        let n = tx.execute(
            "UPDATE alerts SET acked_by = COALESCE(acked_by, ?3), acked_ms = COALESCE(acked_ms, ?4),
               note = COALESCE(?5, note) WHERE site = ?1 AND id = ?2",
            params![site, alert_id, by, at, note],
        )?;
        Ok(n > 0)
    }

    /// Inserts an alert under its place in the stream (`epoch`, `seq`); answers whether it
    /// was new.
    fn insert_alert(
        tx: &rusqlite::Transaction<'_>,
        site: &str,
        (epoch, seq): (i64, i64),
        a: &Alert,
        received_ms: u64,
    ) -> Result<bool, InboxError> {
        let cameras = serde_json::to_string(&a.cameras).unwrap_or_else(|_| "[]".into());
        // The picture is decoded within strict bounds and kept as a small thumbnail; one that
        // cannot be read never costs the alert, which arrives without it and says so.
        let (picture, problem) = match &a.snapshot {
            None => (None, None),
            Some(bytes) => match snapshot::shrink_within(bytes, snapshot::ALERT_THUMBNAIL) {
                Ok(thumb) => (Some(thumb.jpeg), None),
                Err(err) => {
                    tracing::warn!(%site, alert = %a.id, "the alert's picture was refused: {err}");
                    (None, Some("the picture sent with this alert could not be read"))
                }
            },
        };
        // An alert id is unique per site for ever; a repeat under a new number keeps the first.
        let n = tx.execute(
            "INSERT OR IGNORE INTO alerts
               (site, id, time_ms, kind, zone, title, cameras, snapshot, received_ms, epoch, seq, picture_problem)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                site,
                a.id,
                int(a.time),
                a.kind.as_str(),
                a.zone,
                a.title,
                cameras,
                picture,
                int(received_ms),
                epoch,
                seq,
                problem
            ],
        )?;
        if n > 0 {
            // Updates that came before it, in the order of the stream.
            let pending: Vec<(String, i64, Option<String>)> = tx
                .prepare(
                    "SELECT by_user, at_ms, note FROM pending_updates WHERE site = ?1 AND alert_id = ?2
                     ORDER BY epoch, seq",
                )?
                .query_map(params![site, a.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (by, at, note) in &pending {
                Self::apply_update(tx, site, &a.id, by, *at, note.as_deref())?;
            }
            tx.execute("DELETE FROM pending_updates WHERE site = ?1 AND alert_id = ?2", params![site, a.id])?;
        }
        Ok(n > 0)
    }

    /// Notes the head of a site's stream from its status: the newest event it published.
    /// Returns whether this is news (a head not seen before), which may reveal a gap at the
    /// end of the stream that no later event would reveal.
    pub fn note_head(&self, site: &str, epoch: u64, last_seq: u64) -> Result<bool, InboxError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        // As for events: the first head a device ever sees of a site marks where its
        // history starts; a new epoch of a known site starts at 1.
        let known: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM streams WHERE site = ?1)", [site], |r| r.get(0))?;
        let start = if known { 0 } else { int(last_seq) };
        tx.execute(
            "INSERT OR IGNORE INTO streams (site, epoch, contiguous) VALUES (?1, ?2, ?3)",
            params![site, int(epoch), start],
        )?;
        let changed = tx.execute(
            "INSERT INTO heads (site, epoch, last_seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (site, epoch) DO UPDATE SET last_seq = excluded.last_seq
             WHERE excluded.last_seq > heads.last_seq",
            params![site, int(epoch), int(last_seq)],
        )?;
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Records what a site said it no longer has (`to_seq` absent: nothing of that epoch
    /// from `from_seq` on). Those numbers stop being asked for and are shown as a
    /// possible gap.
    pub fn note_gone(
        &self,
        site: &str,
        epoch: u64,
        from_seq: u64,
        to_seq: Option<u64>,
        now_ms: u64,
    ) -> Result<(), InboxError> {
        self.db().execute(
            "INSERT INTO gone (site, epoch, from_seq, to_seq, noted_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (site, epoch, from_seq) DO UPDATE SET to_seq = CASE
               WHEN excluded.to_seq IS NULL OR gone.to_seq IS NULL THEN NULL
               ELSE MAX(excluded.to_seq, gone.to_seq) END",
            params![site, int(epoch), int(from_seq), to_seq.map(int), int(now_ms)],
        )?;
        Ok(())
    }

    /// Stores an alert this device raised itself (a link failure, a camera gone dark): it
    /// is in no site's stream, so it has no number and no other device has it.
    pub fn record_local(&self, site: &str, alert: &Alert, received_ms: u64) -> Result<Recorded, InboxError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let inserted = Self::insert_alert(&tx, site, (LOCAL_EPOCH, 0), alert, received_ms)?;
        tx.commit()?;
        Ok(if inserted { Recorded::New } else { Recorded::Duplicate })
    }

    /// Whether someone has acknowledged an alert (false for one not stored).
    pub fn is_acknowledged(&self, site: &str, id: &str) -> Result<bool, InboxError> {
        Ok(self.db().query_row(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE site = ?1 AND id = ?2 AND acked_by IS NOT NULL)",
            [site, id],
            |r| r.get(0),
        )?)
    }

    /// Whether an alert was raised by this device (so is acknowledged here, not at the site).
    pub fn is_local(&self, site: &str, id: &str) -> Result<bool, InboxError> {
        Ok(self.db().query_row(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE site = ?1 AND id = ?2 AND epoch = ?3)",
            params![site, id, LOCAL_EPOCH],
            |r| r.get(0),
        )?)
    }

    /// Acknowledges an alert this device raised; false when there is none unacknowledged.
    pub fn acknowledge_local(
        &self,
        site: &str,
        id: &str,
        by: &str,
        note: Option<&str>,
        at_ms: u64,
    ) -> Result<bool, InboxError> {
        let n = self.db().execute(
            "UPDATE alerts SET acked_by = ?4, acked_ms = ?5, note = ?6
             WHERE site = ?1 AND id = ?2 AND epoch = ?3 AND acked_by IS NULL",
            params![site, id, LOCAL_EPOCH, by, int(at_ms), note],
        )?;
        Ok(n > 0)
    }

    /// The numbers still missing for a site, oldest first: holes between stored events,
    /// and the end of a stream up to its last reported head — less what the site said is
    /// gone.
    pub fn gaps(&self, site: &str) -> Result<Vec<Gap>, InboxError> {
        let db = self.db();
        let mut streams = db.prepare(
            "SELECT s.epoch, s.contiguous, h.last_seq FROM streams s
             LEFT JOIN heads h ON h.site = s.site AND h.epoch = s.epoch WHERE s.site = ?1 ORDER BY s.epoch",
        )?;
        let streams: Vec<(i64, i64, Option<i64>)> = streams
            .query_map([site], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut seqs =
            db.prepare("SELECT seq FROM events WHERE site = ?1 AND epoch = ?2 AND seq > ?3 ORDER BY seq")?;
        let mut gone = db.prepare("SELECT from_seq, to_seq FROM gone WHERE site = ?1 AND epoch = ?2")?;
        let mut gaps = Vec::new();
        for (epoch, contiguous, head) in streams {
            let mut raw = Vec::new();
            let mut expected = contiguous + 1;
            for seq in seqs.query_map(params![site, epoch, contiguous], |r| r.get::<_, i64>(0))? {
                let seq = seq?;
                if seq > expected {
                    raw.push((expected, seq - 1));
                }
                expected = seq + 1;
            }
            if let Some(head) = head.filter(|h| *h >= expected) {
                raw.push((expected, head));
            }
            let gone: Vec<(i64, i64)> = gone
                .query_map(params![site, epoch], |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?)))?
                .map(|g| g.map(|(from, to)| (from, to.unwrap_or(i64::MAX))))
                .collect::<Result<_, _>>()?;
            for (from, to) in raw {
                for (from, to) in subtract((from, to), &gone) {
                    gaps.push(Gap { epoch: uint(epoch), from: uint(from), to: uint(to) });
                }
            }
        }
        Ok(gaps)
    }

    /// What sites reported gone, newest report first.
    pub fn possible_gaps(&self) -> Result<Vec<PossibleGap>, InboxError> {
        let db = self.db();
        let mut q = db.prepare(
            "SELECT site, from_seq, to_seq, noted_ms FROM gone ORDER BY noted_ms DESC, site, from_seq LIMIT 100",
        )?;
        let rows = q.query_map([], |r| {
            Ok(PossibleGap {
                site_id: r.get(0)?,
                from_seq: uint(r.get(1)?),
                to_seq: r.get::<_, Option<i64>>(2)?.map(uint),
                noted_ms: uint(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alerts, newest first.
    pub fn alerts(&self, limit: usize) -> Result<Vec<AlertView>, InboxError> {
        let db = self.db();
        let mut q = db.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY time_ms DESC, epoch DESC, seq DESC LIMIT ?1"
        ))?;
        let rows = q.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], alert_view)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alerts stored after the one at `mark` (0: from the first), in the order they were
    /// stored, at most `limit`, each with its own mark: how the notifier follows the inbox.
    pub fn alerts_after(&self, mark: i64, limit: usize) -> Result<Vec<(i64, AlertView)>, InboxError> {
        let db = self.db();
        let mut q = db.prepare(&format!(
            "SELECT {ALERT_COLUMNS}, rowid FROM alerts WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
        ))?;
        let rows = q.query_map(params![mark, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(12)?, alert_view(r)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The mark of the newest stored alert (0 when there is none).
    pub fn alert_mark(&self) -> Result<i64, InboxError> {
        Ok(self.db().query_row("SELECT COALESCE(MAX(rowid), 0) FROM alerts", [], |r| r.get(0))?)
    }

    /// The thumbnail (JPEG) of an alert's picture, if it came with a readable one.
    pub fn picture(&self, site: &str, id: &str) -> Result<Option<Vec<u8>>, InboxError> {
        let picture: Option<Option<Vec<u8>>> = self
            .db()
            .query_row("SELECT snapshot FROM alerts WHERE site = ?1 AND id = ?2", [site, id], |r| r.get(0))
            .optional()?;
        Ok(picture.flatten())
    }

    /// How many events are stored for a site (all epochs).
    pub fn event_count(&self, site: &str) -> Result<u64, InboxError> {
        let n: i64 =
            self.db().query_row("SELECT COUNT(*) FROM events WHERE site = ?1", [site], |r| r.get(0))?;
        Ok(uint(n))
    }
}

const ALERT_COLUMNS: &str = "site, id, time_ms, kind, zone, title, cameras, snapshot IS NOT NULL, acked_by, \
     acked_ms, note, picture_problem";

/// An [`AlertView`] from a row of [`ALERT_COLUMNS`].
fn alert_view(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertView> {
    let cameras: String = r.get(6)?;
    Ok(AlertView {
        site_id: r.get(0)?,
        id: r.get(1)?,
        time_ms: uint(r.get(2)?),
        kind: kind_from(&r.get::<_, String>(3)?),
        zone: r.get(4)?,
        title: r.get(5)?,
        cameras: serde_json::from_str(&cameras).unwrap_or_default(),
        has_snapshot: r.get(7)?,
        acknowledged_by: r.get(8)?,
        acknowledged_ms: r.get::<_, Option<i64>>(9)?.map(uint),
        note: r.get(10)?,
        picture_problem: r.get(11)?,
    })
}

/// `range` less every range of `cut` (all inclusive).
fn subtract(range: (i64, i64), cut: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut parts = vec![range];
    for &(cf, ct) in cut {
        parts = parts
            .into_iter()
            .flat_map(|(f, t)| {
                if ct < f || cf > t {
                    return vec![(f, t)];
                }
                let mut left = Vec::new();
                if cf > f {
                    left.push((f, cf - 1));
                }
                if ct < t {
                    left.push((ct + 1, t));
                }
                left
            })
            .collect();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::event::AlertUpdate;

    use crate::protocol::event::example_door as alert;

    #[cfg(unix)]
    #[test]
    fn the_inbox_and_its_journal_are_their_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let inbox = Inbox::open(&path).unwrap();
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        let open: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.metadata().unwrap().permissions().mode() & 0o077 != 0)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(open.is_empty(), "open to others: {open:?}");
        assert!(files > 1, "the journal is there while the inbox is open");
        drop(inbox);
    }

    #[test]
    fn alerts_are_followed_in_the_order_they_were_stored() {
        let inbox = Inbox::in_memory().unwrap();
        assert_eq!(inbox.alert_mark().unwrap(), 0);
        for seq in [3, 1, 2] {
            inbox.record("hq", &alert(1, seq), 0).unwrap();
        }
        let all = inbox.alerts_after(0, 10).unwrap();
        assert_eq!(
            all.iter().map(|(_, a)| a.title.as_str()).collect::<Vec<_>>(),
            ["door 3", "door 1", "door 2"]
        );
        let after_first = inbox.alerts_after(all[0].0, 1).unwrap();
        assert_eq!(after_first.len(), 1);
        assert_eq!(after_first[0].1.title, "door 1");
        assert_eq!(inbox.alert_mark().unwrap(), all[2].0);
    }

    #[test]
    fn duplicates_are_dropped() {
        let inbox = Inbox::in_memory().unwrap();
        assert_eq!(inbox.record("hq", &alert(1, 1), 5).unwrap(), Recorded::New);
        assert_eq!(inbox.record("hq", &alert(1, 1), 6).unwrap(), Recorded::Duplicate);
        assert_eq!(inbox.alerts(10).unwrap().len(), 1);
        assert_eq!(inbox.event_count("hq").unwrap(), 1);
    }

    #[test]
    fn gaps_are_found_and_filled() {
        let inbox = Inbox::in_memory().unwrap();
        // Enrolled mid-stream: 1..=9 are history, not gaps.
        inbox.record("hq", &alert(1, 10), 0).unwrap();
        inbox.record("hq", &alert(1, 11), 0).unwrap();
        inbox.record("hq", &alert(1, 14), 0).unwrap();
        inbox.record("hq", &alert(1, 17), 0).unwrap();
        assert_eq!(
            inbox.gaps("hq").unwrap(),
            vec![Gap { epoch: 1, from: 12, to: 13 }, Gap { epoch: 1, from: 15, to: 16 }]
        );
        for seq in [13, 12, 15, 16] {
            inbox.record("hq", &alert(1, seq), 0).unwrap();
        }
        assert!(inbox.gaps("hq").unwrap().is_empty());
        // The site rebooted into a new epoch: its events start at 1, and 1..=2 are missing.
        inbox.record("hq", &alert(2, 3), 0).unwrap();
        assert_eq!(inbox.gaps("hq").unwrap(), vec![Gap { epoch: 2, from: 1, to: 2 }]);
        assert!(inbox.gaps("shop").unwrap().is_empty());
    }

    #[test]
    fn heads_reveal_a_lost_last_event_and_gone_ranges_stop_the_asking() {
        let inbox = Inbox::in_memory().unwrap();
        // The first head a device sees is where its history starts.
        assert!(inbox.note_head("hq", 1, 5).unwrap());
        assert!(inbox.gaps("hq").unwrap().is_empty());
        inbox.record("hq", &alert(1, 6), 0).unwrap();
        assert!(inbox.note_head("hq", 1, 6).unwrap());
        assert!(inbox.gaps("hq").unwrap().is_empty());
        // Events 7..=9 were published but never arrived; the heartbeat says so.
        assert!(inbox.note_head("hq", 1, 9).unwrap());
        assert!(!inbox.note_head("hq", 1, 8).unwrap(), "an older head is no news");
        assert_eq!(inbox.gaps("hq").unwrap(), vec![Gap { epoch: 1, from: 7, to: 9 }]);
        // The site still has 9 but not 7..=8.
        inbox.note_gone("hq", 1, 7, Some(8), 50).unwrap();
        assert_eq!(inbox.gaps("hq").unwrap(), vec![Gap { epoch: 1, from: 9, to: 9 }]);
        inbox.record("hq", &alert(1, 9), 0).unwrap();
        assert!(inbox.gaps("hq").unwrap().is_empty());
        assert_eq!(
            inbox.possible_gaps().unwrap(),
            vec![PossibleGap { site_id: "hq".into(), from_seq: 7, to_seq: Some(8), noted_ms: 50 }]
        );
        // A new epoch of a known site starts at 1; an open-ended gone covers all of it.
        inbox.note_head("hq", 2, 4).unwrap();
        assert_eq!(inbox.gaps("hq").unwrap(), vec![Gap { epoch: 2, from: 1, to: 4 }]);
        inbox.note_gone("hq", 2, 2, None, 60).unwrap();
        assert_eq!(inbox.gaps("hq").unwrap(), vec![Gap { epoch: 2, from: 1, to: 1 }]);
    }

    #[test]
    fn ranges_subtract() {
        assert_eq!(subtract((1, 10), &[(3, 4), (8, 20)]), vec![(1, 2), (5, 7)]);
        assert_eq!(subtract((5, 6), &[(1, 9)]), vec![]);
        assert_eq!(subtract((5, 6), &[(7, 9)]), vec![(5, 6)]);
    }

    #[test]
    fn updates_acknowledge_once_and_add_notes() {
        let inbox = Inbox::in_memory().unwrap();
        inbox.record("hq", &alert(1, 1), 0).unwrap();
        let update = |seq, by: &str, note: Option<&str>| Event {
            epoch: 1,
            seq,
            body: EventBody::AlertUpdate(AlertUpdate {
                alert_id: "a-1-1".into(),
                by: by.into(),
                at: 100 + seq,
                note: note.map(str::to_owned),
            }),
        };
        inbox.record("hq", &update(2, "aiko", Some("on my way")), 0).unwrap();
        inbox.record("hq", &update(3, "ken", Some("handled")), 0).unwrap();
        let a = &inbox.alerts(10).unwrap()[0];
        assert_eq!((a.acknowledged_by.as_deref(), a.acknowledged_ms), (Some("aiko"), Some(102)));
        assert_eq!(a.note.as_deref(), Some("handled"));

        // Replay may bring the updates before their alert: they wait for it.
        let later = Inbox::in_memory().unwrap();
        later.record("hq", &update(3, "ken", Some("handled")), 0).unwrap();
        later.record("hq", &update(2, "aiko", Some("on my way")), 0).unwrap();
        assert!(later.alerts(10).unwrap().is_empty());
        later.record("hq", &alert(1, 1), 0).unwrap();
        let a = &later.alerts(10).unwrap()[0];
        assert_eq!((a.acknowledged_by.as_deref(), a.note.as_deref()), (Some("aiko"), Some("handled")));
    }

    #[test]
    fn pictures_become_thumbnails_and_a_bad_one_never_costs_the_alert() {
        let inbox = Inbox::in_memory().unwrap();
        let with_picture = |seq: u64, bytes: Vec<u8>| {
            let mut e = alert(1, seq);
            if let EventBody::Alert(a) = &mut e.body {
                a.snapshot = Some(bytes);
            }
            e
        };
        let mut good = Vec::new();
        let img =
            image::RgbImage::from_fn(640, 360, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 9]));
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut good, 60).encode_image(&img).unwrap();
        // A header claiming 65535 x 65535 pixels: a decompression bomb.
        let mut bomb = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8, 0xff, 0xff, 0xff, 0xff, 3];
        bomb.extend_from_slice(&[1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9]);
        inbox.record("hq", &with_picture(1, good), 0).unwrap();
        inbox.record("hq", &with_picture(2, bomb), 0).unwrap();
        inbox.record("hq", &with_picture(3, b"<html>not a picture</html>".to_vec()), 0).unwrap();
        let alerts = inbox.alerts(10).unwrap();
        assert_eq!(alerts.len(), 3, "every alert is kept");
        let by_id = |id: &str| alerts.iter().find(|a| a.id == id).unwrap();
        assert!(by_id("a-1-1").has_snapshot && by_id("a-1-1").picture_problem.is_none());
        let thumb = inbox.picture("hq", "a-1-1").unwrap().unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 180));
        for id in ["a-1-2", "a-1-3"] {
            assert!(!by_id(id).has_snapshot && by_id(id).picture_problem.is_some(), "{id}");
            assert_eq!(inbox.picture("hq", id).unwrap(), None);
        }
    }

    #[test]
    fn a_store_that_cannot_write_refuses_and_keeps_nothing_half_done() {
        let inbox = Inbox::in_memory().unwrap();
        inbox.set_read_only(true).unwrap();
        assert!(inbox.record("hq", &alert(1, 1), 0).is_err());
        inbox.set_read_only(false).unwrap();
        assert_eq!(inbox.record("hq", &alert(1, 1), 0).unwrap(), Recorded::New);
    }

    #[test]
    fn it_survives_reopening() {
        let path = std::env::temp_dir().join(format!("mimamori-inbox-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Inbox::open(&path).unwrap().record("hq", &alert(1, 1), 0).unwrap();
        let again = Inbox::open(&path).unwrap();
        assert_eq!(again.record("hq", &alert(1, 1), 0).unwrap(), Recorded::Duplicate);
        assert_eq!(again.alerts(10).unwrap()[0].title, "door 1");
        drop(again);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

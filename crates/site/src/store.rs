//! What a site must not forget, in SQLite (WAL, `synchronous = FULL`): its event stream
//! (epoch and numbered events, for replay), the request ids it has answered (so a
//! redelivered command is not executed twice, across a restart too) and its command log
//! (who asked what, when, and how it ended). An event is handed out for publishing only
//! once it is committed, so a site that loses power never publishes an event it then
//! forgets, and after a restart it continues its epoch where it stopped.

use mimamori_protocol::event::{self, EventBody};
use mimamori_protocol::recovery;
use mimamori_protocol::{self as protocol, ArmState, EventsHead};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// How long a request id is remembered: a redelivery within it gets the first answer.
pub const REMEMBER_REQUESTS: Duration = Duration::from_secs(600);

/// How much of the event stream is kept for replay: an event goes once it is both `age`
/// old and beyond the newest `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub events: u64,
    pub age: Duration,
}

impl Default for Retention {
    /// What the protocol asks of a site: at least 24 hours and at least 10,000 events.
    fn default() -> Retention {
        Retention { events: 10_000, age: Duration::from_secs(24 * 3600) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the site's store: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the site's store at {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
}

/// One command as the site received and settled it: its command log's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// When it arrived (ms since the Unix epoch, the site's clock).
    pub at_ms: u64,
    pub user: String,
    /// The `{class}` level of its topic; None on the topic without one.
    pub class: Option<String>,
    pub request_id: String,
    /// `output:{id}`, `site`, or what could be read of a request that could not.
    pub target: String,
    pub action: String,
    /// done, denied, failed, expired; None while it runs, or if the site stopped before it
    /// ended.
    pub outcome: Option<String>,
    pub message: Option<String>,
}

pub struct Store {
    db: Connection,
    head: EventsHead,
    retention: Retention,
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn as_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// The store in the file at `path`, created (owner only) if it is not there yet.
    pub fn open(path: &Path, retention: Retention, now_ms: u64) -> Result<Store, StoreError> {
        let open = || -> rusqlite::Result<Connection> {
            let db = Connection::open(path)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                // The log names users and what they did: the site's business alone.
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
            db.pragma_update(None, "journal_mode", "WAL")?;
            db.pragma_update(None, "synchronous", "FULL")?;
            db.busy_timeout(Duration::from_secs(5))?;
            Ok(db)
        };
        let db = open().map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        Store::init(db, retention, now_ms)
    }

    /// A store that lasts as long as the process (a simulated site's first life).
    pub fn memory(retention: Retention, now_ms: u64) -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?, retention, now_ms)
    }

    fn init(db: Connection, retention: Retention, now_ms: u64) -> Result<Store, StoreError> {
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS events (
                 seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, alert_id TEXT, payload BLOB NOT NULL);
             CREATE INDEX IF NOT EXISTS events_alert ON events(alert_id) WHERE alert_id IS NOT NULL;
             CREATE TABLE IF NOT EXISTS requests (
                 user TEXT NOT NULL, request_id TEXT NOT NULL, at_ms INTEGER NOT NULL, answer BLOB,
                 PRIMARY KEY (user, request_id));
             CREATE TABLE IF NOT EXISTS commands (
                 id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL, class TEXT,
                 request_id TEXT NOT NULL, target TEXT NOT NULL, action TEXT NOT NULL,
                 outcome TEXT, message TEXT);
             CREATE INDEX IF NOT EXISTS commands_request ON commands(user, request_id);",
        )?;
        // The epoch is this store's: chosen once, kept across restarts.
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)", [as_i64(now_ms.max(1))])?;
        let epoch: i64 = db.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0))?;
        let last: Option<i64> = db.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
        let stored_last: Option<i64> =
            db.query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| r.get(0)).optional()?;
        // The newest number ever given, even if retention has removed the event since.
        let last_seq = as_u64(last.unwrap_or(0).max(stored_last.unwrap_or(0)));
        Ok(Store { db, head: EventsHead { epoch: as_u64(epoch), last_seq }, retention })
    }

    /// The epoch and the newest event's number.
    pub fn head(&self) -> EventsHead {
        self.head
    }

    /// Numbers and commits events, in one transaction, and returns the payloads to
    /// publish, in order. `make` builds an event's body from its (epoch, seq); one that
    /// clients would refuse (a note with control characters, say) is not stored at all,
    /// since it would leave a gap nobody fills.
    pub fn append<I, F>(&mut self, items: I, now_ms: u64) -> Result<Vec<Vec<u8>>, StoreError>
    where
        I: IntoIterator<Item = F>,
        F: FnOnce(u64, u64) -> EventBody,
    {
        let tx = self.db.transaction()?;
        let mut seq = self.head.last_seq;
        let mut out = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (seq, at_ms, alert_id, payload) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for make in items {
                let body = make(self.head.epoch, seq + 1);
                let alert_id = match &body {
                    EventBody::Alert(a) => Some(a.id.clone()),
                    EventBody::AlertUpdate(_) => None,
                };
                let payload = event::encode(&event::Event { epoch: self.head.epoch, seq: seq + 1, body });
                if let Err(err) = event::decode(&payload) {
                    tracing::warn!("the site refused to publish an invalid event: {err}");
                    continue;
                }
                seq += 1;
                insert.execute(params![as_i64(seq), as_i64(now_ms), alert_id, payload])?;
                out.push(payload);
            }
        }
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?1)", [as_i64(seq)])?;
        let keep_from = seq.saturating_sub(self.retention.events);
        let old = now_ms.saturating_sub(u64::try_from(self.retention.age.as_millis()).unwrap_or(u64::MAX));
        tx.execute(
            "DELETE FROM events WHERE seq <= ?1 AND at_ms <= ?2",
            params![as_i64(keep_from), as_i64(old)],
        )?;
        tx.commit()?;
        self.head.last_seq = seq;
        Ok(out)
    }

    /// The armed state last stored, if any.
    pub fn armed(&self) -> Result<Option<ArmState>, StoreError> {
        let n: Option<i64> =
            self.db.query_row("SELECT value FROM meta WHERE key = 'armed'", [], |r| r.get(0)).optional()?;
        Ok(n.map(|n| match n {
            1 => ArmState::Armed,
            2 => ArmState::Partial,
            _ => ArmState::Disarmed,
        }))
    }

    /// Keeps the armed state, so that a restart does not disarm the site.
    pub fn set_armed(&mut self, state: ArmState) -> Result<(), StoreError> {
        let n = match state {
            ArmState::Disarmed => 0,
            ArmState::Armed => 1,
            ArmState::Partial => 2,
        };
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('armed', ?1)", [n])?;
        Ok(())
    }

    /// Whether an alert id is one of the events still held.
    pub fn holds_alert(&self, id: &str) -> bool {
        self.db
            .query_row("SELECT 1 FROM events WHERE alert_id = ?1", [id], |_| Ok(()))
            .optional()
            .is_ok_and(|found| found.is_some())
    }

    /// The answer to a replay request: what is still held of the range, what is gone, and
    /// where to ask again when the answer had to be cut to fit the payload limit.
    pub fn replay(&self, req: &recovery::Request) -> Result<recovery::Response, StoreError> {
        let head = self.head;
        let mut r = recovery::Response {
            v: protocol::VERSION,
            request_id: req.request_id.clone(),
            outcome: "done".into(),
            epoch: req.epoch,
            events: Vec::new(),
            gone: None,
            next_seq: None,
        };
        if req.epoch != head.epoch {
            // A run this site knows nothing of.
            r.gone = Some(recovery::Gone { from_seq: req.from_seq, to_seq: None });
            return Ok(r);
        }
        let to = req.to_seq.unwrap_or(head.last_seq).min(head.last_seq);
        let oldest: Option<i64> = self.db.query_row("SELECT MIN(seq) FROM events", [], |r| r.get(0))?;
        let oldest = oldest.map_or(head.last_seq + 1, as_u64);
        if req.from_seq < oldest && req.from_seq <= to {
            r.gone = Some(recovery::Gone { from_seq: req.from_seq, to_seq: Some(to.min(oldest - 1)) });
        }
        let from = req.from_seq.max(oldest);
        if from > to {
            return Ok(r);
        }
        let mut size = 1024; // the envelope, generously
        let mut rows = self
            .db
            .prepare_cached("SELECT seq, payload FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq")?;
        let mut rows = rows.query(params![as_i64(from), as_i64(to)])?;
        while let Some(row) = rows.next()? {
            let (seq, payload): (i64, Vec<u8>) = (row.get(0)?, row.get(1)?);
            if size + payload.len() + 1 > protocol::MAX_PAYLOAD_BYTES {
                r.next_seq = Some(as_u64(seq));
                break;
            }
            size += payload.len() + 1;
            r.events.push(serde_json::from_slice(&payload).unwrap_or_default());
        }
        Ok(r)
    }

    /// What `user`'s request `request_id` was answered, if it was seen within
    /// [`REMEMBER_REQUESTS`]: `Some(None)` while it is still being carried out.
    pub fn answered(
        &self,
        user: &str,
        request_id: &str,
        now_ms: u64,
    ) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        let since = now_ms.saturating_sub(u64::try_from(REMEMBER_REQUESTS.as_millis()).unwrap_or(0));
        Ok(self
            .db
            .query_row(
                "SELECT answer FROM requests WHERE user = ?1 AND request_id = ?2 AND at_ms >= ?3",
                params![user, request_id, as_i64(since)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Keeps a command as received, in the command log and among the remembered requests
    /// (its answer to follow with [`Store::settle`]).
    pub fn receive(&mut self, record: &CommandRecord) -> Result<(), StoreError> {
        let since = record.at_ms.saturating_sub(u64::try_from(REMEMBER_REQUESTS.as_millis()).unwrap_or(0));
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM requests WHERE at_ms < ?1", [as_i64(since)])?;
        tx.execute(
            "INSERT OR REPLACE INTO requests (user, request_id, at_ms, answer) VALUES (?1, ?2, ?3, NULL)",
            params![record.user, record.request_id, as_i64(record.at_ms)],
        )?;
        tx.execute(
            "INSERT INTO commands (at_ms, user, class, request_id, target, action, outcome, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                as_i64(record.at_ms),
                record.user,
                record.class,
                record.request_id,
                record.target,
                record.action,
                record.outcome,
                record.message
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records how `user`'s request ended: its answer (for a redelivery) and its outcome
    /// in the command log.
    pub fn settle(
        &mut self,
        user: &str,
        request_id: &str,
        answer: &protocol::command::Response,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE requests SET answer = ?3 WHERE user = ?1 AND request_id = ?2",
            params![user, request_id, protocol::encode(answer)],
        )?;
        tx.execute(
            "UPDATE commands SET outcome = ?3, message = ?4
             WHERE id = (SELECT MAX(id) FROM commands WHERE user = ?1 AND request_id = ?2)",
            params![user, request_id, answer.outcome, answer.message],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The command log, oldest first.
    pub fn commands(&self) -> Result<Vec<CommandRecord>, StoreError> {
        let mut stmt = self.db.prepare(
            "SELECT at_ms, user, class, request_id, target, action, outcome, message FROM commands ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CommandRecord {
                at_ms: as_u64(r.get(0)?),
                user: r.get(1)?,
                class: r.get(2)?,
                request_id: r.get(3)?,
                target: r.get(4)?,
                action: r.get(5)?,
                outcome: r.get(6)?,
                message: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimamori_protocol::event::{Alert, AlertKind};

    fn door(epoch: u64, seq: u64) -> EventBody {
        EventBody::Alert(Alert {
            id: format!("a-{epoch}-{seq}"),
            time: 1_000,
            kind: AlertKind::Door,
            zone: None,
            title: format!("door {seq}"),
            cameras: Vec::new(),
            snapshot: None,
        })
    }

    fn request(epoch: u64, from_seq: u64, to_seq: Option<u64>) -> recovery::Request {
        recovery::Request { v: 1, request_id: "p-1".into(), epoch, from_seq, to_seq }
    }

    #[test]
    fn the_stream_survives_a_restart_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        let mut store = Store::open(&path, Retention::default(), 5_000).unwrap();
        let epoch = store.head().epoch;
        assert_eq!(store.append((0..3).map(|_| door), 5_000).unwrap().len(), 3);
        drop(store);
        let mut store = Store::open(&path, Retention::default(), 9_000).unwrap();
        assert_eq!(store.head(), EventsHead { epoch, last_seq: 3 });
        let next = store.append([door], 9_000).unwrap();
        let e = event::decode(&next[0]).unwrap();
        assert_eq!((e.epoch, e.seq), (epoch, 4));
        assert_eq!(store.armed().unwrap(), None, "never set");
        store.set_armed(ArmState::Partial).unwrap();
        drop(store);
        let store = Store::open(&path, Retention::default(), 9_000).unwrap();
        assert_eq!(store.armed().unwrap(), Some(ArmState::Partial));
        assert!(store.holds_alert(&format!("a-{epoch}-2")));
        let r = store.replay(&request(epoch, 1, None)).unwrap();
        assert_eq!((r.events.len(), r.gone), (4, None));
        assert!(std::fs::metadata(&path).unwrap().permissions().mode_is_private());
    }

    trait Private {
        fn mode_is_private(&self) -> bool;
    }
    impl Private for std::fs::Permissions {
        fn mode_is_private(&self) -> bool {
            use std::os::unix::fs::PermissionsExt;
            self.mode() & 0o077 == 0
        }
    }

    #[test]
    fn old_events_go_only_when_both_old_and_beyond_the_count() {
        let retention = Retention { events: 2, age: Duration::from_secs(60) };
        let mut store = Store::memory(retention, 1).unwrap();
        let epoch = store.head().epoch;
        store.append((0..5).map(|_| door), 1_000).unwrap();
        // Young: all five kept, beyond the count or not.
        assert_eq!(store.replay(&request(epoch, 1, None)).unwrap().events.len(), 5);
        store.append([door], 1_000 + 61_000).unwrap();
        let r = store.replay(&request(epoch, 1, None)).unwrap();
        assert_eq!(r.gone, Some(recovery::Gone { from_seq: 1, to_seq: Some(4) }));
        assert_eq!(r.events.len(), 2);
        // Another epoch's range is gone as a whole; a range past the head is empty.
        assert_eq!(store.replay(&request(epoch + 1, 1, None)).unwrap().gone.unwrap().to_seq, None);
        let past = store.replay(&request(epoch, 50, Some(60))).unwrap();
        assert!(past.events.is_empty() && past.gone.is_none());
    }

    #[test]
    fn an_invalid_event_takes_no_number() {
        let mut store = Store::memory(Retention::default(), 1).unwrap();
        let bad = |epoch: u64, seq: u64| {
            let mut b = door(epoch, seq);
            if let EventBody::Alert(a) = &mut b {
                a.title = "bell\u{7}".into();
            }
            b
        };
        let out = store.append([bad, door], 1).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(store.head().last_seq, 1);
    }

    #[test]
    fn requests_are_remembered_and_the_log_keeps_every_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.db");
        let mut store = Store::open(&path, Retention::default(), 1).unwrap();
        let record = CommandRecord {
            at_ms: 100_000,
            user: "mari".into(),
            class: Some("lock".into()),
            request_id: "r-1".into(),
            target: "output:door".into(),
            action: "unlock".into(),
            outcome: None,
            message: None,
        };
        store.receive(&record).unwrap();
        assert_eq!(store.answered("mari", "r-1", 100_001).unwrap(), Some(None), "in progress");
        assert_eq!(
            store.answered("ken", "r-1", 100_001).unwrap(),
            None,
            "another user's id is another request"
        );
        let done = protocol::command::Response::new("r-1", "done", Some("unlocked"), None);
        store.settle("mari", "r-1", &done).unwrap();
        drop(store);
        let store = Store::open(&path, Retention::default(), 1).unwrap();
        let answer = store.answered("mari", "r-1", 200_000).unwrap().flatten().unwrap();
        assert_eq!(protocol::command::decode_response(&answer).unwrap(), done);
        // Forgotten after ten minutes.
        assert_eq!(store.answered("mari", "r-1", 100_000 + 601_000).unwrap(), None);
        let log = store.commands().unwrap();
        assert_eq!(log, vec![CommandRecord { outcome: Some("done".into()), ..record }]);
    }
}

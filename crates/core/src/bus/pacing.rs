//! Subscribing at the pace a broker as it comes can deliver. Every SUBSCRIBE makes the
//! broker send the retained state of its topics at once (catalog, status, output states),
//! and a broker keeps only so many messages for one client: an untuned Mosquitto 2 has 20
//! in flight and 1,000 queued, and drops the rest without a word. Subscribing to a
//! thousand sites in one go would leave half of them *unknown*. So the sites go in
//! batches of one SUBSCRIBE packet each, at most [`OPEN_BATCHES`] at a time, and the next
//! batch goes once a batch has *settled*: every site of it has sent its catalog and status
//! on this connection, or its delivery has been quiet for [`QUIET`] after its SUBACK. A
//! site that has not reported by then is asked again later (subscribing anew sends the
//! retained state again), at growing intervals, for as long as the connection lasts. See
//! "Client connection" in `docs/site-protocol.md`.

use crate::protocol::Topic;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Sites per SUBSCRIBE packet (four filters each: one packet of 100 filters, well within
/// what brokers take in one packet).
pub(super) const SITES_PER_BATCH: usize = 25;
/// Batches whose retained state may be on its way at once: 50 sites, about 100–300
/// messages for sites with a few outputs, far below an untuned broker's 1,020.
pub(super) const OPEN_BATCHES: usize = 2;
/// How long a batch's delivery may pause before what has not come is taken as not coming.
pub(super) const QUIET: Duration = Duration::from_millis(500);
/// The first wait before a site that did not report is asked again; it doubles each time.
pub(super) const ASK_AGAIN_FIRST: Duration = Duration::from_secs(5);
/// The longest wait between two asks.
pub(super) const ASK_AGAIN_MAX: Duration = Duration::from_secs(300);

struct Batch {
    sites: Vec<String>,
    /// When the broker acknowledged the SUBSCRIBE (None: not yet).
    acked: Option<Instant>,
    /// The last message from one of its sites.
    heard: Option<Instant>,
}

impl Batch {
    /// When the batch's delivery counts as quiet, once acknowledged.
    fn quiet_at(&self) -> Option<Instant> {
        let acked = self.acked?;
        Some(self.heard.map_or(acked, |h| h.max(acked)) + QUIET)
    }
}

/// What a SUBSCRIBE of this connection was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscription {
    /// The client's own responses topic.
    Responses,
    /// The open batch with this number.
    Batch(u64),
}

#[derive(Default)]
pub(super) struct Pacing {
    /// Sites not subscribed yet on this connection, in order.
    plan: VecDeque<String>,
    /// Batches subscribed whose retained state may still be on its way, by number.
    open: Vec<(u64, Batch)>,
    next_batch: u64,
    /// SUBSCRIBEs queued in the client, waiting for their packet id, in order.
    queued: VecDeque<Subscription>,
    /// SUBSCRIBEs sent, by packet id, waiting for their SUBACK.
    by_pkid: HashMap<u16, Subscription>,
    /// SUBSCRIBEs of a lost connection that the client will send again first on a resumed
    /// session: their packet ids and SUBACKs are not this connection's.
    stale: usize,
    /// Sites whose catalog, and whose status, came on this connection.
    catalogs: HashSet<String>,
    statuses: HashSet<String>,
    /// Sites that did not report: when to ask again, and the wait after that.
    again: HashMap<String, (Instant, Duration)>,
}

impl Pacing {
    /// A new connection: every site is to be subscribed, after the responses topic.
    /// `resumed`: the broker kept the session, so the client first sends again what the
    /// lost connection had queued.
    pub fn restart(&mut self, sites: &[String], resumed: bool) {
        self.plan = sites.iter().cloned().collect();
        self.open.clear();
        self.by_pkid.clear();
        if !resumed {
            self.stale = 0;
        }
        self.catalogs.clear();
        self.statuses.clear();
        self.again.clear();
    }

    /// The connection is lost: what was queued and never sent goes out first on a resumed
    /// session.
    pub fn lost(&mut self) {
        self.stale += self.queued.len();
        self.queued.clear();
        self.by_pkid.clear();
    }

    /// The SUBSCRIBE of the responses topic is queued.
    pub fn queued_responses(&mut self) {
        self.queued.push_back(Subscription::Responses);
    }

    /// The next batch to subscribe now, if one may go: from the plan first, then the
    /// sites due to be asked again. The caller subscribes to it and reports with
    /// [`Pacing::queued`], or gives it back with [`Pacing::not_queued`].
    pub fn next(&mut self, now: Instant) -> Option<Vec<String>> {
        if self.open.len() >= OPEN_BATCHES {
            return None;
        }
        if !self.plan.is_empty() {
            let n = self.plan.len().min(SITES_PER_BATCH);
            return Some(self.plan.drain(..n).collect());
        }
        let mut due: Vec<String> = self
            .again
            .iter()
            .filter(|(site, (at, _))| *at <= now && !self.is_open(site))
            .map(|(s, _)| s.clone())
            .collect();
        if due.is_empty() {
            return None;
        }
        due.sort();
        due.truncate(SITES_PER_BATCH);
        Some(due)
    }

    fn is_open(&self, site: &str) -> bool {
        self.open.iter().any(|(_, b)| b.sites.iter().any(|s| s == site))
    }

    /// The batch from [`Pacing::next`] is queued in the client.
    pub fn queued(&mut self, sites: Vec<String>) {
        let id = self.next_batch;
        self.next_batch += 1;
        self.open.push((id, Batch { sites, acked: None, heard: None }));
        self.queued.push_back(Subscription::Batch(id));
    }

    /// The batch from [`Pacing::next`] could not be queued: it goes first next time.
    pub fn not_queued(&mut self, sites: Vec<String>) {
        for site in sites.into_iter().rev() {
            if !self.again.contains_key(&site) {
                self.plan.push_front(site);
            }
        }
    }

    /// The client sent a SUBSCRIBE with this packet id.
    pub fn numbered(&mut self, pkid: u16) {
        if self.stale > 0 {
            self.stale -= 1;
        } else if let Some(subscription) = self.queued.pop_front() {
            self.by_pkid.insert(pkid, subscription);
        }
    }

    /// The SUBACK of packet `pkid` arrived.
    pub fn acked(&mut self, pkid: u16, now: Instant) {
        if let Some(Subscription::Batch(id)) = self.by_pkid.remove(&pkid)
            && let Some((_, batch)) = self.open.iter_mut().find(|(b, _)| *b == id)
        {
            batch.acked = Some(now);
        }
    }

    /// A message on `topic` arrived; whether its site is in an open batch.
    pub fn heard(&mut self, topic: &Topic, now: Instant) -> bool {
        let site = topic.site();
        match topic {
            Topic::Catalog { .. } => self.catalogs.insert(site.to_owned()),
            Topic::Status { .. } => self.statuses.insert(site.to_owned()),
            _ => false,
        };
        if self.again.contains_key(site) && self.has_reported(site) {
            self.again.remove(site);
        }
        let batch = self.open.iter_mut().find(|(_, b)| b.sites.iter().any(|s| s == site));
        batch.map(|(_, b)| b.heard = Some(now)).is_some()
    }

    /// Whether `site` sent its catalog and its status on this connection.
    fn has_reported(&self, site: &str) -> bool {
        self.catalogs.contains(site) && self.statuses.contains(site)
    }

    /// Closes the batches that have settled: every site reported, or quiet since the
    /// SUBACK. Sites that did not report are to be asked again. Answers whether a batch
    /// closed (so another may go).
    pub fn settle(&mut self, now: Instant) -> bool {
        let (settled, open): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.open).into_iter().partition(|(_, b)| {
                b.quiet_at().is_some_and(|quiet| now >= quiet || b.sites.iter().all(|s| self.has_reported(s)))
            });
        self.open = open;
        let closed = !settled.is_empty();
        for site in settled.into_iter().flat_map(|(_, b)| b.sites) {
            if self.has_reported(&site) {
                self.again.remove(&site);
            } else {
                let wait =
                    self.again.get(&site).map_or(ASK_AGAIN_FIRST, |(_, w)| (*w * 2).min(ASK_AGAIN_MAX));
                tracing::info!(%site, wait_s = wait.as_secs(), "no catalog and status from this site yet; asking again later");
                self.again.insert(site, (now + wait, wait));
            }
        }
        closed
    }

    /// Every site has been subscribed once on this connection and the broker answered
    /// every SUBSCRIBE.
    pub fn all_subscribed(&self) -> bool {
        self.plan.is_empty()
            && self.queued.is_empty()
            && self.by_pkid.is_empty()
            && self.open.iter().all(|(_, b)| b.acked.is_some())
    }

    /// Sites that have not reported and wait to be asked again.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.again.len()
    }

    /// When [`Pacing::settle`] or [`Pacing::next`] may have something to do: the first
    /// open batch to go quiet, and, while another batch may open, the first site due to be
    /// asked again. `can_send`: the client's queue takes a SUBSCRIBE now.
    pub fn next_deadline(&self, can_send: bool) -> Option<Instant> {
        let quiet = self.open.iter().filter_map(|(_, b)| b.quiet_at());
        let may_open = can_send && self.open.len() < OPEN_BATCHES;
        let again =
            self.again.iter().filter(|(site, _)| may_open && !self.is_open(site)).map(|(_, (at, _))| *at);
        quiet.chain(again).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i:04}")).collect()
    }

    fn report(p: &mut Pacing, site: &str) {
        p.heard(&Topic::Catalog { site: site.into() }, Instant::now());
        p.heard(&Topic::Status { site: site.into() }, Instant::now());
    }

    /// Queues what may go, numbering the SUBSCRIBEs from `pkid` on as the client would.
    fn send(p: &mut Pacing, pkid: &mut u16) -> Vec<Vec<String>> {
        let mut sent = Vec::new();
        while let Some(batch) = p.next(Instant::now()) {
            p.queued(batch.clone());
            p.numbered(*pkid);
            *pkid += 1;
            sent.push(batch);
        }
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_sites_go_in_batches_as_each_settles() {
        let all = sites(1000);
        let mut p = Pacing::default();
        p.restart(&all, false);
        p.queued_responses();
        p.numbered(1);
        let mut pkid = 2;
        let sent = send(&mut p, &mut pkid);
        assert_eq!(
            sent.iter().map(Vec::len).collect::<Vec<_>>(),
            [SITES_PER_BATCH, SITES_PER_BATCH],
            "no more than {OPEN_BATCHES} batches at once"
        );
        for id in 1..4 {
            p.acked(id, Instant::now());
        }
        // The first batch's sites all report: it settles at once, and the next may go.
        for site in &sent[0] {
            report(&mut p, site);
        }
        assert!(p.settle(Instant::now()));
        assert_eq!(send(&mut p, &mut pkid)[0][0], all[50]);
        assert!(!p.all_subscribed());
        assert_eq!(p.next_deadline(true), Some(Instant::now() + QUIET), "the second batch's quiet time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_site_is_asked_again_later_and_less_often() {
        let mut p = Pacing::default();
        p.restart(&sites(2), false);
        let mut pkid = 1;
        send(&mut p, &mut pkid);
        p.acked(1, Instant::now());
        assert!(p.all_subscribed());
        // s0001 never reports; s0000 does.
        report(&mut p, "s0000");
        assert!(!p.settle(Instant::now()), "not quiet yet");
        tokio::time::advance(QUIET).await;
        assert!(p.settle(Instant::now()));
        assert_eq!(p.waiting(), 1);
        assert!(p.next(Instant::now()).is_none(), "not before its time");
        assert_eq!(p.next_deadline(true), Some(Instant::now() + ASK_AGAIN_FIRST));
        assert_eq!(p.next_deadline(false), None, "nothing to wake for while the queue is full");
        tokio::time::advance(ASK_AGAIN_FIRST).await;
        assert_eq!(send(&mut p, &mut pkid), [["s0001"]]);
        assert_eq!(p.next_deadline(true), None, "no deadline in the past while its batch is open");
        p.acked(2, Instant::now());
        tokio::time::advance(QUIET).await;
        p.settle(Instant::now());
        // Twice the wait the second time.
        assert_eq!(p.next_deadline(true), Some(Instant::now() + ASK_AGAIN_FIRST * 2));
        // It reports at last: nothing waits any more.
        report(&mut p, "s0001");
        assert_eq!(p.waiting(), 0);
        assert_eq!(p.next_deadline(true), None);
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_model_knew_before_does_not_settle_a_batch() {
        let mut p = Pacing::default();
        p.restart(&sites(1), false);
        let mut pkid = 1;
        send(&mut p, &mut pkid);
        p.acked(1, Instant::now());
        report(&mut p, "s0000");
        assert!(p.settle(Instant::now()));
        // A new connection: the site must report again on it.
        p.restart(&sites(1), true);
        send(&mut p, &mut pkid);
        p.acked(2, Instant::now());
        assert!(!p.settle(Instant::now()));
        report(&mut p, "s0000");
        assert!(p.settle(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_keeps_arriving_is_not_cut_short() {
        let mut p = Pacing::default();
        p.restart(&sites(3), false);
        let mut pkid = 1;
        send(&mut p, &mut pkid);
        p.acked(1, Instant::now());
        for _ in 0..5 {
            tokio::time::advance(QUIET / 2).await;
            assert!(p.heard(&Topic::Catalog { site: "s0002".into() }, Instant::now()));
            assert!(!p.settle(Instant::now()), "still arriving");
        }
        tokio::time::advance(QUIET).await;
        assert!(p.settle(Instant::now()));
        assert_eq!(p.waiting(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn subacks_of_a_lost_connection_are_not_taken_for_this_ones() {
        let mut p = Pacing::default();
        p.restart(&sites(30), false);
        // Two batches queued; the connection drops before the client sent them.
        let first = p.next(Instant::now()).unwrap();
        p.queued(first);
        let second = p.next(Instant::now()).unwrap();
        p.queued(second);
        p.lost();
        // The session is resumed: the client sends the two stale SUBSCRIBEs first.
        p.restart(&sites(30), true);
        p.queued_responses();
        p.numbered(1);
        p.numbered(2);
        p.numbered(3);
        let mut pkid = 4;
        send(&mut p, &mut pkid);
        // The stale SUBACKs change nothing; this connection's do.
        p.acked(1, Instant::now());
        p.acked(2, Instant::now());
        assert!(!p.all_subscribed());
        for id in 3..=5 {
            p.acked(id, Instant::now());
        }
        assert!(p.all_subscribed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_could_not_be_queued_goes_first_next_time() {
        let mut p = Pacing::default();
        p.restart(&sites(30), false);
        let batch = p.next(Instant::now()).unwrap();
        p.not_queued(batch.clone());
        assert_eq!(p.next(Instant::now()).unwrap(), batch);
    }
}

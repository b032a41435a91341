//! Subscribing at the pace a broker as it comes can deliver. Every SUBSCRIBE makes the
//! broker send the retained state of its topics at once (catalog, status, output states),
//! and a broker keeps only so many messages for one client: an untuned Mosquitto 2 has 20
//! in flight and 1,000 queued, and drops the rest without a word. Subscribing to a
//! thousand sites in one go would leave half of them *unknown*. So the sites go in
//! batches of one SUBSCRIBE packet each, at most [`OPEN_BATCHES`] at a time, and the next
//! batch goes once a batch has *settled*: every site of it has reported, or its delivery
//! has been quiet for [`QUIET`] after its SUBACK. A site that has not reported by then is
//! asked again later (subscribing anew sends the retained state again), at growing
//! intervals, for as long as the connection lasts. See "Client connection" in
//! `docs/site-protocol.md`.

use std::collections::{HashMap, VecDeque};
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

/// One subscription on its way to the broker, in the order they were sent: brokers answer
/// the SUBSCRIBEs of one connection in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
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
    /// SUBSCRIBEs waiting for their SUBACK, in order.
    unacked: VecDeque<Sent>,
    /// Sites that did not report: when to ask again, and the wait after that.
    again: HashMap<String, (Instant, Duration)>,
}

impl Pacing {
    /// A new connection: every site is to be subscribed, after the responses topic (which
    /// the caller subscribes and reports with [`Pacing::sent_responses`]).
    pub fn restart(&mut self, sites: &[String]) {
        self.plan = sites.iter().cloned().collect();
        self.open.clear();
        self.unacked.clear();
        self.again.clear();
    }

    pub fn sent_responses(&mut self) {
        self.unacked.push_back(Sent::Responses);
    }

    /// The next batch to subscribe now, if one may go: from the plan first, then the
    /// sites due to be asked again. The caller subscribes to it and reports with
    /// [`Pacing::sent`], or gives it back with [`Pacing::not_sent`].
    pub fn next(&mut self, now: Instant) -> Option<Vec<String>> {
        if self.open.len() >= OPEN_BATCHES {
            return None;
        }
        if !self.plan.is_empty() {
            let n = self.plan.len().min(SITES_PER_BATCH);
            return Some(self.plan.drain(..n).collect());
        }
        let mut due: Vec<String> =
            self.again.iter().filter(|(_, (at, _))| *at <= now).map(|(s, _)| s.clone()).collect();
        if due.is_empty() {
            return None;
        }
        due.sort();
        due.truncate(SITES_PER_BATCH);
        Some(due)
    }

    /// The batch from [`Pacing::next`] is on its way to the broker.
    pub fn sent(&mut self, sites: Vec<String>) {
        let id = self.next_batch;
        self.next_batch += 1;
        for site in &sites {
            // Asked again: due next time after a longer wait, unless it reports.
            if let Some((at, wait)) = self.again.get_mut(site) {
                *at = Instant::now() + *wait + QUIET;
            }
        }
        self.open.push((id, Batch { sites, acked: None, heard: None }));
        self.unacked.push_back(Sent::Batch(id));
    }

    /// The batch from [`Pacing::next`] could not be queued: it goes first next time.
    pub fn not_sent(&mut self, sites: Vec<String>) {
        for site in sites.into_iter().rev() {
            if !self.again.contains_key(&site) {
                self.plan.push_front(site);
            }
        }
    }

    /// A SUBACK arrived (for the oldest SUBSCRIBE still unanswered).
    pub fn acked(&mut self, now: Instant) {
        if let Some(Sent::Batch(id)) = self.unacked.pop_front()
            && let Some((_, batch)) = self.open.iter_mut().find(|(b, _)| *b == id)
        {
            batch.acked = Some(now);
        }
    }

    /// A message from `site` arrived; whether the site is in an open batch.
    pub fn heard(&mut self, site: &str, now: Instant) -> bool {
        let batch = self.open.iter_mut().find(|(_, b)| b.sites.iter().any(|s| s == site));
        batch.map(|(_, b)| b.heard = Some(now)).is_some()
    }

    /// Closes the batches that have settled: every site reported (`reported`), or quiet
    /// since its SUBACK. Sites that did not report are to be asked again. Answers whether
    /// a batch closed (so another may go).
    pub fn settle(&mut self, now: Instant, reported: impl Fn(&str) -> bool) -> bool {
        let before = self.open.len();
        let mut closed = Vec::new();
        self.open.retain_mut(|(_, batch)| {
            let Some(quiet_at) = batch.quiet_at() else { return true };
            let done = batch.sites.iter().all(|s| reported(s));
            if done || now >= quiet_at {
                closed.append(&mut batch.sites);
                false
            } else {
                true
            }
        });
        for site in closed {
            if reported(&site) {
                self.again.remove(&site);
            } else {
                let wait =
                    self.again.get(&site).map_or(ASK_AGAIN_FIRST, |(_, w)| (*w * 2).min(ASK_AGAIN_MAX));
                tracing::info!(%site, wait_s = wait.as_secs(), "no retained state from this site yet; asking again later");
                self.again.insert(site, (now + wait, wait));
            }
        }
        self.open.len() < before
    }

    /// Forgets a site that has reported since it was last asked.
    pub fn reported(&mut self, site: &str) {
        self.again.remove(site);
    }

    /// Every site has been subscribed once on this connection and the broker answered
    /// every SUBSCRIBE.
    pub fn all_subscribed(&self) -> bool {
        self.plan.is_empty() && self.unacked.is_empty() && self.open.iter().all(|(_, b)| b.acked.is_some())
    }

    /// Sites that have not reported and wait to be asked again.
    pub fn waiting(&self) -> usize {
        self.again.len()
    }

    /// When [`Pacing::settle`] or [`Pacing::next`] may have something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let quiet = self.open.iter().filter_map(|(_, b)| b.quiet_at());
        let again = self.again.values().map(|(at, _)| *at);
        quiet.chain(again).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn sites(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i:04}")).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_sites_go_in_batches_as_each_settles() {
        let all = sites(1000);
        let mut p = Pacing::default();
        p.restart(&all);
        p.sent_responses();
        let now = Instant::now();
        let first = p.next(now).unwrap();
        assert_eq!(first.len(), SITES_PER_BATCH);
        p.sent(first.clone());
        let second = p.next(now).unwrap();
        p.sent(second.clone());
        assert!(p.next(now).is_none(), "no more than {OPEN_BATCHES} batches at once");
        // The SUBACKs: the responses topic's, then the batches'.
        p.acked(now);
        p.acked(now);
        p.acked(now);
        // The first batch's sites all report: it settles at once, and the next may go.
        let reported: HashSet<String> = first.iter().cloned().collect();
        assert!(p.settle(now, |s| reported.contains(s)));
        assert_eq!(p.next(now).unwrap()[0], all[50]);
        assert!(!p.all_subscribed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_site_is_asked_again_later_and_less_often() {
        let mut p = Pacing::default();
        p.restart(&sites(2));
        let batch = p.next(Instant::now()).unwrap();
        p.sent(batch);
        p.acked(Instant::now());
        assert!(p.all_subscribed());
        // s0001 never reports; s0000 does.
        let reported = |s: &str| s == "s0000";
        assert!(!p.settle(Instant::now(), reported), "not quiet yet");
        tokio::time::advance(QUIET).await;
        assert!(p.settle(Instant::now(), reported));
        assert_eq!(p.waiting(), 1);
        assert!(p.next(Instant::now()).is_none(), "not before its time");
        assert_eq!(p.next_deadline(), Some(Instant::now() + ASK_AGAIN_FIRST));
        tokio::time::advance(ASK_AGAIN_FIRST).await;
        let again = p.next(Instant::now()).unwrap();
        assert_eq!(again, ["s0001"]);
        p.sent(again);
        p.acked(Instant::now());
        tokio::time::advance(QUIET).await;
        p.settle(Instant::now(), reported);
        // Twice the wait the second time.
        assert_eq!(p.next_deadline(), Some(Instant::now() + ASK_AGAIN_FIRST * 2));
        // It reports at last: nothing waits any more.
        p.reported("s0001");
        assert_eq!(p.waiting(), 0);
        assert_eq!(p.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_keeps_arriving_is_not_cut_short() {
        let mut p = Pacing::default();
        p.restart(&sites(3));
        let batch = p.next(Instant::now()).unwrap();
        p.sent(batch);
        p.acked(Instant::now());
        for _ in 0..5 {
            tokio::time::advance(QUIET / 2).await;
            p.heard("s0002", Instant::now());
            assert!(!p.settle(Instant::now(), |_| false), "still arriving");
        }
        tokio::time::advance(QUIET).await;
        assert!(p.settle(Instant::now(), |_| false));
        assert_eq!(p.waiting(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_could_not_be_queued_goes_first_next_time() {
        let mut p = Pacing::default();
        p.restart(&sites(30));
        let batch = p.next(Instant::now()).unwrap();
        p.not_sent(batch.clone());
        assert_eq!(p.next(Instant::now()).unwrap(), batch);
    }
}

//! Recovery of lost events (see `protocol::recovery`): for each site with gaps in the
//! inbox, one replay request at a time, asked again when it goes unanswered. A gap found
//! by a status head or at connect is given a moment to fill by itself first, since the
//! broker may still be delivering what it queued.

use super::BusState;
use super::connection::{Broker, Own, RequestProperties, Sent};
use crate::inbox::{Inbox, Recorded};
use crate::protocol::recovery::{self, REPLAY_TIMEOUT, Replayed};
use crate::protocol::{self, topics};
use crate::time::now_ms;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long a gap may stay open before the site is asked: the broker's own backlog
/// usually fills it within this time after a reconnect.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

/// Where replay requests go and answers come.
pub(super) struct Link<'a, B: Broker> {
    pub broker: &'a B,
    pub inbox: &'a Inbox,
    pub own: &'a mut Own,
}

#[derive(Default)]
pub(super) struct Recovery {
    /// Sites to look at again from this instant.
    due: HashMap<String, Instant>,
    /// The request on its way for a site, and when it was sent.
    in_flight: HashMap<String, (String, Instant)>,
}

impl Recovery {
    /// Looks for gaps of `site` after the settling time.
    pub fn check_soon(&mut self, site: &str) {
        self.due.entry(site.to_owned()).or_insert_with(|| Instant::now() + SETTLE);
    }

    /// Whether `site`'s response answers the request on its way to that site (and so is
    /// no longer on its way).
    pub fn answered(&mut self, site: &str, request_id: &str) -> bool {
        let ours = self.in_flight.get(site).is_some_and(|(id, _)| id == request_id);
        if ours {
            self.in_flight.remove(site);
        }
        ours
    }

    /// Asks every site that is due, and again every site whose request went unanswered.
    pub fn tick(&mut self, link: &mut Link<'_, impl Broker>) {
        let now = Instant::now();
        let mut sites: Vec<String> =
            self.due.iter().filter(|(_, t)| **t <= now).map(|(s, _)| s.clone()).collect();
        sites.extend(
            self.in_flight
                .iter()
                .filter(|(_, (_, sent))| now - *sent >= REPLAY_TIMEOUT)
                .map(|(s, _)| s.clone()),
        );
        for site in sites {
            self.ask(link, &site);
        }
    }

    /// Sends a replay request for the first gap of `site`, unless one is on its way.
    pub fn ask(&mut self, link: &mut Link<'_, impl Broker>, site: &str) {
        self.due.remove(site);
        if self.in_flight.get(site).is_some_and(|(_, sent)| sent.elapsed() < REPLAY_TIMEOUT) {
            return;
        }
        self.in_flight.remove(site);
        let gap = match link.inbox.gaps(site) {
            Ok(gaps) => match gaps.first() {
                Some(gap) => *gap,
                None => return,
            },
            Err(err) => {
                tracing::error!(%site, "cannot read the alert store to find gaps: {err}");
                return;
            }
        };
        let request = recovery::request(gap.epoch, gap.from, Some(gap.to));
        let properties = RequestProperties {
            response_topic: topics::responses(&link.own.user, &link.own.client, site),
            correlation: request.request_id.clone(),
            expiry_s: u32::try_from(REPLAY_TIMEOUT.as_secs()).unwrap_or(10),
        };
        let topic = topics::replay(site, &link.own.user);
        match link.broker.publish(topic, protocol::encode(&request), Some(properties)) {
            Ok(()) => {
                tracing::info!(%site, epoch = gap.epoch, from = gap.from, to = gap.to, "asking the site to replay missing events");
                link.own
                    .unnumbered
                    .push_back(Sent { request_id: request.request_id.clone(), expects_response: true });
                self.in_flight.insert(site.to_owned(), (request.request_id, Instant::now()));
            }
            Err(err) => {
                tracing::warn!(%site, "could not queue a replay request: {err}");
                self.check_soon(site);
            }
        }
    }

    /// Stores what a site replayed and what it said is gone, then asks for the next gap
    /// at once if this answer moved things on (otherwise after the timeout, so that a site
    /// that answers without progress is not asked in a tight loop).
    pub fn apply(
        &mut self,
        link: &mut Link<'_, impl Broker>,
        state: &BusState,
        site: &str,
        replayed: Replayed,
    ) {
        if replayed.outcome != "done" {
            tracing::warn!(%site, outcome = %replayed.outcome, "the site did not replay");
            self.in_flight.insert(site.to_owned(), (String::new(), Instant::now()));
            return;
        }
        let mut new = 0;
        for event in &replayed.events {
            match link.inbox.record(site, event, now_ms()) {
                Ok(Recorded::New) => new += 1,
                Ok(Recorded::Duplicate) => {}
                Err(err) => {
                    tracing::error!(%site, seq = event.seq, "a replayed event was not stored: {err}");
                    state.count_unstored(&err);
                }
            }
        }
        let mut progress = new > 0;
        if let Some(gone) = replayed.gone {
            tracing::warn!(%site, epoch = replayed.epoch, from = gone.from_seq, to = ?gone.to_seq, "the site no longer has these events: possible gap");
            match link.inbox.note_gone(site, replayed.epoch, gone.from_seq, gone.to_seq, now_ms()) {
                Ok(()) => progress = true,
                Err(err) => tracing::error!(%site, "the possible gap was not stored: {err}"),
            }
        }
        if progress {
            state.count_replayed(new);
            state.inbox_changed(site.to_owned());
        }
        if progress {
            self.ask(link, site);
        } else {
            self.in_flight.insert(site.to_owned(), (String::new(), Instant::now()));
        }
    }
}

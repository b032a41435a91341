//! Requests that wait for an answer: commands (answered by the site's response, or by the
//! broker's refusal) and acknowledgements (answered by the broker's PUBACK). The core's
//! callers register a request here and get a channel; the connection task publishes it
//! and hands the answer back by request id.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// How a request (a command) was answered.
#[derive(Debug)]
pub enum Reply {
    /// The site's response.
    Response(crate::protocol::command::Response),
    /// The broker refused the publish (PUBACK reason), e.g. "not authorized".
    Refused(String),
    /// The broker took a publish that expects no response (an acknowledgement).
    Accepted,
}

/// A publish on its way to the connection task.
pub(crate) struct Outgoing {
    /// The site it is for: a response is taken only from this site.
    pub site: String,
    pub topic: String,
    pub request_id: String,
    pub payload: Vec<u8>,
    /// `Some(expiry)` for a request that expects a response (Response Topic, Correlation
    /// Data, Message Expiry Interval); `None` for a plain publish answered by its PUBACK.
    pub expiry_s: Option<u32>,
}

/// The requests of one bus: the way to its connection task (none without one), and who
/// waits for which answer.
#[derive(Default)]
pub(super) struct Requests {
    /// Requests to publish, to the connection task (None without a connection).
    outgoing: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    /// Requests waiting for their answer, by request id: the site asked, and who waits.
    pending: Mutex<HashMap<String, (String, oneshot::Sender<Reply>)>>,
    /// This client's broker user, for the command topic.
    user: Mutex<String>,
}

impl Requests {
    /// Queues `request` for the connection task; the answer comes on the returned channel.
    /// None when there is no connection task.
    pub fn send(&self, request: Outgoing) -> Option<oneshot::Receiver<Reply>> {
        let (tx, rx) = oneshot::channel();
        let request_id = request.request_id.clone();
        lock(&self.pending).insert(request_id.clone(), (request.site.clone(), tx));
        let sent = lock(&self.outgoing).as_ref().is_some_and(|o| o.send(request).is_ok());
        if !sent {
            self.forget(&request_id);
            return None;
        }
        Some(rx)
    }

    pub fn user(&self) -> String {
        lock(&self.user).clone()
    }

    /// Drops a request that is no longer waited for.
    pub fn forget(&self, request_id: &str) {
        lock(&self.pending).remove(request_id);
    }

    /// Hands the broker's answer (a PUBACK) to whoever waits for `request_id`; false when
    /// nobody does.
    pub fn answer(&self, request_id: &str, reply: Reply) -> bool {
        lock(&self.pending).remove(request_id).is_some_and(|(_, tx)| tx.send(reply).is_ok())
    }

    /// Hands `site`'s response to whoever waits for `request_id`, if the request went to
    /// that site; false when nobody does (a response from another site stays unanswered).
    pub fn answer_from(&self, site: &str, request_id: &str, reply: Reply) -> bool {
        let mut pending = lock(&self.pending);
        if pending.get(request_id).is_none_or(|(asked, _)| asked != site) {
            return false;
        }
        pending.remove(request_id).is_some_and(|(_, tx)| tx.send(reply).is_ok())
    }

    /// Connects these requests to a connection task publishing as `user` (or disconnects
    /// them, with None).
    pub fn set_outgoing(&self, user: &str, tx: Option<mpsc::UnboundedSender<Outgoing>>) {
        *lock(&self.user) = user.to_owned();
        *lock(&self.outgoing) = tx;
    }
}

use super::state::lock;

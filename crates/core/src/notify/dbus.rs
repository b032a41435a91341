//! The freedesktop notification service (`org.freedesktop.Notifications`) over D-Bus: the
//! notification shows the alert's picture as `image-data`, carries a default action (a
//! click) and an "Open camera" action, and is replaced in place while its incident goes
//! on. A click comes back as the alert's [`Target`] on the receiver `connect` returns.

use super::{Notice, Notifier, Target};
use futures_util::StreamExt;
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;
use zbus::zvariant::{StructureBuilder, Value};

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)] // the service's own signature
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    fn close_notification(&self, id: u32) -> zbus::Result<()>;

    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;

    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no notification service on the session bus: {0}")]
    Unavailable(String),
}

/// Notices waiting to be shown; a flood beyond this is dropped (and logged), never queued
/// without bound.
const QUEUE: usize = 256;
/// Incidents whose notification is remembered (to replace it, to map a click back).
const REMEMBERED: usize = 256;

/// What the serving task is asked to do.
enum Command {
    Show(Box<Notice>),
    Close(u64),
}

/// Shows notices on the freedesktop notification service.
pub struct DbusNotifier {
    tx: mpsc::Sender<Command>,
}

impl Notifier for DbusNotifier {
    fn show(&self, notice: Notice) {
        if self.tx.try_send(Command::Show(Box::new(notice))).is_err() {
            tracing::warn!("a notification was dropped: the notification service is not keeping up");
        }
    }

    fn close(&self, incident: u64) {
        let _ = self.tx.try_send(Command::Close(incident));
    }
}

impl DbusNotifier {
    /// Connects to the session bus (or the bus at `address`) and its notification
    /// service, and starts showing notices on the current Tokio runtime. Clicks come on
    /// the returned receiver.
    pub async fn connect(
        address: Option<&str>,
    ) -> Result<(DbusNotifier, mpsc::Receiver<Target>), NotifyError> {
        let unavailable = |e: zbus::Error| NotifyError::Unavailable(e.to_string());
        let connection = match address {
            Some(a) => zbus::connection::Builder::address(a).map_err(unavailable)?.build().await,
            None => zbus::Connection::session().await,
        }
        .map_err(unavailable)?;
        let proxy = NotificationsProxy::new(&connection).await.map_err(unavailable)?;
        // Asking for the capabilities proves a service is there.
        let capabilities = proxy.get_capabilities().await.map_err(unavailable)?;
        let markup = capabilities.iter().any(|c| c == "body-markup");
        let invoked = proxy.receive_action_invoked().await.map_err(unavailable)?;
        let closed = proxy.receive_notification_closed().await.map_err(unavailable)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (opened_tx, opened) = mpsc::channel(16);
        tokio::spawn(serve(proxy, markup, rx, invoked, closed, opened_tx));
        Ok((DbusNotifier { tx }, opened))
    }
}

/// What the service's body may hold: with markup, `&`, `<` and `>` are escaped so that a
/// title is shown as written, never interpreted.
fn body_text(body: &str, markup: bool) -> String {
    if !markup {
        return body.to_owned();
    }
    body.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn serve(
    proxy: NotificationsProxy<'static>,
    markup: bool,
    mut commands: mpsc::Receiver<Command>,
    mut invoked: ActionInvokedStream,
    mut closed: NotificationClosedStream,
    opened: mpsc::Sender<Target>,
) {
    // incident → service id, and service id → what a click opens.
    let mut shown: HashMap<u64, u32> = HashMap::new();
    let mut targets: HashMap<u32, Target> = HashMap::new();
    let mut order: VecDeque<u64> = VecDeque::new();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let notice = match command {
                    None => return,
                    Some(Command::Close(incident)) => {
                        if let Some(id) = shown.remove(&incident) {
                            targets.remove(&id);
                            order.retain(|i| *i != incident);
                            if let Err(err) = proxy.close_notification(id).await {
                                tracing::debug!("closing a notification: {err}");
                            }
                        }
                        continue;
                    }
                    Some(Command::Show(notice)) => *notice,
                };
                let replaces = shown.get(&notice.incident).copied().unwrap_or(0);
                let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
                hints.insert("urgency", Value::from(if notice.critical { 2u8 } else { 1u8 }));
                hints.insert("category", Value::from("device"));
                if notice.critical {
                    // The desktop's alarm sound, where its notification service plays sounds.
                    hints.insert("sound-name", Value::from("alarm-clock-elapsed"));
                }
                if let Some(p) = &notice.picture {
                    let image = StructureBuilder::new()
                        .add_field(i32::try_from(p.width).unwrap_or(0))
                        .add_field(i32::try_from(p.height).unwrap_or(0))
                        .add_field(i32::try_from(p.width * 3).unwrap_or(0))
                        .add_field(false)
                        .add_field(8i32)
                        .add_field(3i32)
                        .add_field(p.rgb.clone())
                        .build();
                    match image {
                        Ok(image) => {
                            hints.insert("image-data", Value::from(image));
                        }
                        Err(err) => tracing::warn!("the notification's picture was left out: {err}"),
                    }
                }
                let open = "Open camera";
                let actions: &[&str] = if notice.target.camera_id.is_some() { &["default", open, "open", open] } else { &["default", ""] };
                // A critical incident stays until dismissed; others expire as the service likes.
                let expire = if notice.critical { 0 } else { -1 };
                let body = body_text(&notice.body, markup);
                match proxy.notify("Mimamori", replaces, "", &notice.summary, &body, actions, hints, expire).await {
                    Ok(id) => {
                        if replaces != 0 && replaces != id {
                            targets.remove(&replaces);
                        }
                        if shown.insert(notice.incident, id).is_none() {
                            order.push_back(notice.incident);
                        }
                        targets.insert(id, notice.target);
                        while order.len() > REMEMBERED {
                            if let Some(old) = order.pop_front().and_then(|i| shown.remove(&i)) {
                                targets.remove(&old);
                            }
                        }
                    }
                    Err(err) => tracing::warn!("the notification service refused a notification: {err}"),
                }
            }
            Some(signal) = invoked.next() => {
                let Ok(args) = signal.args() else { continue };
                if let Some(target) = targets.get(&args.id) {
                    tracing::info!(site = %target.site_id, alert = %target.alert_id, action = %args.action_key, "notification clicked");
                    let _ = opened.try_send(target.clone());
                }
            }
            Some(signal) = closed.next() => {
                let Ok(args) = signal.args() else { continue };
                if targets.remove(&args.id).is_some() {
                    shown.retain(|_, id| *id != args.id);
                    order.retain(|i| shown.contains_key(i));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_escaped_only_for_services_that_read_markup() {
        assert_eq!(body_text("<b>a & b</b>", true), "&lt;b&gt;a &amp; b&lt;/b&gt;");
        assert_eq!(body_text("<b>a & b</b>", false), "<b>a & b</b>");
    }
}

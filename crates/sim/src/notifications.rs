//! A notification service of the test's own: a private D-Bus session bus (`dbus-daemon`)
//! and an `org.freedesktop.Notifications` server on it that records every notification
//! and can click one, as a person would. Tests that claim to show notifications talk to
//! this real bus, through the same D-Bus calls as a desktop's notification daemon gets.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

/// A private session bus; dropping it stops the daemon.
pub struct SessionBus {
    pub address: String,
    child: Child,
}

impl SessionBus {
    /// Starts `dbus-daemon --session` (installed with `scripts/install-deps`).
    pub fn start() -> SessionBus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (install with scripts/install-deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the bus address");
        SessionBus { address: line.trim().to_owned(), child }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One notification as the service received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub id: u32,
    pub replaces: u32,
    pub app: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub urgency: Option<u8>,
    /// `image-data`: width, height, channels and the number of pixel bytes.
    pub image: Option<(i32, i32, i32, usize)>,
    pub sound: Option<String>,
    pub expire: i32,
}

struct Service {
    shown: Arc<Mutex<Vec<Shown>>>,
    closed: Arc<Mutex<Vec<u32>>>,
    next: u32,
}

fn image_of(value: &Value<'_>) -> Option<(i32, i32, i32, usize)> {
    let Value::Structure(s) = value else { return None };
    match s.fields() {
        [
            Value::I32(w),
            Value::I32(h),
            Value::I32(_),
            Value::Bool(_),
            Value::I32(_),
            Value::I32(c),
            Value::Array(px),
        ] => Some((*w, *h, *c, px.len())),
        _ => None,
    }
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments)] // the service's own signature
    fn notify(
        &mut self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            self.next += 1;
            self.next
        };
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(&**v).ok());
        let image = hints.get("image-data").and_then(|v| image_of(v));
        let sound = hints.get("sound-name").and_then(|v| <&str>::try_from(&**v).ok()).map(str::to_owned);
        let shown = Shown {
            id,
            replaces: replaces_id,
            app: app_name,
            summary,
            body,
            actions,
            urgency,
            image,
            sound,
            expire: expire_timeout,
        };
        self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(shown);
        id
    }

    fn close_notification(&self, id: u32) {
        self.closed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
    }

    fn get_capabilities(&self) -> Vec<String> {
        ["actions", "body", "body-markup", "body-images", "persistence"].map(String::from).to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("mimamori-test-recorder".into(), "mimamori".into(), "1".into(), "1.2".into())
    }

    #[zbus(signal)]
    async fn action_invoked(emitter: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(emitter: &SignalEmitter<'_>, id: u32, reason: u32) -> zbus::Result<()>;
}

const PATH: &str = "/org/freedesktop/Notifications";

/// The recording notification service, serving on a bus.
pub struct Recorder {
    connection: zbus::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
    closed: Arc<Mutex<Vec<u32>>>,
}

impl Recorder {
    pub async fn start(address: &str) -> Recorder {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Mutex::new(Vec::new()));
        let service = Service { shown: shown.clone(), closed: closed.clone(), next: 0 };
        let connection = zbus::connection::Builder::address(address)
            .expect("bus address")
            .name("org.freedesktop.Notifications")
            .expect("service name")
            .serve_at(PATH, service)
            .expect("service object")
            .build()
            .await
            .expect("the notification service on the test bus");
        Recorder { connection, shown, closed }
    }

    /// The notifications closed by the app (`CloseNotification`), in order.
    pub fn closed(&self) -> Vec<u32> {
        self.closed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Every notification received so far, in order.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Clicks a notification: the service's `ActionInvoked` signal with `action`.
    pub async fn click(&self, id: u32, action: &str) {
        let iface = self.connection.object_server().interface::<_, Service>(PATH).await.expect("our service");
        Service::action_invoked(iface.signal_emitter(), id, action).await.expect("signal");
    }
}

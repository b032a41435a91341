//! Frigate's detections (`docs/gateway.md`, Frigate): a review item on `{prefix}/reviews`
//! (Frigate 0.14 and later) or a tracked object on `{prefix}/events` (older versions)
//! becomes an intrusion alert at the camera that saw it, when the camera's zone is armed,
//! with Frigate's picture of the object: from its HTTP API if configured, else (or when
//! the API does not answer) the latest one it published on
//! `{prefix}/{camera}/{label}/snapshot`. Each review or object raises one alert, however
//! many updates follow.

use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `[frigate]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrigateSection {
    #[serde(default = "prefix")]
    pub topic_prefix: String,
    /// `reviews` (Frigate 0.14 and later) or `events` (older versions). Frigate publishes
    /// both; reading one keeps one alert per sighting.
    #[serde(default)]
    pub source: Source,
    /// Review items of this severity or higher raise alerts: `alert` (default) or
    /// `detection`.
    #[serde(default)]
    pub severity: Severity,
    /// Frigate's HTTP API (`http://host:5000`), for the snapshot of the object.
    #[serde(default)]
    pub api: Option<String>,
}

fn prefix() -> String {
    "frigate".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    #[default]
    Reviews,
    Events,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Detection,
    #[default]
    Alert,
}

/// Something Frigate saw: at which of its cameras, what, and the id of a tracked object
/// whose snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The review's or object's id: one alert per id.
    pub id: String,
    pub camera: String,
    pub label: String,
    pub object: Option<String>,
}

#[derive(Deserialize)]
struct Message<T> {
    #[serde(rename = "type")]
    kind: String,
    after: T,
}

#[derive(Deserialize)]
struct Review {
    id: String,
    camera: String,
    severity: Severity,
    #[serde(default)]
    data: ReviewData,
}

#[derive(Deserialize, Default)]
struct ReviewData {
    #[serde(default)]
    detections: Vec<String>,
    #[serde(default)]
    objects: Vec<String>,
}

#[derive(Deserialize)]
struct TrackedObject {
    id: String,
    camera: String,
    label: String,
    #[serde(default)]
    false_positive: bool,
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<Message<T>, String> {
    if payload.len() > crate::zigbee2mqtt::MAX_MESSAGE * 4 {
        return Err(format!("a message of {} bytes, over the limit", payload.len()));
    }
    serde_json::from_slice(payload)
        .map_err(|e| format!("not a Frigate message ({:?} at column {})", e.classify(), e.column()))
}

/// A `reviews` message: a sighting when a review is new or has reached `severity`.
pub fn review(payload: &[u8], severity: Severity) -> Result<Option<Sighting>, String> {
    let m: Message<Review> = parse(payload)?;
    if m.kind == "end" || m.after.severity < severity {
        return Ok(None);
    }
    let r = m.after;
    Ok(Some(Sighting {
        label: r.data.objects.first().cloned().unwrap_or_else(|| "object".into()),
        object: r.data.detections.first().cloned(),
        id: r.id,
        camera: r.camera,
    }))
}

/// An `events` message: a sighting once the object is no longer a false positive.
pub fn event(payload: &[u8]) -> Result<Option<Sighting>, String> {
    let m: Message<TrackedObject> = parse(payload)?;
    if m.kind == "end" || m.after.false_positive {
        return Ok(None);
    }
    let o = m.after;
    Ok(Some(Sighting { object: Some(o.id.clone()), id: o.id, camera: o.camera, label: o.label }))
}

/// The ids already alerted, the newest few hundred.
#[derive(Default)]
pub struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// True the first time `id` is seen.
    pub fn first(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == 512
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

/// How old a picture on the snapshot topic may be, before the sighting, to show it: Frigate
/// publishes a better one while it tracks the object, mostly before the review becomes an
/// alert.
pub const FRESH: Duration = Duration::from_secs(10);
/// The largest picture taken from the snapshot topic (Frigate's default is 270 px high,
/// some tens of KiB).
pub const MAX_PICTURE_BYTES: usize = 512 * 1024;
/// The most (camera, label) pictures kept.
const MAX_PICTURES: usize = 64;

/// The `(camera, label)` of a topic `{prefix}/{camera}/{label}/snapshot`.
pub fn snapshot_topic<'a>(prefix: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?.strip_suffix("/snapshot")?;
    let (camera, label) = rest.split_once('/')?;
    (!camera.is_empty() && !label.is_empty() && !label.contains('/')).then_some((camera, label))
}

/// The pictures Frigate published on its snapshot topics while the gateway listened (never
/// the retained ones found on subscribing: old news), newest per camera and label; and
/// whoever waits for one.
#[derive(Clone, Default)]
pub struct Pictures {
    inner: Arc<PicturesInner>,
}

/// A picture and when it arrived, by (camera, label).
type Latest = HashMap<(String, String), (Instant, Arc<[u8]>)>;

#[derive(Default)]
struct PicturesInner {
    latest: Mutex<Latest>,
    arrived: tokio::sync::Notify,
}

impl Pictures {
    /// Keeps a picture that arrived now; the oldest goes when there are too many.
    pub fn put(&self, camera: &str, label: &str, jpeg: &[u8], now: Instant) {
        {
            let mut latest = self.inner.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if latest.len() >= MAX_PICTURES
                && !latest.contains_key(&(camera.to_owned(), label.to_owned()))
                && let Some(oldest) = latest.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
            {
                latest.remove(&oldest);
            }
            latest.insert((camera.to_owned(), label.to_owned()), (now, jpeg.into()));
        }
        self.inner.arrived.notify_waiters();
    }

    fn fresh(&self, camera: &str, label: &str, since: Instant) -> Option<Arc<[u8]>> {
        let latest = self.inner.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, jpeg) = latest.get(&(camera.to_owned(), label.to_owned()))?;
        (*at >= since).then(|| jpeg.clone())
    }

    /// The picture of `label` at `camera` that arrived after `since`, waiting up to
    /// `within` for one.
    pub async fn wait(
        &self,
        camera: &str,
        label: &str,
        since: Instant,
        within: Duration,
    ) -> Option<Arc<[u8]>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before looking, so that a picture arriving in between wakes it.
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(jpeg) = self.fresh(camera, label, since) {
                return Some(jpeg);
            }
            tokio::time::timeout_at(deadline, arrived).await.ok()?;
        }
    }
}

/// Frigate's snapshot of a tracked object, made small enough for an alert; None when it
/// cannot be had (the alert goes without a picture).
pub async fn snapshot(api: &str, object: &str) -> Option<Vec<u8>> {
    let mut url = url::Url::parse(api).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().extend(["api", "events", object, "snapshot.jpg"]);
    url.set_query(Some("height=360&quality=80"));
    crate::pictures::fetch(&url, None, object).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documented(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/frigate").join(name))
            .unwrap()
    }

    #[test]
    fn documented_messages_become_one_sighting_each() {
        // The documented update: a detection that became an alert.
        let s = review(&documented("reviews-update.json"), Severity::Alert).unwrap().unwrap();
        assert_eq!(s.camera, "front_cam");
        assert!(s.object.is_some());
        // A new review that is only a detection: an alert only when detections count.
        assert_eq!(review(&documented("reviews-new.json"), Severity::Alert).unwrap(), None);
        let new = review(&documented("reviews-new.json"), Severity::Detection).unwrap().unwrap();
        assert_eq!((new.label.as_str(), new.object.as_deref()), ("person", Some("1718987126.934663-q5ywpt")));
        assert_eq!(review(&documented("reviews-end.json"), Severity::Detection).unwrap(), None);
        let e = event(&documented("events-new.json")).unwrap().unwrap();
        assert_eq!((e.camera.as_str(), e.label.as_str()), ("front_door", "person"));
        assert!(review(b"{", Severity::Alert).is_err());
        assert!(event(br#"{"type":"new","after":{}}"#).is_err());
        let mut seen = Seen::default();
        assert!(seen.first(&s.id) && !seen.first(&s.id));
    }

    #[test]
    fn snapshot_topics_name_their_camera_and_label() {
        assert_eq!(
            snapshot_topic("frigate", "frigate/front_cam/person/snapshot"),
            Some(("front_cam", "person"))
        );
        assert_eq!(snapshot_topic("site/frigate", "site/frigate/yard/car/snapshot"), Some(("yard", "car")));
        for other in [
            "frigate/reviews",
            "frigate/front_cam/person",
            "frigate/front_cam/person/snapshot/x",
            "frigate//person/snapshot",
            "frigate/a/b/c/snapshot",
            "frigatex/front_cam/person/snapshot",
        ] {
            assert_eq!(snapshot_topic("frigate", other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn a_sighting_takes_a_fresh_picture_or_waits_a_while_for_one() {
        let pictures = Pictures::default();
        let t0 = Instant::now();
        pictures.put("front_cam", "person", b"old", t0);
        // Older than asked for: not shown; none comes in time.
        let later = t0 + Duration::from_millis(1);
        assert!(pictures.wait("front_cam", "person", later, Duration::from_millis(50)).await.is_none());
        // One that arrives while the sighting waits is taken.
        let p = pictures.clone();
        let waiting =
            tokio::spawn(async move { p.wait("front_cam", "person", later, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        pictures.put("front_cam", "person", b"new", Instant::now());
        assert_eq!(waiting.await.unwrap().as_deref(), Some(&b"new"[..]));
        // Another label's picture is not this one's.
        assert!(pictures.wait("front_cam", "car", t0, Duration::ZERO).await.is_none());
        // Bounded: the oldest goes.
        for i in 0..MAX_PICTURES + 5 {
            pictures.put("cam", &format!("label{i}"), b"x", Instant::now());
        }
        assert!(pictures.inner.latest.lock().unwrap().len() <= MAX_PICTURES);
    }
}

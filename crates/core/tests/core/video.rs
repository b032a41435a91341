//! Live video against real RTSP servers: Mimamori's simulated cameras (the built-in
//! encoder) and GStreamer's RTSP server (x264/x265, audio, digest authentication). The
//! fragmented MP4 the core writes is checked by ffprobe, decoding every frame.

use mimamori_core::Secret;
use mimamori_core::video::probe::probe;
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::stream::{StreamPhase, StreamTiming};
use mimamori_core::video::{
    Credentials, Mp4Feed, Segment, StreamProblem, StreamSource, Streams, Transport, Viewer,
};
use mimamori_sim::camera::{CameraServer, StreamSpec};
use mimamori_sim::gst::GstRtspServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn source(url: &str) -> StreamSource {
    StreamSource { url: Secret::new(url.parse().unwrap()), credentials: None, transport: Transport::Tcp }
}

fn with_credentials(url: &str, user: &str, password: &str) -> StreamSource {
    StreamSource {
        credentials: Some(Credentials { username: user.into(), password: Secret::new(password.into()) }),
        ..source(url)
    }
}

fn sim_stream(path: &str, gop: u32) -> StreamSpec {
    StreamSpec { path: path.into(), label: path.into(), width: 320, height: 176, fps: 15, gop }
}

fn streams() -> Streams {
    let timing = StreamTiming {
        backoff_first: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        ..Default::default()
    };
    Streams::new(Arc::new(RtspOpener), timing)
}

async fn wait_phase(viewer: &Viewer, phase: StreamPhase, secs: u64) -> mimamori_core::video::StreamStatus {
    let mut rx = viewer.handle().status();
    let found = tokio::time::timeout(Duration::from_secs(secs), rx.wait_for(|s| s.phase == phase))
        .await
        .map(|r| r.map(|s| s.clone()));
    match found {
        Ok(Ok(status)) => status,
        _ => panic!("stream {} not {phase:?} within {secs} s: {:?}", viewer.handle().id(), *rx.borrow()),
    }
}

/// Writes the init segment and `frames` media segments of `feed` to a file and has ffprobe
/// decode it. Returns (codec, width, height, decoded frames).
async fn record_and_probe(feed: &mut Mp4Feed, frames: usize) -> (String, u32, u32, usize) {
    let mut file = vec![];
    let mut media = 0;
    let mut first_key = None;
    while media < frames {
        let segment = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .expect("a segment in time")
            .expect("stream open");
        match segment {
            Segment::Init { data, .. } => {
                assert_eq!(media, 0, "parameters changed mid-recording");
                file.extend(data);
            }
            Segment::Media { data, key, .. } => {
                first_key.get_or_insert(key);
                file.extend(data);
                media += 1;
            }
        }
    }
    assert_eq!(first_key, Some(true), "the first fragment must hold a key frame");
    let dir =
        std::env::temp_dir().join(format!("mimamori-video-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("recording.mp4");
    std::fs::write(&path, &file).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-of", "default=nw=1"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames"])
        .arg(&path)
        .output()
        .expect("ffprobe (scripts/install-deps --test)");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
    let field =
        |k: &str| stdout.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
    (
        field("codec_name"),
        field("width").parse().unwrap(),
        field("height").parse().unwrap(),
        field("nb_read_frames").parse().unwrap(),
    )
}

#[tokio::test]
async fn a_simulated_camera_plays_as_fragmented_mp4() {
    let server = CameraServer::start(0, vec![sim_stream("hq/door/sub", 15)]).unwrap();
    let streams = streams();
    let url = format!("rtsp://127.0.0.1:{}/hq/door/sub", server.port);
    let viewer = streams.watch("hq/door/sub", || source(&url));
    let live = wait_phase(&viewer, StreamPhase::Live, 10).await;
    assert_eq!((live.width, live.height), (Some(320), Some(176)));
    assert!(live.codec.unwrap().starts_with("avc1.42"));
    let mut feed = Mp4Feed::new(viewer.handle().subscribe());
    assert_eq!(record_and_probe(&mut feed, 30).await, ("h264".into(), 320, 176, 30));
}

#[tokio::test]
async fn a_second_viewer_starts_at_once_from_the_cached_key_frame() {
    // A 4 s GOP: without the cache a new viewer would wait up to 4 s.
    let server = CameraServer::start(0, vec![sim_stream("hq/door/sub", 60)]).unwrap();
    let streams = streams();
    let url = format!("rtsp://127.0.0.1:{}/hq/door/sub", server.port);
    let first = streams.watch("hq/door/sub", || source(&url));
    wait_phase(&first, StreamPhase::Live, 10).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = streams.watch("hq/door/sub", || unreachable!("shared worker"));
    let start = Instant::now();
    let mut feed = Mp4Feed::new(second.handle().subscribe());
    assert!(matches!(feed.next().await, Some(Segment::Init { .. })));
    match feed.next().await {
        Some(Segment::Media { key: true, live: false, .. }) => {}
        other => panic!("expected the cached key frame, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_millis(100), "first picture took {:?}", start.elapsed());
    // The cached GOP leads into live frames without a gap a decoder would notice.
    let mut feed = Mp4Feed::new(second.handle().subscribe());
    assert_eq!(record_and_probe(&mut feed, 45).await.3, 45);
}

#[tokio::test]
async fn a_camera_that_disappears_is_reported_the_others_play_on_and_it_comes_back() {
    let server = CameraServer::start(0, vec![sim_stream("hq/door/sub", 15)]).unwrap();
    let other = CameraServer::start(0, vec![sim_stream("hq/yard/sub", 15)]).unwrap();
    let port = server.port;
    let streams = streams();
    let url = format!("rtsp://127.0.0.1:{port}/hq/door/sub");
    let viewer = streams.watch("hq/door/sub", || source(&url));
    let other_url = format!("rtsp://127.0.0.1:{}/hq/yard/sub", other.port);
    let other_viewer = streams.watch("hq/yard/sub", || source(&other_url));
    wait_phase(&viewer, StreamPhase::Live, 10).await;
    wait_phase(&other_viewer, StreamPhase::Live, 10).await;
    let lost = Instant::now();
    drop(server);
    let failed = wait_phase(&viewer, StreamPhase::Failed, 5).await;
    assert!(lost.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            failed.problem,
            Some(StreamProblem::Ended | StreamProblem::Stalled | StreamProblem::Unreachable)
        ),
        "{failed:?}"
    );
    // The other camera is untouched: still live, new frames still coming.
    assert_eq!(other_viewer.handle().status().borrow().phase, StreamPhase::Live);
    let mut live = other_viewer.handle().subscribe().live;
    tokio::time::timeout(Duration::from_secs(1), live.recv())
        .await
        .expect("frames from the other camera")
        .unwrap();
    let _back = CameraServer::start(port, vec![sim_stream("hq/door/sub", 15)]).unwrap();
    wait_phase(&viewer, StreamPhase::Live, 10).await;
}

#[tokio::test]
async fn a_missing_stream_is_not_found() {
    let server = CameraServer::start(0, vec![sim_stream("hq/door/sub", 15)]).unwrap();
    let viewer = streams().watch("x", || source(&format!("rtsp://127.0.0.1:{}/hq/nothing/sub", server.port)));
    let failed = wait_phase(&viewer, StreamPhase::Failed, 10).await;
    assert_eq!(failed.problem, Some(StreamProblem::NotFound));
}

/// GStreamer mounts: (path, codec, GOP in frames at 15 fps).
#[tokio::test]
async fn gstreamer_streams_probe_and_play() {
    let gst = GstRtspServer::start(&["h264-1s", "h264-4s", "h265", "audio"], None);
    for (mount, codec, gop) in
        [("h264-1s", "h264", 15), ("h264-4s", "h264", 60), ("h265", "hevc", 15), ("audio", "h264", 15)]
    {
        let url = gst.url(mount);
        let report = probe(&RtspOpener, &source(&url), Duration::from_secs(15))
            .await
            .unwrap_or_else(|e| panic!("{mount}: {e}"));
        assert_eq!((report.width, report.height), (320, 240), "{mount}");
        assert_eq!(report.gop_frames, Some(gop), "{mount}: {report:?}");
        let viewer = streams().watch(mount, || source(&url));
        wait_phase(&viewer, StreamPhase::Live, 10).await;
        let mut feed = Mp4Feed::new(viewer.handle().subscribe());
        let (c, w, h, n) = record_and_probe(&mut feed, 20).await;
        assert_eq!((c.as_str(), w, h, n), (codec, 320, 240, 20), "{mount}");
    }
}

#[tokio::test]
async fn digest_authentication_right_and_wrong() {
    let gst = GstRtspServer::start(&["secure"], Some(("camera-admin", "CANARY-cam-pass-5150")));
    let url = gst.url("secure");
    let ok = probe(
        &RtspOpener,
        &with_credentials(&url, "camera-admin", "CANARY-cam-pass-5150"),
        Duration::from_secs(10),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    for src in [source(&url), with_credentials(&url, "camera-admin", "wrong")] {
        let err = probe(&RtspOpener, &src, Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(err, StreamProblem::Unauthorized);
        // What the user reads names no URL and no password.
        assert!(!err.to_string().contains("CANARY") && !err.to_string().contains("rtsp://"));
    }
}

#[tokio::test]
async fn a_simulated_camera_serves_snapshots_that_come_back_at_tile_size() {
    use mimamori_core::video::snapshot::{SnapshotError, SnapshotSource, fetch};
    let server = CameraServer::start(0, vec![sim_stream("hq/door/main", 15)]).unwrap();
    let at = |path: &str| SnapshotSource {
        url: Secret::new(format!("http://127.0.0.1:{}/{path}", server.port).parse().unwrap()),
        credentials: None,
    };
    let snapshot = fetch(&at("hq/door/snapshot.jpg")).await.unwrap();
    assert_eq!((snapshot.width, snapshot.height), (320, 176));
    assert_eq!(&snapshot.jpeg[..2], &[0xff, 0xd8]);
    assert_eq!(fetch(&at("hq/nothing/snapshot.jpg")).await, Err(SnapshotError::NotFound));
    drop(server);
    let gone =
        SnapshotSource { url: Secret::new("http://127.0.0.1:1/x.jpg".parse().unwrap()), credentials: None };
    assert_eq!(fetch(&gone).await, Err(SnapshotError::Unreachable));
}

/// The snapshot endpoint of `crates/sim/testdata/snapshot-server.py`, a camera's HTTP
/// server written apart from Mimamori's client (Python's standard library).
struct SnapshotServer {
    port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl SnapshotServer {
    fn start(user: &str, password: &str) -> SnapshotServer {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let jpeg = dir.path().join("picture.jpg");
        let picture =
            image::RgbImage::from_fn(800, 450, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        picture.save(&jpeg).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sim/testdata/snapshot-server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg("--jpeg")
            .arg(&jpeg)
            .arg("--user")
            .arg(user)
            .env("SNAPSHOT_PASSWORD", password)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
        SnapshotServer { port, child, _dir: dir }
    }

    fn source(
        &self,
        path: &str,
        credentials: Option<(&str, &str)>,
    ) -> mimamori_core::video::snapshot::SnapshotSource {
        mimamori_core::video::snapshot::SnapshotSource {
            url: Secret::new(format!("http://127.0.0.1:{}/{path}", self.port).parse().unwrap()),
            credentials: credentials
                .map(|(u, p)| Credentials { username: u.into(), password: Secret::new(p.into()) }),
        }
    }
}

impl Drop for SnapshotServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn snapshots_behind_digest_authentication_and_never_basic_in_clear_text() {
    use mimamori_core::video::snapshot::{SnapshotError, fetch};
    let server = SnapshotServer::start("viewer", "CANARY-snap-pw");
    let right = Some(("viewer", "CANARY-snap-pw"));
    let wrong = Some(("viewer", "not-it"));
    // Digest only, as most IP cameras: the password never goes out in clear text (the
    // endpoint answers 400 to a Basic header).
    let digest = fetch(&server.source("digest/snapshot.jpg", right)).await.unwrap();
    assert_eq!((digest.width, digest.height), (640, 360), "shrunk to tile width");
    assert_eq!(&digest.jpeg[..2], &[0xff, 0xd8]);
    let refused = fetch(&server.source("digest/snapshot.jpg", wrong)).await.unwrap_err();
    assert_eq!(refused, SnapshotError::Unauthorized);
    assert!(!refused.to_string().contains("CANARY"));
    assert_eq!(fetch(&server.source("digest/snapshot.jpg", None)).await, Err(SnapshotError::Unauthorized));
    // A camera that offers only Basic gets no password over plain HTTP, where it would go
    // out in clear text; no credentials where none are needed.
    assert_eq!(fetch(&server.source("basic/snapshot.jpg", right)).await, Err(SnapshotError::ClearPassword));
    assert!(fetch(&server.source("open/snapshot.jpg", right)).await.is_ok());
}

/// Hostile cameras on a real socket: each one holds the client in a different way. Short
/// timings, so that the cases take seconds; the defaults are 10 s to open and 4 s of
/// silence to a stall.
mod slow_loris {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const OPEN: Duration = Duration::from_secs(3);
    const STALL: Duration = Duration::from_secs(2);

    fn streams() -> Streams {
        let timing = StreamTiming {
            open_timeout: OPEN,
            stall_after: STALL,
            backoff_first: Duration::from_millis(200),
            backoff_max: Duration::from_millis(500),
            ..Default::default()
        };
        Streams::new(Arc::new(RtspOpener), timing)
    }

    /// A listener whose connections are handed to `serve`, numbered from 0.
    async fn camera<F, Fut>(serve: F) -> u16
    where
        F: Fn(usize, TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((socket, _)) = listener.accept().await else { return };
                tokio::spawn(serve(n, socket));
            }
        });
        port
    }

    #[tokio::test]
    async fn a_camera_that_accepts_and_never_answers_is_unreachable_within_the_open_timeout() {
        let port = camera(|_, mut socket| async move {
            // Reads the request and keeps the connection, saying nothing.
            let mut sink = [0u8; 1024];
            while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        let url = format!("rtsp://127.0.0.1:{port}/hq/door/sub");
        let start = Instant::now();
        let viewer = streams().watch("mute", || source(&url));
        let failed = wait_phase(&viewer, StreamPhase::Failed, 10).await;
        assert_eq!(failed.problem, Some(StreamProblem::Unreachable));
        assert!(start.elapsed() < OPEN + Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_off_at_the_open_timeout_and_let_go() {
        // An answer whose header never ends, sent as fast as the socket takes it. retina 0.4
        // has no limit on the size of an RTSP message (its parser's limit is not exposed),
        // so what bounds it is the open timeout: then the session is dropped, with all it
        // had read, and the camera can write no more.
        // Per connection: bytes the camera got to write, and whether the client let go.
        let connections = Arc::new(std::sync::Mutex::new(Vec::<(usize, bool)>::new()));
        let log = connections.clone();
        let port = camera(move |n, mut socket| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push((0, false));
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Padding: ").await;
                let chunk = [b'a'; 64 * 1024];
                while socket.write_all(&chunk).await.is_ok() {
                    log.lock().unwrap()[n].0 += chunk.len();
                }
                log.lock().unwrap()[n].1 = true;
            }
        })
        .await;
        let url = format!("rtsp://127.0.0.1:{port}/hq/door/sub");
        let start = Instant::now();
        let viewer = streams().watch("endless", || source(&url));
        let failed = wait_phase(&viewer, StreamPhase::Failed, 10).await;
        assert_eq!(failed.problem, Some(StreamProblem::Unreachable), "{failed:?}");
        assert!(start.elapsed() < OPEN + Duration::from_secs(2), "took {:?}", start.elapsed());
        // The first session let go of its connection, and of all it had read, once it gave
        // up; the retries that follow meet the same fate.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (sent, closed) = connections.lock().unwrap()[0];
        assert!(closed, "the client still reads the endless answer ({sent} bytes so far)");
        tracing::info!("one endless answer: {} MB read in {OPEN:?} before the session gave up", sent >> 20);
    }

    /// Forwards a connection to `to` both ways; from the camera, at `rate` bytes a second
    /// once `fast_for` has passed (as a camera whose uplink collapses mid-stream).
    async fn forward(client: TcpStream, to: u16, fast_for: Option<Duration>, rate: usize) {
        let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await else { return };
        let (mut client_rx, mut client_tx) = client.into_split();
        let (mut server_rx, mut server_tx) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
        });
        let slow_from = fast_for.map(|d| tokio::time::Instant::now() + d);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let slow = slow_from.is_some_and(|t| tokio::time::Instant::now() >= t);
            let want = if slow { (rate / 10).max(1) } else { buf.len() };
            let Ok(n) = server_rx.read(&mut buf[..want]).await else { return };
            if n == 0 || client_tx.write_all(&buf[..n]).await.is_err() {
                return;
            }
            if slow {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    #[tokio::test]
    async fn a_camera_that_trickles_mid_stream_is_stalled_and_reopened() {
        let real = CameraServer::start(0, vec![sim_stream("hq/door/sub", 15)]).unwrap();
        let to = real.port;
        // The first connection plays for 2 s, then trickles 200 bytes a second: bytes keep
        // coming, frames do not. Later connections are healthy again.
        let port = camera(move |n, socket| {
            let fast_for = (n == 0).then_some(Duration::from_secs(2));
            forward(socket, to, fast_for, 200)
        })
        .await;
        let url = format!("rtsp://127.0.0.1:{port}/hq/door/sub");
        let streams = streams();
        let viewer = streams.watch("trickle", || source(&url));
        wait_phase(&viewer, StreamPhase::Live, 10).await;
        let live = Instant::now();
        let failed = wait_phase(&viewer, StreamPhase::Failed, 10).await;
        assert_eq!(failed.problem, Some(StreamProblem::Stalled));
        // 2 s of play, then a stall is seen after STALL without a frame (plus the frames
        // still in flight when the trickle began).
        assert!(
            live.elapsed() < Duration::from_secs(2) + STALL + Duration::from_secs(2),
            "{:?}",
            live.elapsed()
        );
        wait_phase(&viewer, StreamPhase::Live, 10).await;
    }
}

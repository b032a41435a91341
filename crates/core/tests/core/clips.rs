//! Memory and clips against GStreamer's RTSP server: a clip of remembered and following
//! seconds is a standard MP4 file that ffprobe reads whole, as long as asked (within a
//! GOP), starting at a key frame; memory replays from the key frame before the moment
//! asked for.

use mimamori_core::Secret;
use mimamori_core::video::clip::{ClipLibrary, ClipSubject, record};
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::stream::{StreamPhase, StreamTiming};
use mimamori_core::video::{StreamSource, Streams, Transport};
use mimamori_sim::gst::GstRtspServer;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// What ffprobe reads of a file: the container, the video stream and its first frame.
struct Probed {
    format: String,
    codec: String,
    duration_s: f64,
    frames: u64,
    first_key: bool,
}

fn ffprobe(path: &Path) -> Probed {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-of", "default=nw=1"])
            .args(args)
            .arg(path)
            .output()
            .expect("ffprobe (scripts/install-deps --test)");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let info = run(&[
        "-count_frames",
        "-select_streams",
        "v:0",
        "-show_entries",
        "format=format_name,duration:stream=codec_name,nb_read_frames",
    ]);
    let first =
        run(&["-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame"]);
    let field = |text: &str, k: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_default().to_string()
    };
    Probed {
        format: field(&info, "format_name"),
        codec: field(&info, "codec_name"),
        duration_s: field(&info, "duration").parse().unwrap_or(0.0),
        frames: field(&info, "nb_read_frames").parse().unwrap_or(0),
        first_key: field(&first, "key_frame") == "1",
    }
}

#[tokio::test]
async fn clips_of_remembered_and_following_seconds_are_standard_mp4() {
    // 15 fps with a key frame every 15 frames: one GOP is a second.
    let gst = GstRtspServer::start(&["h264-1s", "h265"], None);
    let dir =
        std::env::temp_dir().join(format!("mimamori-clips-{}-{}", std::process::id(), fastrand::u32(..)));
    let library = ClipLibrary::new(dir.clone());
    let streams = Streams::new(Arc::new(RtspOpener), StreamTiming::default());
    for (mount, codec) in [("h264-1s", "h264"), ("h265", "hevc")] {
        let url = gst.url(mount);
        let viewer = streams.watch(mount, || StreamSource {
            url: Secret::new(url.parse().unwrap()),
            credentials: None,
            transport: Transport::Tcp,
        });
        let mut status = viewer.handle().status();
        tokio::time::timeout(Duration::from_secs(15), status.wait_for(|s| s.phase == StreamPhase::Live))
            .await
            .unwrap_or_else(|_| panic!("{mount} not live"))
            .unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        // Memory reaches back to the key frame before the moment asked for.
        let (oldest, newest) = viewer.handle().remembered().expect("remembered");
        assert!(newest - oldest >= 3_000, "{mount}: {oldest}..{newest}");
        let asked = now_ms() - 3_000;
        let replay = viewer.handle().recall(asked).cached;
        assert!(replay[0].key, "{mount}: replay starts at a key frame");
        assert!(
            replay[0].wall_ms <= asked && asked - replay[0].wall_ms <= 1_100,
            "{mount}: {}",
            asked - replay[0].wall_ms
        );

        // Three remembered seconds and three that follow.
        let id = ClipLibrary::new_id(asked);
        let subject =
            ClipSubject { site_id: "hq".into(), camera_id: mount.into(), camera_name: mount.into() };
        let info = library
            .save(&id, subject, viewer.handle(), Some(asked), Duration::from_secs(6), std::future::pending())
            .await
            .unwrap_or_else(|e| panic!("{mount}: {e}"));
        let probed = ffprobe(&library.video_path(&id).unwrap());
        assert!(probed.format.contains("mp4"), "{mount}: {}", probed.format);
        assert_eq!(probed.codec, codec);
        assert!((probed.duration_s - 6.0).abs() <= 1.0, "{mount}: {} s, asked 6 ± a GOP", probed.duration_s);
        assert!(probed.first_key, "{mount}: the first frame is a key frame");
        assert_eq!(probed.frames, u64::from(info.frames), "{mount}: every frame decodes");
        assert!(
            info.start_ms <= asked && asked - info.start_ms <= 1_100,
            "{mount}: starts at the key frame before"
        );
        assert_eq!((info.width, info.height), (320, 240));
    }
    let listed = library.list().unwrap();
    assert_eq!(listed.len(), 2);
    for clip in listed {
        library.delete(&clip.id).unwrap();
    }
    assert!(library.list().unwrap().is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_clip_stops_when_asked_and_without_video_is_an_error() {
    let gst = GstRtspServer::start(&["h264-1s"], None);
    let url = gst.url("h264-1s");
    let streams = Streams::new(Arc::new(RtspOpener), StreamTiming::default());
    let viewer = streams.watch("cam", || StreamSource {
        url: Secret::new(url.parse().unwrap()),
        credentials: None,
        transport: Transport::Tcp,
    });
    let path =
        std::env::temp_dir().join(format!("mimamori-clip-{}-{}.mp4", std::process::id(), fastrand::u32(..)));
    // Stopped before any frame came: nothing to save, and no file left behind.
    let err = record(viewer.handle(), None, Duration::from_secs(60), async {}, &path).await.unwrap_err();
    assert_eq!(err.to_string(), "the camera sent no video to save");
    assert!(!path.exists() && !path.with_extension("part").exists());
    // Stopped after two seconds of a clip that could have been a minute.
    let stop = tokio::time::sleep(Duration::from_secs(4));
    let written = record(viewer.handle(), None, Duration::from_secs(60), stop, &path).await.unwrap();
    let probed = ffprobe(&path);
    assert!(probed.first_key);
    assert!(probed.duration_s > 1.0 && probed.duration_s < 4.5, "{} s", probed.duration_s);
    assert_eq!(probed.frames, u64::from(written.frames));
    std::fs::remove_file(path).unwrap();
}

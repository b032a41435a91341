//! Video benchmarks of the core, each beside its baseline in the same run (`scripts/bench`):
//!
//! - cold open: new RTSP session → first frame, against `ffmpeg` with default flags and
//!   with probing minimised, on GStreamer cameras already streaming (1 s and 4 s GOPs) and
//!   on fresh encoders (Mimamori's simulated cameras, one new stream per run);
//! - 16 live streams remuxed to fragmented MP4: CPU and RSS of this process without replay
//!   memory (each stream keeps its current GOP only), against 16 `ffmpeg -c copy` on the
//!   same streams; then the RSS with the app's 60 s of replay memory, once it is full. The
//!   cameras run in a child process, so their encoding is not counted.
//!
//! With `--soak SECONDS`, only the 16 streams run, with the app's replay memory, that long,
//! and the RSS of this process is sampled every 10 s: memory over hours (`--soak 3600` for
//! an hour), against the RSS after a warm-up that fills the memory.
//!
//! Prints a table (figure, baseline, ratio, target) and, with `--json FILE`, writes it.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark program: this is its output

mod common;

use common::Row;

use mimamori_core::Secret;
use mimamori_core::video::memory::MemoryLimits;
use mimamori_core::video::rtsp::RtspOpener;
use mimamori_core::video::stream::StreamTiming;
use mimamori_core::video::{Mp4Feed, Segment, StreamSource, Streams, Transport, Viewer};
use mimamori_sim::camera::{CameraServer, StreamSpec};
use mimamori_sim::gst::GstRtspServer;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs per measured case (medians are reported).
const RUNS: usize = 9;
const STREAMS: usize = 16;
const LOAD_SECONDS: u64 = 20;
/// Time the streams are given to fill their replay memory (60 s) before RSS is read.
const MEMORY_FULL: Duration = Duration::from_secs(70);

fn median(mut v: Vec<f64>) -> f64 {
    common::percentile(&mut v, 0.5)
}

fn source(url: &str) -> StreamSource {
    StreamSource { url: Secret::new(url.parse().expect("url")), credentials: None, transport: Transport::Tcp }
}

/// Wall time of `ffmpeg` from start to its first decoded frame (it exits after it).
fn ffmpeg_first_frame(url: &str, minimal: bool) -> f64 {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-rtsp_transport", "tcp"]);
    if minimal {
        cmd.args(["-analyzeduration", "0", "-probesize", "32"]);
    }
    cmd.args(["-i", url]);
    if minimal {
        cmd.args(["-map", "0:v:0"]);
    }
    cmd.args(["-frames:v", "1", "-f", "null", "-"]).stdout(Stdio::null()).stderr(Stdio::null());
    let start = Instant::now();
    let status = cmd.status().expect("ffmpeg (scripts/install-deps --test)");
    assert!(status.success(), "ffmpeg failed on {url}");
    common::ms(start.elapsed())
}

async fn ours_first_frame(url: &str) -> f64 {
    let start = Instant::now();
    probe_first(url).await;
    common::ms(start.elapsed())
}

async fn probe_first(url: &str) {
    // The real path: a stream worker and a viewer's fMP4 feed, up to the first fragment.
    // The worker closes as soon as the viewer goes.
    let timing = StreamTiming { idle_close: Duration::ZERO, ..StreamTiming::default() };
    let streams = Streams::new(Arc::new(RtspOpener), timing);
    let viewer = streams.watch("bench", || source(url));
    let mut feed = Mp4Feed::new(viewer.handle().subscribe());
    loop {
        match tokio::time::timeout(Duration::from_secs(15), feed.next()).await {
            Ok(Some(Segment::Media { .. })) => return,
            Ok(Some(Segment::Init { .. })) => {}
            _ => panic!("no frame from {url}"),
        }
    }
}

/// Mimamori and ffmpeg opening the stream at the same instant: both wait for the same next
/// key frame, so the difference between them is each client's own overhead.
async fn paired(url: &str, minimal: bool) -> (f64, f64) {
    let u = url.to_owned();
    let ffmpeg = tokio::task::spawn_blocking(move || ffmpeg_first_frame(&u, minimal));
    let ours = ours_first_frame(url).await;
    (ours, ffmpeg.await.expect("ffmpeg thread"))
}

/// Cold open on a camera that is already streaming: every client waits for the next key
/// frame, so runs start at random points of the GOP, each client beside ffmpeg in a pair
/// (the random wait for the key frame is the same for both; apart, it swamps the figures).
async fn cold_open_streaming(rows: &mut Vec<Row>, gst: &GstRtspServer, mount: &str, gop_s: f64) {
    let url = gst.url(mount);
    let (mut ours, mut ff, mut ff_min) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let jitter = || Duration::from_secs_f64(fastrand::f64() * gop_s);
        tokio::time::sleep(jitter()).await;
        let (o, f) = paired(&url, false).await;
        ours.push(o);
        ff.push(f);
        tokio::time::sleep(jitter()).await;
        let (o, f) = paired(&url, true).await;
        ours.push(o);
        ff_min.push(f);
    }
    let (ours, ff, ff_min) = (median(ours), median(ff), median(ff_min));
    rows.push(Row {
        name: format!("cold open, streaming camera, {gop_s} s GOP"),
        value: ours,
        baseline_name: "ffmpeg default".into(),
        baseline: ff,
        unit: "ms",
        target: "≤ 0.5×".into(),
        met: ours <= ff * 0.5,
    });
    rows.push(Row {
        name: format!("cold open, streaming camera, {gop_s} s GOP"),
        value: ours,
        baseline_name: "ffmpeg minimal probing".into(),
        baseline: ff_min,
        unit: "ms",
        target: "≤ 1.0×".into(),
        met: ours <= ff_min,
    });
}

/// A simulated camera stream like the demo's main streams (640×352, 15 fps, 2 s GOP).
fn camera(path: String) -> StreamSpec {
    StreamSpec { label: path.clone(), path, width: 640, height: 352, fps: 15, gop: 30 }
}

/// Cold open on a fresh encoder: the first frame is a key frame, so this is the client's
/// own overhead (handshake, probing, decode). Each run gets a stream nobody opened yet.
async fn cold_open_fresh(rows: &mut Vec<Row>) {
    let specs: Vec<StreamSpec> = (0..RUNS * 3).map(|i| camera(format!("fresh/{i}"))).collect();
    let server = CameraServer::start(0, specs).expect("camera server");
    let url = |i: usize| format!("rtsp://127.0.0.1:{}/fresh/{i}", server.port);
    let (mut ours, mut ff, mut ff_min) = (vec![], vec![], vec![]);
    for run in 0..RUNS {
        ours.push(ours_first_frame(&url(run * 3)).await);
        let u = url(run * 3 + 1);
        ff.push(tokio::task::spawn_blocking(move || ffmpeg_first_frame(&u, false)).await.expect("join"));
        let u = url(run * 3 + 2);
        ff_min.push(tokio::task::spawn_blocking(move || ffmpeg_first_frame(&u, true)).await.expect("join"));
    }
    let (ours, ff, ff_min) = (median(ours), median(ff), median(ff_min));
    for (baseline_name, baseline, target, met) in [
        ("ffmpeg default", ff, "≤ 0.5×", ours <= ff * 0.5),
        ("ffmpeg minimal probing", ff_min, "≤ 1.0×", ours <= ff_min),
    ] {
        rows.push(Row {
            name: "cold open, fresh encoder".into(),
            value: ours,
            baseline_name: baseline_name.into(),
            baseline,
            unit: "ms",
            target: target.into(),
            met,
        });
    }
}

/// utime + stime of a process, in seconds, and its RSS in MB.
fn cpu_and_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, rss_kb / 1024.0)
}

/// The load's cameras in a child process (this program, re-run as a server), so their
/// encoding is not counted against the client; with the URLs of its streams.
fn start_load_server() -> (std::process::Child, Vec<String>) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut server = Command::new(std::env::current_exe().expect("exe"))
        .env("MIMAMORI_BENCH_SERVE", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("camera server process");
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("ready");
    }
    (server, (0..STREAMS).map(|i| format!("rtsp://127.0.0.1:{port}/load/{i}")).collect())
}

/// Mimamori's side of the load: one worker and one fMP4 viewer per stream, in this
/// process, remembering as `memory` says; with the count of fragments made.
fn watch_all(urls: &[String], memory: MemoryLimits) -> (Streams, Vec<Viewer>, Arc<AtomicU64>) {
    let timing = StreamTiming { idle_close: Duration::ZERO, ..StreamTiming::default() };
    let streams = Streams::with_memory(Arc::new(RtspOpener), timing, memory);
    let frames = Arc::new(AtomicU64::new(0));
    let mut viewers = vec![];
    for (i, url) in urls.iter().enumerate() {
        let viewer = streams.watch(&format!("load/{i}"), || source(url));
        let mut feed = Mp4Feed::new(viewer.handle().subscribe());
        let frames = frames.clone();
        viewers.push(viewer);
        tokio::spawn(async move {
            while let Some(s) = feed.next().await {
                if let Segment::Media { data, .. } = s {
                    std::hint::black_box(data);
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    (streams, viewers, frames)
}

/// 16 streams: this process remuxing them all to fMP4, against 16 `ffmpeg -c copy`; then
/// the same with the app's replay memory.
async fn sixteen_streams(rows: &mut Vec<Row>) {
    let (mut server, urls) = start_load_server();
    let me = std::process::id();
    let current_gop_only = MemoryLimits { length: Duration::ZERO, ..MemoryLimits::default() };
    let (streams, viewers, frames) = watch_all(&urls, current_gop_only);
    tokio::time::sleep(Duration::from_secs(3)).await; // every stream live
    let (cpu0, _) = cpu_and_rss(me);
    let f0 = frames.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(LOAD_SECONDS)).await;
    let (cpu1, ours_rss) = cpu_and_rss(me);
    let ours_frames = frames.load(Ordering::Relaxed) - f0;
    let ours_cpu = (cpu1 - cpu0) / LOAD_SECONDS as f64 * 100.0;
    drop(viewers);
    drop(streams);

    // Baseline: 16 ffmpeg processes copying the same streams.
    let mut children: Vec<_> = urls
        .iter()
        .map(|url| {
            Command::new("ffmpeg")
                .args([
                    "-nostdin",
                    "-v",
                    "error",
                    "-rtsp_transport",
                    "tcp",
                    "-i",
                    url,
                    "-c",
                    "copy",
                    "-f",
                    "null",
                    "-",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ffmpeg")
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before: f64 = children.iter().map(|c| cpu_and_rss(c.id()).0).sum();
    tokio::time::sleep(Duration::from_secs(LOAD_SECONDS)).await;
    let (after, ff_rss) =
        children.iter().map(|c| cpu_and_rss(c.id())).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let ff_cpu = (after - before) / LOAD_SECONDS as f64 * 100.0;
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    // The same streams with 60 s of replay memory each, once it is full.
    let (_streams, viewers, _) = watch_all(&urls, MemoryLimits::default());
    tokio::time::sleep(MEMORY_FULL).await;
    let (_, remembering_rss) = cpu_and_rss(me);
    drop(viewers);
    let _ = server.kill();
    let _ = server.wait();

    let expected = (STREAMS as u64) * 15 * LOAD_SECONDS;
    eprintln!("16 streams: {ours_frames} frames remuxed in {LOAD_SECONDS} s ({expected} expected)");
    rows.push(Row {
        name: format!("{STREAMS} streams to fMP4, CPU"),
        value: ours_cpu,
        baseline_name: format!("{STREAMS}× ffmpeg -c copy"),
        baseline: ff_cpu,
        unit: "% core",
        target: "≤ 5 % core".into(),
        met: ours_cpu <= 5.0,
    });
    rows.push(Row {
        name: format!("{STREAMS} streams to fMP4, RSS"),
        value: ours_rss,
        baseline_name: format!("{STREAMS}× ffmpeg -c copy"),
        baseline: ff_rss,
        unit: "MB",
        target: "≤ 150 MB".into(),
        met: ours_rss <= 150.0,
    });
    let budget_mb = (MemoryLimits::default().budget_bytes >> 20) as f64;
    rows.push(Row {
        name: format!("{STREAMS} streams with 60 s replay memory, RSS"),
        value: remembering_rss,
        baseline_name: "without replay memory".into(),
        baseline: ours_rss,
        unit: "MB",
        target: format!("≤ 150 MB + {budget_mb:.0} MB budget"),
        met: remembering_rss <= 150.0 + budget_mb,
    });
}

/// The 16 streams for `seconds`: RSS every 10 s, and at the end against after the warm-up.
async fn soak(rows: &mut Vec<Row>, seconds: u64) {
    let (mut server, urls) = start_load_server();
    let me = std::process::id();
    let (_streams, viewers, frames) = watch_all(&urls, MemoryLimits::default());
    tokio::time::sleep(MEMORY_FULL).await;
    let (_, settled) = cpu_and_rss(me);
    let f0 = frames.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut peak = settled;
    eprintln!("after {} s: RSS {settled:.1} MB", MEMORY_FULL.as_secs());
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(
            Duration::from_secs(10).min(Duration::from_secs(seconds).saturating_sub(started.elapsed())),
        )
        .await;
        let (_, rss) = cpu_and_rss(me);
        peak = peak.max(rss);
        let made = frames.load(Ordering::Relaxed) - f0;
        eprintln!("{:>6.0} s: RSS {rss:.1} MB, {made} fragments", started.elapsed().as_secs_f64());
    }
    let (_, end) = cpu_and_rss(me);
    let made = frames.load(Ordering::Relaxed) - f0;
    let expected = (STREAMS as u64) * 15 * seconds;
    eprintln!("soak: {made} fragments in {seconds} s ({expected} expected), peak RSS {peak:.1} MB");
    drop(viewers);
    let _ = server.kill();
    let _ = server.wait();
    rows.push(Row {
        name: format!("{STREAMS} streams for {seconds} s, RSS at the end"),
        value: end,
        baseline_name: "RSS after the warm-up".into(),
        baseline: settled,
        unit: "MB",
        target: "≤ 1.1× (flat)".into(),
        met: end <= settled * 1.1,
    });
}

/// Child mode: serve the load streams until killed.
fn serve(port: u16) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let specs = (0..STREAMS).map(|i| camera(format!("load/{i}"))).collect();
        let _server = CameraServer::start(port, specs).expect("camera server");
        println!("READY");
        std::future::pending::<()>().await;
    });
}

fn main() {
    if let Ok(port) = std::env::var("MIMAMORI_BENCH_SERVE") {
        return serve(port.parse().expect("port"));
    }
    let json = common::json_path();
    let args: Vec<String> = std::env::args().collect();
    let soak_seconds = args.iter().position(|a| a == "--soak").map(|i| {
        args.get(i + 1).and_then(|s| s.parse::<u64>().ok()).filter(|s| *s > 0).expect("--soak SECONDS")
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rows = rt.block_on(async {
        let mut rows = vec![];
        if let Some(seconds) = soak_seconds {
            eprintln!("{STREAMS} streams for {seconds} s after a {} s warm-up…", MEMORY_FULL.as_secs());
            soak(&mut rows, seconds).await;
            return rows;
        }
        eprintln!("cold open on GStreamer cameras already streaming ({RUNS} runs each)…");
        let gst = GstRtspServer::start(&["h264-1s", "h264-4s"], None);
        tokio::time::sleep(Duration::from_secs(2)).await;
        cold_open_streaming(&mut rows, &gst, "h264-1s", 1.0).await;
        cold_open_streaming(&mut rows, &gst, "h264-4s", 4.0).await;
        drop(gst);
        eprintln!("cold open on fresh encoders…");
        cold_open_fresh(&mut rows).await;
        eprintln!("{STREAMS} streams for {LOAD_SECONDS} s each, Mimamori then ffmpeg…");
        sixteen_streams(&mut rows).await;
        rows
    });
    common::report(&rows, json);
}

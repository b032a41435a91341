//! A small RTSP server for simulated cameras (RFC 2326, as cameras speak it): OPTIONS,
//! DESCRIBE, SETUP (RTP over the RTSP connection only, interleaved), PLAY, GET_PARAMETER,
//! TEARDOWN. H.264 goes out as RFC 6184 packets (single NAL units, FU-A fragments). On the
//! same port, `GET /{site}/{camera}/snapshot.jpg` over HTTP answers a JPEG of the scene,
//! as a camera's snapshot endpoint would.
//!
//! Like a real camera, a stream's encoder keeps running while anyone watches, so a second
//! viewer joins mid-GOP and waits for the next key frame; an encoder with no viewer stops
//! after a few seconds to spare the machine (the demo runs dozens).

use super::h264::{AccessUnit, Encoder, Picture};
use super::scene::Scene;
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// Largest RTP payload: keeps packets under a typical MTU, as cameras do.
const MAX_PAYLOAD: usize = 1400;
/// Longest request head accepted.
const MAX_HEAD: usize = 8 << 10;
/// How long an encoder keeps running with no viewer.
const IDLE_STOP: Duration = Duration::from_secs(5);

/// What one stream of a simulated camera looks like.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    /// Path on the server, e.g. `hq/entrance/main`.
    pub path: String,
    /// Drawn on the picture.
    pub label: String,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    /// Frames from one key frame to the next.
    pub gop: u32,
}

/// One encoded frame on its way to viewers.
struct Packetized {
    nals: Vec<Vec<u8>>,
    key: bool,
    /// Time since the encoder started, on RTP's 90 kHz clock.
    time: u64,
}

struct Stream {
    spec: StreamSpec,
    sps: Vec<u8>,
    pps: Vec<u8>,
    profile_level_id: [u8; 3],
    /// The running encoder's output; `None` while nobody watches.
    live: Mutex<Option<broadcast::Sender<Arc<Packetized>>>>,
}

impl Stream {
    fn new(spec: StreamSpec) -> Stream {
        let enc = Encoder::new(spec.width, spec.height, spec.fps);
        Stream {
            sps: enc.sps(),
            pps: enc.pps(),
            profile_level_id: enc.profile_level_id(),
            spec,
            live: Mutex::new(None),
        }
    }

    /// Joins the stream, starting the encoder if it is not running.
    fn join(self: &Arc<Self>) -> broadcast::Receiver<Arc<Packetized>> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = live.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(64);
        *live = Some(tx.clone());
        tokio::spawn(self.clone().encode(tx));
        rx
    }

    async fn encode(self: Arc<Self>, tx: broadcast::Sender<Arc<Packetized>>) {
        let spec = &self.spec;
        let mut enc = Encoder::new(spec.width, spec.height, spec.fps);
        let scene = Scene::new(&spec.label);
        let mut pic = Picture::new(spec.width, spec.height);
        let mut tick = tokio::time::interval(Duration::from_secs(1) / spec.fps);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut idle_since = None;
        for index in 0u64.. {
            tick.tick().await;
            if tx.receiver_count() == 0 {
                let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= IDLE_STOP {
                    let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                    // A viewer may have joined since the count was read.
                    if tx.receiver_count() == 0 {
                        *live = None;
                        return;
                    }
                }
            } else {
                idle_since = None;
            }
            scene.draw(&mut pic, index, mimamori_core::time::now_ms());
            let AccessUnit { nals, key } = enc.encode(&pic, index % u64::from(spec.gop.max(1)) == 0);
            let time = index * 90_000 / u64::from(spec.fps.max(1));
            let _ = tx.send(Arc::new(Packetized { nals, key, time }));
        }
    }

    fn sdp(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        // sprop-parameter-sets carries whole NAL units, header byte included.
        let [p, c, l] = self.profile_level_id;
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Mimamori simulated camera\r\nt=0 0\r\na=control:*\r\n\
             a=range:npt=now-\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 packetization-mode=1;profile-level-id={p:02X}{c:02X}{l:02X};sprop-parameter-sets={},{}\r\n\
             a=framerate:{}\r\na=control:trackID=0\r\n",
            b64.encode(&self.sps),
            b64.encode(&self.pps),
            self.spec.fps
        )
    }
}

/// A running camera server. Dropping it closes every connection, like a camera losing
/// power.
pub struct CameraServer {
    pub port: u16,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for CameraServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl CameraServer {
    /// Serves `streams` on 127.0.0.1:`port` (0: any free port). Must run in a Tokio runtime.
    pub fn start(port: u16, streams: Vec<StreamSpec>) -> std::io::Result<CameraServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let port = listener.local_addr()?.port();
        let streams: Arc<HashMap<String, Arc<Stream>>> =
            Arc::new(streams.into_iter().map(|s| (s.path.clone(), Arc::new(Stream::new(s)))).collect());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut stopped_accept = stopped.clone();
        tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = stopped_accept.changed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((conn, _)) => conn,
                        Err(_) => continue,
                    },
                };
                let streams = streams.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stopped.changed() => {}
                        result = serve(conn, &streams) => if let Err(e) = result {
                            tracing::debug!(error = %e, "rtsp connection ended");
                        },
                    }
                });
            }
        });
        Ok(CameraServer { port, stop })
    }
}

/// One RTSP request.
struct Request {
    method: String,
    url: String,
    cseq: String,
    transport: Option<String>,
}

/// What the reader hands to the writer.
enum ToWriter {
    Reply(String),
    Raw(Vec<u8>),
    Play(broadcast::Receiver<Arc<Packetized>>),
    Close,
}

async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Request>> {
    // Interleaved RTCP from the client comes as `$`, channel, 16-bit length: skip it.
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != b'$' {
            break;
        }
        let mut head = [0u8; 4];
        r.read_exact(&mut head).await?;
        let len = u16::from_be_bytes([head[2], head[3]]) as usize;
        let mut skip = vec![0; len];
        r.read_exact(&mut skip).await?;
    }
    let mut lines = vec![];
    let mut total = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        total += line.len();
        if total > MAX_HEAD {
            return Err(std::io::Error::other("request head too long"));
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let mut first = lines.first().map(|l| l.split_whitespace()).into_iter().flatten();
    let (method, url) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let header = |name: &str| {
        lines.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if length > MAX_HEAD {
        return Err(std::io::Error::other("request body too long"));
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).await?;
    Ok(Some(Request {
        method,
        url,
        cseq: header("cseq").unwrap_or_default(),
        transport: header("transport"),
    }))
}

/// The stream path of a request URL: `rtsp://host:port/hq/cam/main/trackID=0` → `hq/cam/main`.
fn stream_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let path = path.trim_end_matches('/');
    path.strip_suffix("/trackID=0").unwrap_or(path).to_string()
}

fn reply(req: &Request, status: &str, headers: &[(&str, String)], body: &str) -> String {
    let mut out = format!("RTSP/1.0 {status}\r\nCSeq: {}\r\nServer: mimamori-sim\r\n", req.cseq);
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

async fn serve(conn: TcpStream, streams: &HashMap<String, Arc<Stream>>) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let (read, write) = conn.into_split();
    let (tx, rx) = mpsc::channel(8);
    let writer = tokio::spawn(write_loop(write, rx));
    let mut read = BufReader::new(read);
    let session = format!("{:08X}", fastrand::u32(..));
    let mut setup: Option<Arc<Stream>> = None;
    while let Some(req) = read_request(&mut read).await? {
        if req.method == "GET" {
            // HTTP, not RTSP: a snapshot, then the connection closes.
            let response = snapshot_response(&req.url, streams);
            let _ = tx.send(ToWriter::Raw(response)).await;
            break;
        }
        let msg = match req.method.as_str() {
            "OPTIONS" => ToWriter::Reply(reply(
                &req,
                "200 OK",
                &[("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN".into())],
                "",
            )),
            "DESCRIBE" => match streams.get(&stream_path(&req.url)) {
                Some(s) => {
                    let base = format!("{}/", req.url.trim_end_matches('/'));
                    ToWriter::Reply(reply(
                        &req,
                        "200 OK",
                        &[("Content-Type", "application/sdp".into()), ("Content-Base", base)],
                        &s.sdp(),
                    ))
                }
                None => ToWriter::Reply(reply(&req, "404 Not Found", &[], "")),
            },
            "SETUP" => match (streams.get(&stream_path(&req.url)), &req.transport) {
                (None, _) => ToWriter::Reply(reply(&req, "404 Not Found", &[], "")),
                (Some(s), Some(t)) if t.contains("RTP/AVP/TCP") => {
                    setup = Some(s.clone());
                    ToWriter::Reply(reply(
                        &req,
                        "200 OK",
                        &[
                            ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1".into()),
                            ("Session", format!("{session};timeout=60")),
                        ],
                        "",
                    ))
                }
                // Only interleaved TCP: the simulated camera serves loopback viewers.
                (Some(_), _) => ToWriter::Reply(reply(&req, "461 Unsupported Transport", &[], "")),
            },
            "PLAY" => match setup.take() {
                Some(s) => {
                    let r = reply(
                        &req,
                        "200 OK",
                        &[("Session", session.clone()), ("Range", "npt=now-".into())],
                        "",
                    );
                    tx.send(ToWriter::Reply(r)).await.map_err(|_| std::io::Error::other("writer gone"))?;
                    ToWriter::Play(s.join())
                }
                None => ToWriter::Reply(reply(&req, "455 Method Not Valid in This State", &[], "")),
            },
            "GET_PARAMETER" => ToWriter::Reply(reply(&req, "200 OK", &[("Session", session.clone())], "")),
            "TEARDOWN" => {
                let _ = tx.send(ToWriter::Reply(reply(&req, "200 OK", &[], ""))).await;
                ToWriter::Close
            }
            _ => ToWriter::Reply(reply(&req, "501 Not Implemented", &[], "")),
        };
        let close = matches!(msg, ToWriter::Close);
        if tx.send(msg).await.is_err() || close {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

async fn write_loop(mut w: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<ToWriter>) {
    let mut frames: Option<broadcast::Receiver<Arc<Packetized>>> = None;
    let mut seq: u16 = fastrand::u16(..);
    let base_ts: u32 = fastrand::u32(..);
    let ssrc: u32 = fastrand::u32(..);
    // A viewer that joins mid-GOP gets every frame (its decoder waits for a key frame, as
    // with a real camera); only after lagging behind does it skip to the next key frame.
    let mut waiting_key = false;
    let mut buf = Vec::with_capacity(64 << 10);
    loop {
        let frame = tokio::select! {
            msg = rx.recv() => match msg {
                Some(ToWriter::Reply(r)) => {
                    if w.write_all(r.as_bytes()).await.is_err() { return; }
                    continue;
                }
                Some(ToWriter::Raw(r)) => {
                    if w.write_all(&r).await.is_err() { return; }
                    continue;
                }
                Some(ToWriter::Play(f)) => { frames = Some(f); continue; }
                Some(ToWriter::Close) | None => return,
            },
            f = async { match frames.as_mut() { Some(f) => f.recv().await, None => std::future::pending().await } } => f,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // A slow viewer: drop to the next key frame, as cameras do.
                waiting_key = true;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if waiting_key && !frame.key {
            continue;
        }
        waiting_key = false;
        let ts = base_ts.wrapping_add(frame.time as u32);
        buf.clear();
        let last = frame.nals.len().saturating_sub(1);
        for (i, nal) in frame.nals.iter().enumerate() {
            packetize(&mut buf, nal, i == last, ts, ssrc, &mut seq);
        }
        if w.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// The HTTP answer to `GET /{site}/{camera}/snapshot.jpg`: the camera's main picture now.
fn snapshot_response(path: &str, streams: &HashMap<String, Arc<Stream>>) -> Vec<u8> {
    let camera = path.trim_start_matches('/').strip_suffix("/snapshot.jpg").unwrap_or("");
    let Some(stream) =
        streams.get(&format!("{camera}/main")).or_else(|| streams.get(&format!("{camera}/sub")))
    else {
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    };
    let spec = &stream.spec;
    let now = mimamori_core::time::now_ms();
    let jpeg = super::scene::still(&spec.label, spec.width, spec.height, spec.fps, now);
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        jpeg.len()
    )
    .into_bytes();
    out.extend_from_slice(&jpeg);
    out
}

/// Appends the interleaved RTP packets (channel 0) of one NAL unit.
fn packetize(out: &mut Vec<u8>, nal: &[u8], last_of_frame: bool, ts: u32, ssrc: u32, seq: &mut u16) {
    let mut packet = |out: &mut Vec<u8>, marker: bool, payload: &[&[u8]]| {
        let len: usize = 12 + payload.iter().map(|p| p.len()).sum::<usize>();
        out.extend_from_slice(&[b'$', 0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push(0x80);
        out.push(96 | if marker { 0x80 } else { 0 });
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&ssrc.to_be_bytes());
        payload.iter().for_each(|p| out.extend_from_slice(p));
        *seq = seq.wrapping_add(1);
    };
    if nal.len() <= MAX_PAYLOAD {
        packet(out, last_of_frame, &[nal]);
        return;
    }
    // FU-A: the NAL header's F/NRI bits with type 28, then S/E flags and the real type.
    let indicator = (nal[0] & 0xe0) | 28;
    let body = &nal[1..];
    let chunks: Vec<&[u8]> = body.chunks(MAX_PAYLOAD - 2).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let start = if i == 0 { 0x80 } else { 0 };
        let end = if i == chunks.len() - 1 { 0x40 } else { 0 };
        let header = start | end | (nal[0] & 0x1f);
        packet(out, last_of_frame && end != 0, &[&[indicator, header], chunk]);
    }
}

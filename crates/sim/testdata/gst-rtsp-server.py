#!/usr/bin/python3
"""Fake IP cameras for Mimamori's tests: a real GStreamer RTSP server on loopback.

The Rust test harness starts this script, waits for the single line ``READY`` on
stdout, points the video client at it and sends SIGTERM when done. Run it with the
system interpreter (``/usr/bin/python3``), which has PyGObject and the
gst-rtsp-server typelib:

    /usr/bin/python3 gst-rtsp-server.py --port PORT [--user U [--password P]] [--only MOUNT]...

The password is taken from the environment variable GST_RTSP_PASSWORD when it is
set (keeps it out of ``ps``), otherwise from --password.

Mounts (all live 320x240 at 15 fps, about 300 kbit/s):

    /h264-1s  H.264, key frame every second
    /h264-4s  H.264, key frame every 4 seconds
    /h265     H.265, key frame every second
    /audio    H.264 as /h264-1s plus G.711 A-law audio (payload type 8)
    /secure   H.264 as /h264-1s behind digest authentication (only with --user)

Like a real camera, the encoders run from start-up whether or not anyone watches,
and a viewer joins the running stream: it gets frames from the middle of a GOP and
has to wait for the next key frame. Each encoder ("producer") runs in its own
pipeline ending in an appsink; each mount's media starts with appsrc elements, and
the producers copy every encoded frame into the appsrc of every media currently
alive. Restarting an encoder per viewer (what a plain ``videotestsrc ! x264enc``
launch line does, and what the Range header of PLAY does to a seekable source)
would hand every client a key frame at once and hide the start-up delay the
client must cope with; a live appsrc is not seekable.
"""

import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# I420: given the choice x264 encodes 4:4:4 (High 4:4:4 profile), which no camera sends.
VIDEO = (
    "videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,width=320,height=240,framerate=15/1 ! {overlay}videoconvert"
    " ! video/x-raw,format=I420"
)
# Producers output avc/hvc1 (codec_data in the caps) so the payloader can put the
# parameter sets in the SDP at once, even though the media starts mid-GOP.
# x264enc threads=1: with more, zerolatency cuts each frame into several slices and
# rtph264pay repeats SPS/PPS before every IDR slice, which splits a key frame into
# two "frames" for parsers like FFmpeg's; cameras send one slice per frame.
PRODUCERS = {
    "h264-1s": VIDEO + " ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=300"
    " threads=1 key-int-max=15 ! h264parse ! video/x-h264,stream-format=avc,alignment=au",
    "h264-4s": VIDEO + " ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=300"
    " threads=1 key-int-max=60 ! h264parse ! video/x-h264,stream-format=avc,alignment=au",
    # open-gop=0: x265 would otherwise make later key frames CRA, not IDR like cameras.
    "h265": VIDEO + " ! x265enc tune=zerolatency speed-preset=ultrafast bitrate=300"
    " key-int-max=15 option-string=open-gop=0"
    " ! h265parse ! video/x-h265,stream-format=hvc1,alignment=au",
    "alaw": "audiotestsrc is-live=true wave=sine volume=0.2 samplesperbuffer=160"
    " ! audio/x-raw,rate=8000,channels=1 ! alawenc",
}
H264 = "rtph264pay name=pay{i} pt=96 config-interval=-1"
H265 = "rtph265pay name=pay{i} pt=96 config-interval=-1"
ALAW = "rtppcmapay name=pay{i} pt=8"
# mount -> [(producer, payloader)], one RTP stream each, in SDP order.
MOUNTS = {
    "h264-1s": [("h264-1s", H264)],
    "h264-4s": [("h264-4s", H264)],
    "h265": [("h265", H265)],
    "audio": [("h264-1s", H264), ("alaw", ALAW)],
    "secure": [("h264-1s", H264)],
}


def log(msg):
    print(f"gst-rtsp-server.py: {msg}", file=sys.stderr, flush=True)


class Producer:
    """An always-running encoder pipeline that fans its output out to appsrcs."""

    def __init__(self, name, launch, on_error):
        self.name = name
        self.caps = None
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.targets = set()
        self.pipeline = Gst.parse_launch(
            launch + " ! appsink name=sink emit-signals=true sync=false"
        )
        self.pipeline.get_by_name("sink").connect("new-sample", self.on_sample)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", on_error)

    def attach(self, src):
        src.set_property("caps", self.caps)
        with self.lock:
            self.targets.add(src)

    def detach(self, src):
        with self.lock:
            self.targets.discard(src)

    def on_sample(self, sink):
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        self.caps = sample.get_caps()
        self.ready.set()
        # Both pipelines use the system clock, so a frame keeps its capture instant
        # (clock time) when moved into the media's running time. The segment matters:
        # x264enc/x265enc shift timestamps by 1000 hours to keep DTS positive.
        running = sample.get_segment().to_running_time(Gst.Format.TIME, buf.pts)
        capture = running + self.pipeline.get_base_time()
        with self.lock:
            targets = list(self.targets)
        for src in targets:
            _, state, _ = src.get_state(0)
            if state != Gst.State.PLAYING:
                continue  # no base time yet; a camera drops frames nobody receives
            offset = capture - src.get_base_time() - buf.pts
            if buf.pts + offset < 0:
                continue  # captured before this media started
            # Not buf.copy(): PyGObject maps it to the boxed copy, a mere ref, so every
            # media would share (and overwrite) one buffer's timestamps.
            out = buf.copy_deep()
            out.pts = buf.pts + offset
            if buf.dts != Gst.CLOCK_TIME_NONE:
                out.dts = max(0, buf.dts + offset)
            src.emit("push-buffer", out)
        return Gst.FlowReturn.OK


def overlay():
    # timeoverlay (pango, package gstreamer1.0-x) is not always installed; the QR
    # overlay of gst-plugins-bad also makes every frame unique (it encodes the
    # timestamp), which the ball pattern alone does not (its motion repeats).
    for launch in ("timeoverlay", "debugqroverlay pixel-size=2 x=2 y=2"):
        if Gst.ElementFactory.find(launch.split()[0]):
            return launch + " ! "
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--only", action="append", metavar="MOUNT",
                    help=f"serve only this mount (repeatable): {', '.join(MOUNTS)}")
    args = ap.parse_args()
    password = os.environ.get("GST_RTSP_PASSWORD") or args.password

    mounts = list(dict.fromkeys(m.strip("/") for m in args.only)) if args.only else [
        m for m in MOUNTS if m != "secure" or args.user]
    for m in mounts:
        if m not in MOUNTS:
            ap.error(f"unknown mount {m!r}")
    if "secure" in mounts and not args.user:
        ap.error("/secure needs --user")
    if args.user and not password:
        ap.error("--user needs GST_RTSP_PASSWORD or --password")

    Gst.init(None)
    loop = GLib.MainLoop()
    status = [0]

    def on_error(_bus, msg):
        err, debug = msg.parse_error()
        log(f"pipeline error: {err.message} ({debug})")
        status[0] = 1
        loop.quit()

    draw = overlay()
    producers = {}
    for m in mounts:
        for name, _ in MOUNTS[m]:
            if name not in producers:
                producers[name] = Producer(
                    name, PRODUCERS[name].format(overlay=draw), on_error)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(args.user, password, token("user"))
        # Without a default token every mount would need credentials. With one,
        # anonymous requests are "authenticated" as this role and a mount that
        # denies it *access* answers 404; denying only *construct* answers 401
        # with the digest challenge, which is what a camera sends.
        auth.set_default_token(token("anonymous"))
        server.set_auth(auth)

    points = server.get_mount_points()
    for m in mounts:
        launch = " ".join(
            f"appsrc name=src{i} is-live=true format=time ! {pay.format(i=i)}"
            for i, (_, pay) in enumerate(MOUNTS[m]))
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( {launch} )")
        # One media per mount, joined by every viewer, like a camera's one encoder.
        factory.set_shared(True)
        if args.user:
            for role in ("anonymous", "user"):
                allowed = role == "user" or m != "secure"
                factory.add_role_from_structure(Gst.Structure.new_from_string(
                    f"{role}, media.factory.access=(boolean)true,"
                    f" media.factory.construct=(boolean){str(allowed).lower()}"))
        factory.connect("media-configure", on_media_configure,
                        [producers[name] for name, _ in MOUNTS[m]])
        points.add_factory(f"/{m}", factory)

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    try:
        for p in producers.values():
            p.pipeline.set_state(Gst.State.PLAYING)
        # READY only once every encoder has produced a frame: a client connecting
        # right away then gets an answer (and caps) without waiting for start-up.
        for p in producers.values():
            if not p.ready.wait(20):
                log(f"producer {p.name} produced nothing")
                return 1
        if server.attach(None) == 0:
            log(f"cannot listen on 127.0.0.1:{args.port}")
            return 1
        print("READY", flush=True)
        loop.run()
        return status[0]
    finally:
        server.client_filter(lambda *_: GstRtspServer.RTSPFilterResult.REMOVE)
        for p in producers.values():
            p.pipeline.set_state(Gst.State.NULL)


def token(role):
    t = GstRtspServer.RTSPToken()
    t.set_string("media.factory.role", role)
    return t


def on_media_configure(_factory, media, producers):
    element = media.get_element()
    srcs = [element.get_by_name(f"src{i}") for i in range(len(producers))]
    for p, src in zip(producers, srcs):
        p.attach(src)

    def unprepared(_media):
        for p, src in zip(producers, srcs):
            p.detach(src)

    media.connect("unprepared", unprepared)


if __name__ == "__main__":
    sys.exit(main())

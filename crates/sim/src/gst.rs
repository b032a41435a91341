//! GStreamer's RTSP server for one test: real x264/x265 encoders behind `gst-rtsp-server`,
//! run by `testdata/gst-rtsp-server.py` on a free loopback port. Its mounts act like
//! cameras (shared, always encoding, so a client joins mid-GOP). Dropping it stops the
//! server. Needs the GStreamer packages of `scripts/install-deps --test`; panics when the
//! server cannot start, as a test harness should.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};

pub struct GstRtspServer {
    pub port: u16,
    child: Child,
}

impl GstRtspServer {
    /// Starts the server with these mounts (`h264-1s`, `h264-4s`, `h265`, `audio`,
    /// `secure`); `auth` = (user, password) protects `secure` with digest authentication.
    pub fn start(mounts: &[&str], auth: Option<(&str, &str)>) -> GstRtspServer {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gst-rtsp-server.py");
        // Debian's python3 has the GObject bindings; a pyenv one on PATH would not.
        let python =
            if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
        let mut cmd = Command::new(python);
        cmd.arg(script).arg("--port").arg(port.to_string());
        for m in mounts {
            cmd.arg("--only").arg(m);
        }
        if let Some((user, password)) = auth {
            cmd.arg("--user").arg(user).env("GST_RTSP_PASSWORD", password);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the GStreamer RTSP server (scripts/install-deps --test)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let ready = BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == "READY";
        if !ready {
            let _ = child.kill();
            panic!("the GStreamer RTSP server did not start (said {line:?})");
        }
        GstRtspServer { port, child }
    }

    /// The URL of a mount, without credentials.
    pub fn url(&self, mount: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{mount}", self.port)
    }

    /// Kills the server at once, as a camera losing power.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GstRtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}

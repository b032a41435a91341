//! `mimamori clip` against the built-in demo's simulated cameras: an MP4 file ffprobe
//! reads, about as long as asked, starting at a key frame.

use std::process::Command;

#[test]
fn a_clip_of_a_demo_camera_is_a_standard_mp4_file() {
    let dir = std::env::temp_dir().join(format!("mimamori-cli-clip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("entrance.mp4");
    let out = Command::new(env!("CARGO_BIN_EXE_mimamori"))
        .args(["clip", "hq/entrance", "--seconds", "3", "--sub", "--demo", "-o"])
        .arg(&path)
        .env("XDG_DATA_HOME", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("frames"), "{stdout}");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-of", "default=nw=1", "-select_streams", "v:0", "-read_intervals", "%+#1"])
        .args(["-show_entries", "format=format_name,duration:frame=key_frame"])
        .arg(&path)
        .output()
        .expect("ffprobe (scripts/install-deps --test)");
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    assert!(text.contains("key_frame=1"), "{text}");
    assert!(text.contains("format_name=mov,mp4"), "{text}");
    let duration: f64 = text.lines().find_map(|l| l.strip_prefix("duration=")).unwrap().parse().unwrap();
    // Within a GOP: the demo cameras send a key frame every 2 s.
    assert!((duration - 3.0).abs() <= 2.0, "{duration} s");
    // A camera that does not exist is a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_mimamori"))
        .args(["clip", "hq/nowhere", "--seconds", "1", "--demo"])
        .env("XDG_DATA_HOME", &dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no camera `nowhere`"));
    std::fs::remove_dir_all(dir).unwrap();
}

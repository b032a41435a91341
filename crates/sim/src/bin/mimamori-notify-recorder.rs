//! `mimamori-notify-recorder`: a notification service for end-to-end tests. It takes the
//! name `org.freedesktop.Notifications` on the session bus (`DBUS_SESSION_BUS_ADDRESS`),
//! prints every notification it is asked to show as one JSON line on standard output,
//! and clicks one when told on standard input: `click ID ACTION`.

#![allow(clippy::print_stdout)] // its output is its purpose

#[cfg(target_os = "linux")]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    use mimamori_sim::notifications::Recorder;
    use tokio::io::AsyncBufReadExt;
    let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").context("DBUS_SESSION_BUS_ADDRESS is not set")?;
    let recorder = Recorder::start(&address).await;
    println!("READY");
    let mut printed = 0;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let shown = recorder.shown();
                for n in &shown[printed..] {
                    let line = serde_json::json!({
                        "id": n.id, "replaces": n.replaces, "app": n.app, "summary": n.summary, "body": n.body,
                        "actions": n.actions, "urgency": n.urgency, "image": n.image.map(|(w, h, c, len)| [w as usize, h as usize, c as usize, len]),
                        "expire": n.expire,
                    });
                    println!("{line}");
                }
                printed = shown.len();
            }
            line = lines.next_line() => match line? {
                None => return Ok(()),
                Some(line) => {
                    let mut words = line.split_whitespace();
                    if let (Some("click"), Some(id), Some(action)) = (words.next(), words.next(), words.next()) {
                        recorder.click(id.parse().context("click ID ACTION")?, action).await;
                    }
                }
            },
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("mimamori-notify-recorder needs a D-Bus session bus (Linux)");
}

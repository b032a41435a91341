//! The app PIN from a terminal. A command that lowers protection (unlock, a lock's pulse,
//! disarm, silencing the siren) goes only with a proof of the device's app PIN — the core
//! asks for it (`control::send`), as it does for the app. The PIN is read from the
//! controlling terminal without echo, or from a file descriptor the caller opened
//! (`--pin-fd 3 3<pin-file`), never from an argument or the environment, which other
//! processes can read. On first use it is chosen here, as in the app.

use anyhow::Context;
use mimamori_core::Secret;
use mimamori_core::pin::DevicePin;
use std::io::{BufRead, Write};

/// Proves the app PIN to `pin` (choosing it first if none is set), read from file
/// descriptor `fd` or else the terminal.
pub fn prove(pin: &DevicePin, fd: Option<u32>) -> anyhow::Result<()> {
    let read = |prompt: &str| match fd {
        Some(fd) => from_fd(fd),
        None => from_terminal(prompt),
    };
    if !pin.is_set()? {
        let chosen =
            read("Choose an app PIN (6 to 12 digits), asked before anything that lowers protection: ")?;
        if fd.is_none() {
            let again = read("The same PIN again: ")?;
            anyhow::ensure!(again.expose() == chosen.expose(), "the two PINs differ; nothing was set");
        }
        pin.set(chosen.expose())?;
        return Ok(());
    }
    pin.prove(read("App PIN: ")?.expose())?;
    Ok(())
}

/// The first line of file descriptor `fd`.
fn from_fd(fd: u32) -> anyhow::Result<Secret<String>> {
    let file =
        std::fs::File::open(format!("/dev/fd/{fd}")).with_context(|| format!("--pin-fd {fd} is not open"))?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).context("reading the app PIN")?;
    Ok(secret_line(line))
}

/// One line typed on the controlling terminal, not shown.
#[cfg(unix)]
fn from_terminal(prompt: &str) -> anyhow::Result<Secret<String>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|_| {
        anyhow::anyhow!(
            "this command lowers protection and needs the app PIN: run it on a terminal, or give the PIN on a file descriptor (--pin-fd 3 3<file)"
        )
    })?;
    let before = tcgetattr(&tty).context("reading the terminal's settings")?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    (&tty).write_all(prompt.as_bytes())?;
    tcsetattr(&tty, OptionalActions::Flush, &quiet).context("hiding the PIN as it is typed")?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, OptionalActions::Flush, &before);
    let _ = (&tty).write_all(b"\n");
    read.context("reading the app PIN")?;
    Ok(secret_line(line))
}

/// A line without its end, in the buffer it was read into (which the secret wipes).
fn secret_line(mut line: String) -> Secret<String> {
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    Secret::new(line)
}

#[cfg(not(unix))]
fn from_terminal(_prompt: &str) -> anyhow::Result<Secret<String>> {
    anyhow::bail!("give the app PIN on a file descriptor (--pin-fd)")
}

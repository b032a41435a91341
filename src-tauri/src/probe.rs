//! Transport probe, built only with the `transport-probe` feature (for `scripts/bench`,
//! never shipped): the two ways Tauri offers to bring bytes from Rust to the web view,
//! side by side, so that the player's choice rests on a measurement
//! (`tests/bench/transport.mjs`).
//!
//! - **Channel** (`transport_channel`): Rust pushes messages; each one of 1 KiB or more is
//!   announced by a script evaluation and then fetched by the page. This is what the
//!   player uses.
//! - **Custom URI scheme fetched by the page** (`transport_fetch`): the page asks, Rust
//!   answers with raw bytes in the response of a fetch to the `ipc:` scheme — the shape of
//!   a long-poll transport, one round trip per message.

use crate::error::{ErrorKind, IpcError};
use tauri::ipc::{Channel, InvokeResponseBody, Response};

/// Largest message the probe sends (bytes).
const MAX_SIZE: usize = 4 << 20;
/// Most messages per call.
const MAX_COUNT: usize = 10_000;

/// Sends `count` messages of `size` bytes on `channel` (the first 8 bytes number them).
#[tauri::command]
pub fn transport_channel(
    size: usize,
    count: usize,
    channel: Channel<InvokeResponseBody>,
) -> Result<(), IpcError> {
    check_size(size)?;
    if count > MAX_COUNT {
        return Err(IpcError::new(ErrorKind::InvalidInput, format!("count must be at most {MAX_COUNT}")));
    }
    for i in 0..count {
        let mut message = vec![0u8; size];
        message[..8].copy_from_slice(&(i as u64).to_be_bytes());
        channel
            .send(InvokeResponseBody::Raw(message))
            .map_err(|e| IpcError::new(ErrorKind::Unavailable, format!("the page stopped listening: {e}")))?;
    }
    Ok(())
}

fn check_size(size: usize) -> Result<(), IpcError> {
    if (8..=MAX_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(IpcError::new(ErrorKind::InvalidInput, format!("size must be 8 to {MAX_SIZE} bytes")))
    }
}

/// One message of `size` bytes as the raw response of the fetch that asked for it.
#[tauri::command]
pub fn transport_fetch(size: usize) -> Result<Response, IpcError> {
    check_size(size)?;
    Ok(Response::new(vec![0u8; size]))
}

/// Grants the probe's commands to the main window (at run time: the shipped capability
/// file does not name them).
pub fn grant<R: tauri::Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<()> {
    use tauri::Manager;
    app.add_capability(
        tauri::ipc::CapabilityBuilder::new("transport-probe")
            .window("main")
            .permission("allow-transport-channel")
            .permission("allow-transport-fetch"),
    )
}

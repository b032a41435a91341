//! Saved clips: recordings the user starts (the remembered seconds, then what follows
//! until stopped or the limit) and the clips saved before, kept by the core's
//! [`ClipLibrary`]. A recording holds its camera's stream open until it ends.

use mimamori_core::time::now_ms;
use mimamori_core::video::Viewer;
use mimamori_core::video::clip::{ClipError, ClipInfo, ClipLibrary, ClipSubject, MAX_CLIP};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// Most recordings running at once.
pub const MAX_RECORDINGS: usize = 4;

struct Recording {
    stop: oneshot::Sender<()>,
    task: tauri::async_runtime::JoinHandle<Result<ClipInfo, ClipError>>,
}

pub struct Recordings {
    library: ClipLibrary,
    running: Mutex<HashMap<String, Recording>>,
}

impl Recordings {
    pub fn new(library: ClipLibrary) -> Self {
        Recordings { library, running: Mutex::new(HashMap::new()) }
    }

    /// Starts recording `viewer`'s stream from `from_ms` (wall clock; as far back as memory
    /// reaches) until [`Recordings::stop`] or [`MAX_CLIP`] after now. Returns the clip's id.
    pub fn start(&self, subject: ClipSubject, viewer: Viewer, from_ms: u64) -> Result<String, ClipError> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.values().filter(|r| !r.task.inner().is_finished()).count() >= MAX_RECORDINGS {
            return Err(ClipError::Busy(MAX_RECORDINGS));
        }
        let now = now_ms();
        let from_ms = from_ms.min(now);
        let id = ClipLibrary::new_id(from_ms);
        let (stop, stopped) = oneshot::channel::<()>();
        let library = self.library.clone();
        let clip_id = id.clone();
        let length = Duration::from_millis(now - from_ms) + MAX_CLIP;
        let task = tauri::async_runtime::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            library.save(&clip_id, subject, viewer.handle(), Some(from_ms), length, stopped).await
        });
        running.insert(id.clone(), Recording { stop, task });
        Ok(id)
    }

    /// Stops a recording and waits for its file: the saved clip.
    pub async fn stop(&self, id: &str) -> Result<ClipInfo, ClipError> {
        let recording = self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        let Some(recording) = recording else { return Err(ClipError::NotFound) };
        // A recording that reached its limit has ended already: its clip is answered.
        let _ = recording.stop.send(());
        recording.task.await.map_err(|e| ClipError::Io(std::io::Error::other(e.to_string())))?
    }

    pub fn list(&self) -> Result<Vec<ClipInfo>, ClipError> {
        self.library.list()
    }

    /// Deletes a saved clip; answers its description when it could be read.
    pub fn delete(&self, id: &str) -> Result<Option<ClipInfo>, ClipError> {
        self.library.delete(id)
    }
}

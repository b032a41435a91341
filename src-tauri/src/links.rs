//! Enrolment links: `mimamori://enroll?code=…` (`docs/enrolment.md`) opens the app at its
//! enrolment form, filled in; the PIN, handed over apart, is still typed. Installed from its
//! package, the package's desktop entry handles the scheme (`docs/packaging.md`); run from
//! elsewhere, the app tells the desktop at start-up (Linux: a `.desktop` entry of the user's
//! and `xdg-mime`; Windows: the registry; the bundle declares it on macOS and mobile). A link opened while
//! the app runs starts a second instance, which hands the link to the first (the
//! single-instance plugin) and exits. A link is never logged: it carries a sealed code.

use std::sync::Mutex;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

/// Tells the web view an enrolment link is waiting (`take_enrol_link`).
pub const ENROL_LINK_EVENT: &str = "enrol-link";

/// The link waiting for the web view: one may come before the page listens.
#[derive(Default)]
pub struct PendingLink(Mutex<Option<String>>);

impl PendingLink {
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Registers the scheme with the desktop and follows the links the app is opened with.
/// Without the deep-link plugin (the tests' mock app) there is nothing to do.
pub fn setup<R: Runtime>(app: &AppHandle<R>) {
    if app.try_state::<tauri_plugin_deep_link::DeepLink<R>>().is_none() {
        return;
    }
    #[cfg(any(target_os = "linux", windows))]
    if !registered_by_package()
        && let Err(e) = app.deep_link().register_all()
    {
        tracing::warn!("mimamori:// links will not open the app: {e}");
    }
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        receive(app, urls);
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| receive(&handle, event.urls()));
}

/// Keeps an enrolment link for the web view and brings the window to the front.
fn receive<R: Runtime>(app: &AppHandle<R>, urls: Vec<url::Url>) {
    let Some(link) = urls.into_iter().find(is_enrol_link) else { return };
    *app.state::<PendingLink>().0.lock().unwrap_or_else(|p| p.into_inner()) = Some(link.into());
    crate::background::show(app);
    let _ = app.emit(ENROL_LINK_EVENT, ());
}

/// Whether this binary was installed by its package, whose desktop entry handles the
/// scheme: an entry of the user's would only shadow it (and pin the handler to this path).
#[cfg(any(target_os = "linux", windows))]
fn registered_by_package() -> bool {
    cfg!(target_os = "linux") && std::env::current_exe().is_ok_and(|exe| exe.starts_with("/usr/"))
}

fn is_enrol_link(url: &url::Url) -> bool {
    url.scheme() == "mimamori" && url.host_str() == Some("enroll")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_enrolment_links_are_taken() {
        let yes = |s: &str| is_enrol_link(&s.parse().unwrap());
        assert!(yes("mimamori://enroll?code=MMR1.abc"));
        assert!(!yes("mimamori://settings"));
        assert!(!yes("https://enroll/?code=MMR1.abc"));
    }
}

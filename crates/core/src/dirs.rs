//! Where the device keeps its files, and how: the settings directory, shared by the app and
//! the CLI (`profiles.json`, `alerts.db`, `audit.log`, notification settings), and clips.
//! Everything the device stores is for its owner alone: directories 0700, files 0600,
//! created so and tightened when found looser (`docs/control.md`, At rest). Lowest layer:
//! every module that stores something finds its place here.

use std::io;
use std::path::{Path, PathBuf};

/// The settings directory: `$MIMAMORI_CONFIG_DIR`, else `$XDG_CONFIG_HOME/mimamori`, else
/// `~/.config/mimamori`.
pub fn settings() -> PathBuf {
    if let Some(dir) = std::env::var_os("MIMAMORI_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".config")
    });
    base.join("mimamori")
}

/// Creates `dir` (and any missing parent) for its owner only, and tightens it if it exists.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Tightens an existing file to its owner only; a missing one is no error.
pub fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Options that create a file for its owner only (0600). An existing file keeps its mode:
/// call [`make_private`] for those.
pub fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Writes `bytes` to `path` whole or not at all (a private temporary file, synced, renamed
/// over it): the file is its owner's only.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let name = path.file_name().ok_or_else(|| io::Error::other("no file name"))?.to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = private_options().write(true).create_new(true).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// What a device process does first: files it creates are its owner's only (a file
/// creation mask of 077, behind every explicit mode above), and a release build leaves no
/// core dump, where keys and passwords would outlive the process, and cannot be attached
/// to by another process of the same user.
pub fn harden_process() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        #[cfg(not(debug_assertions))]
        {
            let none = rustix::process::Rlimit { current: Some(0), maximum: Some(0) };
            if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, none) {
                tracing::warn!("core dumps could not be turned off: {e}");
            }
            #[cfg(target_os = "linux")]
            if let Err(e) =
                rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            {
                tracing::warn!("the process could not be made undumpable: {e}");
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn what_the_device_stores_is_its_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("settings");
        private_dir(&dir).unwrap();
        assert_eq!((mode(&dir), mode(&root.path().join("a"))), (0o700, 0o700));
        // A directory made loose by hand is tightened.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("profiles.json");
        write_private(&file, b"{}").unwrap();
        assert_eq!((mode(&file), std::fs::read(&file).unwrap()), (0o600, b"{}".to_vec()));
        write_private(&file, b"[]").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"[]");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let loose = dir.join("old.log");
        std::fs::write(&loose, b"x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        make_private(&loose).unwrap();
        assert_eq!(mode(&loose), 0o600);
        make_private(&dir.join("missing")).unwrap();
        let created = dir.join("new.db");
        private_options().write(true).create(true).open(&created).unwrap();
        assert_eq!(mode(&created), 0o600);
    }
}

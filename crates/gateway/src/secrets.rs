//! The gateway's secrets (the central broker's password, the site broker's), by name:
//! from systemd's credentials directory (`$CREDENTIALS_DIRECTORY/{name}`), then from a
//! secrets file only its owner may read (`name = "value"` lines, TOML), then from the
//! environment (`MIMAMORI_GATEWAY_{NAME}`, dashes as underscores). Never from the
//! configuration, never on the command line, never in a log or an error.

use mimamori_core::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the secrets are.
pub struct Secrets {
    credentials: Option<PathBuf>,
    file: BTreeMap<String, Secret<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the secrets file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("the secrets file {0} may be read by others (chmod 600 it)")]
    Open(String),
    #[error("the secrets file {0} is not `name = \"value\"` lines (line {1})")]
    Syntax(String, usize),
}

impl Secrets {
    /// The secrets of this process: systemd's credentials directory if it has one, the
    /// secrets `file` if given, the environment.
    pub fn load(file: Option<&Path>) -> Result<Secrets, SecretsError> {
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let file = match file {
            Some(path) => read_file(path)?,
            None => BTreeMap::new(),
        };
        Ok(Secrets { credentials, file })
    }

    /// The secret `name`, if any source has it.
    pub fn get(&self, name: &str) -> Option<Secret<String>> {
        if let Some(dir) = &self.credentials
            && let Ok(text) = std::fs::read_to_string(dir.join(name))
        {
            return Some(Secret::new(text.trim_end_matches(['\n', '\r']).to_owned()));
        }
        if let Some(value) = self.file.get(name) {
            return Some(Secret::new(value.expose().clone()));
        }
        let var = format!("MIMAMORI_GATEWAY_{}", name.to_uppercase().replace('-', "_"));
        std::env::var(var).ok().map(Secret::new)
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, Secret<String>>, SecretsError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| SecretsError::Read(shown.clone(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(SecretsError::Open(shown));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Secret::new(std::fs::read_to_string(path).map_err(|e| SecretsError::Read(shown.clone(), e))?);
    let mut out = BTreeMap::new();
    for (i, line) in text.expose().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Parsed by hand so that no parser error can quote a secret.
        let (name, value) = line.split_once('=').ok_or_else(|| SecretsError::Syntax(shown.clone(), i + 1))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| SecretsError::Syntax(shown.clone(), i + 1))?;
        out.insert(name.trim().to_owned(), Secret::new(value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_others_may_read_is_refused_and_errors_never_quote_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets");
        std::fs::write(&path, "central-password = \"canary-7f3a\"\nbroken canary-7f3a\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(Secrets::load(Some(&path)), Err(SecretsError::Open(_))));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = Secrets::load(Some(&path)).err().unwrap().to_string();
        assert!(err.contains("line 2") && !err.contains("canary"), "{err}");
        std::fs::write(&path, "# the central broker\ncentral-password = \"canary-7f3a\"\n").unwrap();
        let secrets = Secrets::load(Some(&path)).unwrap();
        assert_eq!(secrets.get("central-password").unwrap().expose(), "canary-7f3a");
        assert!(secrets.get("local-password").is_none());
    }
}

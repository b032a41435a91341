//! Errors as they cross to the web view: `{ kind, message }`, with a small stable set of
//! kinds the UI can branch on. Messages name ids, never URLs or secrets.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub enum ErrorKind {
    NotFound,
    InvalidInput,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Timeout,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct IpcError {
    pub kind: ErrorKind,
    pub message: String,
}

impl IpcError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        IpcError { kind, message: message.into() }
    }
}

impl From<mimamori_core::protocol::ProtocolError> for IpcError {
    fn from(e: mimamori_core::protocol::ProtocolError) -> Self {
        IpcError::new(ErrorKind::InvalidInput, e.to_string())
    }
}

impl From<mimamori_core::profile::ProfileError> for IpcError {
    fn from(e: mimamori_core::profile::ProfileError) -> Self {
        use mimamori_core::enrol::CodeError;
        use mimamori_core::profile::ProfileError as P;
        let kind = match &e {
            P::Code(CodeError::WrongPin) => ErrorKind::Unauthenticated,
            P::Code(_) | P::SiteTaken { .. } => ErrorKind::InvalidInput,
            P::AlreadyUsed | P::TooManyAttempts => ErrorKind::PermissionDenied,
            P::NotFound(_) => ErrorKind::NotFound,
            P::Vault(_) | P::SecretsMissing(_) | P::Audit(_) => ErrorKind::Unavailable,
            P::Settings { .. } => ErrorKind::Internal,
        };
        // The messages name ids and say what to do; they never carry a secret.
        IpcError::new(kind, e.to_string())
    }
}

impl From<crate::state::CameraError> for IpcError {
    fn from(e: crate::state::CameraError) -> Self {
        use crate::state::CameraError as C;
        match e {
            C::NotFound { .. } => IpcError::new(ErrorKind::NotFound, e.to_string()),
            C::BadEndpoint(_) | C::NoSnapshot(_) => IpcError::new(ErrorKind::Unavailable, e.to_string()),
            C::Snapshot(ref s) => {
                use mimamori_core::video::snapshot::SnapshotError as S;
                let kind = match s {
                    S::Unauthorized => ErrorKind::Unauthenticated,
                    S::NotFound => ErrorKind::NotFound,
                    S::Unreachable => ErrorKind::Timeout,
                    _ => ErrorKind::Unavailable,
                };
                IpcError::new(kind, e.to_string())
            }
            C::Profile(p) => p.into(),
        }
    }
}

impl From<mimamori_core::control::ControlError> for IpcError {
    fn from(e: mimamori_core::control::ControlError) -> Self {
        use mimamori_core::control::ControlError as C;
        let kind = match &e {
            C::UnknownSite(_) | C::UnknownOutput { .. } => ErrorKind::NotFound,
            C::DoesNotFit { .. } | C::BadPulse | C::NoteTooLong | C::Invalid(_) => ErrorKind::InvalidInput,
            C::NotPermitted { .. } => ErrorKind::PermissionDenied,
            C::NotConnected | C::NotReported(_) | C::Audit(_) => ErrorKind::Unavailable,
            C::ProofNeeded => ErrorKind::Unauthenticated,
        };
        IpcError::new(kind, e.to_string())
    }
}

impl From<mimamori_core::pin::PinError> for IpcError {
    fn from(e: mimamori_core::pin::PinError) -> Self {
        use mimamori_core::pin::PinError as P;
        let kind = match &e {
            P::Format => ErrorKind::InvalidInput,
            P::NotSet => ErrorKind::NotFound,
            P::AlreadySet | P::LockedOut(_) => ErrorKind::PermissionDenied,
            P::Wrong(_) => ErrorKind::Unauthenticated,
            P::Damaged | P::Vault(_) => ErrorKind::Unavailable,
        };
        IpcError::new(kind, e.to_string())
    }
}

impl From<mimamori_core::video::clip::ClipError> for IpcError {
    fn from(e: mimamori_core::video::clip::ClipError) -> Self {
        use mimamori_core::video::clip::ClipError as C;
        let kind = match &e {
            C::NotFound => ErrorKind::NotFound,
            C::Busy(_) => ErrorKind::PermissionDenied,
            C::NoVideo | C::Format(_) | C::Io(_) => ErrorKind::Unavailable,
        };
        IpcError::new(kind, e.to_string())
    }
}

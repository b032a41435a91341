//! TLS to the broker: rustls with the enrolled CA as the only trust anchor. A certificate
//! from any other CA, an expired one or one for another host fails the handshake, and
//! there is deliberately no way to "connect anyway".

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    #[error("the enrolment has no CA certificate for this mqtts broker; enrol again")]
    MissingCa,
    #[error("the enrolled CA certificate cannot be used: {0}")]
    BadCa(String),
}

/// A client configuration that trusts exactly `ca_pem`.
pub fn client_config(ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let pem = ca_pem.ok_or(TlsSetupError::MissingCa)?;
    let mut roots = rustls::RootCertStore::empty();
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsSetupError::BadCa(e.to_string()))?;
        roots.add(cert).map_err(|e| TlsSetupError::BadCa(e.to_string()))?;
        found += 1;
    }
    if found == 0 {
        return Err(TlsSetupError::BadCa("no certificate in the PEM".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::BadCa(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_missing_or_unusable_ca() {
        assert_eq!(client_config(None).unwrap_err(), TlsSetupError::MissingCa);
        assert!(matches!(client_config(Some("not pem")), Err(TlsSetupError::BadCa(_))));
        let bogus = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(client_config(Some(bogus)), Err(TlsSetupError::BadCa(_))));
        let ca = mimamori_sim::testing::TestCa::new("test CA");
        assert!(client_config(Some(&ca.pem)).is_ok());
    }
}

//! Test support shared by the integration tests of the core, the CLI and the app: a
//! certificate authority for TLS listeners and ready-made enrolment codes. Behind the
//! `testing` feature, so that nothing of it ships in the app.

use mimamori_core::Secret;
use mimamori_core::enrol::{self, EnrolledSite, Enrolment, Kdf};
use mimamori_protocol::role::Role;

/// An enrolment code and its PIN for user `aiko`, operator of site `hq` (本社) at `broker`,
/// valid for a minute, sealed with the cheapest key derivation the format allows.
pub fn enrolment_code(broker: &str, password: &str) -> (String, String) {
    enrolment_code_as(broker, "aiko", password, &[("hq", "本社", Role::Operator)])
}

/// Like [`enrolment_code`], for `user` with these sites (id, name, role).
pub fn enrolment_code_as(
    broker: &str,
    user: &str,
    password: &str,
    sites: &[(&str, &str, Role)],
) -> (String, String) {
    let now = mimamori_core::time::now_ms();
    let e = Enrolment {
        code_id: enrol::new_code_id(),
        issued_ms: now,
        expires_ms: now + 60_000,
        label: format!("Example Co. ({user})"),
        broker: Secret::new(broker.into()),
        broker_ca: None,
        user: user.into(),
        password: Secret::new(password.into()),
        sites: sites
            .iter()
            .map(|(id, name, role)| EnrolledSite { id: (*id).into(), name: (*name).into(), role: *role })
            .collect(),
        cameras: vec![],
    };
    let pin = enrol::new_pin();
    let code = enrol::seal(&e, &pin, Kdf { m_kib: 8 * 1024, t: 1, p: 1 }).expect("a valid sample code");
    (code, pin)
}

/// A certificate authority made for one test, issuing server certificates for a TLS
/// listener.
pub struct TestCa {
    /// The CA certificate, PEM: what an enrolment code carries as the broker CA.
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { pem, issuer: Issuer::new(params, key) }
    }

    /// A server certificate and key (PEM) for `host`, valid from Jan 1 of `years.0` to
    /// Jan 1 of `years.1`.
    pub fn server(&self, host: &str, years: (i32, i32)) -> (String, String) {
        use rcgen::{CertificateParams, DnType, KeyPair, date_time_ymd};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, host);
        params.not_before = date_time_ymd(years.0, 1, 1);
        params.not_after = date_time_ymd(years.1, 1, 1);
        (params.signed_by(&key, &self.issuer).unwrap().pem(), key.serialize_pem())
    }
}

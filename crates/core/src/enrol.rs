//! Enrolment codes: how an administrator hands a manager everything needed to reach their
//! sites (broker address and CA certificate, broker credentials, sites and roles, camera credentials)
//! without anybody seeing it. The code is sealed with XChaCha20-Poly1305 under a key
//! derived with Argon2id from a short one-time PIN handed over separately.
//!
//! Layout and threat model: `docs/enrolment.md`. Every way a code can be wrong has its own
//! error, and opening never allocates more than the code's bounded size or the bounded KDF
//! memory.

use crate::protocol::check_id;
use crate::protocol::role::Role;
use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::{Blake2s256, Digest};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

/// Text prefix of every code; the digit is the format version.
pub const PREFIX: &str = "MMR1.";
/// The link form, for QR codes and "open with Mimamori".
pub const LINK_PREFIX: &str = "mimamori://enroll?code=";
/// Longest code text accepted, before any decoding.
pub const MAX_CODE_CHARS: usize = 16 * 1024;
const FORMAT_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const CHECK_LEN: usize = 8;
const SUM_LEN: usize = 8;
const TAG_LEN: usize = 16;
/// version, total length, m, t, p, salt, nonce, PIN check.
const HEADER_LEN: usize = 1 + 4 + 4 + 1 + 1 + SALT_LEN + NONCE_LEN + CHECK_LEN;
/// Argon2id cost the administrator's helper uses (OWASP's recommendation).
pub const DEFAULT_KDF: Kdf = Kdf { m_kib: 19 * 1024, t: 2, p: 1 };
/// Bounds on what a code may ask of the device that opens it.
const KDF_M_KIB: (u32, u32) = (8 * 1024, 256 * 1024);
const KDF_T: (u8, u8) = (1, 10);
const KDF_P: (u8, u8) = (1, 4);
/// PIN alphabet: Crockford base32, no I, L, O or U to mistake.
const PIN_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PIN_LEN: usize = 10;
const PIN_LEN_RANGE: (usize, usize) = (6, 32);

/// Argon2id cost parameters, carried (authenticated) in the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    pub m_kib: u32,
    pub t: u8,
    pub p: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("this is not a Mimamori enrolment code")]
    NotACode,
    #[error("the enrolment code is longer than {MAX_CODE_CHARS} characters")]
    TooLarge,
    #[error("the enrolment code is incomplete (cut off when copied?)")]
    Truncated,
    #[error("the enrolment code is damaged or was altered")]
    Damaged,
    #[error("the enrolment code was made by a newer version of Mimamori (format {0}); update the app")]
    FutureVersion(u32),
    #[error("the enrolment code asks for unreasonable key-derivation cost")]
    BadParameters,
    #[error("wrong PIN")]
    WrongPin,
    #[error("the PIN must be {min} to {max} characters of the PIN alphabet (digits, and letters but I, L, O and U)", min = PIN_LEN_RANGE.0, max = PIN_LEN_RANGE.1)]
    BadPin,
    #[error("the enrolment code was altered after it was made")]
    Tampered,
    #[error("the enrolment code expired; ask your administrator for a new one")]
    Expired,
    #[error("the enrolment code's contents are invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledSite {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A camera's credentials, for the video pipeline only, bound to the camera's addresses:
/// they go to an endpoint of one of `origins` and to nothing else a catalog may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraCredential {
    pub site: String,
    pub camera: String,
    pub username: String,
    pub password: Secret<String>,
    /// `scheme://host:port` of each of the camera's endpoints (`video::origin`): its
    /// streams (`rtsp://10.0.0.5:554`) and its snapshot (`http://10.0.0.5:80`).
    pub origins: Vec<String>,
}

impl CameraCredential {
    /// The credentials for `endpoint`, if it is at one of the camera's enrolled origins;
    /// None for any other address (a rogue or mistaken catalog), which gets no password.
    pub fn for_endpoint(&self, endpoint: &url::Url) -> Option<crate::video::Credentials> {
        let at_home = crate::video::origin(endpoint).is_some_and(|o| self.origins.contains(&o));
        if !at_home {
            // Ids only: an endpoint is never logged.
            tracing::warn!(site = %self.site, camera = %self.camera, "camera credentials withheld: the catalog points the camera away from its enrolled address");
            return None;
        }
        Some(crate::video::Credentials { username: self.username.clone(), password: self.password.clone() })
    }
}

/// An origin as a code carries it: `scheme://host[:port]` of a camera endpoint, in the
/// canonical form `video::origin` gives (the default port written out). None when it is
/// not an `rtsp`, `rtsps`, `http` or `https` address without a path or credentials.
pub fn canonical_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let bare = url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then(|| crate::video::origin(&url)).flatten()
}

/// The contents of an enrolment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// Random id of this code, for one-time use.
    pub code_id: String,
    pub issued_ms: u64,
    pub expires_ms: u64,
    /// A name for the organisation or profile, shown to the user.
    pub label: String,
    /// `mqtts://host:port` (or `mqtt://` on loopback for the demo and tests).
    pub broker: Secret<String>,
    /// The broker's certificate authority (PEM): the only trust anchor for `mqtts`, so a
    /// certificate from any other CA fails. Required for `mqtts`.
    pub broker_ca: Option<String>,
    pub user: String,
    pub password: Secret<String>,
    pub sites: Vec<EnrolledSite>,
    pub cameras: Vec<CameraCredential>,
}

/// The JSON inside the seal. Plain strings exist only here, between (de)serialization and
/// the `Secret` fields above.
#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    code_id: String,
    issued_ms: u64,
    expires_ms: u64,
    label: String,
    broker: String,
    #[serde(default)]
    broker_ca: Option<String>,
    user: String,
    password: String,
    sites: Vec<EnrolledSite>,
    #[serde(default)]
    cameras: Vec<WireCamera>,
}

#[derive(Serialize, Deserialize)]
struct WireCamera {
    site: String,
    camera: String,
    username: String,
    password: String,
    #[serde(default)]
    origins: Vec<String>,
}

/// Makes a PIN: 10 characters of Crockford base32 (50 bits), shown as `XXXXX-XXXXX`.
pub fn new_pin() -> String {
    let mut bytes = [0u8; PIN_LEN];
    OsRng.fill_bytes(&mut bytes);
    let chars: String = bytes.iter().map(|b| PIN_ALPHABET[usize::from(*b) % 32] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// Uppercases, drops separators and reads look-alikes as Crockford does (O as 0, I and L
/// as 1), so `abcde-fghij`, `ABCDE FGHIJ` and a mistyped O are all the same PIN.
fn normalize_pin(pin: &str) -> Result<String, CodeError> {
    let pin: String = pin
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if !(PIN_LEN_RANGE.0..=PIN_LEN_RANGE.1).contains(&pin.len())
        || !pin.bytes().all(|b| PIN_ALPHABET.contains(&b))
    {
        return Err(CodeError::BadPin);
    }
    Ok(pin)
}

fn derive(pin: &str, salt: &[u8], kdf: Kdf) -> Result<[u8; 32 + CHECK_LEN], CodeError> {
    let params = argon2::Params::new(kdf.m_kib, u32::from(kdf.t), u32::from(kdf.p), Some(32 + CHECK_LEN))
        .map_err(|_| CodeError::BadParameters)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32 + CHECK_LEN];
    argon.hash_password_into(pin.as_bytes(), salt, &mut out).map_err(|_| CodeError::BadParameters)?;
    Ok(out)
}

fn checksum(bytes: &[u8]) -> [u8; SUM_LEN] {
    let digest = Blake2s256::digest(bytes);
    let mut sum = [0u8; SUM_LEN];
    sum.copy_from_slice(&digest[..SUM_LEN]);
    sum
}

fn validate(e: &Enrolment) -> Result<(), CodeError> {
    let bad = |m: String| CodeError::Invalid(m);
    check_id("user", &e.user).map_err(|x| bad(x.to_string()))?;
    if e.code_id.len() != 32 || !e.code_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("the code id must be 32 hex digits".into()));
    }
    let plain_name =
        |n: &str| !n.trim().is_empty() && n.chars().count() <= 128 && !n.chars().any(char::is_control);
    if !plain_name(&e.label) {
        return Err(bad("the label must be 1 to 128 characters without control characters".into()));
    }
    if e.sites.is_empty() || e.sites.len() > 1000 {
        return Err(bad("it must grant 1 to 1000 sites".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for s in &e.sites {
        check_id("site id", &s.id).map_err(|x| bad(x.to_string()))?;
        if !seen.insert(s.id.as_str()) {
            return Err(bad(format!("site `{}` is granted twice", s.id)));
        }
        if !plain_name(&s.name) {
            return Err(bad(format!("site `{}` needs a name of 1 to 128 characters", s.id)));
        }
    }
    if e.cameras.len() > 64 * 1000 {
        return Err(bad("too many camera credentials".into()));
    }
    for c in &e.cameras {
        check_id("camera site", &c.site).map_err(|x| bad(x.to_string()))?;
        check_id("camera id", &c.camera).map_err(|x| bad(x.to_string()))?;
        if !e.sites.iter().any(|s| s.id == c.site) {
            return Err(bad(format!("camera `{}` belongs to a site the code does not grant", c.camera)));
        }
        if c.origins.is_empty() || c.origins.len() > 8 {
            return Err(bad(format!(
                "camera `{}` needs the addresses its credentials are for (1 to 8, e.g. rtsp://10.0.0.5:554)",
                c.camera
            )));
        }
        if c.origins.iter().any(|o| canonical_origin(o).as_deref() != Some(o.as_str())) {
            return Err(bad(format!(
                "camera `{}`: an address must be scheme://host:port (rtsp, rtsps, http or https)",
                c.camera
            )));
        }
    }
    let address: crate::bus::BrokerAddress =
        e.broker.expose().parse().map_err(|x: crate::bus::AddressError| bad(format!("broker: {x}")))?;
    let loopback = address.is_loopback();
    if address.tls {
        match &e.broker_ca {
            None => return Err(bad("an mqtts broker needs its CA certificate".into())),
            Some(pem) if !pem.trim_start().starts_with("-----BEGIN CERTIFICATE-----") || pem.len() > 8192 => {
                return Err(bad("the broker CA must be PEM certificates of at most 8 KiB".into()));
            }
            Some(_) => {}
        }
    } else if !loopback {
        return Err(bad("the broker must be mqtts:// (plain mqtt:// only on loopback)".into()));
    }
    Ok(())
}

/// Seals an enrolment under a PIN. Returns the code text.
pub fn seal(e: &Enrolment, pin: &str, kdf: Kdf) -> Result<String, CodeError> {
    validate(e)?;
    let pin = normalize_pin(pin)?;
    let wire = Wire {
        v: 1,
        code_id: e.code_id.clone(),
        issued_ms: e.issued_ms,
        expires_ms: e.expires_ms,
        label: e.label.clone(),
        broker: e.broker.expose().clone(),
        broker_ca: e.broker_ca.clone(),
        user: e.user.clone(),
        password: e.password.expose().clone(),
        sites: e.sites.clone(),
        cameras: e
            .cameras
            .iter()
            .map(|c| WireCamera {
                site: c.site.clone(),
                camera: c.camera.clone(),
                username: c.username.clone(),
                password: c.password.expose().clone(),
                origins: c.origins.clone(),
            })
            .collect(),
    };
    let plaintext = serde_json::to_vec(&wire).map_err(|e| CodeError::Invalid(e.to_string()))?;
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let key = derive(&pin, &salt, kdf)?;
    let total = HEADER_LEN + plaintext.len() + TAG_LEN + SUM_LEN;
    let mut out = Vec::with_capacity(total);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&u32::try_from(total).map_err(|_| CodeError::TooLarge)?.to_le_bytes());
    out.extend_from_slice(&kdf.m_kib.to_le_bytes());
    out.push(kdf.t);
    out.push(kdf.p);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&key[32..]);
    let cipher = XChaCha20Poly1305::new_from_slice(&key[..32]).map_err(|_| CodeError::BadParameters)?;
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &out })
        .map_err(|_| CodeError::Invalid("sealing failed".into()))?;
    out.extend_from_slice(&sealed);
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    let text = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&out));
    if text.len() > MAX_CODE_CHARS {
        return Err(CodeError::TooLarge);
    }
    Ok(text)
}

/// The header of a code, readable without the PIN: enough to count attempts per code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    bytes: Vec<u8>,
    kdf: Kdf,
}

impl Sealed {
    /// Parses code text or a `mimamori://enroll?code=` link; checks everything that can be
    /// checked without the PIN.
    pub fn parse(text: &str) -> Result<Sealed, CodeError> {
        if text.len() > MAX_CODE_CHARS + LINK_PREFIX.len() {
            return Err(CodeError::TooLarge);
        }
        // Mail clients and chat apps wrap long lines: white space is never part of a code.
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let text = text.strip_prefix(LINK_PREFIX).unwrap_or(&text);
        let body = match text.strip_prefix(PREFIX) {
            Some(body) => body,
            None => {
                // "MMR2." and later are future formats, anything else is not a code.
                let future = text
                    .strip_prefix("MMR")
                    .and_then(|r| r.split_once('.'))
                    .and_then(|(v, _)| v.parse::<u32>().ok());
                return Err(future.filter(|v| *v > 1).map_or(CodeError::NotACode, CodeError::FutureVersion));
            }
        };
        let bytes = URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).map_err(|e| match e {
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(..) => {
                CodeError::Truncated
            }
            _ => CodeError::NotACode,
        })?;
        if bytes.len() < 5 {
            return Err(CodeError::Truncated);
        }
        if bytes[0] != FORMAT_VERSION {
            return Err(CodeError::FutureVersion(u32::from(bytes[0])));
        }
        let declared = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        if bytes.len() < declared || bytes.len() < HEADER_LEN + TAG_LEN + SUM_LEN {
            return Err(CodeError::Truncated);
        }
        if bytes.len() > declared {
            return Err(CodeError::Damaged);
        }
        let (body, sum) = bytes.split_at(bytes.len() - SUM_LEN);
        if checksum(body) != sum {
            return Err(CodeError::Damaged);
        }
        let kdf = Kdf {
            m_kib: u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
            t: bytes[9],
            p: bytes[10],
        };
        if !(KDF_M_KIB.0..=KDF_M_KIB.1).contains(&kdf.m_kib)
            || !(KDF_T.0..=KDF_T.1).contains(&kdf.t)
            || !(KDF_P.0..=KDF_P.1).contains(&kdf.p)
        {
            return Err(CodeError::BadParameters);
        }
        Ok(Sealed { bytes, kdf })
    }

    fn salt(&self) -> &[u8] {
        &self.bytes[11..11 + SALT_LEN]
    }

    /// A stable, non-secret id of this code (from its random salt), for counting attempts.
    pub fn fingerprint(&self) -> String {
        self.salt().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Opens the code with the PIN; checks expiry against `now_ms`.
    pub fn open(&self, pin: &str, now_ms: u64) -> Result<Enrolment, CodeError> {
        let pin = normalize_pin(pin)?;
        let key = derive(&pin, self.salt(), self.kdf)?;
        let header = &self.bytes[..HEADER_LEN];
        if header[HEADER_LEN - CHECK_LEN..] != key[32..] {
            return Err(CodeError::WrongPin);
        }
        let nonce = XNonce::from_slice(&header[11 + SALT_LEN..11 + SALT_LEN + NONCE_LEN]);
        let sealed = &self.bytes[HEADER_LEN..self.bytes.len() - SUM_LEN];
        let cipher = XChaCha20Poly1305::new_from_slice(&key[..32]).map_err(|_| CodeError::BadParameters)?;
        let plaintext =
            cipher.decrypt(nonce, Payload { msg: sealed, aad: header }).map_err(|_| CodeError::Tampered)?;
        let wire: Wire = serde_json::from_slice(&plaintext)
            .map_err(|e| CodeError::Invalid(format!("line {} column {}", e.line(), e.column())))?;
        if wire.v != 1 {
            return Err(CodeError::FutureVersion(wire.v));
        }
        let enrolment = Enrolment {
            code_id: wire.code_id,
            issued_ms: wire.issued_ms,
            expires_ms: wire.expires_ms,
            label: wire.label,
            broker: Secret::new(wire.broker),
            broker_ca: wire.broker_ca,
            user: wire.user,
            password: Secret::new(wire.password),
            sites: wire.sites,
            cameras: wire
                .cameras
                .into_iter()
                .map(|c| CameraCredential {
                    site: c.site,
                    camera: c.camera,
                    username: c.username,
                    password: Secret::new(c.password),
                    origins: c.origins,
                })
                .collect(),
        };
        validate(&enrolment)?;
        if now_ms >= enrolment.expires_ms {
            return Err(CodeError::Expired);
        }
        Ok(enrolment)
    }
}

/// A random code id (128 bits, hex).
pub fn new_code_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheapest parameters the format allows, so the tests stay quick.
    const FAST: Kdf = Kdf { m_kib: 8 * 1024, t: 1, p: 1 };
    const PIN: &str = "ABCDE-FGH12";
    const NOW: u64 = 1_800_000_000_000;

    fn sample() -> Enrolment {
        Enrolment {
            code_id: new_code_id(),
            issued_ms: NOW,
            expires_ms: NOW + 3_600_000,
            label: "Example Co.".into(),
            broker: Secret::new("mqtt://127.0.0.1:1883".into()),
            broker_ca: None,
            user: "aiko".into(),
            password: Secret::new("CANARY-broker-pw".into()),
            sites: vec![EnrolledSite { id: "hq".into(), name: "本社".into(), role: Role::Operator }],
            cameras: vec![CameraCredential {
                site: "hq".into(),
                camera: "entrance".into(),
                username: "viewer".into(),
                password: Secret::new("CANARY-camera-pw".into()),
                origins: vec!["rtsp://10.0.0.5:554".into(), "http://10.0.0.5:80".into()],
            }],
        }
    }

    fn code() -> String {
        seal(&sample(), PIN, FAST).unwrap()
    }

    #[test]
    fn camera_credentials_go_only_to_the_cameras_enrolled_addresses() {
        let cam = sample().cameras.remove(0);
        let url = |u: &str| url::Url::parse(u).unwrap();
        // The camera's own streams and snapshot, default ports written out or not.
        for home in ["rtsp://10.0.0.5/main", "rtsp://10.0.0.5:554/sub", "http://10.0.0.5/snap.jpg"] {
            let creds = cam.for_endpoint(&url(home)).expect(home);
            assert_eq!(creds.password.expose(), "CANARY-camera-pw");
        }
        // Anywhere else: another host, port or scheme.
        for away in [
            "rtsp://10.0.0.6/main",
            "rtsp://10.0.0.5:8554/main",
            "http://10.0.0.5:8080/x",
            "https://10.0.0.5/x",
        ] {
            assert!(cam.for_endpoint(&url(away)).is_none(), "{away}");
        }
        assert_eq!(canonical_origin("RTSP://Cam.Local").as_deref(), Some("rtsp://cam.local:554"));
        assert_eq!(canonical_origin("http://10.0.0.5:8080").as_deref(), Some("http://10.0.0.5:8080"));
        for bad in ["rtsp://u:p@10.0.0.5", "http://10.0.0.5/snap.jpg", "ftp://10.0.0.5", "10.0.0.5"] {
            assert_eq!(canonical_origin(bad), None, "{bad}");
        }
        // A code must say where each credential may go.
        let mut e = sample();
        e.cameras[0].origins.clear();
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(m)) if m.contains("addresses")));
        e.cameras[0].origins = vec!["rtsp://10.0.0.5".into()];
        assert!(
            matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(m)) if m.contains("scheme://host:port"))
        );
    }

    #[test]
    fn round_trip_and_pin_forms() {
        let text = code();
        assert!(text.starts_with(PREFIX));
        assert!(!text.contains("CANARY"));
        let opened = Sealed::parse(&text).unwrap().open("abcde fgh12", NOW).unwrap();
        assert_eq!(opened, sample_with_id(&opened.code_id));
        let link = format!("{LINK_PREFIX}{text}");
        assert!(Sealed::parse(&link).unwrap().open(PIN, NOW).is_ok());
        let wrapped: String = text
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n ");
        assert!(Sealed::parse(&format!("  {wrapped}\n")).unwrap().open(PIN, NOW).is_ok());
        assert!(!format!("{opened:?}").contains("CANARY"));
    }

    fn sample_with_id(id: &str) -> Enrolment {
        Enrolment { code_id: id.into(), ..sample() }
    }

    #[test]
    fn wrong_pin_and_bad_pin() {
        let sealed = Sealed::parse(&code()).unwrap();
        assert_eq!(sealed.open("ABCDE-FGH13", NOW).unwrap_err(), CodeError::WrongPin);
        assert_eq!(sealed.open("12", NOW).unwrap_err(), CodeError::BadPin);
        assert_eq!(sealed.open("ÄÄÄÄÄÄÄ", NOW).unwrap_err(), CodeError::BadPin);
    }

    #[test]
    fn expired() {
        let sealed = Sealed::parse(&code()).unwrap();
        assert_eq!(sealed.open(PIN, NOW + 3_600_000).unwrap_err(), CodeError::Expired);
    }

    #[test]
    fn truncated_damaged_and_not_codes() {
        let text = code();
        for cut in [text.len() - 1, text.len() - 7, text.len() / 2, PREFIX.len() + 3] {
            assert_eq!(Sealed::parse(&text[..cut]).unwrap_err(), CodeError::Truncated, "cut at {cut}");
        }
        // Change one character in the middle: the checksum catches it.
        let mut chars: Vec<char> = text.chars().collect();
        let mid = chars.len() / 2;
        chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        assert_eq!(Sealed::parse(&altered).unwrap_err(), CodeError::Damaged);
        assert_eq!(Sealed::parse("hello").unwrap_err(), CodeError::NotACode);
        assert_eq!(Sealed::parse("MMR1.!!!!").unwrap_err(), CodeError::NotACode);
        assert_eq!(Sealed::parse(&"A".repeat(MAX_CODE_CHARS + 100)).unwrap_err(), CodeError::TooLarge);
        assert_eq!(Sealed::parse("MMR7.AAAA").unwrap_err(), CodeError::FutureVersion(7));
    }

    /// Re-encodes bytes as a code with a valid checksum, as a deliberate attacker would.
    fn reseal_bytes(mut bytes: Vec<u8>) -> String {
        let n = bytes.len() - SUM_LEN;
        let sum = checksum(&bytes[..n]);
        bytes[n..].copy_from_slice(&sum);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    #[test]
    fn deliberate_tampering_is_caught_by_the_seal() {
        let bytes = URL_SAFE_NO_PAD.decode(&code()[PREFIX.len()..]).unwrap();
        // Flip a ciphertext byte and fix the checksum: the AEAD refuses.
        let mut body = bytes.clone();
        body[HEADER_LEN + 3] ^= 1;
        let err = Sealed::parse(&reseal_bytes(body)).unwrap().open(PIN, NOW).unwrap_err();
        assert_eq!(err, CodeError::Tampered);
        // Lower the expiry-independent header (KDF cost) and fix the checksum: the key no
        // longer matches, which shows as a wrong PIN and opens nothing.
        let mut cost = bytes.clone();
        cost[9] = 2;
        assert!(Sealed::parse(&reseal_bytes(cost)).unwrap().open(PIN, NOW).is_err());
        // A newer format byte.
        let mut future = bytes;
        future[0] = 2;
        assert_eq!(Sealed::parse(&reseal_bytes(future)).unwrap_err(), CodeError::FutureVersion(2));
    }

    #[test]
    fn unreasonable_cost_is_refused_before_any_work() {
        let mut bytes = URL_SAFE_NO_PAD.decode(&code()[PREFIX.len()..]).unwrap();
        bytes[5..9].copy_from_slice(&(4 * 1024 * 1024u32).to_le_bytes()); // 4 GiB
        assert_eq!(Sealed::parse(&reseal_bytes(bytes)).unwrap_err(), CodeError::BadParameters);
    }

    #[test]
    fn contents_are_validated() {
        let mut e = sample();
        e.broker = Secret::new("mqtt://broker.example.com:1883".into());
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
        e.broker = Secret::new("mqtts://broker.example.com:8883".into());
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
        e.broker_ca = Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into());
        assert!(seal(&e, PIN, FAST).is_ok());
        let mut e = sample();
        e.sites.push(e.sites[0].clone());
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
        let mut e = sample();
        e.label = "a\u{7}b".into();
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
        let mut e = sample();
        e.cameras[0].site = "elsewhere".into();
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
        let mut e = sample();
        e.sites.clear();
        assert!(matches!(seal(&e, PIN, FAST), Err(CodeError::Invalid(_))));
    }

    #[test]
    fn pins_are_long_and_unambiguous() {
        let pin = new_pin();
        assert_eq!(pin.len(), 11);
        assert!(!pin.contains(['I', 'L', 'O', 'U']));
        assert_ne!(pin, new_pin());
        assert_eq!(normalize_pin(&pin.to_lowercase()).unwrap(), pin.replace('-', ""));
        assert_eq!(normalize_pin("OIL-2345-6").unwrap(), "01123456");
        assert_eq!(normalize_pin("UUUUUU").unwrap_err(), CodeError::BadPin);
    }
}

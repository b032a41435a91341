//! Camera credentials go to their camera and nowhere else: a catalog that points a camera
//! at another address gets no password sent there. Real sockets, the same calls the app
//! and the CLI make (`CameraCredential::for_endpoint`, `snapshot::fetch`). (A camera that
//! asks for its password in clear text gets none: `video::snapshots_behind_…`.)

use mimamori_core::Secret;
use mimamori_core::enrol::CameraCredential;
use mimamori_core::video::snapshot::{self, SnapshotError, SnapshotSource};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A camera's HTTP endpoint on a free loopback port: it answers a request without an
/// `Authorization` header with 401 and `challenge`, and one with it with a JPEG. Every
/// request head it received is kept.
async fn camera(challenge: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let picture = mimamori_sim::camera::scene::still("cam", 320, 176, 15, 0);
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let authorized = head.to_ascii_lowercase().contains("\r\nauthorization:");
            seen.lock().unwrap().push(head);
            let answer = if authorized {
                let mut a = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    picture.len()
                )
                .into_bytes();
                a.extend_from_slice(&picture);
                a
            } else {
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes()
            };
            let _ = conn.write_all(&answer).await;
        }
    });
    (port, heads)
}

const DIGEST: &str = r#"Digest realm="cam", qop="auth", nonce="b1f0e0c7a9", algorithm=MD5"#;

fn credential(origins: Vec<String>) -> CameraCredential {
    CameraCredential {
        site: "hq".into(),
        camera: "entrance".into(),
        username: "viewer".into(),
        password: Secret::new("CANARY-cam-5e21".into()),
        origins,
    }
}

async fn fetch(credential: &CameraCredential, port: u16) -> Result<snapshot::Snapshot, SnapshotError> {
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/snapshot.jpg")).unwrap();
    let credentials = credential.for_endpoint(&url);
    snapshot::fetch(&SnapshotSource { url: Secret::new(url), credentials }).await
}

fn authorizations(heads: &Mutex<Vec<String>>) -> Vec<String> {
    heads
        .lock()
        .unwrap()
        .iter()
        .flat_map(|h| h.lines().filter(|l| l.to_ascii_lowercase().starts_with("authorization:")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_catalog_pointing_a_camera_elsewhere_gets_no_password_sent_there() {
    let (home, home_heads) = camera(DIGEST).await;
    let (rogue, rogue_heads) = camera(DIGEST).await;
    let enrolled = credential(vec![format!("http://127.0.0.1:{home}")]);
    // At its enrolled address the camera gets its Digest answer, and the picture comes.
    let picture = fetch(&enrolled, home).await.unwrap();
    assert_eq!(picture.width, 320);
    let sent = authorizations(&home_heads);
    assert!(sent.len() == 1 && sent[0].contains("Digest") && !sent[0].contains("CANARY"), "{sent:?}");
    // A rogue catalog's address: asked, it challenges, and it gets nothing.
    assert_eq!(fetch(&enrolled, rogue).await.unwrap_err(), SnapshotError::Unauthorized);
    assert_eq!(rogue_heads.lock().unwrap().len(), 1, "asked once, without credentials");
    assert!(authorizations(&rogue_heads).is_empty());
}

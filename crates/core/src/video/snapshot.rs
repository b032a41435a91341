//! Camera snapshots: one JPEG from a camera's HTTP snapshot endpoint, fetched, checked,
//! decoded within bounds and re-encoded at tile size, so a tile that cannot play still
//! shows the camera's picture. Whatever the camera sends, the answer is a small, valid
//! JPEG or a [`SnapshotError`]; nothing from the camera reaches the web view unchecked.
//!
//! The HTTP client is deliberately tiny (one GET, HTTP/1.1, `Connection: close`, plain
//! `http`): snapshot endpoints are simple, and a general client would bring far more than
//! it needs. Credentials are sent only when the camera asks (a 401 with its challenges),
//! with the strongest scheme it offers: Digest (RFC 7616, as most IP cameras want) before
//! Basic, so a password never goes out in clear text to a camera that does not need it.
//! `https` is not supported yet and says so.

use super::Credentials;
use crate::Secret;
use std::io::Cursor;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response body accepted (a 4K camera's JPEG is about 1–2 MB).
pub const MAX_BODY: usize = 8 << 20;
/// Largest picture decoded, in pixels per side.
pub const MAX_SIDE: u32 = 8192;
/// Width of the JPEG handed on (tiles are at most this wide).
pub const TILE_WIDTH: u32 = 640;
const MAX_HEAD: usize = 16 << 10;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where a snapshot comes from. The URL is kept as a secret: it never prints.
#[derive(Debug)]
pub struct SnapshotSource {
    pub url: Secret<url::Url>,
    pub credentials: Option<Credentials>,
}

/// A snapshot at tile size, as JPEG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("the camera cannot be reached")]
    Unreachable,
    #[error("the camera refused the credentials")]
    Unauthorized,
    #[error("the camera has no snapshot at this address")]
    NotFound,
    #[error("the camera answered HTTP {0}")]
    Http(u16),
    #[error("the camera's answer is not valid HTTP")]
    Malformed,
    #[error("the snapshot is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the snapshot is not a picture that can be read ({0})")]
    NotAnImage(String),
    #[error("{0} is not supported for snapshots yet")]
    Unsupported(&'static str),
}

/// Fetches, checks and shrinks one snapshot.
pub async fn fetch(source: &SnapshotSource) -> Result<Snapshot, SnapshotError> {
    let body = tokio::time::timeout(TIMEOUT, get(source)).await.map_err(|_| SnapshotError::Unreachable)??;
    // Decoding is CPU work: off the async workers.
    tokio::task::spawn_blocking(move || shrink(&body))
        .await
        .map_err(|_| SnapshotError::NotAnImage("decoder stopped".into()))?
}

async fn get(source: &SnapshotSource) -> Result<Vec<u8>, SnapshotError> {
    let url = source.url.expose();
    match url.scheme() {
        "http" => {}
        "https" => return Err(SnapshotError::Unsupported("https")),
        _ => return Err(SnapshotError::Unsupported("this address scheme")),
    }
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let first = parse_http(&exchange(url, &target, None).await?)?;
    let (401, Some(credentials)) = (first.status, &source.credentials) else {
        return first.into_body();
    };
    let authorization = answer_challenge(&first, &target, credentials)?;
    parse_http(&exchange(url, &target, Some(&authorization)).await?)?.into_body()
}

/// The `Authorization` value answering a 401's challenges with the strongest scheme the
/// camera offers (Digest before Basic).
fn answer_challenge(
    response: &HttpResponse,
    target: &str,
    credentials: &Credentials,
) -> Result<String, SnapshotError> {
    let mut builder = http_auth::PasswordClient::builder();
    for challenges in response.headers("www-authenticate") {
        builder = builder.challenges(challenges);
    }
    let mut client =
        builder.build().map_err(|_| SnapshotError::Unsupported("this camera's authentication scheme"))?;
    client
        .respond(&http_auth::PasswordParams {
            username: &credentials.username,
            password: credentials.password.expose(),
            uri: target,
            method: "GET",
            body: Some(&[]),
        })
        .map_err(|_| SnapshotError::Unsupported("this camera's authentication scheme"))
}

/// One GET on a new connection: the raw response, within bounds.
async fn exchange(
    url: &url::Url,
    target: &str,
    authorization: Option<&str>,
) -> Result<Vec<u8>, SnapshotError> {
    let host = url.host_str().ok_or(SnapshotError::Unreachable)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut conn = TcpStream::connect((host, port)).await.map_err(|_| SnapshotError::Unreachable)?;
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mimamori\r\nAccept: image/jpeg\r\nConnection: close\r\n"
    );
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes()).await.map_err(|_| SnapshotError::Unreachable)?;
    let mut response = Vec::new();
    // One byte over the limits tells "too large" from "exactly at the limit".
    let limit = (MAX_HEAD + MAX_BODY + 1) as u64;
    (&mut conn).take(limit).read_to_end(&mut response).await.map_err(|_| SnapshotError::Unreachable)?;
    Ok(response)
}

/// An HTTP/1.x response: status, header lines and body (de-chunked, within bounds).
pub struct HttpResponse {
    pub status: u16,
    head: String,
    body: Vec<u8>,
}

impl HttpResponse {
    /// The values of every header line called `name`.
    fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.split("\r\n").skip(1).filter_map(move |l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body of a successful response; the status as an error otherwise.
    fn into_body(self) -> Result<Vec<u8>, SnapshotError> {
        match self.status {
            200..=299 => Ok(self.body),
            401 | 403 => Err(SnapshotError::Unauthorized),
            404 => Err(SnapshotError::NotFound),
            other => Err(SnapshotError::Http(other)),
        }
    }
}

/// The body of an HTTP/1.x response, after checking its status.
pub fn parse_response(response: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    parse_http(response)?.into_body()
}

/// Reads an HTTP/1.x response.
pub fn parse_http(response: &[u8]) -> Result<HttpResponse, SnapshotError> {
    let head_end =
        response.windows(4).take(MAX_HEAD).position(|w| w == b"\r\n\r\n").ok_or(SnapshotError::Malformed)?;
    let head = std::str::from_utf8(&response[..head_end]).map_err(|_| SnapshotError::Malformed)?.to_owned();
    let body = &response[head_end + 4..];
    let status: u16 = head
        .split("\r\n")
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(SnapshotError::Malformed)?;
    let mut response = HttpResponse { status, head, body: vec![] };
    let chunked = response.headers("transfer-encoding").any(|v| v.eq_ignore_ascii_case("chunked"));
    let length = response.headers("content-length").next().map(str::to_owned);
    response.body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(len) => {
                let len: usize = len.parse().map_err(|_| SnapshotError::Malformed)?;
                if len > MAX_BODY {
                    return Err(SnapshotError::TooLarge);
                }
                body.get(..len).map(<[u8]>::to_vec).ok_or(SnapshotError::Malformed)?
            }
            None if body.len() > MAX_BODY => return Err(SnapshotError::TooLarge),
            None => body.to_vec(),
        }
    };
    Ok(response)
}

/// Decodes a chunked body (RFC 9112 §7.1), within [`MAX_BODY`].
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or(SnapshotError::Malformed)?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| SnapshotError::Malformed)?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| SnapshotError::Malformed)?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > MAX_BODY {
            return Err(SnapshotError::TooLarge);
        }
        let chunk = rest.get(..size).ok_or(SnapshotError::Malformed)?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or(SnapshotError::Malformed)?;
    }
}

/// How far a picture may be decoded, and how wide it comes out.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Largest width or height accepted, read from the header before anything is allocated.
    pub max_side: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
    /// Width of the re-encoded picture (a narrower one is kept as it is).
    pub width: u32,
}

/// A camera's snapshot for a tile.
pub const TILE: Bounds = Bounds { max_side: MAX_SIDE, max_alloc: 256 << 20, width: TILE_WIDTH };

/// The picture an alert carries: at most 32 KiB sent, so anything claiming more than
/// 4096 px a side is a decompression bomb, not a camera picture.
pub const ALERT_THUMBNAIL: Bounds = Bounds { max_side: 4096, max_alloc: 64 << 20, width: 320 };

/// Decodes a picture within bounds and re-encodes it as a JPEG at most [`TILE_WIDTH`] wide.
pub fn shrink(data: &[u8]) -> Result<Snapshot, SnapshotError> {
    shrink_within(data, TILE)
}

/// Decodes a picture within `bounds` and re-encodes it as a JPEG at most `bounds.width`
/// wide.
pub fn shrink_within(data: &[u8], bounds: Bounds) -> Result<Snapshot, SnapshotError> {
    let picture = decode_within(data, bounds)?;
    let picture = if picture.width() > bounds.width {
        let height = (u64::from(picture.height()) * u64::from(bounds.width) / u64::from(picture.width()))
            .max(1) as u32;
        picture.resize(bounds.width, height, image::imageops::FilterType::Triangle)
    } else {
        picture
    };
    let rgb = picture.to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&rgb)
        .map_err(|e| SnapshotError::NotAnImage(e.to_string()))?;
    Ok(Snapshot { jpeg, width: rgb.width(), height: rgb.height() })
}

/// Decodes a picture within `bounds`: its size is read from the header and refused
/// before anything is allocated.
pub fn decode_within(data: &[u8], bounds: Bounds) -> Result<image::DynamicImage, SnapshotError> {
    let mut reader = image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .map_err(|e| SnapshotError::NotAnImage(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(bounds.max_side);
    limits.max_image_height = Some(bounds.max_side);
    limits.max_alloc = Some(bounds.max_alloc);
    reader.limits(limits);
    reader.decode().map_err(|e| SnapshotError::NotAnImage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut out).encode_image(&img).unwrap();
        out
    }

    #[test]
    fn a_large_picture_is_shrunk_to_tile_width() {
        let s = shrink(&jpeg(1280, 720)).unwrap();
        assert_eq!((s.width, s.height), (640, 360));
        assert_eq!(&s.jpeg[..2], &[0xff, 0xd8]);
        let small = shrink(&jpeg(320, 180)).unwrap();
        assert_eq!((small.width, small.height), (320, 180));
    }

    #[test]
    fn garbage_and_truncated_pictures_are_errors() {
        assert!(matches!(shrink(b"not a picture"), Err(SnapshotError::NotAnImage(_))));
        let full = jpeg(64, 64);
        for cut in [0, 2, 20, full.len() / 2] {
            assert!(shrink(&full[..cut]).is_err(), "cut at {cut}");
        }
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..200 {
            let mut bytes = full.clone();
            for _ in 0..8 {
                let i = rng.usize(..bytes.len());
                bytes[i] = rng.u8(..);
            }
            let _ = shrink(&bytes); // an answer or an error, never a panic
        }
    }

    #[test]
    fn a_picture_claiming_huge_dimensions_is_refused_before_allocation() {
        // A JPEG frame header claiming 65535 x 65535 pixels, and nothing behind it.
        let mut bomb = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8, 0xff, 0xff, 0xff, 0xff, 3];
        bomb.extend_from_slice(&[1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9]);
        assert!(matches!(shrink(&bomb), Err(SnapshotError::NotAnImage(_))));
    }

    #[test]
    fn responses_are_checked() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_response(ok).unwrap(), b"abc");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), b"abcde");
        assert_eq!(parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n"), Err(SnapshotError::Unauthorized));
        assert_eq!(parse_response(b"HTTP/1.0 404 Not Found\r\n\r\n"), Err(SnapshotError::NotFound));
        assert_eq!(parse_response(b"HTTP/1.1 503 Busy\r\n\r\n"), Err(SnapshotError::Http(503)));
        assert_eq!(parse_response(b"garbage"), Err(SnapshotError::Malformed));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            Err(SnapshotError::Malformed)
        );
        let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert_eq!(parse_response(huge.as_bytes()), Err(SnapshotError::TooLarge));
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(parse_response(bad_chunk), Err(SnapshotError::Malformed));
    }
}

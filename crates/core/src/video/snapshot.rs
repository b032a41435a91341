//! Camera snapshots: one JPEG from a camera's HTTP snapshot endpoint, fetched, checked,
//! decoded within bounds and re-encoded at tile size, so a tile that cannot play still
//! shows the camera's picture. Whatever the camera sends, the answer is a small, valid
//! JPEG or a [`SnapshotError`]; nothing from the camera reaches the web view unchecked.
//! The camera is asked through the small HTTP client of `http.rs` (Digest before Basic;
//! `https` is not supported yet and says so).

use super::Credentials;
use super::http::{self, HttpError, MAX_BODY};
use crate::Secret;
use std::io::Cursor;
use std::time::Duration;

/// Largest picture decoded, in pixels per side.
pub const MAX_SIDE: u32 = 8192;
/// Width of the JPEG handed on (tiles are at most this wide).
pub const TILE_WIDTH: u32 = 640;
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
    #[error("the camera asks for its password in clear text (HTTP Basic without TLS): it was not sent")]
    ClearPassword,
}

impl From<HttpError> for SnapshotError {
    fn from(e: HttpError) -> SnapshotError {
        match e {
            HttpError::Unreachable => SnapshotError::Unreachable,
            HttpError::Unauthorized => SnapshotError::Unauthorized,
            HttpError::NotFound => SnapshotError::NotFound,
            HttpError::Status(status) => SnapshotError::Http(status),
            HttpError::Malformed => SnapshotError::Malformed,
            HttpError::TooLarge => SnapshotError::TooLarge,
            HttpError::Unsupported(what) => SnapshotError::Unsupported(what),
            HttpError::ClearPassword => SnapshotError::ClearPassword,
        }
    }
}

/// Fetches, checks and shrinks one snapshot.
pub async fn fetch(source: &SnapshotSource) -> Result<Snapshot, SnapshotError> {
    let get = http::get(source.url.expose(), "image/jpeg", source.credentials.as_ref());
    let body = tokio::time::timeout(TIMEOUT, get).await.map_err(|_| SnapshotError::Unreachable)??;
    // Decoding is CPU work: off the async workers.
    tokio::task::spawn_blocking(move || shrink(&body))
        .await
        .map_err(|_| SnapshotError::NotAnImage("decoder stopped".into()))?
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
}

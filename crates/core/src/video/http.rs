//! A deliberately tiny HTTP client for cameras (one GET, HTTP/1.1, `Connection: close`,
//! plain `http`): camera endpoints are simple, and a general client would bring far more
//! than they need. Every answer is read within bounds (head and body), chunked bodies
//! included. Credentials are sent only when the camera asks (a 401 with its challenges),
//! with the strongest scheme it offers: Digest (RFC 7616, as most IP cameras want) before
//! Basic, so a password never goes out in clear text to a camera that does not need it —
//! and a camera that offers only Basic over plain HTTP gets no password at all.
//! Snapshots (`snapshot.rs`) are its user.

use super::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response body accepted (a 4K camera's JPEG is about 1–2 MB).
pub const MAX_BODY: usize = 8 << 20;
const MAX_HEAD: usize = 16 << 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the camera cannot be reached")]
    Unreachable,
    #[error("the camera refused the credentials")]
    Unauthorized,
    #[error("the camera has nothing at this address")]
    NotFound,
    #[error("the camera answered HTTP {0}")]
    Status(u16),
    #[error("the camera's answer is not valid HTTP")]
    Malformed,
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    #[error("the camera asks for its password in clear text (HTTP Basic without TLS): it was not sent")]
    ClearPassword,
}

/// One GET of `url` (plain `http` only), answering the camera's challenge with
/// `credentials` if it asks for them: the body of a successful answer.
pub async fn get(
    url: &url::Url,
    accept: &str,
    credentials: Option<&Credentials>,
) -> Result<Vec<u8>, HttpError> {
    match url.scheme() {
        "http" => {}
        "https" => return Err(HttpError::Unsupported("https")),
        _ => return Err(HttpError::Unsupported("this address scheme")),
    }
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let first = parse_http(&exchange(url, &target, accept, None).await?)?;
    let (401, Some(credentials)) = (first.status, credentials) else {
        return first.into_body();
    };
    let authorization = answer_challenge(&first, &target, credentials, url.scheme() == "https")?;
    parse_http(&exchange(url, &target, accept, Some(&authorization)).await?)?.into_body()
}

/// The `Authorization` value answering a 401's challenges with the strongest scheme the
/// camera offers (Digest before Basic); Basic, which sends the password itself, only over
/// TLS.
fn answer_challenge(
    response: &HttpResponse,
    target: &str,
    credentials: &Credentials,
    tls: bool,
) -> Result<String, HttpError> {
    let mut builder = http_auth::PasswordClient::builder();
    for challenges in response.headers("www-authenticate") {
        builder = builder.challenges(challenges);
    }
    let mut client =
        builder.build().map_err(|_| HttpError::Unsupported("this camera's authentication scheme"))?;
    if matches!(client, http_auth::PasswordClient::Basic(_)) && !tls {
        return Err(HttpError::ClearPassword);
    }
    client
        .respond(&http_auth::PasswordParams {
            username: &credentials.username,
            password: credentials.password.expose(),
            uri: target,
            method: "GET",
            body: Some(&[]),
        })
        .map_err(|_| HttpError::Unsupported("this camera's authentication scheme"))
}

/// One GET on a new connection: the raw response, within bounds.
async fn exchange(
    url: &url::Url,
    target: &str,
    accept: &str,
    authorization: Option<&str>,
) -> Result<Vec<u8>, HttpError> {
    let host = url.host_str().ok_or(HttpError::Unreachable)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut conn = TcpStream::connect((host, port)).await.map_err(|_| HttpError::Unreachable)?;
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mimamori\r\nAccept: {accept}\r\nConnection: close\r\n"
    );
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes()).await.map_err(|_| HttpError::Unreachable)?;
    let mut response = Vec::new();
    // One byte over the limits tells "too large" from "exactly at the limit".
    let limit = (MAX_HEAD + MAX_BODY + 1) as u64;
    (&mut conn).take(limit).read_to_end(&mut response).await.map_err(|_| HttpError::Unreachable)?;
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
    fn into_body(self) -> Result<Vec<u8>, HttpError> {
        match self.status {
            200..=299 => Ok(self.body),
            401 | 403 => Err(HttpError::Unauthorized),
            404 => Err(HttpError::NotFound),
            other => Err(HttpError::Status(other)),
        }
    }
}

/// The body of an HTTP/1.x response, after checking its status.
pub fn parse_response(response: &[u8]) -> Result<Vec<u8>, HttpError> {
    parse_http(response)?.into_body()
}

/// Reads an HTTP/1.x response.
pub fn parse_http(response: &[u8]) -> Result<HttpResponse, HttpError> {
    let head_end =
        response.windows(4).take(MAX_HEAD).position(|w| w == b"\r\n\r\n").ok_or(HttpError::Malformed)?;
    let head = std::str::from_utf8(&response[..head_end]).map_err(|_| HttpError::Malformed)?.to_owned();
    let body = &response[head_end + 4..];
    let status: u16 = head
        .split("\r\n")
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::Malformed)?;
    let mut response = HttpResponse { status, head, body: vec![] };
    let chunked = response.headers("transfer-encoding").any(|v| v.eq_ignore_ascii_case("chunked"));
    let length = response.headers("content-length").next().map(str::to_owned);
    response.body = if chunked {
        dechunk(body)?
    } else {
        match length {
            Some(len) => {
                let len: usize = len.parse().map_err(|_| HttpError::Malformed)?;
                if len > MAX_BODY {
                    return Err(HttpError::TooLarge);
                }
                body.get(..len).map(<[u8]>::to_vec).ok_or(HttpError::Malformed)?
            }
            None if body.len() > MAX_BODY => return Err(HttpError::TooLarge),
            None => body.to_vec(),
        }
    };
    Ok(response)
}

/// Decodes a chunked body (RFC 9112 §7.1), within [`MAX_BODY`].
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or(HttpError::Malformed)?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| HttpError::Malformed)?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Malformed)?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(size) > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        let chunk = rest.get(..size).ok_or(HttpError::Malformed)?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or(HttpError::Malformed)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_checked() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_response(ok).unwrap(), b"abc");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), b"abcde");
        assert_eq!(parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n"), Err(HttpError::Unauthorized));
        assert_eq!(parse_response(b"HTTP/1.0 404 Not Found\r\n\r\n"), Err(HttpError::NotFound));
        assert_eq!(parse_response(b"HTTP/1.1 503 Busy\r\n\r\n"), Err(HttpError::Status(503)));
        assert_eq!(parse_response(b"garbage"), Err(HttpError::Malformed));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            Err(HttpError::Malformed)
        );
        let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert_eq!(parse_response(huge.as_bytes()), Err(HttpError::TooLarge));
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(parse_response(bad_chunk), Err(HttpError::Malformed));
    }
}

//! The HTTP edges of the client: a response body read with a size cap (a hostile server must
//! not exhaust memory), and the extra trusted roots of `--ca-cert`.

use bytes::BytesMut;

use super::{classify, ApiError, ErrorKind, MAX_BODY_BYTES};

/// Parses `--ca-cert` contents: one or more PEM certificates. reqwest (rustls) silently adds
/// nothing for a file without a `BEGIN CERTIFICATE` block, so an empty result is an error here:
/// a wrong file must not look like it was accepted.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    if certs.is_empty() {
        return Err(
            "not a PEM certificate: no `-----BEGIN CERTIFICATE-----` block found (convert a DER file with `openssl x509 -inform der -in ca.der -out ca.pem`)"
                .into(),
        );
    }
    Ok(certs)
}

/// Reads a body, refusing more than [`MAX_BODY_BYTES`].
pub(super) async fn read_capped(mut resp: reqwest::Response) -> Result<bytes::Bytes, ApiError> {
    if let Some(len) = resp.content_length() {
        if len > MAX_BODY_BYTES as u64 {
            return Err(ApiError::new(
                ErrorKind::BadResponse,
                Some(resp.status().as_u16()),
                format!(
                    "response body of {len} bytes is larger than the {MAX_BODY_BYTES}-byte limit"
                ),
            ));
        }
    }
    let status = resp.status().as_u16();
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify::transport)? {
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                ErrorKind::BadResponse,
                Some(status),
                format!("response body is larger than the {MAX_BODY_BYTES}-byte limit"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

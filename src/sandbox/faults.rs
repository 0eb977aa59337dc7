//! Injected failures (`--faults RATE --seed N`): a 500 error envelope, an nginx-style 502 or 503
//! with an HTML body (what a proxy in front of DocSpace sends, not the portal's JSON), or a
//! dropped connection.
//!
//! The choice for request number `n` depends only on `(seed, n)`, so the same seed and the same
//! arrival order give the same faults however requests interleave. Faults apply to every route,
//! `/api/2.0/authentication` included: a real gateway does not spare it either.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::dto::{self, Exception};

/// One injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 500 with the error envelope.
    Internal,
    /// 502 with an HTML body, as nginx sends when the backend is down.
    BadGateway,
    /// 503 with an HTML body.
    Unavailable,
    /// The connection is closed without a response.
    Drop,
}

/// Mixes the seed and the request number (SplitMix64), so neighbouring `n` are unrelated.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The fault for request `n` (0-based arrival index), if any; `share` is 0.0..=1.0.
pub(crate) fn pick(seed: u64, n: u64, share: f64) -> Option<Fault> {
    if share <= 0.0 {
        return None;
    }
    let mut rng = SmallRng::seed_from_u64(mix(seed, n));
    if rng.random::<f64>() >= share {
        return None;
    }
    Some(match rng.random_range(0..4u8) {
        0 => Fault::Internal,
        1 => Fault::BadGateway,
        2 => Fault::Unavailable,
        _ => Fault::Drop,
    })
}

fn html(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!(
        "<html><body><h1>{text}</h1></body></html>"
    )));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    resp
}

impl Fault {
    /// The response to send, or `None` to drop the connection.
    pub fn response(self) -> Option<Response<Body>> {
        match self {
            Fault::Internal => Some(dto::error(
                500,
                "Object reference not set to an instance of an object.",
                Exception::NullReference,
            )),
            Fault::BadGateway => Some(html(StatusCode::BAD_GATEWAY, "502 Bad Gateway")),
            Fault::Unavailable => Some(html(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Temporarily Unavailable",
            )),
            Fault::Drop => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_zero_and_one() {
        assert!((0..1000).all(|n| pick(1, n, 0.0).is_none()));
        assert!((0..1000).all(|n| pick(1, n, 1.0).is_some()));
    }

    #[test]
    fn repeatable_and_roughly_proportional() {
        let a: Vec<_> = (0..2000).map(|n| pick(7, n, 0.25)).collect();
        let b: Vec<_> = (0..2000).map(|n| pick(7, n, 0.25)).collect();
        assert_eq!(a, b);
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!((400..600).contains(&hits), "{hits}");
        for kind in [
            Fault::Internal,
            Fault::BadGateway,
            Fault::Unavailable,
            Fault::Drop,
        ] {
            assert!(a.contains(&Some(kind)));
        }
        let c: Vec<_> = (0..2000).map(|n| pick(8, n, 0.25)).collect();
        assert_ne!(a, c);
    }
}

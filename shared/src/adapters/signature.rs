//! HubSpot request signatures (`X-HubSpot-Signature-v3`, and v1/v2 for completeness).
//!
//! Pure functions over bytes, knowing nothing of HTTP, with the clock passed in so tests can
//! use HubSpot's published vectors. Comparison is constant-time (`Mac::verify_slice`).

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far a v3 timestamp may be from now, either way (HubSpot's guide: 5 minutes).
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Why a request's signature was not accepted. Every variant answers 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("X-HubSpot-Request-Timestamp is not a number of milliseconds")]
    BadTimestamp,
    #[error("X-HubSpot-Request-Timestamp is {skew_ms} ms away from now (at most 300000 allowed)")]
    Stale { skew_ms: i64 },
    #[error("X-HubSpot-Signature-v3 is not base64 of a 32-byte HMAC-SHA256")]
    Malformed,
    #[error("X-HubSpot-Signature-v3 does not match the request")]
    Mismatch,
}

/// The v3 signature HubSpot sends for a request: base64(HMAC-SHA256(secret,
/// method + uri + body + timestamp)). Also what tests use to sign requests of their own.
pub fn sign_v3(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp_ms: &str) -> String {
    BASE64.encode(
        v3_mac(secret, method, uri, body, timestamp_ms)
            .finalize()
            .into_bytes(),
    )
}

/// Checks a v3 signature. `uri` is the full URL HubSpot called; per HubSpot's guide it is
/// tried both as given and with the escapes HubSpot decodes before signing.
pub fn verify_v3(
    secret: &[u8],
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::MissingHeader("X-HubSpot-Signature-v3"))?;
    let timestamp =
        timestamp.ok_or(SignatureError::MissingHeader("X-HubSpot-Request-Timestamp"))?;
    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew_ms = now_ms.saturating_sub(sent_at);
    if skew_ms.abs() > MAX_SKEW_MS {
        return Err(SignatureError::Stale { skew_ms });
    }
    let expected = BASE64
        .decode(signature.trim())
        .map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let decoded_uri = decode_uri_for_signing(uri);
    let candidates =
        std::iter::once(uri).chain((decoded_uri != uri).then_some(decoded_uri.as_str()));
    for candidate in candidates {
        let mac = v3_mac(secret, method, candidate, body, timestamp);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// v1: hex(sha256(client_secret + body)). Older apps' signature; it has no timestamp, so it
/// cannot stop replays and the bridge does not accept it, but the vectors keep it honest.
pub fn sign_v1(secret: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// v2: hex(sha256(client_secret + method + uri + body)).
pub fn sign_v2(secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    hasher.update(method.as_bytes());
    hasher.update(uri.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// The URI with the escapes HubSpot's guide says it decodes before signing.
pub fn decode_uri_for_signing(uri: &str) -> String {
    const ESCAPES: [(&str, &str); 12] = [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(index) = rest.find('%') {
        out.push_str(&rest[..index]);
        let candidate = rest.get(index..index + 3).unwrap_or("");
        match ESCAPES
            .iter()
            .find(|(escape, _)| escape.eq_ignore_ascii_case(candidate))
        {
            Some((_, plain)) => {
                out.push_str(plain);
                rest = &rest[index + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[index + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn v3_mac(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// HubSpot's known-answer vectors, from the vendored contract documents (`specs/`).
    const VECTORS: &str = include_str!("../../../specs/hubspot/signature-test-vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).expect("vectors are JSON")
    }

    fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
        vector[name]
            .as_str()
            .unwrap_or_else(|| panic!("vector field {name}"))
    }

    #[test]
    fn v1_known_answers() {
        let all = vectors();
        let list = all["v1"].as_array().unwrap();
        assert!(!list.is_empty());
        for v in list {
            let got = sign_v1(field(v, "client_secret"), field(v, "body").as_bytes());
            assert_eq!(got, field(v, "expected_x_hubspot_signature"));
        }
    }

    #[test]
    fn v2_known_answers() {
        let all = vectors();
        let list = all["v2"].as_array().unwrap();
        assert!(!list.is_empty());
        for v in list {
            let got = sign_v2(
                field(v, "client_secret"),
                field(v, "method"),
                field(v, "uri"),
                field(v, "body").as_bytes(),
            );
            assert_eq!(got, field(v, "expected_x_hubspot_signature"));
        }
    }

    #[test]
    fn v3_known_answers_sign_and_verify() {
        let all = vectors();
        let list = all["v3"].as_array().unwrap();
        assert!(!list.is_empty());
        for v in list {
            let secret = field(v, "client_secret").as_bytes();
            let timestamp = field(v, "x_hubspot_request_timestamp");
            let expected = field(v, "expected_x_hubspot_signature_v3");
            let (method, uri, body) = (field(v, "method"), field(v, "uri"), field(v, "body"));
            assert_eq!(
                sign_v3(secret, method, uri, body.as_bytes(), timestamp),
                expected
            );
            let now: i64 = timestamp.parse::<i64>().unwrap() + 1_000;
            assert_eq!(
                verify_v3(
                    secret,
                    method,
                    uri,
                    body.as_bytes(),
                    Some(timestamp),
                    Some(expected),
                    now
                ),
                Ok(())
            );
            let tampered = body.replace("3814323381", "3814323382");
            assert_eq!(
                verify_v3(
                    secret,
                    method,
                    uri,
                    tampered.as_bytes(),
                    Some(timestamp),
                    Some(expected),
                    now
                ),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn v3_refuses_stale_missing_and_malformed() {
        let secret = b"secret";
        let uri = "https://bridge.example.com/hubspot/webhook";
        let now = 1_700_000_000_000_i64;
        let ts = now.to_string();
        let good = sign_v3(secret, "POST", uri, b"[]", &ts);
        let check = |ts: Option<&str>, sig: Option<&str>, now: i64| {
            verify_v3(secret, "POST", uri, b"[]", ts, sig, now)
        };
        assert_eq!(check(Some(&ts), Some(&good), now), Ok(()));
        assert_eq!(
            check(Some(&ts), Some(&good), now + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale {
                skew_ms: MAX_SKEW_MS + 1
            })
        );
        assert!(matches!(
            check(Some(&ts), Some(&good), now - MAX_SKEW_MS - 1),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            check(None, Some(&good), now),
            Err(SignatureError::MissingHeader("X-HubSpot-Request-Timestamp"))
        );
        assert_eq!(
            check(Some(&ts), None, now),
            Err(SignatureError::MissingHeader("X-HubSpot-Signature-v3"))
        );
        assert_eq!(
            check(Some("soon"), Some(&good), now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(Some(&ts), Some("AAAA"), now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(Some(&ts), Some("not base64!"), now),
            Err(SignatureError::Malformed)
        );
        let wrong_key = sign_v3(b"other", "POST", uri, b"[]", &ts);
        assert_eq!(
            check(Some(&ts), Some(&wrong_key), now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn v3_accepts_a_signature_over_the_decoded_uri() {
        let secret = b"secret";
        let ts = "1700000000000";
        let raw = "https://bridge.example.com/hubspot/webhook?portal=a%3Ab";
        let signed_decoded = sign_v3(
            secret,
            "POST",
            "https://bridge.example.com/hubspot/webhook?portal=a:b",
            b"{}",
            ts,
        );
        assert_eq!(
            verify_v3(
                secret,
                "POST",
                raw,
                b"{}",
                Some(ts),
                Some(&signed_decoded),
                1_700_000_000_000
            ),
            Ok(())
        );
    }

    #[test]
    fn decoding_leaves_other_escapes_alone() {
        assert_eq!(decode_uri_for_signing("a%2Fb%20c%"), "a/b%20c%");
    }
}

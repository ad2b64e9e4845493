//! Any signature, timestamp, URI and body: verification answers yes or why not, never panics,
//! and never says yes to a signature it did not compute.
#![no_main]

use hitl_bridge::adapters::signature::{sign_v3, verify_v3};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |byte| *byte == 0);
    let text = |part: Option<&[u8]>| String::from_utf8_lossy(part.unwrap_or_default()).into_owned();
    let (signature, timestamp, uri) = (text(parts.next()), text(parts.next()), text(parts.next()));
    let body = parts.next().unwrap_or_default();
    let secret = b"fuzz-client-secret";
    let now = 1_700_000_000_000;
    let verdict = verify_v3(secret, "POST", &uri, body, Some(&timestamp), Some(&signature), now);
    if verdict.is_ok() {
        // Only a signature computed with the secret may pass.
        let expected = sign_v3(secret, "POST", &uri, body, &timestamp);
        let decoded = sign_v3(secret, "POST", &hitl_bridge::adapters::signature::decode_uri_for_signing(&uri), body, &timestamp);
        assert!(signature.trim() == expected || signature.trim() == decoded);
    }
});

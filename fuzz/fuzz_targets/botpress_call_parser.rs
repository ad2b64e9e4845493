//! Any headers and body a Botpress call can carry: authentication and the call reader answer
//! a value or a message, never panic. The input is split into header values and a body.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const HEADERS: [&str; 6] = [
    "x-bp-operation",
    "x-bp-configuration",
    "x-bot-id",
    "x-integration-id",
    "x-integration-alias",
    "x-webhook-id",
];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|byte| *byte == 0);
    let mut headers = HeaderMap::new();
    for name in HEADERS {
        if let Some(value) = parts.next()
            && let Ok(value) = HeaderValue::from_bytes(value)
        {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let body: Vec<u8> = parts.flat_map(|part| part.iter().copied().chain([0])).collect();
    let secret = secrecy::SecretString::from("fuzz-shared-secret");
    let _ = hitl_bridge::http::parsing::authenticate_botpress(&headers, &secret);
    let _ = hitl_bridge::http::parsing::read_botpress_call(&headers, &body);
});

//! Any body HubSpot (or anyone who got past the signature) posts: the parser answers events
//! or a message, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = hitl_bridge::http::parsing::read_hubspot_delivery(body);
});

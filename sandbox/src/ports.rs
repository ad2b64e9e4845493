//! Ports for child processes that must be told where to listen (Prism, `hitl serve`).
//!
//! The usual trick (bind port 0, read the port, close, hand it to the child) races: between the
//! close and the child's bind, the kernel can give the same port to anything else that binds
//! port 0 or opens an outgoing connection, since both draw from the ephemeral range
//! (`net.ipv4.ip_local_port_range`). With tests running in parallel, each making hundreds of
//! connections, that happened in CI (`listen EADDRINUSE` from Prism). A port below the ephemeral
//! range is never handed out by the kernel, so once this process has checked it is free, only
//! another process choosing the same port at random, in the same instant, could take it; callers
//! that can see the child fail to bind ([`is_address_in_use`]) ask again.

use std::net::TcpListener;
use std::ops::Range;

use rand::Rng;

/// Where ports are drawn from when the kernel's ephemeral range cannot be read.
const FALLBACK_EPHEMERAL_START: u16 = 32768;
/// The lowest port drawn: above the registered services most machines run (databases, brokers
/// and dev servers sit mostly below 10000).
const LOWEST: u16 = 10000;
/// How many random ports are tried before giving up.
const ATTEMPTS: usize = 64;

/// A port on 127.0.0.1 that is free now and that the kernel will not hand to anyone else's
/// port-0 bind or outgoing connection, for a child process to listen on.
pub fn port_for_a_child() -> std::io::Result<u16> {
    let range = draw_range(ephemeral_start());
    let mut random = rand::rng();
    for _ in 0..ATTEMPTS {
        let port = random.random_range(range.clone());
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(format!(
        "no free port on 127.0.0.1 in {range:?} after {ATTEMPTS} tries"
    )))
}

/// Whether a child's output says its listening port was taken (Node: `EADDRINUSE`; Rust:
/// `Address already in use`), so the caller can start it again on another port.
pub fn is_address_in_use(output: &str) -> bool {
    output.contains("EADDRINUSE") || output.contains("Address already in use")
}

/// The first port of the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(FALLBACK_EPHEMERAL_START)
}

/// Ports from [`LOWEST`] up to the ephemeral range; if that range starts too low to leave any,
/// the ports above 49152 (IANA's dynamic range) with a bind check are the best there is.
fn draw_range(ephemeral_start: u16) -> Range<u16> {
    if ephemeral_start > LOWEST + 1000 {
        LOWEST..ephemeral_start
    } else {
        49152..u16::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_drawn_below_the_ephemeral_range() {
        assert_eq!(draw_range(32768), 10000..32768);
        assert_eq!(draw_range(1024), 49152..u16::MAX);
        let port = port_for_a_child().unwrap();
        let range = draw_range(ephemeral_start());
        assert!(range.contains(&port), "{port} is outside {range:?}");
    }

    #[test]
    fn the_port_handed_out_is_free_to_bind() {
        let port = port_for_a_child().unwrap();
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
    }

    #[test]
    fn address_in_use_is_recognised_from_node_and_rust() {
        assert!(is_address_in_use(
            "listen EADDRINUSE: address already in use 127.0.0.1:46009"
        ));
        assert!(is_address_in_use(
            "Error: Address already in use (os error 98)"
        ));
        assert!(!is_address_in_use(
            "Prism is listening on http://127.0.0.1:4010"
        ));
    }
}

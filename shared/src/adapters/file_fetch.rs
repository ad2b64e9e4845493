//! Downloads the files customers send (an SSRF surface: the URL comes from a message).
//!
//! Only `https`, only public addresses, checked on the addresses actually connected to: IP
//! literals before the request, host names in the DNS resolver the client connects with, so a
//! name that resolves to 127.0.0.1 is refused and there is no second resolution to race.
//! Proxies from the environment are ignored (a proxy would resolve the name itself). Redirects
//! are followed by hand, a few hops, each hop checked like the first. The answer must have an
//! allowed `Content-Type` and is read chunk by chunk, stopping at the size cap.
//!
//! Tests reach the simulators over plain HTTP on 127.0.0.1 through [`FetchPolicy::test_origins`]:
//! a deployment setting (`FILE_FETCH_TEST_ORIGINS`, set only by the sandbox), never request
//! input, and only exact `http://IP:port` origins.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, Url, header};

use super::budget;
use crate::model::channel_limits::{self, MAX_FILE_BYTES};
use crate::ports::{FetchError, FetchedFile, FileSource};

/// Redirect hops followed, each re-checked.
const MAX_REDIRECTS: usize = 3;
/// A whole fetch (every hop and the body), and never past the request's time budget: each
/// hop has its own 8 s timeout, and four of them would outlast the function.
const WHOLE_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the fetcher may reach.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    pub max_bytes: u64,
    /// Origins (`http://127.0.0.1:8081`) reachable over plain HTTP at a private address: the
    /// sandbox's simulators. Empty in production.
    pub test_origins: Vec<Url>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            max_bytes: MAX_FILE_BYTES,
            test_origins: Vec::new(),
        }
    }
}

impl FetchPolicy {
    /// Reads `FILE_FETCH_TEST_ORIGINS`: comma-separated `http://IP:port` origins.
    pub fn with_test_origins(list: &str) -> Result<Self, String> {
        let mut policy = Self::default();
        for origin in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let url = Url::parse(origin)
                .map_err(|e| format!("FILE_FETCH_TEST_ORIGINS: `{origin}` is not a URL: {e}"))?;
            let is_ip = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
            if !is_ip || url.port().is_none() || url.path() != "/" {
                return Err(format!(
                    "FILE_FETCH_TEST_ORIGINS: `{origin}` must be an origin with an IP address and a port, such as http://127.0.0.1:8081"
                ));
            }
            policy.test_origins.push(url);
        }
        Ok(policy)
    }

    fn is_test_origin(&self, url: &Url) -> bool {
        self.test_origins.iter().any(|origin| {
            origin.scheme() == url.scheme()
                && origin.host() == url.host()
                && origin.port_or_known_default() == url.port_or_known_default()
        })
    }
}

/// The fetcher the relay uses.
pub struct SafeFileFetcher {
    http: reqwest::Client,
    policy: FetchPolicy,
}

impl SafeFileFetcher {
    pub fn new(policy: FetchPolicy) -> Self {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnlyResolver))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(8))
            .user_agent(concat!("hitl-bridge/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(super::tls::rustls_client_config())
            .build()
            .expect("the file fetcher's settings are valid");
        Self { http, policy }
    }

    /// Refuses a URL the fetcher must not reach, before any connection.
    fn check(&self, url: &Url) -> Result<(), FetchError> {
        if self.policy.is_test_origin(url) {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(refused(format!(
                "the file URL must use https, not `{}`",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("the file URL must not carry credentials"));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(refused("the file URL has no host")),
        };
        if let Some(ip) = literal
            && !is_public(ip)
        {
            return Err(refused(format!(
                "the file URL points at {ip}, a private, loopback, link-local or otherwise non-public address"
            )));
        }
        Ok(())
    }

    async fn read(&self, response: reqwest::Response) -> Result<FetchedFile, FetchError> {
        let name = file_name(response.url());
        let content_type = channel_limits::relayed_type(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default(),
            &name,
        );
        if !channel_limits::is_allowed_mime_type(&content_type) {
            // Read by the agent, in the note that stands for the file: the type as the file's
            // server gave it, cut short, and not the whole list the README gives.
            let shown: String = if content_type.is_empty() {
                "none".to_string()
            } else {
                content_type.chars().take(100).collect()
            };
            return Err(refused(format!(
                "files of type `{shown}` cannot be sent to the help desk"
            )));
        }
        let max = self.policy.max_bytes;
        if response.content_length().is_some_and(|length| length > max) {
            return Err(too_large(max));
        }
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(format!("reading the file failed: {}", describe(&e))))?
        {
            if bytes.len() as u64 + chunk.len() as u64 > max {
                return Err(too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedFile {
            name,
            content_type,
            bytes,
        })
    }
}

#[async_trait]
impl FileSource for SafeFileFetcher {
    async fn fetch(&self, url: &str) -> Result<FetchedFile, FetchError> {
        let limit =
            budget::remaining().map_or(WHOLE_FETCH_TIMEOUT, |left| left.min(WHOLE_FETCH_TIMEOUT));
        // Cut off in flight if need be: a GET has no effect to leave half-done.
        tokio::time::timeout(limit, self.fetch_following_redirects(url))
            .await
            .unwrap_or_else(|_| {
                Err(unavailable(format!(
                    "the file could not be fetched within {} s; try again later",
                    limit.as_secs_f32().ceil()
                )))
            })
    }
}

/// Whether the file's server said to come back later: a 5xx, a rate limit, or the two 4xx
/// that are about the moment, not the file (408 it timed the request out, 425 too early).
fn may_pass(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY
        )
}

impl SafeFileFetcher {
    async fn fetch_following_redirects(&self, url: &str) -> Result<FetchedFile, FetchError> {
        let mut url = Url::parse(url)
            .map_err(|error| refused(format!("the file URL is not a valid URL: {error}")))?;
        for _ in 0..=MAX_REDIRECTS {
            self.check(&url)?;
            let response = self.http.get(url.clone()).send().await.map_err(classify)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| {
                        refused(format!("the file URL answered {status} without a Location"))
                    })?;
                url = url.join(location).map_err(|e| {
                    refused(format!("the file URL redirects to an invalid URL: {e}"))
                })?;
                continue;
            }
            if may_pass(status) {
                return Err(unavailable(format!(
                    "the file's server answered {status}; try again later"
                )));
            }
            if !status.is_success() {
                return Err(refused(format!("the file URL answered {status}")));
            }
            return self.read(response).await;
        }
        Err(refused(format!(
            "the file URL redirects more than {MAX_REDIRECTS} times"
        )))
    }
}

fn refused(message: impl Into<String>) -> FetchError {
    FetchError::Refused(message.into())
}

fn unavailable(message: impl Into<String>) -> FetchError {
    FetchError::Unavailable(message.into())
}

fn too_large(max: u64) -> FetchError {
    refused(format!(
        "the file is larger than the {} MB the help desk channel accepts",
        max / (1024 * 1024)
    ))
}

/// The file's name for the file manager: the URL path's last segment.
fn file_name(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_string))
        .map(|segment| {
            percent_decode(&segment)
                .chars()
                .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
                .take(100)
                .collect::<String>()
        })
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "attachment".to_string())
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("n={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| segment.to_string())
}

/// A refused address from the resolver is the caller's fault; anything else may pass.
fn classify(error: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(refusal) = current.downcast_ref::<NonPublicAddress>() {
            return refused(refusal.to_string());
        }
        source = current.source();
    }
    unavailable(format!("fetching the file failed: {}", describe(&error)))
}

/// A transport error without the URL (which may carry a customer's data).
fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    }
}

/// The resolver the fetcher connects with: the system's, minus every non-public address.
struct PublicOnlyResolver;

#[derive(Debug)]
struct NonPublicAddress(String);

impl fmt::Display for NonPublicAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the file URL's host `{}` resolves to a private, loopback, link-local or otherwise non-public address",
            self.0
        )
    }
}

impl StdError for NonPublicAddress {}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() || addresses.iter().any(|address| !is_public(address.ip())) {
                return Err(Box::new(NonPublicAddress(host)) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Whether an address is on the public internet: not private, loopback, link-local (cloud
/// metadata lives at 169.254.169.254), unique-local, CGNAT, multicast, unspecified, reserved or
/// documentation, in any IPv4-in-IPv6 form either.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96): judge the embedded IPv4 address.
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback()
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        let [_, _, _, _, _, _, high, low] = segments;
        let v4 = Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
        return is_public_v4(v4);
    }
    // 6to4 (2002::/16) embeds an IPv4 address too.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        return is_public_v4(v4);
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0); // Teredo
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_in_every_form_are_refused() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(!public(address), "{address} must be refused");
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(address), "{address} is public");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let fetcher = SafeFileFetcher::new(FetchPolicy::default());
        let check = |url: &str| fetcher.check(&Url::parse(url).unwrap());
        assert!(
            matches!(check("http://example.com/a.png"), Err(FetchError::Refused(m)) if m.contains("https"))
        );
        assert!(matches!(
            check("https://127.0.0.1/a.png"),
            Err(FetchError::Refused(_))
        ));
        assert!(matches!(
            check("https://169.254.169.254/latest/meta-data"),
            Err(FetchError::Refused(_))
        ));
        assert!(matches!(
            check("https://[::ffff:127.0.0.1]/a"),
            Err(FetchError::Refused(_))
        ));
        assert!(matches!(
            check("https://user:pw@example.com/a"),
            Err(FetchError::Refused(_))
        ));
        assert!(check("https://example.com/a.png").is_ok());
    }

    #[test]
    fn only_exact_test_origins_are_relaxed() {
        let policy = FetchPolicy::with_test_origins("http://127.0.0.1:8081").unwrap();
        let fetcher = SafeFileFetcher::new(policy);
        let check = |url: &str| fetcher.check(&Url::parse(url).unwrap());
        assert!(check("http://127.0.0.1:8081/files/a.png").is_ok());
        assert!(check("http://127.0.0.1:8082/files/a.png").is_err());
        assert!(check("https://127.0.0.1:8081/files/a.png").is_err());
        assert!(FetchPolicy::with_test_origins("http://localhost:8081").is_err());
        assert!(FetchPolicy::with_test_origins("http://127.0.0.1").is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_by_the_resolver() {
        let fetcher = SafeFileFetcher::new(FetchPolicy::default());
        match fetcher.fetch("https://localhost:9/a.png").await {
            Err(FetchError::Refused(message)) => {
                assert!(message.contains("localhost"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// A local file server standing in for the sandbox's, reachable as a test origin.
    async fn file_server() -> (String, SafeFileFetcher) {
        use axum::{Router, body::Body, http::header, response::IntoResponse, routing::get};
        let chunked = || async {
            // No Content-Length: only reading chunk by chunk can notice the size.
            let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(vec![1u8; 600]));
            (
                [(header::CONTENT_TYPE, "image/png")],
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        };
        let app = Router::new()
            .route("/big.png", get(chunked))
            .route(
                "/small.png",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![2u8; 10]) }),
            )
            .route(
                "/page.html",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<p>") }),
            )
            .route(
                "/scan.pdf",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/octet-stream")],
                        vec![3u8; 10],
                    )
                }),
            )
            .route(
                "/tool.exe",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/octet-stream")],
                        vec![4u8; 10],
                    )
                }),
            )
            .route(
                "/moved",
                get(|| async { axum::response::Redirect::temporary("/small.png") }),
            )
            .route(
                "/slow.png",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    ([(header::CONTENT_TYPE, "image/png")], vec![2u8; 10])
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut policy = FetchPolicy::with_test_origins(&origin).unwrap();
        policy.max_bytes = 1_000;
        (origin, SafeFileFetcher::new(policy))
    }

    #[tokio::test]
    async fn bodies_are_capped_while_streaming_and_types_checked() {
        let (origin, fetcher) = file_server().await;
        match fetcher.fetch(&format!("{origin}/big.png")).await {
            Err(FetchError::Refused(message)) => assert!(message.contains("larger"), "{message}"),
            other => panic!("expected the size refusal, got {other:?}"),
        }
        match fetcher.fetch(&format!("{origin}/page.html")).await {
            Err(FetchError::Refused(message)) => {
                assert!(message.contains("text/html"), "{message}")
            }
            other => panic!("expected the type refusal, got {other:?}"),
        }
        let file = fetcher.fetch(&format!("{origin}/moved")).await.unwrap();
        assert_eq!(
            (
                file.name.as_str(),
                file.content_type.as_str(),
                file.bytes.len()
            ),
            ("small.png", "image/png", 10)
        );
        // An object store's `application/octet-stream`: typed by the name, if it names an
        // allowed type.
        let scan = fetcher.fetch(&format!("{origin}/scan.pdf")).await.unwrap();
        assert_eq!(scan.content_type, "application/pdf");
        match fetcher.fetch(&format!("{origin}/tool.exe")).await {
            Err(FetchError::Refused(message)) => {
                assert!(message.contains("application/octet-stream"), "{message}")
            }
            other => panic!("expected the type refusal, got {other:?}"),
        }
        match fetcher.fetch(&format!("{origin}/missing.png")).await {
            Err(FetchError::Refused(message)) => assert!(message.contains("404"), "{message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_server_saying_come_back_later_is_tried_again_and_one_refusing_is_not() {
        for status in [408, 425, 429, 500, 503] {
            assert!(may_pass(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [400, 401, 403, 404, 410, 451] {
            assert!(!may_pass(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }

    #[tokio::test]
    async fn a_fetch_ends_with_the_request_budget() {
        let (origin, fetcher) = file_server().await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        let started = std::time::Instant::now();
        let fetched =
            budget::with_deadline(deadline, fetcher.fetch(&format!("{origin}/slow.png"))).await;
        match fetched {
            Err(FetchError::Unavailable(message)) => {
                assert!(message.contains("within 1 s"), "{message}")
            }
            other => panic!("expected a retryable failure, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "cut at the budget"
        );
    }

    #[test]
    fn file_names_come_from_the_path() {
        let name = |url: &str| file_name(&Url::parse(url).unwrap());
        assert_eq!(
            name("https://x.test/a/photo%20one.png?sig=1"),
            "photo one.png"
        );
        assert_eq!(name("https://x.test/"), "attachment");
    }
}

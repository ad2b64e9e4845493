//! The one TLS configuration of a process: rustls with aws-lc-rs, trusting Mozilla's root
//! certificates compiled into the binary (`webpki-roots`), shared by every HTTP client — the
//! AWS SDK's (`aws_http.rs`), and reqwest's for HubSpot, Botpress and customers' files.
//!
//! Why compiled-in roots: the platform's store is read from disk on every cold start, and each
//! library read it again for itself (the SDK from `/etc/ssl/certs/ca-certificates.crt`,
//! reqwest's platform verifier from every file under `/etc/ssl/certs`): ~2.5 ms each, half the
//! bridge's own init time (docs/PERFORMANCE.md). `webpki-roots` holds them already reduced to
//! trust anchors, so a cold start parses nothing: they are the same on a laptop and on Lambda.
//! Every service the bridge calls (AWS, HubSpot, Botpress, public file hosts) chains to a root
//! in Mozilla's program.

use std::sync::{Arc, LazyLock};

use rustls::RootCertStore;

/// The roots, built once per process (a copy of a static table: nothing to parse).
static ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    Arc::new(RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
});

/// A rustls client configuration over the compiled-in roots, for reqwest
/// (`ClientBuilder::tls_backend_preconfigured`).
pub fn rustls_client_config() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports rustls's default protocol versions")
    .with_root_certificates(Arc::clone(&ROOTS))
    .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozillas_roots_are_trusted_among_them_the_one_aws_endpoints_chain_to() {
        assert!(ROOTS.len() > 100, "only {} roots", ROOTS.len());
        // DynamoDB's and Secrets Manager's certificates chain to Amazon Root CA 1.
        let names_amazon_root_ca_1 = |subject: &[u8]| {
            subject
                .windows(b"Amazon Root CA 1".len())
                .any(|window| window == b"Amazon Root CA 1")
        };
        assert!(
            ROOTS
                .roots
                .iter()
                .any(|anchor| names_amazon_root_ca_1(anchor.subject.as_ref())),
            "Amazon Root CA 1 is not among the roots"
        );
    }
}

//! The one TLS configuration of a process: rustls with aws-lc-rs, trusting Mozilla's root
//! certificates compiled into the binary (`webpki-root-certs`), shared by every HTTP client —
//! the AWS SDK's, and reqwest's for HubSpot, Botpress and customers' files.
//!
//! Why compiled-in roots: the platform's store is read from disk on every cold start, and each
//! library read it again for itself (the SDK from `/etc/ssl/certs/ca-certificates.crt`,
//! reqwest's platform verifier from every file under `/etc/ssl/certs`): ~2.5 ms each, half the
//! bridge's own init time (docs/PERFORMANCE.md). Compiled in, they cost ~0.1 ms to parse and
//! are the same on a laptop and on Lambda. Every service the bridge calls (AWS, HubSpot,
//! Botpress, public file hosts) chains to a root in Mozilla's program.

use std::sync::{Arc, LazyLock};

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use base64::Engine;
use rustls::RootCertStore;

/// The roots, parsed once per process.
static ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    Arc::new(roots)
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

/// The AWS SDK's HTTPS client over the same roots (its trust store takes PEM, so the roots are
/// handed over in that form; the SDK parses them when it first connects).
pub fn aws_http_client() -> SharedHttpClient {
    let trust_store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(roots_as_pem());
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("the trust store holds only valid certificates");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The compiled-in roots as one PEM bundle.
fn roots_as_pem() -> Vec<u8> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut pem = String::with_capacity(170 * 1024);
    for certificate in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64.encode(certificate.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    #[test]
    fn the_pem_bundle_holds_every_compiled_in_root_unchanged() {
        let pem = roots_as_pem();
        let decoded: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(decoded, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
    }

    #[test]
    fn every_compiled_in_root_is_trusted() {
        assert!(ROOTS.len() > 100, "only {} roots parsed", ROOTS.len());
        assert_eq!(ROOTS.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }
}

//! TLS for the listeners (docs/deploy.md#tls): the certificate chain and key of a config section
//! (`server`, `external_events`) read from PEM files into a rustls server configuration. Every
//! failure names the setting to fix, so a boot with a bad pair stops with a message an operator
//! can act on.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// The crypto provider of every TLS connection Gofer accepts (ring; no OpenSSL, no C toolchain).
#[expect(
    deprecated,
    reason = "ring has no post-quantum key exchange; aws-lc-rs would need a C toolchain to build"
)]
fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The rustls configuration for the section's `tls_cert_path` (a PEM chain, leaf first) and
/// `tls_key_path` (a PEM private key: PKCS#8, PKCS#1 or SEC1). Answers HTTP/1.1 only.
pub fn server_config(
    section: &str,
    cert_path: &str,
    key_path: &str,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let cert_setting = format!("{section}.tls_cert_path");
    let key_setting = format!("{section}.tls_key_path");
    let cert_pem = std::fs::read(cert_path)
        .map_err(|e| format!("{cert_setting}: cannot read {cert_path}: {e}"))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert_setting}: {cert_path} is not a valid PEM file: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "{cert_setting}: {cert_path} holds no certificate (expected PEM \
             '-----BEGIN CERTIFICATE-----' blocks, the server's certificate first)"
        ));
    }
    let key_pem = std::fs::read(key_path)
        .map_err(|e| format!("{key_setting}: cannot read {key_path}: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{key_setting}: {key_path} holds no private key (expected a PEM 'PRIVATE KEY', \
             'RSA PRIVATE KEY' or 'EC PRIVATE KEY' block)"
        ),
        other => format!("{key_setting}: {key_path} is not a valid PEM private key: {other}"),
    })?;
    // AES-128-GCM first, and the server's order over the client's: as safe as AES-256 for TLS and
    // cheaper per byte, which an API answering lists of runs spends most of its TLS time on
    // (docs/benchmarks.md#tls).
    let mut provider = ring();
    provider.cipher_suites.sort_by_key(|suite| {
        !matches!(
            suite.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{section}: TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "{key_setting}: the key in {key_path} does not belong to the certificate in \
                 {cert_path} ({cert_setting})"
            ),
            other => format!("{key_setting}: cannot use the key in {key_path}: {other}"),
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// The acceptor for a section whose `use_tls` is on; `None` when it is off.
pub fn acceptor(
    section: &str,
    use_tls: bool,
    cert_path: &str,
    key_path: &str,
) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    if !use_tls {
        return Ok(None);
    }
    server_config(section, cert_path, key_path).map(|c| Some(tokio_rustls::TlsAcceptor::from(c)))
}

/// The configuration of the server's own HTTPS calls (notifications, extensions over TLS): the
/// system's CA certificates, plus `extra_ca` (PEM) when given.
pub fn client_config(extra_ca: Option<&[u8]>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = extra_ca {
        for cert in CertificateDer::pem_slice_iter(pem).flatten() {
            let _ = roots.add(cert);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(ring()))
        .with_safe_default_protocol_versions();
    let mut config = match builder {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The provider is ring's, whose defaults always build.
        Err(e) => unreachable!("ring's protocol versions: {e}"),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// A `reqwest` client builder that speaks TLS with [`client_config`] (reqwest is built without
/// a crypto provider of its own).
pub fn http_client_builder(extra_ca: Option<&[u8]>) -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(client_config(extra_ca))
}

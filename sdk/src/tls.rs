//! How the client checks an `https://` server (docs/deploy.md#tls): the system's CA
//! certificates plus an optional CA file (a private CA, or a self-signed server certificate,
//! which is then trusted exactly), one pinned certificate, or, when asked explicitly, no check
//! at all.

use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// TLS options of a [`crate::Client`].
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted in addition to the system's.
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate. Only for a test server you cannot give a CA file for:
    /// anyone on the path can read and change the traffic.
    pub insecure_skip_verify: bool,
    /// PEM text whose first certificate is the one the server must present: that certificate
    /// is accepted whatever its names and issuer, and no other is. Extensions are given the
    /// API's this way (`GOFER_EXTENSION_SYSTEM_GOFER_CERT`), because they reach it at an address
    /// its certificate need not name.
    pub pinned_cert: Option<String>,
}

/// The crypto provider of the client's TLS connections (ring; no OpenSSL).
#[expect(
    deprecated,
    reason = "ring has no post-quantum key exchange; aws-lc-rs would need a C toolchain to build"
)]
fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring())
}

/// Makes ring the process's default TLS provider, for `reqwest` clients built without
/// [`crate::Client`] (reqwest has no provider of its own in this workspace). Idempotent.
pub fn install_crypto_provider() {
    // An error only says a provider is installed already.
    let _ = ring().install_default();
}

/// The configuration of a client of a plain-HTTP server: it never makes a TLS connection, so it
/// trusts nothing and reads no certificate files.
pub(crate) fn unused_config() -> Result<rustls::ClientConfig, Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            message: e.to_string(),
        })?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// The rustls client configuration for `options` (HTTP/1.1).
pub fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig, Error> {
    let invalid = |message: String| Error::Tls { message };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?;
    let mut config = if let Some(pem) = &options.pinned_cert {
        let leaf = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| invalid("the pinned server certificate is not PEM text".to_owned()))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked {
                pin: Some(leaf),
                provider: provider(),
            }))
            .with_no_client_auth()
    } else if options.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked {
                pin: None,
                provider: provider(),
            }))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped: a CA file may be all that is needed.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &options.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(format!("tls_ca_cert: cannot read {}: {e}", path.display()))
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    invalid(format!(
                        "tls_ca_cert: {} is not a valid PEM file: {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(invalid(format!(
                    "tls_ca_cert: {} holds no PEM certificate",
                    path.display()
                )));
            }
            for cert in &certs {
                roots.add(cert.clone()).map_err(|e| {
                    invalid(format!(
                        "tls_ca_cert: {} holds a certificate that cannot be used as a CA: {e}",
                        path.display()
                    ))
                })?;
            }
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| invalid(format!("tls_ca_cert: {}: {e}", path.display())))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustedFile {
                    webpki,
                    exact: certs,
                }))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The usual check (a chain to the system's CAs or the CA file's, for the server's name), and
/// also a server that presents exactly a certificate of the CA file. That is how a self-signed
/// certificate is trusted, as curl and OpenSSL do; webpki alone refuses one that is marked as a
/// CA, as `openssl req -x509` makes them by default.
#[derive(Debug)]
struct TrustedFile {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    exact: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for TrustedFile {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .or_else(|refused| {
                if self.exact.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(refused)
                }
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Accepts every certificate, or with a `pin` exactly that one, whatever its names and issuer;
/// still checks that the handshake is signed by the key presented.
#[derive(Debug)]
struct Unchecked {
    pin: Option<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Some(pin) if pin.as_ref() != end_entity.as_ref() => Err(rustls::Error::General(
                "the server presented another certificate than the one this client was given"
                    .to_owned(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

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
    with_roots(roots)
}

fn client_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    match rustls::ClientConfig::builder_with_provider(Arc::new(ring()))
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder,
        // The provider is ring's, whose defaults always build.
        Err(e) => unreachable!("ring's protocol versions: {e}"),
    }
}

/// A client configuration trusting `roots` (HTTP/1.1).
fn with_roots(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let mut config = client_builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// A client configuration accepting exactly the certificate `leaf`, whatever its names and
/// issuer (HTTP/1.1).
fn pinned(leaf: CertificateDer<'static>) -> rustls::ClientConfig {
    let mut config = client_builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            leaf,
            provider: Arc::new(ring()),
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Accepts the one certificate it was given; the handshake must still be signed by its key.
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the extension presented another certificate than extensions.tls_cert_path"
                    .to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A `reqwest` client builder that speaks TLS trusting the system's CAs (reqwest is built
/// without a crypto provider of its own).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(client_config(None))
}

/// TLS between the server and its extensions (docs/deploy.md#tls-between-the-server-and-its-extensions),
/// settled at boot: what each extension container is given, and how the server checks the
/// extensions it calls and lets them check the API.
pub struct ExtensionTls {
    /// The PEM text of `server.tls_cert_path` (the API's certificate first) when the API serves
    /// TLS: handed to extensions, which accept the API only if it presents that certificate.
    pub api_cert: Option<String>,
    /// How extensions serve HTTPS, when `extensions.use_tls` is on.
    pub serving: Option<ExtensionCerts>,
}

/// Where extensions' certificates come from.
pub enum ExtensionCerts {
    /// Each extension gets a certificate of its own for `127.0.0.1` and `localhost`, issued at
    /// its launch by the server's CA; the server trusts that CA alone for its extensions.
    Issued(Box<ExtensionCa>),
    /// Every extension serves `extensions.tls_cert_path`/`tls_key_path`.
    Configured { cert_pem: String, key_pem: String },
}

impl ExtensionTls {
    /// Reads what `config` asks for; every failure names the setting. The CA is loaded from, or
    /// created in, `data_dir`.
    pub fn from_config(
        config: &gofer_core::config::ServerConfig,
        data_dir: &std::path::Path,
    ) -> Result<ExtensionTls, String> {
        let api_cert = if config.server.use_tls {
            let path = &config.server.tls_cert_path;
            Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("server.tls_cert_path: cannot read {path}: {e}"))?,
            )
        } else {
            None
        };
        let ext = &config.extensions;
        let serving = if !ext.use_tls {
            None
        } else if ext.tls_cert_path.is_empty() {
            Some(ExtensionCerts::Issued(Box::new(
                ExtensionCa::load_or_create(data_dir)?,
            )))
        } else {
            // The pair is checked as the listeners' pairs are, then handed over as text.
            server_config("extensions", &ext.tls_cert_path, &ext.tls_key_path)?;
            let read = |setting: &str, path: &str| {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("extensions.{setting}: cannot read {path}: {e}"))
            };
            Some(ExtensionCerts::Configured {
                cert_pem: read("tls_cert_path", &ext.tls_cert_path)?,
                key_pem: read("tls_key_path", &ext.tls_key_path)?,
            })
        };
        Ok(ExtensionTls { api_cert, serving })
    }

    /// `http` or `https`: how the server reaches its extensions.
    pub fn scheme(&self) -> &'static str {
        if self.serving.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The certificate chain and key (PEM) extension `id` serves with; empty when extensions
    /// serve plain HTTP.
    pub fn serving_pair(&self, id: &str) -> Result<(String, String), String> {
        match &self.serving {
            None => Ok((String::new(), String::new())),
            Some(ExtensionCerts::Configured { cert_pem, key_pem }) => {
                Ok((cert_pem.clone(), key_pem.clone()))
            }
            Some(ExtensionCerts::Issued(ca)) => ca.issue(id),
        }
    }

    /// The client the server calls its extensions with. Issued certificates are checked against
    /// the server's CA only; a configured one against the system's CAs and the certificates of
    /// its own file when `verify_certs` is on, and otherwise pinned: the extension must present
    /// exactly that certificate.
    pub fn client_builder(&self, verify_certs: bool) -> reqwest::ClientBuilder {
        let config = match &self.serving {
            None => client_config(None),
            Some(ExtensionCerts::Issued(ca)) => {
                let mut roots = rustls::RootCertStore::empty();
                let _ = roots.add(ca.root.clone());
                with_roots(roots)
            }
            Some(ExtensionCerts::Configured { cert_pem, .. }) if verify_certs => {
                client_config(Some(cert_pem.as_bytes()))
            }
            Some(ExtensionCerts::Configured { cert_pem, .. }) => {
                match CertificateDer::pem_slice_iter(cert_pem.as_bytes()).next() {
                    Some(Ok(leaf)) => pinned(leaf),
                    // Checked at boot by `from_config`.
                    _ => client_config(None),
                }
            }
        };
        reqwest::Client::builder().tls_backend_preconfigured(config)
    }
}

/// The CA that issues extensions' certificates: kept in the data dir
/// (`tls/extensions-ca.pem`, and `tls/extensions-ca.key` with mode 0600), created at the first
/// boot that needs it.
pub struct ExtensionCa {
    /// Signs new certificates: the stored CA's name and key.
    issuer: rcgen::Certificate,
    key: rcgen::KeyPair,
    /// The stored CA certificate: what the server trusts for its extensions.
    root: CertificateDer<'static>,
}

/// The CA's subject: certificates it issues name it as their issuer.
const CA_NAME: &str = "Gofer extensions CA";

fn ca_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CA_NAME);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl ExtensionCa {
    /// The CA of `data_dir`, created there when it has none. Errors name the file.
    pub fn load_or_create(data_dir: &std::path::Path) -> Result<ExtensionCa, String> {
        let cert_path = gofer_core::paths::extensions_ca_cert(data_dir);
        let key_path = gofer_core::paths::extensions_ca_key(data_dir);
        if !key_path.exists() {
            return Self::create(&cert_path, &key_path);
        }
        let problem = |what: String| {
            format!(
                "extensions.use_tls: the extensions' CA in {} {what}; remove {} and {} to \
                 have a new one created",
                key_path.parent().unwrap_or(data_dir).display(),
                cert_path.display(),
                key_path.display()
            )
        };
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| problem(format!("cannot be read ({e})")))?;
        let key = rcgen::KeyPair::from_pem(&key_pem)
            .map_err(|e| problem(format!("has an unreadable key ({e})")))?;
        let stored = std::fs::read(&cert_path)
            .map_err(|e| problem(format!("has no readable certificate ({e})")))?;
        let stored = CertificateDer::pem_slice_iter(&stored)
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| problem("has no certificate".to_owned()))?;
        // The issuer of new certificates: the stored CA's name and key. Certificates it signs
        // verify against the stored certificate, which is the one clients trust.
        let cert = ca_params()
            .self_signed(&key)
            .map_err(|e| problem(format!("cannot sign ({e})")))?;
        // The stored certificate must be the key's.
        let spki = |der: &CertificateDer<'_>| {
            rustls::server::ParsedCertificate::try_from(der).map(|c| c.subject_public_key_info())
        };
        match (spki(&stored), spki(cert.der())) {
            (Ok(a), Ok(b)) if a.as_ref() == b.as_ref() => {}
            _ => {
                return Err(problem(
                    "holds a certificate that is not its key's".to_owned(),
                ));
            }
        }
        Ok(ExtensionCa {
            issuer: cert,
            key,
            root: stored.into_owned(),
        })
    }

    fn create(
        cert_path: &std::path::Path,
        key_path: &std::path::Path,
    ) -> Result<ExtensionCa, String> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let failed = |what: &std::path::Path, e: &dyn std::fmt::Display| {
            format!(
                "extensions.use_tls: cannot create the extensions' CA ({}: {e})",
                what.display()
            )
        };
        let key = rcgen::KeyPair::generate().map_err(|e| failed(key_path, &e))?;
        let cert = ca_params()
            .self_signed(&key)
            .map_err(|e| failed(cert_path, &e))?;
        if let Some(dir) = key_path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| failed(dir, &e))?;
        }
        // The certificate first: a key file without its certificate would stop the next boot.
        // Each file is written whole under a temporary name, then renamed into place.
        let write = |path: &std::path::Path, text: &str, mode: u32| {
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&tmp)
                .map_err(|e| failed(&tmp, &e))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| failed(&tmp, &e))?;
            std::fs::rename(&tmp, path).map_err(|e| failed(path, &e))
        };
        write(cert_path, &cert.pem(), 0o644)?;
        write(key_path, &key.serialize_pem(), 0o600)?;
        tracing::info!(
            cert = %cert_path.display(),
            "created the CA that issues the extensions' certificates"
        );
        let root = cert.der().clone();
        Ok(ExtensionCa {
            issuer: cert,
            key,
            root,
        })
    }

    /// A new key and certificate for extension `id`, valid for `127.0.0.1` and `localhost` (the
    /// server reaches extensions on a loopback port), as PEM: the certificate and the key.
    pub fn issue(&self, id: &str) -> Result<(String, String), String> {
        let failed = |e: rcgen::Error| format!("issuing the certificate of extension '{id}': {e}");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(failed)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("gofer extension {id}"));
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().map_err(failed)?;
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(failed)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier as _;

    /// The CA is created once with its key private, found again at the next boot, and the
    /// certificates it issues (for 127.0.0.1) verify against the stored CA certificate; a key
    /// that is not the certificate's stops the boot naming the files.
    #[test]
    fn the_extensions_ca_persists_and_issues_verifiable_certificates() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = ExtensionCa::load_or_create(dir.path()).unwrap();
        let key_path = gofer_core::paths::extensions_ca_key(dir.path());
        let cert_path = gofer_core::paths::extensions_ca_cert(dir.path());
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the CA key is readable by its owner only"
        );
        let stored = std::fs::read(&cert_path).unwrap();

        // A second boot loads the same CA, and what it issues chains to the stored certificate.
        let again = ExtensionCa::load_or_create(dir.path()).unwrap();
        assert_eq!(std::fs::read(&cert_path).unwrap(), stored);
        assert_eq!(again.root, first.root);
        let (cert_pem, key_pem) = again.issue("cron").unwrap();
        let leaf = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert!(rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).is_ok());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(
                CertificateDer::pem_slice_iter(&stored)
                    .next()
                    .unwrap()
                    .unwrap(),
            )
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(ring()),
        )
        .build()
        .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        let ip = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        verifier
            .verify_server_cert(&leaf, &[], &ip, &[], now)
            .expect("an issued certificate verifies against the stored CA for 127.0.0.1");
        let other = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        assert!(
            verifier
                .verify_server_cert(&leaf, &[], &other, &[], now)
                .is_err()
        );

        // Another key in place of the CA's.
        std::fs::write(
            &key_path,
            rcgen::KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        let error = ExtensionCa::load_or_create(dir.path()).err().unwrap();
        assert!(error.contains("extensions.use_tls"), "{error}");
        assert!(error.contains("not its key's"), "{error}");
        assert!(error.contains("extensions-ca.pem"), "{error}");
    }
}

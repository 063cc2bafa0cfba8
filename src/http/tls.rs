//! TLS for both sides: certificates minted at start (rcgen), the user's own PEM files, and the
//! trust a client puts in a server (a CA file, or none at all when told to be insecure).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What went wrong setting up TLS. Each message names the file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read certificate file {}: {reason}", path.display())]
    CertFile { path: PathBuf, reason: String },
    #[error("cannot read private key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("certificate file {} holds no PEM certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("the certificate and key do not work together: {0}")]
    Config(String),
    #[error("cannot mint a certificate: {0}")]
    Mint(String),
}

/// A server-side TLS configuration, ready to accept connections.
#[derive(Clone)]
pub struct ServerTls(pub(crate) Arc<rustls::ServerConfig>);

/// A certificate minted for this run, with the PEM text a client needs to trust it.
pub struct Minted {
    pub tls: ServerTls,
    pub cert_pem: String,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerTls, TlsError> {
    // AES-128-GCM first, and the server's order wins: the cheapest strong suite for bodies of
    // megabytes (a forward-proxy tunnel encrypts every one of them once more).
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 1,
        _ => 2,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    Ok(ServerTls(Arc::new(config)))
}

/// Mints a self-signed certificate for `127.0.0.1` and `localhost`.
pub fn mint_localhost() -> Result<Minted, TlsError> {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned(), "::1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Mint(e.to_string()))?;
    let cert_pem = certified.cert.pem();
    let key = PrivateKeyDer::try_from(certified.key_pair.serialize_der()).map_err(|e| TlsError::Mint(e.to_string()))?;
    let tls = server_config(vec![certified.cert.der().clone()], key)?;
    Ok(Minted { tls, cert_pem })
}

/// Loads a certificate chain and private key from PEM files.
pub fn server_from_files(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
    let chain = read_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::KeyFile { path: key.to_owned(), reason: pem_reason(e) })?;
    server_config(chain, key)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::CertFile { path: path.to_owned(), reason: pem_reason(e) })?;
    let chain = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertFile { path: path.to_owned(), reason: pem_reason(e) })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(chain)
}

fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM section of the expected kind".to_owned(),
        other => format!("{other:?}"),
    }
}

/// How a client decides to trust a server's certificate.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// PEM files whose certificates are trusted as roots (EM's self-signed certificate, say).
    pub ca_files: Vec<PathBuf>,
    /// Accept any certificate. The caller warns the user.
    pub insecure: bool,
}

/// A client-side TLS configuration.
#[derive(Clone)]
pub struct ClientTls(pub(crate) Arc<rustls::ClientConfig>);

/// Builds the client configuration for `trust`.
pub fn client(trust: &Trust) -> Result<ClientTls, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = if trust.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(
                provider().signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        // As curl does: the system's trust store (honouring SSL_CERT_FILE and SSL_CERT_DIR),
        // plus the CAs given.
        let mut roots = rustls::RootCertStore::empty();
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        for path in &trust.ca_files {
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| TlsError::CertFile { path: path.clone(), reason: e.to_string() })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ClientTls(Arc::new(config)))
}

/// `--insecure`: any certificate is accepted, but handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

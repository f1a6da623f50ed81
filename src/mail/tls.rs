//! The TLS client configuration every SMTP connection uses: the system's roots, plus the
//! certificates of a `ca-file` when the transport names one.

use std::sync::Arc;

/// Why a TLS client configuration could not be built. The certificate-file variants read after
/// the file's name ("`ca-file` holds no PEM certificate").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A block of the file is not a PEM certificate.
    #[error("is not a PEM certificate file ({0})")]
    NotPem(String),
    /// rustls refused a certificate of the file.
    #[error("holds a certificate rustls refuses ({0})")]
    Refused(String),
    /// The file has no certificate in it.
    #[error("holds no PEM certificate")]
    Empty,
    /// rustls refused the protocol versions.
    #[error("{0}")]
    Config(String),
}

/// A rustls connector trusting the system's roots plus the PEM certificates in `extra`.
pub fn connector(extra: Option<&[u8]>) -> Result<tokio_rustls::TlsConnector, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = extra {
        use rustls_pki_types::pem::PemObject as _;
        let mut added = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsError::NotPem(e.to_string()))?;
            roots.add(cert).map_err(|e| TlsError::Refused(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::Empty);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

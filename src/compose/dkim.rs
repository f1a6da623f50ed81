//! DKIM signing of composed messages (RFC 6376; Ed25519 per RFC 8463) with `mail-auth`.
//!
//! Enters: the `dkim` configuration (domain, selector, key file, algorithm) and, per message, the
//! finished bytes. Leaves: a [`DkimKey`] ready to sign, and the message with its
//! `DKIM-Signature` header prepended. Canonicalization is relaxed/relaxed, so a relay that
//! refolds a header does not break the signature.

use std::fmt;
use std::path::Path;

use mail_auth::common::crypto::{self, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{DkimSigner, Done};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;

use crate::config::{Dkim, DkimAlgorithm};
use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// The header fields every signature covers (EMAIL.md BS-6). Reply-To is signed even when
/// absent, so nobody can add one later without breaking the signature.
pub const SIGNED_HEADERS: [&str; 11] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// A parsed DKIM private key with its domain, selector and algorithm.
pub struct DkimKey {
    signer: DkimSigner<crypto::DkimKey, Done>,
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
}

impl fmt::Debug for DkimKey {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// Read and parse the key file named in `config` (relative to the project `root`). A key
    /// that other users can read is refused: whoever reads it can sign mail as the domain.
    pub fn load(root: &Path, config: &Dkim) -> Result<Self, Error> {
        let path = root.join(&config.key_file);
        let pem = std::fs::read(&path).map_err(|e| Error::io("read", &config.key_file, e))?;
        crate::fsutil::check_private(&path, &config.key_file, "config/dkim-key-permissions")?;
        Self::from_pem(&pem, config).map_err(|why| {
            Error::Invalid(vec![
                Diagnostic::error("config/dkim", format!("`dkim.key-file` `{}` {why}", config.key_file.display()))
                    .help(match config.algorithm {
                        DkimAlgorithm::RsaSha256 => "use a PEM RSA key (`openssl genrsa -out dkim.pem 2048`)",
                        DkimAlgorithm::Ed25519Sha256 => {
                            "use a PKCS#8 PEM Ed25519 key (`openssl genpkey -algorithm ed25519`)"
                        }
                    }),
            ])
        })
    }

    /// Parse a PEM private key for `config`'s algorithm.
    pub fn from_pem(pem: &[u8], config: &Dkim) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| "holds no PEM private key".to_owned())?;
        let key = match config.algorithm {
            DkimAlgorithm::RsaSha256 => crypto::DkimKey::Rsa(
                RsaKey::<Sha256>::from_key_der(der).map_err(|_| "is not an RSA private key".to_owned())?,
            ),
            DkimAlgorithm::Ed25519Sha256 => {
                let PrivateKeyDer::Pkcs8(pkcs8) = der else {
                    return Err("is not a PKCS#8 Ed25519 private key".to_owned());
                };
                crypto::DkimKey::Ed25519(
                    Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der())
                        .map_err(|_| "is not an Ed25519 private key".to_owned())?,
                )
            }
        };
        let signer = DkimSigner::from_key(key)
            .domain(config.domain.clone())
            .selector(config.selector.clone())
            .headers(SIGNED_HEADERS);
        Ok(Self {
            signer,
            domain: config.domain.to_ascii_lowercase(),
            selector: config.selector.clone(),
            algorithm: config.algorithm,
        })
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether mail from `from_domain` aligns with this key's domain for DMARC (relaxed
    /// alignment: the same domain or a subdomain of it).
    pub fn aligns_with(&self, from_domain: &str) -> bool {
        let from = from_domain.to_ascii_lowercase();
        from == self.domain || from.strip_suffix(&self.domain).is_some_and(|rest| rest.ends_with('.'))
    }

    /// Sign the finished `message` and prepend its `DKIM-Signature` header.
    pub(crate) fn sign(&self, message: &mut Vec<u8>) -> Result<(), String> {
        let signature = self.signer.sign(message).map_err(|e| format!("DKIM signing failed: {e}"))?;
        let header = signature.to_header();
        message.splice(0..0, header.into_bytes());
        Ok(())
    }
}

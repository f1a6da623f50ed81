//! DKIM signing of composed messages (RFC 6376; Ed25519 per RFC 8463), with `aws-lc-rs`'s RSA and
//! Ed25519 (see docs/sending.md, "DKIM speed", for why).
//!
//! Enters: the `dkim` configuration (domain, selector, key file, algorithm) and, per message, the
//! finished bytes. Leaves: a [`DkimKey`] ready to sign, and the message with its folded
//! `DKIM-Signature` header prepended. Canonicalization is relaxed/relaxed, so a relay that
//! refolds a header does not break the signature; every signed header is listed in `h=` once
//! more than the message has it (oversigning), so a copy added in transit breaks it.

use std::fmt;
use std::path::Path;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;

use super::dkim_canon::{self as canon, Folded};

use crate::config::{Dkim, DkimAlgorithm};
use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// The header fields every signature covers (EMAIL.md BS-6), each oversigned: listed in `h=` once
/// more than the message has it. Reply-To is signed even when absent, so nobody can add one
/// later without breaking the signature.
pub const SIGNED_HEADERS: [&str; 12] = [
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
    "Feedback-ID",
];

/// The private key, parsed once.
enum Key {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A parsed DKIM private key with its domain, selector and algorithm.
pub struct DkimKey {
    key: Key,
    /// Required by the RSA signing call (AWS-LC blinds with its own generator).
    random: SystemRandom,
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
        let key = match (config.algorithm, &der) {
            (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs1(pkcs1)) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der()),
            (DkimAlgorithm::RsaSha256, PrivateKeyDer::Pkcs8(pkcs8)) => RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()),
            (DkimAlgorithm::RsaSha256, _) => return Err("is not an RSA private key".to_owned()),
            (DkimAlgorithm::Ed25519Sha256, PrivateKeyDer::Pkcs8(pkcs8)) => {
                let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.secret_pkcs8_der())
                    .map_err(|_| "is not an Ed25519 private key".to_owned())?;
                return Ok(Self::with(Key::Ed25519(key), config));
            }
            (DkimAlgorithm::Ed25519Sha256, _) => return Err("is not a PKCS#8 Ed25519 private key".to_owned()),
        };
        let key = key.map_err(|e| format!("is not a usable RSA private key ({e})"))?;
        if key.public_modulus_len() < 128 {
            return Err("is an RSA key shorter than 1024 bits, which receivers ignore".to_owned());
        }
        Ok(Self::with(Key::Rsa(key), config))
    }

    fn with(key: Key, config: &Dkim) -> Self {
        Self {
            key,
            random: SystemRandom::new(),
            // `d=` in A-labels, as the From domain it is compared with and the DNS name of the
            // key (`<selector>._domainkey.<domain>`) are.
            domain: crate::address::ascii_domain(config.domain.trim())
                .unwrap_or_else(|| config.domain.to_ascii_lowercase()),
            selector: config.selector.clone(),
            algorithm: config.algorithm,
        }
    }

    /// Whether a signature costs far more than composing the message (RSA), see
    /// [`super::MessageTemplate::signs_slowly`].
    pub fn is_slow(&self) -> bool {
        matches!(self.key, Key::Rsa(_))
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether mail from `from_domain` aligns with this key's domain for DMARC (relaxed
    /// alignment: the same domain or a subdomain of it).
    pub fn aligns_with(&self, from_domain: &str) -> bool {
        let from = crate::address::ascii_domain(from_domain).unwrap_or_else(|| from_domain.to_ascii_lowercase());
        from == self.domain || from.strip_suffix(&self.domain).is_some_and(|rest| rest.ends_with('.'))
    }

    /// Sign the finished `message` and prepend its folded `DKIM-Signature` header.
    pub(crate) fn sign(&self, message: &mut Vec<u8>) -> Result<(), String> {
        let header = self.signature(message)?;
        message.splice(0..0, header.into_bytes().into_iter().chain(*b"\r\n"));
        Ok(())
    }

    /// The `DKIM-Signature` header (without its CRLF) for `message`.
    fn signature(&self, message: &[u8]) -> Result<String, String> {
        let (header, body) = canon::split(message);
        let body_hash = canon::body_hash(body);
        let fields = canon::fields(header);
        let h = canon::oversigned(&fields, &SIGNED_HEADERS);
        let mut folded = Folded::new();
        folded.tag("v", "1");
        folded.tag(
            "a",
            match self.key {
                Key::Rsa(_) => "rsa-sha256",
                Key::Ed25519(_) => "ed25519-sha256",
            },
        );
        folded.tag("c", "relaxed/relaxed");
        folded.tag("d", &self.domain);
        folded.tag("s", &self.selector);
        folded.names(&h);
        folded.base64("bh", &BASE64.encode(body_hash.as_ref()), false);
        let mut unsigned = folded.clone();
        unsigned.base64("b", "", true);
        let mut data = Vec::with_capacity(header.len() + 512);
        canon::signed_fields(&fields, &h, &mut data);
        canon::relaxed_field(unsigned.into_string().as_bytes(), &mut data);
        let signature = match &self.key {
            Key::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &self.random, &data, &mut signature)
                    .map_err(|_| "DKIM signing failed: the RSA key could not sign".to_owned())?;
                signature
            }
            // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the header data.
            Key::Ed25519(key) => key.sign(digest::digest(&digest::SHA256, &data).as_ref()).as_ref().to_vec(),
        };
        folded.base64("b", &BASE64.encode(signature), true);
        Ok(folded.into_string())
    }
}

//! `dkim:`: signing every message with a domain's key.

use std::path::PathBuf;

use serde::Deserialize;

/// DKIM signing settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Dkim {
    /// The signing domain (`d=`); should match the `From` domain for DMARC alignment.
    pub domain: String,
    /// The selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// Private key file (PEM, PKCS#8 or PKCS#1 for RSA), relative to the project root.
    pub key_file: PathBuf,
    /// `rsa-sha256` (default) or `ed25519-sha256`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

/// DKIM signature algorithms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DkimAlgorithm {
    /// RSA with SHA-256.
    #[default]
    RsaSha256,
    /// Ed25519 with SHA-256 (RFC 8463).
    Ed25519Sha256,
}

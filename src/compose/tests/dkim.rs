//! DKIM signatures checked by mail-auth's verifier, with the public key record served from an
//! in-memory DNS cache instead of the network.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt};

use super::*;
use crate::config::{Dkim, DkimAlgorithm};

const DOMAIN: &str = "minimal.example.org";
const SELECTOR: &str = "lp2016";

/// The DNS answers of the test: one TXT record per name.
struct Records(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Records {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

fn config(algorithm: DkimAlgorithm) -> Dkim {
    Dkim { domain: DOMAIN.to_owned(), selector: SELECTOR.to_owned(), key_file: PathBuf::from("dkim.pem"), algorithm }
}

/// Verify every signature of `message` against the key record `record`.
fn verify(message: &[u8], record: &str) -> Vec<DkimResult> {
    let records = Records(Mutex::new(HashMap::new()));
    let key = DomainKey::parse(record.as_bytes()).unwrap();
    records.insert(format!("{SELECTOR}._domainkey.{DOMAIN}.").into(), Txt::from(key), Instant::now());
    let message = AuthenticatedMessage::parse(message).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let authenticator = MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default()).unwrap();
        let outputs = authenticator.verify_dkim(Parameters::new(&message).with_txt_cache(&records)).await;
        outputs.iter().map(|o| o.result().clone()).collect()
    })
}

fn signed(dkim: DkimKey) -> String {
    let template =
        try_template(&minimal(), "weekly/2016-12-09-first", ComposeOptions { dkim: Some(dkim), ..options() }).unwrap();
    compose(&template, "zoe@example.org", "Zoë", "North West").1
}

#[track_caller]
fn assert_signed_and_verified(message: &str, record: &str, algorithm: &str) {
    assert!(message.starts_with("DKIM-Signature: "), "{message:.200}");
    let signature = one(message, "DKIM-Signature").replace([' ', '\t'], "");
    assert!(signature.contains(&format!("a={algorithm};")), "{signature}");
    assert!(signature.contains(&format!("d={DOMAIN};")) && signature.contains(&format!("s={SELECTOR};")));
    let signed: Vec<String> =
        signature.split("h=").nth(1).unwrap().split(';').next().unwrap().split(':').map(str::to_lowercase).collect();
    for name in [
        "from",
        "subject",
        "date",
        "message-id",
        "to",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "mime-version",
        "content-type",
    ] {
        assert!(signed.iter().any(|s| s == name), "h= covers {name}: {signed:?}");
    }
    for line in lines(message) {
        assert!(line.len() <= 998);
    }
    assert_eq!(verify(message.as_bytes(), record), [DkimResult::Pass]);
    let tampered = message.replacen(
        "List-Unsubscribe: <https://minimal.example.org/unsubscribe?t=",
        "List-Unsubscribe: <https://evil.example/unsubscribe?t=",
        1,
    );
    assert_ne!(tampered, message);
    assert!(matches!(verify(tampered.as_bytes(), record)[..], [DkimResult::Fail(_)]), "a changed header fails");
}

#[test]
fn rsa_signatures_verify() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
    let pem = std::fs::read(fixtures.join("rsa-test-key.pem")).unwrap();
    let public = std::fs::read_to_string(fixtures.join("rsa-test-key.pub.b64")).unwrap();
    let message = signed(DkimKey::from_pem(&pem, &config(DkimAlgorithm::RsaSha256)).unwrap());
    assert_signed_and_verified(&message, &format!("v=DKIM1; k=rsa; p={}", public.trim()), "rsa-sha256");
}

#[test]
fn ed25519_signatures_verify() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let key = DkimKey::from_pem(pair.serialize_pem().as_bytes(), &config(DkimAlgorithm::Ed25519Sha256)).unwrap();
    let public = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair.public_key_raw());
    assert_signed_and_verified(&signed(key), &format!("v=DKIM1; k=ed25519; p={public}"), "ed25519-sha256");
}

#[test]
fn keys_load_from_the_project_and_must_match_the_algorithm_and_domain() {
    // A copy: a fresh clone checks the fixture out readable by everyone, which `load` refuses.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("tests/fixtures/dkim")).unwrap();
    let copy = root.join("tests/fixtures/dkim/rsa-test-key.pem");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim/rsa-test-key.pem"), &copy).unwrap();
    set_mode(&copy, 0o644);
    let rsa =
        Dkim { key_file: PathBuf::from("tests/fixtures/dkim/rsa-test-key.pem"), ..config(DkimAlgorithm::RsaSha256) };
    #[cfg(unix)]
    {
        let Err(Error::Invalid(problems)) = DkimKey::load(root, &rsa) else { panic!("a world-readable key was used") };
        assert_eq!(
            problems[0].message,
            "`tests/fixtures/dkim/rsa-test-key.pem` can be read by other users (mode 644); refusing to use it"
        );
        assert_eq!(problems[0].help.as_deref(), Some("run `chmod 600 tests/fixtures/dkim/rsa-test-key.pem`"));
    }
    set_mode(&copy, 0o600);
    let key = DkimKey::load(root, &rsa).unwrap();
    assert!(key.aligns_with("minimal.example.org") && key.aligns_with("news.Minimal.example.org"));
    assert!(!key.aligns_with("example.org") && !key.aligns_with("notminimal.example.org"));
    // An internationalised domain, written either way, is signed and compared as its A-labels.
    let idn = DkimKey::load(root, &Dkim { domain: "Bücher.example".to_owned(), ..rsa.clone() }).unwrap();
    assert_eq!(idn.domain(), "xn--bcher-kva.example");
    assert!(idn.aligns_with("xn--bcher-kva.example") && idn.aligns_with("news.bücher.example"));
    let wrong = Dkim { algorithm: DkimAlgorithm::Ed25519Sha256, ..rsa.clone() };
    let Err(Error::Invalid(problems)) = DkimKey::load(root, &wrong) else { panic!("an RSA key is not an Ed25519 key") };
    assert_eq!(
        problems[0].message,
        "`dkim.key-file` `tests/fixtures/dkim/rsa-test-key.pem` is not a PKCS#8 Ed25519 private key"
    );
    let missing = Dkim { key_file: PathBuf::from("nope.pem"), ..rsa.clone() };
    assert!(DkimKey::load(root, &missing).unwrap_err().to_string().starts_with("failed to read `nope.pem`: "));
    let other = Dkim { domain: "example.net".to_owned(), ..rsa };
    let options = ComposeOptions { dkim: Some(DkimKey::load(root, &other).unwrap()), ..options() };
    let Err(Error::Invalid(problems)) = try_template(&minimal(), "weekly/2016-12-09-first", options) else {
        panic!("a DKIM domain that does not align is refused");
    };
    assert_eq!(problems[0].code, "config/dkim");
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A second copy of a signed header added in transit on top of the message (where a verifier
/// that reads headers bottom-up would not see it, but a mail client shows it) breaks the
/// signature: every signed header is listed in `h=` once more than it occurs.
#[test]
fn a_header_added_in_transit_breaks_the_signature() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
    let pem = std::fs::read(fixtures.join("rsa-test-key.pem")).unwrap();
    let public = std::fs::read_to_string(fixtures.join("rsa-test-key.pub.b64")).unwrap();
    let record = format!("v=DKIM1; k=rsa; p={}", public.trim());
    let message = signed(DkimKey::from_pem(&pem, &config(DkimAlgorithm::RsaSha256)).unwrap());
    assert_eq!(verify(message.as_bytes(), &record), [DkimResult::Pass]);
    for added in [
        "Subject: Your account is suspended",
        "From: Support <support@evil.example>",
        "Reply-To: phish@evil.example",
        "List-Unsubscribe: <https://evil.example/u>",
        "To: someone@else.example",
        "Date: Mon, 1 Jan 2024 00:00:00 +0000",
        "Message-ID: <x@evil.example>",
        "List-Id: <evil.example>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
    ] {
        // Below the signature, above the originals: where an attacker or a careless relay adds.
        let (signature, rest) = message.split_once("\r\nFrom: ").unwrap();
        let tampered = format!("{signature}\r\n{added}\r\nFrom: {rest}");
        assert!(
            matches!(verify(tampered.as_bytes(), &record)[..], [DkimResult::Fail(_)]),
            "a second header `{added}` still verifies"
        );
        let on_top = format!("{added}\r\n{message}");
        assert!(
            matches!(verify(on_top.as_bytes(), &record)[..], [DkimResult::Fail(_)]),
            "`{added}` added on top still verifies"
        );
    }
}

/// The `DKIM-Signature` header is folded: no line of it is longer than 78 columns.
#[test]
fn the_signature_header_is_folded_under_78_columns() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
    let pem = std::fs::read(fixtures.join("rsa-test-key.pem")).unwrap();
    let message = signed(DkimKey::from_pem(&pem, &config(DkimAlgorithm::RsaSha256)).unwrap());
    let end = message.find("\r\n\r\n").unwrap();
    let mut in_signature = false;
    for line in message[..end].split("\r\n") {
        if line.starts_with("DKIM-Signature:") {
            in_signature = true;
        } else if !line.starts_with([' ', '\t']) {
            in_signature = false;
        }
        if in_signature {
            assert!(line.len() <= 78, "{} columns: {line}", line.len());
        }
    }
}

/// With `sending.feedback-id-sender`, every message carries Gmail's `Feedback-ID`
/// (`<issue>:<publication>:<list>:<sender-id>`), and the signature covers it.
#[test]
fn feedback_id_names_issue_publication_list_and_sender_and_is_signed() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
    let pem = std::fs::read(fixtures.join("rsa-test-key.pem")).unwrap();
    let public = std::fs::read_to_string(fixtures.join("rsa-test-key.pub.b64")).unwrap();
    let record = format!("v=DKIM1; k=rsa; p={}", public.trim());
    let mut project = minimal();
    project.config.sending.feedback_id_sender = Some("newsroom".to_owned());
    let dkim = DkimKey::from_pem(&pem, &config(DkimAlgorithm::RsaSha256)).unwrap();
    let template =
        try_template(&project, "weekly/2016-12-09-first", ComposeOptions { dkim: Some(dkim), ..options() }).unwrap();
    let message = compose(&template, "zoe@example.org", "Zoë", "North West").1;
    assert_eq!(one(&message, "Feedback-ID"), "2016-12-09-first:weekly:weekly:newsroom");
    let signature = one(&message, "DKIM-Signature").replace([' ', '\t'], "");
    assert!(signature.contains("Feedback-ID:Feedback-ID"), "h= oversigns Feedback-ID: {signature}");
    assert_eq!(verify(message.as_bytes(), &record), [DkimResult::Pass]);
    let changed = message.replace(":newsroom\r\n", ":someone-else\r\n");
    assert!(matches!(verify(changed.as_bytes(), &record)[..], [DkimResult::Fail(_)]));
    // Without the setting there is no Feedback-ID.
    let plain = signed(DkimKey::from_pem(&pem, &config(DkimAlgorithm::RsaSha256)).unwrap());
    assert!(field(&plain, "Feedback-ID").is_empty());
}

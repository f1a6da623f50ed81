//! DKIM-signed sends end to end: messages composed and signed on the sign pool's threads reach
//! every recipient exactly once (a retried one too), and every signature verifies — with
//! mail-auth here, and with dkimpy, an independent implementation, where it is installed.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt};

use crate::harness::Project;
use crate::send::{ISSUE, per_recipient, send, setup};
use crate::smtp::{Event, Reply, ServerConfig, SmtpServer};

const DOMAIN: &str = "send.example.org";
const SELECTOR: &str = "lp";

/// A project that signs with a key of `algorithm` (`rsa-sha256` or `ed25519-sha256`), its
/// server, and the key's DNS record.
fn signed_setup(algorithm: &str, config: ServerConfig, extra: usize) -> (Project, SmtpServer, String) {
    let (project, server) = setup(config, extra);
    let (pem, record) = if algorithm == "rsa-sha256" {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
        let pem = std::fs::read_to_string(fixtures.join("rsa-test-key.pem")).expect("key");
        let public = std::fs::read_to_string(fixtures.join("rsa-test-key.pub.b64")).expect("public key");
        (pem, format!("v=DKIM1; k=rsa; p={}", public.trim()))
    } else {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key");
        let public = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair.public_key_raw());
        (pair.serialize_pem(), format!("v=DKIM1; k=ed25519; p={public}"))
    };
    project.write("secrets/dkim.pem", &pem);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let path = project.path().join("secrets/dkim.pem");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let config = project.read("letterpress.yaml")
        + &format!(
            "dkim:\n  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key-file: secrets/dkim.pem\n  algorithm: {algorithm}\n"
        );
    project.write("letterpress.yaml", &config);
    (project, server, record)
}

/// The DNS answers of the test: one TXT record per name.
struct Records(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Records {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().expect("lock").get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().expect("lock").remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _: Instant) {
        self.0.lock().expect("lock").insert(key, value);
    }
}

/// mail-auth's verdicts on every signature of every message.
fn verify_all(messages: &[Vec<u8>], record: &str) -> Vec<Vec<DkimResult>> {
    let records = Records(Mutex::new(HashMap::new()));
    let key = DomainKey::parse(record.as_bytes()).expect("record");
    records.insert(format!("{SELECTOR}._domainkey.{DOMAIN}.").into(), Txt::from(key), Instant::now());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let authenticator =
            MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default()).expect("authenticator");
        let mut verdicts = Vec::new();
        for message in messages {
            let message = AuthenticatedMessage::parse(message).expect("a message");
            let outputs = authenticator.verify_dkim(Parameters::new(&message).with_txt_cache(&records)).await;
            verdicts.push(outputs.iter().map(|o| o.result().clone()).collect());
        }
        verdicts
    })
}

/// One recipient refused once with a 451: its retry is composed and signed again.
fn one_busy_recipient() -> ServerConfig {
    let refused = AtomicBool::new(false);
    ServerConfig::default().fault(move |event| match event {
        Event::Rcpt { to, .. } if to == "reader00007@example.org" && !refused.swap(true, Ordering::SeqCst) => {
            Some(Reply::new(451, "4.3.0 try again later"))
        }
        _ => None,
    })
}

fn signed_send_reaches_everyone_once_and_verifies(algorithm: &str) {
    let (project, server, record) = signed_setup(algorithm, one_busy_recipient(), 120);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let counts = per_recipient(&server);
    assert!(counts.len() > 120 && counts.values().all(|&n| n == 1), "{counts:?}");
    let messages: Vec<Vec<u8>> = server.received().into_iter().map(|m| m.data).collect();
    for (message, verdicts) in messages.iter().zip(verify_all(&messages, &record)) {
        assert_eq!(verdicts, [DkimResult::Pass], "{}", String::from_utf8_lossy(message));
        assert!(message.starts_with(b"DKIM-Signature: "));
        assert!(String::from_utf8_lossy(message).contains(&format!("a={algorithm};")));
    }
}

#[test]
fn rsa_signed_send_reaches_everyone_once_and_verifies() {
    signed_send_reaches_everyone_once_and_verifies("rsa-sha256");
}

#[test]
fn ed25519_signed_send_reaches_everyone_once_and_verifies() {
    signed_send_reaches_everyone_once_and_verifies("ed25519-sha256");
}

/// dkimpy's verdicts (`pass`/`fail`) on `messages`, through tests/dkimpy/verify.py.
fn dkimpy(messages: &[Vec<u8>], record: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let record_file = dir.path().join("record.txt");
    std::fs::write(&record_file, record).expect("write record");
    let mut files = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let file = dir.path().join(format!("{i}.eml"));
        std::fs::write(&file, message).expect("write message");
        files.push(file);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkimpy/verify.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&record_file)
        .args(&files)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
#[ignore = "needs dkimpy; run by .ci/run"]
fn dkimpy_verifies_rsa_and_ed25519_signatures_and_fails_a_subject_added_in_transit() {
    for algorithm in ["rsa-sha256", "ed25519-sha256"] {
        let (project, server, record) = signed_setup(algorithm, ServerConfig::default(), 5);
        let out = send(&project, &server, &["send", ISSUE, "--yes"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let messages: Vec<Vec<u8>> = server.received().into_iter().map(|m| m.data).collect();
        assert!(messages.len() > 5);
        assert!(dkimpy(&messages, &record).iter().all(|v| v == "pass"), "{algorithm}: dkimpy verifies");
        let tampered: Vec<Vec<u8>> = messages
            .iter()
            .flat_map(|m| {
                let text = String::from_utf8_lossy(m);
                let (signature, rest) = text.split_once("\r\nFrom: ").expect("a From");
                [
                    format!("Subject: Your account is suspended\r\n{text}").into_bytes(),
                    format!("{signature}\r\nSubject: Your account is suspended\r\nFrom: {rest}").into_bytes(),
                ]
            })
            .collect();
        assert!(dkimpy(&tampered, &record).iter().all(|v| v == "fail"), "{algorithm}: a second Subject fails");
    }
}

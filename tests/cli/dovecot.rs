//! A real Dovecot IMAP server for the `bounces fetch` tests, started in a temporary directory
//! with its own configuration: 127.0.0.1 on free ports (`imap` plain, `imaps` TLS with a
//! certificate from a test authority made by rcgen), one passwd-file user, Maildir storage,
//! logs to a file, no syslog, no chroot. Messages are delivered by writing files into the
//! Maildir; folders are read back from the Maildir too.
//!
//! It runs as the current user; as root (a CI container) its login processes run as Debian's
//! `dovenull` and mail as `dovecot` (Dovecot refuses root for both). It is independent of any
//! system Dovecot the package may have started. Stopped (SIGTERM, then waited for) on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// The test user's login.
pub const USER: &str = "bounces";
/// The test user's password.
pub const PASSWORD: &str = "imap-test-pw-7f3a";
/// Where Debian puts the server.
const DOVECOT: &str = "/usr/sbin/dovecot";

/// A running Dovecot.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Child,
    /// The plain IMAP port (Dovecot treats loopback as secure, so LOGIN works on it).
    pub imap_port: u16,
    /// The implicit-TLS port.
    pub imaps_port: u16,
    /// The test authority that signed the server certificate, PEM.
    pub ca_pem: String,
    /// The owner of mail files (`dovecot` when the tests run as root).
    mail_owner: (u32, u32),
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// uid and gid of `name` from `/etc/passwd`.
fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name)).then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
    })
}

/// The name of `uid` in `/etc/passwd`.
fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_owned())
        })
        .unwrap_or_else(|| panic!("uid {uid} has no name in /etc/passwd"))
}

fn group_name(gid: u32) -> String {
    let group = std::fs::read_to_string("/etc/group").expect("/etc/group");
    group
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2) == Some(&gid.to_string().as_str())).then(|| fields[0].to_owned())
        })
        .unwrap_or_else(|| panic!("gid {gid} has no name in /etc/group"))
}

/// A test authority and a `localhost` / `127.0.0.1` certificate it signed: (CA PEM, cert PEM,
/// key PEM).
fn certificates() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "letterpress dovecot test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server parameters");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

impl Dovecot {
    /// Start a server and wait until it greets on both ports.
    pub fn start() -> Self {
        assert!(Path::new(DOVECOT).exists(), "{DOVECOT} is missing: `apt-get install dovecot-imapd`");
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(root.join(sub)).expect("dovecot dirs");
        }
        let me = std::fs::metadata(&root).expect("temp dir metadata");
        let (uid, gid) = (me.uid(), me.gid());
        let as_root = uid == 0;
        let (login_user, internal_user, mail_owner) = if as_root {
            // Login and mail processes must not be root; they need to reach the temp dir.
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            let owner = system_user("dovecot").expect("the `dovecot` user (from the dovecot-core package)");
            ("dovenull".to_owned(), "dovecot".to_owned(), owner)
        } else {
            (user_name(uid), user_name(uid), (uid, gid))
        };
        let internal_group = if as_root { "dovecot".to_owned() } else { group_name(gid) };
        let (ca_pem, cert_pem, key_pem) = certificates();
        std::fs::write(root.join("cert.pem"), cert_pem).expect("cert");
        std::fs::write(root.join("key.pem"), key_pem).expect("key");
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).expect("passwd");
        let (plain_port, tls_port) = (free_port(), free_port());
        let r = root.display();
        let config = format!(
            "base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
auth_mechanisms = plain
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={} gid={} home={r}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
",
            mail_owner.0, mail_owner.1
        );
        std::fs::write(root.join("dovecot.conf"), config).expect("dovecot.conf");
        let server = Self {
            child: Command::new(DOVECOT)
                .args(["-F", "-c"])
                .arg(root.join("dovecot.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start dovecot"),
            dir,
            imap_port: plain_port,
            imaps_port: tls_port,
            ca_pem,
            mail_owner,
        };
        server.maildir_dirs(&server.maildir());
        server.wait_for(plain_port);
        server.wait_for(tls_port);
        server
    }

    /// Poll until the port accepts connections (a deadline, not a sleep: it returns as soon as
    /// Dovecot listens).
    fn wait_for(&self, port: u16) {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "dovecot did not listen on {port}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The user's Maildir (INBOX).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.mail_owner.0), Some(self.mail_owner.1)).expect("chown mail");
    }

    fn maildir_dirs(&self, folder: &Path) {
        let mut path = self.dir.path().join("home");
        for part in folder.strip_prefix(&path).expect("under home").components() {
            path.push(part);
            std::fs::create_dir_all(&path).expect("maildir");
            self.chown(&path);
        }
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(folder.join(sub)).expect("maildir");
            self.chown(&folder.join(sub));
        }
    }

    /// Deliver `raw` to INBOX, as a local delivery agent does: a file in `new/`.
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let file = self.maildir().join("new").join(format!("{name}.letterpress-test"));
        std::fs::write(&file, raw).expect("deliver");
        self.chown(&file);
    }

    /// The messages in `folder` (`INBOX`, or a folder name such as `Processed`), sorted.
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let dir = if folder == "INBOX" { self.maildir() } else { self.maildir().join(format!(".{folder}")) };
        let mut out: Vec<Vec<u8>> = ["cur", "new"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
            .flatten()
            .map(|entry| std::fs::read(entry.expect("entry").path()).expect("message"))
            .collect();
        out.sort();
        out
    }

    /// Every message in every folder, by folder: a whole-mailbox snapshot.
    pub fn snapshot(&self) -> Vec<(String, Vec<Vec<u8>>)> {
        let mut folders = vec!["INBOX".to_owned()];
        if let Ok(entries) = std::fs::read_dir(self.maildir()) {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix('.').map(str::to_owned))
                .collect();
            names.sort();
            folders.extend(names);
        }
        folders.into_iter().map(|f| (f.clone(), self.messages(&f))).collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; `Child::kill` would orphan them.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

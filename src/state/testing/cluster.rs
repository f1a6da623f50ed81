//! A throwaway PostgreSQL cluster for tests: one per test process, a fresh database per test.
//!
//! Finds the server's binaries (`pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`), runs `initdb` and `pg_ctl` in a temporary directory as an
//! unprivileged user when the tests run as root (initdb refuses root: `setpriv` to `nobody`),
//! on a free port of 127.0.0.1 with its socket in that directory. A small shell script owns the
//! server: it starts it, says `ready`, and waits on its standard input, which this process
//! holds; when this process ends — normally, by a panic or by `kill -9` — the pipe closes and
//! the script stops the server (`pg_ctl stop -m immediate`) and removes the directory. A static
//! is never dropped, so the pipe, not a destructor, is the teardown.
//!
//! Used by the state store's unit tests and (through `#[path]`) by the CLI tests, so it needs
//! nothing but std and the `postgres` crate.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The running cluster.
pub struct Cluster {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _stdin: Mutex<ChildStdin>,
}

fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server found (pg_config --bindir, /usr/lib/postgresql: {e})"))?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|dir| dir.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|dir| dir.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    dirs.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn start() -> Result<Cluster, String> {
    let bin = bindir()?;
    let dir = tempfile::Builder::new().prefix("letterpress-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let root = is_root();
    if root {
        let chown = Command::new("chown").arg("nobody:nogroup").arg(&dir).status().map_err(|e| e.to_string())?;
        if !chown.success() {
            return Err(format!("chown nobody {} failed", dir.display()));
        }
    }
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let (data, log) = (dir.join("data"), dir.join("log"));
    let script = format!(
        "set -e
        {bin}/initdb -D {data} -U postgres --auth=trust -E UTF8 --no-sync >{dir}/initdb.log 2>&1
        {bin}/pg_ctl -D {data} -l {log} -w -o \"-c listen_addresses=127.0.0.1 -p {port} -k {dir} -c fsync=off -c max_connections=200\" start >/dev/null
        echo ready
        set +e
        read -r _ || true
        {bin}/pg_ctl -D {data} stop -m immediate >/dev/null 2>&1
        rm -rf {dir}",
        bin = q(&bin),
        data = q(&data),
        log = q(&log),
        dir = q(&dir),
    );
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    let mut child = command
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the cluster's script: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    if line.trim() != "ready" {
        let initdb = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("the test cluster did not start:\n{initdb}\n{log}"));
    }
    Ok(Cluster { port, _stdin: Mutex::new(stdin) })
}

/// The cluster of this test process, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

/// The URL of a new, empty database on the cluster.
pub fn fresh_database() -> String {
    fresh_database_with("")
}

/// The URL of a new, empty database made with `options` (`CREATE DATABASE name options`, e.g.
/// a collation of its own).
pub fn fresh_database_with(options: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = cluster();
    let name = format!("lp_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let create = format!("CREATE DATABASE {name} {options}");
    // On a thread of its own: the sync client must not run inside a caller's tokio runtime.
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to the test cluster");
        client.batch_execute(&create).expect("create a test database");
    })
    .join()
    .expect("create a test database");
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

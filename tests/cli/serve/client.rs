//! A running `letterpress serve --bind 127.0.0.1:0` in a fixture copy, a minimal HTTP/1.1
//! client that sends requests byte for byte (one connection per request), concurrent one-click
//! clients, and a child process that dies with the test.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::harness::Project;

/// The server, killed when dropped; its stderr lines are collected as they come.
pub struct Server {
    child: Child,
    /// `host:port` it listens on.
    pub address: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// A response: status, headers (names lower-cased), body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Server {
    /// `letterpress serve --bind 127.0.0.1:0` in `project` with `env`; waits for its URL.
    pub fn start(project: &Project, env: &[(&str, &str)]) -> Self {
        let mut child = project
            .command(&["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start letterpress serve");
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            }
        });
        let mut server = Self { child, address: String::new(), log };
        let line = server.wait_for_line("http://", Duration::from_secs(60));
        let url = &line[line.find("http://").expect("url")..];
        url.trim_start_matches("http://").split('/').next().expect("address").clone_into(&mut server.address);
        server
    }

    /// Stop the server as a service manager does (SIGTERM) and wait until it has exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        self.child.wait().expect("serve exits")
    }

    /// The first stderr line containing `needle`, waiting up to `timeout`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited with {status}:\n{}", self.log().join("\n"));
            }
            assert!(Instant::now() < deadline, "no stderr line with {needle:?}:\n{}", self.log().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every stderr line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn get(&self, target: &str) -> Response {
        self.send(&format!("GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address))
    }

    /// A form POST, with extra header lines (`"Name: value"`).
    pub fn post(&self, target: &str, body: &str, headers: &[&str]) -> Response {
        let extra = headers.iter().fold(String::new(), |out, h| out + h + "\r\n");
        self.send(&format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            self.address,
            body.len()
        ))
    }

    /// Send `raw` as it is and read the whole response.
    pub fn send(&self, raw: &str) -> Response {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        stream.write_all(raw.as_bytes()).expect("send");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("read");
        parse(&bytes)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole response read to the end of the connection (bodies have a `Content-Length`).
pub fn parse(raw: &[u8]) -> Response {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: String::from_utf8_lossy(&raw[end + 4..]).into_owned() }
}

/// One-click POSTs to every link, from `threads` clients at once; the statuses.
pub fn post_from_threads(server: &Server, links: &[String], threads: usize) -> Vec<u16> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = links
            .chunks(links.len().div_ceil(threads))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().map(|l| server.post(l, "List-Unsubscribe=One-Click", &[]).status).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a client thread")).collect()
    })
}

/// A child process killed when dropped (a failed assertion must not leave a send running).
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connections to `server` from each local address (`127.0.0.x`) the given number of times, in
/// that order, each left open and silent.
pub fn connect_from(server: &str, from: &[(&str, usize)]) -> Vec<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("a runtime");
    let server: std::net::SocketAddr = server.parse().expect("the server's address");
    runtime.block_on(async {
        let mut streams = Vec::new();
        for (local, count) in from {
            for _ in 0..*count {
                let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
                socket.bind(format!("{local}:0").parse().expect("a local address")).expect("bind");
                let stream = socket.connect(server).await.expect("connect").into_std().expect("a std stream");
                stream.set_nonblocking(false).expect("blocking");
                streams.push(stream);
            }
        }
        streams
    })
}

/// Whether the server closed `stream` (a read ends), waiting up to a minute.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut byte = [0; 1];
    matches!(stream.read(&mut byte), Ok(0))
        || stream.read(&mut byte).is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
}

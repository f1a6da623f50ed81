//! `letterpress preview`: the real binary on a free port in a fixture copy, spoken to over plain
//! HTTP/1.1 (so traversal attempts reach the server byte for byte), and once in headless Chromium.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{NOW, Project, repo_root};

const ISSUE: &str = "/issue/weekly/2016-12-09-tables/";
const SOURCE: &str = "content/weekly/2016-12-09-tables.md";

/// A running `letterpress preview --port 0`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    address: String,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    pub(crate) fn start(project: &Project) -> Self {
        Self::start_with(project, &[], &[])
    }

    fn start_with(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_letterpress"))
            .args(["preview", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(project.path())
            .env("LETTERPRESS_NOW", NOW)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start letterpress preview");
        let (sender, stderr) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut server = Self { child, address: String::new(), stderr };
        let line = server.wait_for_line("http://", Duration::from_secs(30));
        let url = &line[line.find("http://").expect("url")..];
        url.trim_start_matches("http://").split('/').next().expect("address").clone_into(&mut server.address);
        server
    }

    /// The next stderr line containing `needle`.
    fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {needle:?}: {e}"),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        self.request(path, &self.address)
    }

    /// `GET <path>` with the path sent exactly as given.
    fn request(&self, path: &str, host: &str) -> Response {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        Response::parse(&raw)
    }

    /// Wait for the `/events` stream to announce a version other than `current`.
    fn events(&self) -> Events {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(stream, "GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", self.address).expect("send");
        let mut events = Events { reader: BufReader::new(stream) };
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            events.reader.read_line(&mut line).expect("headers");
            assert!(!line.is_empty(), "the event stream closed");
        }
        events
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server-sent event stream.
struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// The next `data:` value.
    fn next(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("event");
            assert!(!line.is_empty(), "the event stream closed");
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return data.to_owned();
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Self {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let response = Self { status, headers, body: raw[end + 4..].to_vec() };
        assert_ne!(response.header("transfer-encoding"), "chunked", "bodies are sent whole");
        response
    }

    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `html` with the fixture site's absolute URLs in attributes pointing at the preview's archive.
fn local_urls(html: &str) -> String {
    html.replace("=\"https://preview.example.org/", "=\"/archive/")
}

#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "expected {needle:?} in:\n{haystack}");
}

#[test]
fn index_lists_every_issue_with_status_audience_and_checks() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let index = server.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), "text/html; charset=utf-8");
    let html = index.text();
    assert_contains(&html, "<h2>The Weekly <span class=\"muted\">weekly</span></h2>");
    assert_contains(&html, &format!("<a href=\"{ISSUE}\">Tables &amp; &lt;things&gt;</a>"));
    assert_contains(&html, "<a href=\"/issue/weekly/2016-12-16-draft/\">A draft in progress</a>");
    assert_contains(&html, "<span class=\"status draft\">draft</span>");
    assert_contains(&html, "2016-12-09T07:00:00Z");
    assert_contains(&html, "<td class=\"num\" title=\"lists: readers\">2</td>");
    assert_contains(&html, "<span class=\"badge warning\">1 warning</span>");
    assert_contains(&html, "new EventSource(\"/events\")");
}

#[test]
fn send_at_shows_in_the_site_time_zone() {
    let project = Project::fixture("preview");
    let config = project.read("letterpress.yaml").replace("site:\n", "site:\n  timezone: Europe/London\n");
    project.write("letterpress.yaml", &config);
    let source = "content/weekly/2016-12-09-tables.md";
    let text = project.read(source).replace("send_at: 2016-12-09T07:00:00+00:00", "send_at: 2027-07-15 07:00");
    project.write(source, &text);
    let server = Server::start(&project);
    assert_contains(&server.get("/").text(), "2027-07-15 07:00 BST");
    assert_contains(&server.get(ISSUE).text(), "<dd>2027-07-15 07:00 BST</dd>");
}

#[test]
fn issue_page_shows_the_email_as_sent_with_its_parts_and_checks() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let page = server.get(ISSUE);
    assert_eq!(page.status, 200);
    let html = page.text();
    for needle in [
        "<h1>Tables &amp; &lt;things&gt;</h1>",
        &format!("src=\"{ISSUE}email.html\""),
        "data-width=\"640\"",
        "data-width=\"375\"",
        "<dd id=\"subject\">Tables &amp; &lt;things&gt;</dd>",
        "<dd>The Weekly &lt;weekly@preview.example.org&gt;</dd>",
        "<dd>A preheader for the table issue.</dd>",
        "KB of Gmail&#39;s 102 KB clip",
        "<option value=\"ada@example.com\">Ada Lovelace &lt;ada@example.com&gt;</option>",
        "<option value=\"bo@example.com\">Bo &amp; Co &lt;bo@example.com&gt;</option>",
        "Cell under test     42",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Content-Type: multipart/alternative;",
        "Date: Sun, 22 Nov 2026 09:30:00 +0000",
        "No problems found.",
    ] {
        assert_contains(&html, needle);
    }
    let rendered = project.run(&["render", "weekly/2016-12-09-tables"]);
    assert_eq!(
        server.get(&format!("{ISSUE}email.html")).text(),
        local_urls(&rendered.stdout),
        "byte for byte as `render`, but for the site's URLs made local"
    );
    let text = project.run(&["render", "weekly/2016-12-09-tables", "--format", "text"]);
    let part = server.get(&format!("{ISSUE}email.txt"));
    assert_eq!((part.header("content-type"), part.text()), ("text/plain; charset=utf-8", text.stdout));
    let eml = server.get(&format!("{ISSUE}message.eml")).text();
    assert_contains(&eml, "From: \"The Weekly\" <weekly@preview.example.org>\r\n");
    assert_contains(&eml, "To: \"Sam Reader\" <sam.reader@example.com>\r\n");
    assert!(eml.find("Content-Type: text/plain") < eml.find("Content-Type: text/html"), "text before html");

    let draft = server.get("/issue/weekly/2016-12-16-draft/").text();
    assert_contains(&draft, "<code class=\"location\">content/weekly/2016-12-16-draft.md:5:15</code>");
    assert_contains(&draft, "leftover placeholder `TODO`");
}

#[test]
fn view_as_personalises_the_email_for_a_subscriber_on_its_lists() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let page = server.get(&format!("{ISSUE}?as=ada%40example.com")).text();
    assert_contains(&page, "<option value=\"ada@example.com\" selected>");
    assert_contains(&page, &format!("src=\"{ISSUE}email.html?as=ada%40example.com\""));
    assert_contains(&page, "To: &quot;Ada Lovelace&quot; &lt;ada@example.com&gt;");
    let email = server.get(&format!("{ISSUE}email.html?as=ada%40example.com")).text();
    assert_contains(&email, "because you subscribed as ada@example.com.");
    assert_contains(&email, "/unsubscribe?t=");
    // What the iframe shows is the sent message's HTML part, decoded by a mail parser.
    let eml = server.get(&format!("{ISSUE}message.eml?as=ada%40example.com")).text();
    let message = mail_parser::MessageParser::default().parse(eml.as_bytes()).expect("a message");
    let sent_html = message.body_html(0).expect("an HTML part").replace("\r\n", "\n");
    assert_eq!(email, local_urls(&sent_html), "the preview shows the HTML a send delivers, with local URLs");
    let sent_text = message.body_text(0).expect("a text part").replace("\r\n", "\n");
    assert_eq!(server.get(&format!("{ISSUE}email.txt?as=ada%40example.com")).text(), sent_text);
    assert_eq!(server.get(&format!("{ISSUE}?as=eve%40example.com")).status, 404);
}

#[test]
fn archive_pages_are_served_as_build_writes_them() {
    let project = Project::fixture("preview");
    let preview = Server::start(&project);
    assert_eq!(project.run(&["build", "--drafts", "--out", "built"]).code, 0);
    let built = crate::harness::snapshot_tree(&project.path().join("built"));
    // The manifest is build's record of what it wrote, not a page of the site.
    for (path, bytes) in built.iter().filter(|(p, _)| p.as_os_str() != ".letterpress-manifest") {
        let url = format!("/archive/{}", path.to_string_lossy().trim_end_matches("index.html"));
        let response = preview.get(&url);
        assert_eq!(response.status, 200, "{url}");
        let mut served = response.body;
        let mut expected = bytes.clone();
        if path.extension().is_some_and(|e| e == "html") {
            let mut html = String::from_utf8(served).expect("utf-8");
            let at = html.rfind("<script>\n(() => {\n  // Reload when the project changes.").expect("reload script");
            let end = html[at..].find("</script>\n").expect("script end") + at + "</script>\n".len();
            html.replace_range(at..end, "");
            served = html.into_bytes();
            // The site's absolute URLs (in the email renditions) point at the preview itself.
            expected = local_urls(&String::from_utf8(expected).expect("utf-8")).into_bytes();
        }
        assert_eq!(
            String::from_utf8_lossy(&served),
            String::from_utf8_lossy(&expected),
            "{url}: the build's bytes with local URLs, plus only the reload script in pages"
        );
    }
    assert_eq!(preview.get("/archive").status, 308);
    assert_eq!(preview.get("/archive/weekly/nope/").status, 404);
}

/// The values of `attribute` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle).filter_map(|(at, _)| html[at + needle.len()..].split('"').next()).collect()
}

#[test]
fn site_urls_point_at_the_preview_and_the_raw_message_stays_absolute() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let site = "https://preview.example.org/";
    let email = server.get(&format!("{ISSUE}email.html")).text();
    let urls = [attribute_values(&email, "src"), attribute_values(&email, "href")].concat();
    assert!(urls.contains(&"/archive/images/chart.png"), "{urls:?}");
    assert!(urls.contains(&"/archive/weekly/2016-12-09-tables/"), "{urls:?}");
    assert!(urls.iter().all(|u| !u.starts_with(site)), "every site URL is local: {urls:?}");
    let image = server.get("/archive/images/chart.png");
    assert_eq!((image.status, image.header("content-type")), (200, "image/png"));
    assert_eq!(server.get("/archive/weekly/2016-12-09-tables/").status, 200);

    let archived = server.get("/archive/weekly/2016-12-09-tables/").text();
    let stylesheet =
        attribute_values(&archived, "href").into_iter().find(|h| h.contains("archive.css")).expect("a stylesheet");
    assert_eq!(stylesheet, "../../archive.css");
    assert_eq!(server.get("/archive/archive.css").status, 200);
    assert!(attribute_values(&archived, "src").contains(&"../../images/chart.png"), "{archived}");

    // What `send` composes is left alone: the raw message keeps the site's absolute URLs.
    let eml = server.get(&format!("{ISSUE}message.eml")).text();
    let message = mail_parser::MessageParser::default().parse(eml.as_bytes()).expect("a message");
    let sent_html = message.body_html(0).expect("an HTML part");
    assert_contains(&sent_html, "src=\"https://preview.example.org/images/chart.png\"");
    assert_contains(&sent_html, "href=\"https://preview.example.org/weekly/2016-12-09-tables/\"");
    assert!(!sent_html.contains("/archive/"), "{sent_html}");
}

/// A journal in the project's state store: `weekly/2016-12-09-tables` sent to both readers.
fn journal_a_complete_send(project: &Project) {
    use letterpress::state::{DeliveryStatus, NewRecipient, SendState, State, Update};
    let at: jiff::Timestamp = "2026-11-21T08:00:00Z".parse().expect("a time");
    let path = project.path().join(".letterpress/state.db");
    let mut state = State::open(&path, Path::new(".letterpress/state.db")).expect("state");
    let issue = "weekly/2016-12-09-tables";
    state.start_send(issue, &"0".repeat(64), at, false).expect("start");
    let people = ["ada@example.com", "bo@example.com"];
    let recipients = people.iter().map(|email| NewRecipient {
        address_key: (*email).to_owned(),
        email: (*email).to_owned(),
        name: String::new(),
        attrs: std::collections::BTreeMap::new(),
        list: "readers".to_owned(),
        token_id: None,
        message_id: None,
    });
    state.add_recipients(issue, recipients, at).expect("recipients");
    for status in [DeliveryStatus::Inflight, DeliveryStatus::Sent] {
        let updates: Vec<Update> = people
            .iter()
            .map(|email| Update {
                address_key: (*email).to_owned(),
                status,
                code: None,
                reply: None,
                message_id: None,
                token_id: None,
                attempted: status == DeliveryStatus::Sent,
                relay: None,
            })
            .collect();
        state.apply(issue, &updates, at).expect("apply");
    }
    let finished: jiff::Timestamp = "2026-11-21T08:05:00Z".parse().expect("a time");
    state.finish_send(issue, SendState::Complete, None, finished).expect("finish");
}

#[test]
fn delivery_state_comes_from_the_journal_and_the_preview_creates_no_state() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    assert_contains(&server.get("/").text(), "<span class=\"delivery not-sent\">not sent</span>");
    let page = server.get(ISSUE).text();
    assert_contains(&page, "<dd id=\"delivery\"><span class=\"delivery not-sent\">not sent</span></dd>");
    assert!(!page.contains("class=\"banner"), "no banner before a send");
    for path in ["/", ISSUE, &format!("{ISSUE}email.html?as=ada%40example.com"), "/archive/"] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }
    assert!(!project.path().join(".letterpress").exists(), "the preview created state");
    drop(server);

    journal_a_complete_send(&project);
    let server = Server::start(&project);
    let mut events = server.events();
    let first = events.next();
    let sent = "<span class=\"delivery sent\">sent to 2 of 2 at 2026-11-21T08:05:00Z</span>";
    assert_contains(&server.get("/").text(), sent);
    assert_contains(&server.get("/").text(), "<span class=\"delivery not-sent\">not sent</span>");
    // Editing an issue already sent shows a banner saying the edit reaches the archive only.
    let original = project.read(SOURCE);
    project.write(SOURCE, &original.replace("The opening paragraph", "The edited paragraph"));
    while events.next() == first {}
    let page = server.get(ISSUE).text();
    assert_contains(&page, sent);
    assert_contains(
        &page,
        "<p class=\"banner sent\" role=\"status\">Already sent (sent to 2 of 2 at 2026-11-21T08:05:00Z). \
         Edits to this issue change the archive only",
    );
    assert_contains(&server.get(&format!("{ISSUE}email.html")).text(), "The edited paragraph");
}

#[test]
fn static_files_are_served_at_archive_paths_and_missing_routes_are_404() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let image = server.get("/images/chart.png");
    assert_eq!((image.status, image.header("content-type")), (200, "image/png"));
    assert_eq!(image.body, std::fs::read(project.path().join("static/images/chart.png")).expect("png"));
    assert_eq!(server.get("/images/nope.png").status, 404);
    assert_eq!(server.get("/issue/weekly/nope/").status, 404);
    assert_eq!(server.get(&format!("{ISSUE}nope.html")).status, 404);
    let redirect = server.get("/issue/weekly/2016-12-09-tables");
    assert_eq!((redirect.status, redirect.header("location")), (308, ISSUE));
}

#[test]
fn paths_cannot_escape_the_project() {
    let project = Project::fixture("preview");
    #[cfg(unix)]
    std::os::unix::fs::symlink(project.path().join("letterpress.yaml"), project.path().join("static/escape.yaml"))
        .expect("symlink");
    let server = Server::start(&project);
    for (path, status) in [
        ("/static/../letterpress.yaml", 400),
        ("/images/../../letterpress.yaml", 400),
        ("/images/%2e%2e/%2e%2e/letterpress.yaml", 400),
        ("/images/%2E%2E%2F%2E%2E%2Fletterpress.yaml", 400),
        ("/images/..%5c..%5cletterpress.yaml", 400),
        ("/archive/../letterpress.yaml", 400),
        ("/archive/%2e%2e/letterpress.yaml", 400),
        ("/letterpress.yaml", 404),
        ("/.letterpress/state.db", 404),
        #[cfg(unix)]
        ("/escape.yaml", 403),
    ] {
        let response = server.get(path);
        assert_eq!(response.status, status, "{path}");
        assert!(!response.text().contains("base-url"), "{path} leaked the configuration");
    }
    assert_eq!(server.request("/", "attacker.example:80").status, 403, "DNS rebinding");
    assert_eq!(
        server.request("/", &format!("localhost:{}", server.address.rsplit(':').next().expect("port"))).status,
        200
    );
}

#[test]
fn a_broken_issue_shows_the_overlay_until_fixed() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let mut events = server.events();
    let first = events.next();
    let original = project.read(SOURCE);
    project.write(SOURCE, &original.replace("status: ready", "status: ready\nsend_at: [oops"));
    let started = Instant::now();
    let second = events.next();
    assert_ne!(first, second, "a new version is announced");
    assert!(started.elapsed() < Duration::from_secs(3), "reload took {:?}", started.elapsed());
    let overlay = server.get(ISSUE);
    assert_eq!(overlay.status, 500);
    let html = overlay.text();
    assert_contains(&html, "<div class=\"overlay\" role=\"alert\">");
    assert_contains(&html, "<code class=\"location\">content/weekly/2016-12-09-tables.md:5:");
    assert_contains(&html, "new EventSource(\"/events\")");
    assert_contains(&server.get("/").text(), "Files that could not be loaded");

    project.write(SOURCE, &original.replace("The opening paragraph", "The fixed paragraph"));
    while events.next() == second {}
    let fixed = server.get(ISSUE);
    assert_eq!(fixed.status, 200);
    assert!(!fixed.text().contains("class=\"overlay\""));
    assert_contains(&server.get(&format!("{ISSUE}email.html")).text(), "The fixed paragraph");
    server.wait_for_line("preview: reloaded", Duration::from_secs(5));
}

#[test]
fn a_template_error_shows_the_overlay_on_every_page() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let mut events = server.events();
    let first = events.next();
    project.write("templates/email.html", "<p>{{ issue.title }</p>\n");
    while events.next() == first {}
    for path in ["/", ISSUE, "/archive/"] {
        let response = server.get(path);
        assert_eq!(response.status, 500, "{path}");
        assert_contains(&response.text(), "<code class=\"location\">templates/email.html:1:");
    }
}

#[test]
fn a_busy_port_or_a_missing_project_is_an_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("address").port().to_string();
    let output = Project::fixture("preview").run(&["preview", "--port", &port]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert_contains(&output.stderr, &format!("error: failed to listen on `127.0.0.1:{port}`: address"));
    let output = Project::empty().run(&["preview", "--port", "0"]);
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert_contains(&output.stderr, "no `letterpress.yaml`");
}

#[test]
fn open_without_xdg_open_only_prints_a_note() {
    let project = Project::fixture("preview");
    let server = Server::start_with(&project, &["--open"], &[("PATH", "/nonexistent")]);
    let note = server.wait_for_line("xdg-open", Duration::from_secs(10));
    assert_eq!(note, format!("preview: cannot run `xdg-open`; open {} in a browser", server.url("/")));
    assert_eq!(server.get("/").status, 200);
}

/// Why the browser tests cannot run here, if they cannot.
#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
fn browser_missing(e2e: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).is_file() {
        return Some(format!("`{chromium}` is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("`node` is missing".to_owned());
    }
    if !e2e.join("node_modules/playwright-core").is_dir() {
        return Some(format!("playwright-core is not installed (run `npm ci` in `{}`)", e2e.display()));
    }
    None
}

/// Run `node e2e.mjs <args>` in headless Chromium; a browser test that cannot run fails.
fn run_e2e(args: &[&str]) {
    let e2e = repo_root().join("tests/preview-e2e");
    if let Some(why) = browser_missing(&e2e) {
        panic!("this browser test cannot run: {why}");
    }
    let output = Command::new("node").current_dir(&e2e).arg("e2e.mjs").args(args).output().expect("run node");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{log}");
    assert!(output.status.success(), "the browser test failed:\n{log}");
}

#[test]
#[ignore = "needs chromium and playwright-core: `cargo test -- --include-ignored` runs it (.ci/run does)"]
fn in_chromium_edits_appear_live_and_errors_overlay() {
    let project = Project::fixture("preview");
    let server = Server::start(&project);
    let source = project.path().join(SOURCE);
    run_e2e(&["test", &server.url(ISSUE), source.to_str().expect("a UTF-8 path")]);
}

#[test]
#[ignore = "needs chromium and playwright-core: `cargo test -- --include-ignored` runs it (.ci/run does)"]
fn in_chromium_the_built_archive_is_styled_and_has_its_images_from_file_urls() {
    let project = Project::example();
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let index = project.path().join("public/index.html").canonicalize().expect("the built index");
    let url = url::Url::from_file_path(&index).expect("a file URL");
    run_e2e(&["archive", url.as_str()]);
}

use super::*;

const ISSUE: &str = "commissioner/2016-12-09-stp-plans-published";

/// Templates that print every slot, for the minimal fixture.
const PERSONAL_HTML: &str = "<!DOCTYPE html>\n<html><head><title>{{ issue.subject }}</title></head><body>\n<p>Dear {{ subscriber.name }} ({{ subscriber.email }}), news for {{ subscriber.attrs.region }}.</p>\n{{ issue.html | safe }}\n<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n</body></html>\n";
const PERSONAL_TEXT: &str = "Dear {{ subscriber.name }} ({{ subscriber.email }}), news for {{ subscriber.attrs.region }}.\n\n{{ issue.text }}\nUnsubscribe: {{ unsubscribe_url }}\n";

fn personal() -> (tempfile::TempDir, Project) {
    temp_project(&[("templates/email.html", PERSONAL_HTML), ("templates/email.txt", PERSONAL_TEXT)])
}

fn unsubscribe_url(message: &str) -> String {
    let value = one(message, "List-Unsubscribe");
    value.strip_prefix('<').and_then(|v| v.split('>').next()).unwrap().to_owned()
}

#[test]
fn message_bytes_snapshot() {
    let template = template(&minimal(), "weekly/2016-12-09-first");
    let (_, message) = compose(&template, "zoe@example.org", "Zoë Hartley-Brown", "North West");
    lines(&message);
    insta::with_settings!({filters => vec![
        (r"=_[0-9a-f]{16}\.[0-9a-f]{16}", "[boundary]"),
        (r"(?m)^Date: .*$", "Date: [date]"),
        (r"(?m)^Message-ID: <[0-9a-f]{32}@", "Message-ID: <[message-id]@"),
    ]}, {
        insta::assert_snapshot!(message.replace("\r\n", "\n"));
    });
}

#[test]
fn list_headers_meet_the_bulk_sender_checklist() {
    let mut project = example();
    project.config.sending.unsubscribe_mailto = Some("unsubscribe@news.example.org".to_owned());
    let template = template(&project, ISSUE);
    let (_, ruth) = compose(&template, "ruth@example.org", "Ruth", "London");
    let (_, sam) = compose(&template, "Sam.Jones@example.com", "Sam", "Leeds");
    for message in [&ruth, &sam] {
        // BS-1: one List-Unsubscribe, https first, then the mailto, each in angle brackets.
        let value = one(message, "List-Unsubscribe");
        let url = unsubscribe_url(message);
        assert!(url.starts_with("https://news.example.org/unsubscribe?t="), "{value}");
        let token = url.rsplit_once("?t=").unwrap().1;
        assert_eq!(value, format!("<{url}>, <mailto:unsubscribe@news.example.org?subject=unsubscribe%20{token}>"));
        // BS-2
        assert_eq!(one(message, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
        // BS-4: the same URL as a link in the HTML part and in full in the text part.
        let parsed = parse(message);
        assert!(parsed.body_html(0).unwrap().contains(&format!("<a href=\"{url}\"")), "html link");
        assert!(parsed.body_text(0).unwrap().contains(&format!("Unsubscribe: {url}")), "text link");
        // BS-5
        assert_eq!(one(message, "List-Id"), "\"The Commissioner\" <commissioner.news.example.org>");
    }
    // BS-3: opaque (no address, not even base64-decoded), per recipient, stable across renders.
    for (message, email) in [(&ruth, "ruth@example.org"), (&sam, "sam.jones@example.com")] {
        let url = unsubscribe_url(message).to_lowercase();
        assert!(!url.contains(email) && !url.contains(&email.replace('@', "%40")), "{url}");
        let token = unsubscribe_url(message).rsplit_once("?t=").unwrap().1.to_owned();
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).to_lowercase().contains(email));
    }
    assert_ne!(unsubscribe_url(&ruth), unsubscribe_url(&sam));
    let again = super::template(&project, ISSUE);
    assert_eq!(unsubscribe_url(&compose(&again, "ruth@example.org", "Ruth", "London").1), unsubscribe_url(&ruth));
    // BS-5: another publication is another list.
    let other = super::template(&project, "integrated-care/2022-07-01-icbs-go-live");
    let (_, briefing) = compose(&other, "ruth@example.org", "Ruth", "London");
    assert_eq!(one(&briefing, "List-Id"), "\"Integrated Care Briefing\" <integrated-care.news.example.org>");
}

#[test]
fn headers_meet_the_format_checklist() {
    let template = template(&example(), ISSUE);
    let (composed, message) = compose(&template, "ruth@example.org", "Ruth Akande", "London");
    // FMT-1
    let date: jiff::Timestamp = jiff::fmt::rfc2822::parse(&one(&message, "Date")).unwrap().timestamp();
    assert_eq!(date, DATE.parse::<jiff::Timestamp>().unwrap());
    // FMT-2
    assert_eq!(one(&message, "From"), "\"The Commissioner\" <commissioner@news.example.org>");
    assert_eq!(one(&message, "Reply-To"), "\"Ruth Akande\" <ruth.akande@news.example.org>");
    assert!(field(&message, "Sender").is_empty());
    // FMT-3: <32 hex digits @ the From domain>, from (issue, recipient).
    let id = one(&message, "Message-ID");
    assert_eq!(id, format!("<{}>", composed.message_id));
    let (left, right) = composed.message_id.split_once('@').unwrap();
    assert!(left.len() == 32 && left.bytes().all(|b| b.is_ascii_hexdigit()) && right == "news.example.org", "{id}");
    assert_eq!(compose(&template, "Ruth@Example.org", "R", "").0.message_id, composed.message_id);
    // Known before the message exists (the journal stores it with the recipient).
    assert_eq!(template.message_id(&crate::address::address_key("ruth@example.org")), composed.message_id);
    // FMT-4
    assert_eq!(one(&message, "To"), "\"Ruth Akande\" <ruth@example.org>");
    assert!(field(&message, "Cc").is_empty() && field(&message, "Bcc").is_empty());
    // FMT-5
    assert_eq!(one(&message, "MIME-Version"), "1.0");
    // FMT-6: names are printable ASCII without `:`; header bytes are 7-bit.
    let head = message.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii());
    for (name, _) in fields(&message) {
        assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'), "{name}");
    }
    // FMT-7 and FMT-8: CRLF only; no line over 998; header lines over 78 only without a fold point.
    for line in lines(&message) {
        assert!(line.len() <= 998, "{line}");
    }
    for line in head.split("\r\n").filter(|l| l.len() > 78) {
        let rest = line.split_once(": ").map_or(line.trim_start(), |(_, v)| v);
        assert!(!rest.contains(' '), "foldable header line over 78 columns: {line}");
    }
    assert_mime_structure(&message);
}

/// FMT-12 to FMT-14.
#[track_caller]
fn assert_mime_structure(message: &str) {
    let content_type = one(message, "Content-Type");
    let boundary = content_type.split("boundary=\"").nth(1).unwrap().trim_end_matches('"');
    assert!(content_type.starts_with("multipart/alternative;"), "{content_type}");
    assert!(boundary.len() <= 70 && boundary.starts_with("=_"), "{boundary}");
    let body = message.split_once("\r\n\r\n").unwrap().1;
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.len(), 4, "preamble, two parts, epilogue");
    assert_eq!(parts[3], "--\r\n");
    for (part, kind) in [(parts[1], "text/plain"), (parts[2], "text/html")] {
        assert!(
            part.starts_with(&format!(
                "\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            )),
            "{part:.120}"
        );
        for line in part.split("\r\n") {
            assert!(line.len() <= 76, "quoted-printable line over 76: {line}");
        }
    }
    let parsed = parse(message);
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
}

#[test]
fn parts_decode_to_the_rendered_email_with_the_values_filled() {
    let (_dir, project) = personal();
    let template = template(&project, "weekly/2016-12-09-first");
    let name = "Zoë \"Q\" Müller, Jr. & <Sons>";
    let (_, message) = compose(&template, "zoe@example.org", name, "Nord–Ouest 日本");
    assert_mime_structure(&message);
    let issue = project.find("weekly/2016-12-09-first").unwrap();
    let publication = project.config.publication("weekly").unwrap();
    let Parts { text, html, .. } =
        Parts::render(&project, &super::checked(&project, issue), publication, &["region".to_owned()], false).unwrap();
    let url = unsubscribe_url(&message);
    let fill = |split: &slots::Split, escape: fn(&str) -> String| {
        let mut out = String::new();
        for (i, segment) in split.segments.iter().enumerate() {
            out.push_str(&segment.replace('\n', "\r\n"));
            if let Some(&slot) = split.slots.get(i) {
                let value = ["zoe@example.org", name, url.as_str(), "Nord–Ouest 日本"][slot];
                out.push_str(&escape(value));
            }
        }
        out
    };
    let parsed = parse(&message);
    assert_eq!(parsed.text_part(0).unwrap().text_contents().unwrap(), fill(&text, str::to_owned));
    assert_eq!(parsed.html_part(0).unwrap().text_contents().unwrap(), fill(&html, slots::escape_html));
    // FMT-10: the display name round-trips through quoting and encoded-words.
    let to = parsed.to().unwrap().first().unwrap();
    assert_eq!((to.name(), to.address()), (Some(name), Some("zoe@example.org")));
    assert_eq!(parsed.subject(), Some("First issue"));
}

#[test]
fn subscriber_values_are_escaped_in_html_literal_in_text_and_never_evaluated() {
    let (_dir, project) = personal();
    let template = template(&project, "weekly/2016-12-09-first");
    let name = "{{ 7*7 }} <script>alert(1)</script>";
    let (_, message) = compose(&template, "x@example.org", name, "{% include \"email.txt\" %}");
    let parsed = parse(&message);
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("Dear {{ 7*7 }} &lt;script&gt;alert(1)&lt;/script&gt; (x@example.org)"), "{html}");
    assert!(html.contains("news for {% include &quot;email.txt&quot; %}."), "{html}");
    assert!(!html.contains("<script>") && !html.contains("49"));
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains(
            "Dear {{ 7*7 }} <script>alert(1)</script> (x@example.org), news for {% include \"email.txt\" %}."
        )
    );
}

#[test]
fn a_name_with_a_line_break_never_becomes_a_header() {
    let template = template(&minimal(), "weekly/2016-12-09-first");
    for name in [
        "Eve\r\nBcc: x@example.com",
        "Eve\nBcc: x@example.com",
        "Eve\rBcc: x@example.com",
        "Eve\0",
        &"E".repeat(300),
        "=?utf-8?b?RXZlDQpCY2M6IHhAZXhhbXBsZS5jb20=?=",
    ] {
        let (_, message) = compose(&template, "eve@example.org", name, "");
        assert!(!message.contains("\r\nBcc:") && !message.starts_with("Bcc:"), "{message}");
        assert_eq!(one(&message, "To"), "eve@example.org", "the name is left out of the header");
        let parsed = parse(&message);
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some("eve@example.org"));
        lines(&message);
    }
}

#[test]
fn long_and_non_ascii_subjects_are_folded_encoded_words() {
    let ascii = "The plans are out ".repeat(17);
    let cjk = "日本語の件名".repeat(50);
    let mixed = "Zoë’s 👋🏽 update: שלום עולם and combining e\u{301} — ".repeat(6);
    for subject in [ascii.trim(), cjk.as_str(), mixed.trim()] {
        let issue = format!("---\ntitle: \"Long\"\nsubject: \"{subject}\"\nstatus: ready\n---\n\nBody.\n");
        let (_dir, project) = temp_project(&[("content/weekly/2017-01-06-long.md", &issue)]);
        let template = template(&project, "weekly/2017-01-06-long");
        let (_, message) = compose(&template, "a@example.org", "A", "");
        let head = message.split("\r\n\r\n").next().unwrap();
        let subject_lines: Vec<&str> = head
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| !l.starts_with("MIME"))
            .collect();
        assert!(subject_lines.len() > 1, "a long subject is folded");
        for line in subject_lines {
            assert!(line.len() <= 78 && line.is_ascii(), "{line}");
            for word in line.split(' ').filter(|w| w.starts_with("=?")) {
                assert!(word.len() <= 75 && word.ends_with("?="), "encoded-word {word}");
            }
        }
        assert_eq!(parse(&message).subject(), Some(subject), "the subject decodes back exactly");
    }
}

#[test]
fn message_ids_and_boundaries_are_unique_per_recipient() {
    let template = template(&minimal(), "weekly/2016-12-09-first");
    let attrs = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    let mut out = Vec::new();
    for i in 0..20_000 {
        let email = format!("reader{i}@example.org");
        let recipient = Recipient { email: &email, name: "", attrs: &attrs, list: "weekly" };
        assert!(ids.insert(template.compose(&recipient, &mut out).unwrap().message_id));
    }
    let (_, a) = compose(&template, "a@example.org", "", "");
    let (_, b) = compose(&template, "b@example.org", "", "");
    assert_ne!(one(&a, "Content-Type"), one(&b, "Content-Type"));
}

#[test]
fn a_body_holding_a_boundary_prefix_stays_one_part() {
    let issue = "---\ntitle: \"Dashes\"\nstatus: ready\n---\n\n```\n--=_0123456789abcdef.0123456789abcdef--\n.\nFrom here on\n```\n";
    let (_dir, project) = temp_project(&[("content/weekly/2017-01-06-dashes.md", issue)]);
    let template = template(&project, "weekly/2017-01-06-dashes");
    let (_, message) = compose(&template, "a@example.org", "", "");
    assert_mime_structure(&message);
    assert!(parse(&message).body_text(0).unwrap().contains("--=_0123456789abcdef.0123456789abcdef--"));
}

#[test]
fn templates_may_print_subscriber_values_but_not_test_or_change_them() {
    for html in [
        "{% if subscriber.name %}Dear {{ subscriber.name }}{% endif %}{{ unsubscribe_url }}",
        "Dear {{ subscriber.name | length }}{{ unsubscribe_url }}",
        "Dear {{ subscriber.name | truncate(length=2) }}{{ unsubscribe_url }}",
        "{% if subscriber.attrs.region %}Region: {{ subscriber.attrs.region }}{% endif %}{{ unsubscribe_url }}",
    ] {
        let (_dir, project) = temp_project(&[("templates/email.html", html)]);
        let Err(Error::Invalid(problems)) = try_template(&project, "weekly/2016-12-09-first", options()) else {
            panic!("{html} was accepted");
        };
        assert_eq!(problems[0].code, "template/slots", "{html}");
    }
    let (_dir, project) =
        temp_project(&[("templates/email.html", "{{ subscriber.name | upper }} {{ unsubscribe_url }}")]);
    try_template(&project, "weekly/2016-12-09-first", options()).map_err(|e| e.to_string()).unwrap();
}

#[test]
fn the_comparing_render_runs_only_when_the_source_does_not_show_plain_prints() {
    let html_renders = |html: &str| {
        let (_dir, project) = temp_project(&[("templates/email.html", html)]);
        let checked = super::checked(&project, project.find("weekly/2016-12-09-first").unwrap());
        let before = crate::template::renders::count().get("email.html").copied().unwrap_or(0);
        MessageTemplate::new(&project, &checked, options()).map_err(|e| e.to_string()).unwrap();
        crate::template::renders::count().get("email.html").copied().unwrap_or(0) - before
    };
    assert_eq!(html_renders("Dear {{ subscriber.name }} {{ unsubscribe_url }}"), 1, "the marked render only");
    assert_eq!(html_renders("Dear {{ subscriber.name | upper }} {{ unsubscribe_url }}"), 2, "and the comparing one");
}

#[test]
fn list_sends_need_an_https_unsubscribe_link_in_both_parts() {
    let code =
        |project: &Project, options: ComposeOptions| match try_template(project, "weekly/2016-12-09-first", options) {
            Err(Error::Invalid(problems)) => problems[0].code,
            Ok(_) => "ok",
            Err(e) => panic!("{e}"),
        };
    let mut project = minimal();
    project.config.site.unsubscribe_url = Some("http://minimal.example.org/unsubscribe".to_owned());
    assert_eq!(code(&project, options()), "config/unsubscribe-url");
    assert_eq!(code(&project, ComposeOptions { test: true, ..options() }), "ok");
    project.config.site.unsubscribe_url = Some("http://127.0.0.1:8025/u".to_owned());
    assert_eq!(code(&project, options()), "ok");
    project.config.site.unsubscribe_url = Some(format!("https://minimal.example.org/{}", "u".repeat(870)));
    let template = MessageTemplate::new(
        &project,
        &super::checked(&project, project.find("weekly/2016-12-09-first").unwrap()),
        options(),
    )
    .unwrap();
    for line in lines(&compose(&template, "a@example.org", "", "").1) {
        assert!(line.len() <= 998);
    }
    let (_dir, project) = temp_project(&[("templates/email.txt", "{{ issue.text }}")]);
    assert_eq!(code(&project, options()), "template/unsubscribe");
}

#[test]
fn test_sends_are_marked_and_content_hash_follows_content_only() {
    let project = minimal();
    let list = template(&project, "weekly/2016-12-09-first");
    let test = try_template(&project, "weekly/2016-12-09-first", ComposeOptions { test: true, ..options() }).unwrap();
    assert_eq!(list.subject(), "First issue");
    assert_eq!(test.subject(), "[TEST] First issue");
    let (test_copy, message) = compose(&test, "a@example.org", "", "");
    assert_eq!(one(&message, "Subject"), "[TEST] First issue");
    assert_ne!(
        test_copy.message_id,
        compose(&list, "a@example.org", "", "").0.message_id,
        "a test copy is another message"
    );
    assert_eq!(list.envelope_from(), "weekly@minimal.example.org");
    let reordered = ComposeOptions { attr_columns: vec!["a".to_owned(), "region".to_owned()], ..options() };
    assert_eq!(
        try_template(&project, "weekly/2016-12-09-first", reordered).unwrap().content_hash(),
        list.content_hash()
    );
    assert_eq!(list.content_hash().len(), 64);
    assert_ne!(template(&project, "weekly/2016-12-16-second").content_hash(), list.content_hash());
}

#[test]
fn a_message_template_is_shared_by_worker_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<MessageTemplate>();
}

/// An internationalised From or Reply-To domain goes into the headers as its A-label: a header
/// is 7-bit outside an SMTPUTF8 transaction (RFC 5322 §2.2, RFC 6532), and it matches the
/// Message-ID's and the envelope's domain.
#[test]
fn an_internationalised_sender_domain_is_written_as_its_a_label() {
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal/letterpress.yaml"))
            .unwrap()
            .replace(
                "weekly@minimal.example.org>\"",
                "weekly@bücher.example>\"\n    reply-to: \"Desk <desk@Bücher.example>\"",
            );
    let (_dir, project) = temp_project(&[("letterpress.yaml", &config)]);
    let template = template(&project, "weekly/2016-12-09-first");
    let (_, message) = compose(&template, "zoe@example.org", "Zoë", "North West");
    let head = message.split("\r\n\r\n").next().unwrap();
    assert!(head.is_ascii(), "{head}");
    assert_eq!(one(&message, "From"), "\"The Weekly\" <weekly@xn--bcher-kva.example>");
    assert_eq!(one(&message, "Reply-To"), "Desk <desk@xn--bcher-kva.example>");
    assert_eq!(template.envelope_from(), "weekly@xn--bcher-kva.example");
}

/// The `mailto:` of `List-Unsubscribe` is a URI (RFC 6068): a `?`, `#`, `%` or non-ASCII letter
/// in the local part is percent-encoded and the domain is its A-label, so the header stays
/// 7-bit and a client reads the address that was configured.
#[test]
fn the_unsubscribe_mailto_is_written_as_a_uri() {
    for (configured, written) in [
        ("unsubscribe@news.example.org", "unsubscribe@news.example.org"),
        ("un?sub#scribe%41@news.example.org", "un%3Fsub%23scribe%2541@news.example.org"),
        ("désabonner@Bücher.example", "d%C3%A9sabonner@xn--bcher-kva.example"),
    ] {
        let mut project = example();
        project.config.sending.unsubscribe_mailto = Some(configured.to_owned());
        let template = template(&project, ISSUE);
        let (_, message) = compose(&template, "ruth@example.org", "Ruth", "London");
        let value = one(&message, "List-Unsubscribe");
        assert!(value.is_ascii(), "{value}");
        assert!(value.contains(&format!(", <mailto:{written}?subject=unsubscribe%20")), "{configured}: {value}");
    }
}

/// The unsubscribe URL may be as long as the `List-Unsubscribe` line leaves it with the longest
/// token a send of the configuration appends (and the `mailto:` after it): the longest URL the
/// test passes makes a line of exactly 998 characters for a reader of the longest-named list,
/// and one character more is refused before any message.
#[test]
fn the_unsubscribe_url_may_take_what_the_longest_token_leaves_of_the_header_line() {
    let list = |slug: String| crate::config::List {
        slug,
        name: "L".to_owned(),
        description: String::new(),
        path: None,
        welcome: None,
        welcome_latest: false,
    };
    let mut project = minimal();
    for (slugs, longest) in [
        (vec![], PREVIEW_LIST.len()),
        (vec!["a".to_owned(), "b".to_owned()], PREVIEW_LIST.len()),
        (vec!["readers".to_owned(), "members".to_owned()], "readers+members".len()),
        (vec!["a".repeat(150), "b".repeat(150)], unsubscribe::MAX_SCOPE_BYTES),
        (vec!["c".repeat(250)], 250),
    ] {
        project.config.lists = slugs.into_iter().map(list).collect();
        assert_eq!(unsubscribe::longest_scope(&project.config), longest);
    }
    project.config.lists = vec![list("a-long-list-name".to_owned())];
    project.config.sending.unsubscribe_mailto = Some("unsubscribe@minimal.example.org".to_owned());
    let set = |project: &mut Project, n: usize| {
        project.config.site.unsubscribe_url = Some(format!("https://minimal.example.org/{}", "u".repeat(n)));
    };
    let n = (0..1000)
        .rev()
        .find(|&n| {
            set(&mut project, n);
            unsubscribe_url_problem(&project.config).is_none()
        })
        .unwrap();
    set(&mut project, n);
    let template = template(&project, "weekly/2016-12-09-first");
    let none = BTreeMap::new();
    let recipient = Recipient { email: "a@example.org", name: "", attrs: &none, list: "a-long-list-name" };
    let mut out = Vec::new();
    template.compose(&recipient, &mut out).unwrap();
    let message = String::from_utf8(out).unwrap();
    assert_eq!(lines(&message).into_iter().map(str::len).max(), Some(998));
    project.config.site.unsubscribe_url = Some("https://minimal.example.org/unsubscribe#now".to_owned());
    let fragment = unsubscribe_url_problem(&project.config).unwrap();
    assert_eq!((fragment.code, fragment.message.ends_with("has a `#` fragment")), ("config/unsubscribe-url", true));
    // What a list send refuses, `check` flags: plain http to another host; to this machine it
    // is allowed (a local trial).
    project.config.site.unsubscribe_url = Some("http://minimal.example.org/unsubscribe".to_owned());
    let http = unsubscribe_url_problem(&project.config).unwrap();
    assert!(http.message.contains("is not https"), "{}", http.message);
    assert!(matches!(
        try_template(&project, "weekly/2016-12-09-first", options()),
        Err(Error::Invalid(problems)) if problems[0].message == http.message
    ));
    project.config.site.unsubscribe_url = Some("http://127.0.0.1:8080/unsubscribe".to_owned());
    assert!(unsubscribe_url_problem(&project.config).is_none());
    set(&mut project, n + 1);
    match try_template(&project, "weekly/2016-12-09-first", options()) {
        Err(Error::Invalid(problems)) => {
            assert_eq!(problems[0].code, "config/unsubscribe-url");
            assert!(problems[0].message.contains("`List-Unsubscribe` header would have a line of 999"), "{problems:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// An issue that names a list twice goes to it once, and its token names it once: the
/// longest token a configuration can carry is that of all its lists, each once.
#[test]
fn a_list_named_twice_is_named_once_in_the_token() {
    let config = format!(
        "{}    lists: [readers]\nlists:\n  - slug: readers\n    name: Readers\n",
        include_str!("../../../tests/fixtures/minimal/letterpress.yaml")
    );
    let (_dir, project) = temp_project(&[
        ("letterpress.yaml", &config),
        ("subscribers/readers.csv", "email,name\na@example.org,A\n"),
        ("content/weekly/2016-12-30-twice.md", "---\ntitle: Twice\nlists: [readers, readers]\n---\n\nBody.\n"),
    ]);
    let template = template(&project, "weekly/2016-12-30-twice");
    let none = BTreeMap::new();
    let mut out = Vec::new();
    template.compose(&Recipient { email: "a@example.org", name: "", attrs: &none, list: "readers" }, &mut out).unwrap();
    let url = unsubscribe_url(&String::from_utf8(out).unwrap());
    let token = url.rsplit_once("?t=").unwrap().1;
    assert_eq!(keys().verify(token).unwrap().list, "readers");
}

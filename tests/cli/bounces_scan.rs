//! `letterpress bounces scan`: what each fixture bounce says about each recipient, the JSON
//! shape the docs promise, Maildir and mbox input, and bad input (huge, many recipients,
//! missing paths) handled without a panic.

use std::fmt::Write as _;

use crate::harness::{Project, fixture_dir, run_in};

/// (fixture file without `.eml`, recipient, verdict, reason), in output order.
const EXPECTED: &[(&str, Option<&str>, &str, &str)] = &[
    ("163-user-not-found", Some("wuren@163.example"), "hard", "userunknown"),
    ("amazonses-dsn", Some("bounce@simulator.amazonses.example"), "hard", "userunknown"),
    ("amazonses-notification-json", Some("jane@example.com"), "hard", "userunknown"),
    // Refusing attachments is the reader's policy, not a host that takes no mail at all.
    ("aol-attachments-refused", Some("pictures-please@aol.example"), "soft", "policyviolation"),
    // A screen name alone under the heading: the name at the bouncing system's domain; the
    // address the heading names is the sender's.
    ("aol-screen-name", Some("riverwalker@aol.example"), "hard", "notaccept"),
    ("barracuda-reputation", Some("buyer@shop.example"), "soft", "blocked"),
    // Listed under the heading, though the report also copies it into its own `X-Original-To`.
    ("cdo-non-delivery", Some("tess@example.com"), "soft", "undefined"),
    ("courier-user-unknown", Some("lost@example.info"), "hard", "userunknown"),
    // "The address to which your message was addressed", not the locator's suggestion.
    ("directory-failed-mail", Some("jsmith@lab.example.gov"), "soft", "undefined"),
    ("domino-not-listed", Some("hans.meier@lotus.example.com"), "hard", "userunknown"),
    ("exchange-recipnotfound", Some("left.company@corp.example.com"), "hard", "userunknown"),
    // `dda:SMTP=` is an X.400 tag, not the address; the quoted To and Cc are not who failed.
    ("exchange55-x400-recipient", Some("archive.desk@corp.example.COM"), "hard", "userunknown"),
    ("exim-delay-warning", Some("lagging@example.org"), "soft", "delayed"),
    ("exim-quota", Some("stuffed@example.org"), "soft", "mailboxfull"),
    // Refused at MAIL FROM: "No such domain" is the sender's domain, not the reader's.
    ("exim-sender-domain-refused", Some("reader@club.example.net"), "soft", "rejected"),
    ("exim-unrouteable", Some("someone@nowhere.invalid.example"), "hard", "hostunknown"),
    ("exim-user-unknown", Some("ghost@example.org"), "hard", "userunknown"),
    // A report forwarded as an attachment of a filter's own message is the bounce.
    ("filter-wrapped-dsn", Some("left.firm@firm.example.com"), "hard", "userunknown"),
    // "Could not be delivered … delivery attempts will continue": a warning, not a success.
    ("gateway-delay-still-retrying", Some("Patient.Reader@example.org"), "soft", "delayed"),
    ("gmail-address-not-found", Some("no.such.person@gmail.example"), "hard", "userunknown"),
    ("gmail-legacy-text", Some("typo.name@gmail.example"), "hard", "userunknown"),
    ("gmail-over-quota", Some("hoarder@gmail.example"), "soft", "mailboxfull"),
    ("gmx-mailbox-unavailable", Some("verloren@gmx.example"), "hard", "userunknown"),
    ("groupwise-user-not-found", Some("j.doe@gw.example.gov"), "hard", "userunknown"),
    ("mailru-user-not-found", Some("net-takogo@mail.example.ru"), "hard", "userunknown"),
    ("messagelabs-invalid-recipient", Some("nobody-here@client.example"), "hard", "userunknown"),
    // Action and Status before the recipients, one block; the Original-Recipient is reported.
    ("messaging-server-alias", Some("paula@example.com"), "soft", "mailboxfull"),
    ("mimecast-policy", Some("staff@firm.example"), "soft", "policyviolation"),
    ("mislabelled-no-blank-lines", Some("typo@exmaple.example"), "hard", "hostunknown"),
    ("mislabelled-no-blank-lines", Some("second@exmaple.example"), "hard", "hostunknown"),
    ("not-a-message", None, "unknown", "notbounce"),
    ("office365-html-only", Some("megan@contoso.example"), "hard", "userunknown"),
    ("orange-quoted-printable", Some("dupont.jean@orange.example"), "hard", "userunknown"),
    ("outlook-automatic-reply", Some("sam@corp.example.com"), "auto-reply", "vacation"),
    ("outlook-blocklist", Some("reader@outlook.example"), "soft", "blocked"),
    // The older JMRP: no feedback-report part, the reader in X-HmXmrOriginalRecipient.
    ("outlook-jmrp-legacy", Some("annoyed@hotmail.example"), "complaint", "feedback"),
    ("outlook-jmrp", Some("unhappy@hotmail.example"), "complaint", "feedback"),
    // A 4.x.x status with a 4xx reply (or none) is temporary whatever the words say; a 5xx
    // reply is permanent whatever the status.
    ("postfix-450-user-unknown", Some("siobhan@example.org"), "soft", "userunknown"),
    ("postfix-550-status-4", Some("gone@example.org"), "hard", "userunknown"),
    // The Original-Recipient (what was sent), not the alias's target.
    ("postfix-alias-delayed", Some("liisa@example.fi"), "soft", "delayed"),
    ("postfix-disabled", Some("closed@example.com"), "soft", "suspend"),
    ("postfix-dns-tempfail", Some("tom@example.net"), "soft", "hostunknown"),
    ("postfix-expired", Some("gone-quiet@example.com"), "soft", "expired"),
    ("postfix-greylisted", Some("grey@example.com"), "soft", "delayed"),
    ("postfix-host-unknown", Some("someone@no-such-domain.example"), "hard", "hostunknown"),
    ("postfix-mailbox-full", Some("full@example.com"), "soft", "mailboxfull"),
    ("postfix-moved", Some("old@example.com"), "hard", "hasmoved"),
    ("postfix-relay-denied", Some("x@elsewhere.example"), "soft", "norelaying"),
    // Words that say "too big" beat a generic 5.1.1 status.
    ("postfix-size-status-511", Some("photos@example.com"), "soft", "mesgtoobig"),
    ("postfix-spam-content", Some("desk@example.com"), "soft", "spamdetected"),
    ("postfix-spamhaus", Some("editor@example.com"), "soft", "blocked"),
    ("postfix-too-big", Some("big@example.com"), "soft", "mesgtoobig"),
    // "Unknown user" only once the server had the message (it took the address at `RCPT TO`):
    // a content filter's words, not a missing mailbox.
    ("postfix-unknown-user-after-data", Some("reader@filtered.example.com"), "soft", "filtered"),
    ("postfix-user-unknown", Some("nobody@example.com"), "hard", "userunknown"),
    ("qmail-no-mailbox", Some("nobody@example.com"), "hard", "userunknown"),
    ("qmail-remote-full", Some("quota@example.net"), "soft", "mailboxfull"),
    ("qq-mailbox-not-found", Some("10001@qq.example"), "hard", "userunknown"),
    ("reader-reply", None, "unknown", "notbounce"),
    ("rfc3464-delayed-user-unknown", Some("who@example.net"), "soft", "delayed"),
    ("rfc3464-delayed", Some("slow@example.net"), "soft", "delayed"),
    ("rfc3464-delivered", Some("reader@example.net"), "delivered", "delivered"),
    ("rfc3464-multiple-recipients", Some("pete@example.net"), "hard", "userunknown"),
    ("rfc3464-multiple-recipients", Some("robin@example.net"), "soft", "delayed"),
    ("rfc3464-multiple-recipients", Some("sam@example.net"), "soft", "mailboxfull"),
    ("rfc3464-relayed", Some("legacy@old.example.com"), "delivered", "delivered"),
    ("rfc3464-user-unknown", Some("louisa@cs.utk.example"), "hard", "userunknown"),
    ("rfc3834-auto-replied", Some("alex@example.net"), "auto-reply", "vacation"),
    ("rfc5965-arf", Some("somebody@example.net"), "complaint", "feedback"),
    // `user@host...User account`: the domain ends at the dots.
    ("sendmail-ellipsis-overquota", Some("hoarder@example.net"), "soft", "mailboxfull"),
    ("sendmail-fatal-errors", Some("student@example.edu"), "hard", "userunknown"),
    ("tonline-latin1-8bit", Some("mueller@t-online.example"), "hard", "userunknown"),
    ("truncated-dsn", Some("nobody@example.com"), "hard", "userunknown"),
    ("vacation-french", Some("claire@example.fr"), "auto-reply", "vacation"),
    ("vacation-german", Some("jana@example.de"), "auto-reply", "vacation"),
    ("yahoo-feedback-loop", Some("complainer@yahoo.example"), "complaint", "feedback"),
    ("yahoo-no-account", Some("departed@yahoo.example"), "hard", "userunknown"),
    ("yandex-user-unknown", Some("absent@yandex.example"), "hard", "userunknown"),
];

fn rows(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

fn scan_fixtures() -> Vec<serde_json::Value> {
    let root = fixture_dir("bounces");
    let parent = root.parent().expect("fixtures dir");
    let out = run_in(parent, &["bounces", "scan", "bounces", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    rows(&out.stdout)
}

#[test]
fn every_fixture_gets_its_verdict_reason_and_recipient() {
    let rows = scan_fixtures();
    let got: Vec<(String, Option<String>, String, String)> = rows
        .iter()
        .map(|row| {
            let file = row["file"].as_str().expect("file");
            let name = file.trim_start_matches("bounces/").trim_end_matches(".eml").to_owned();
            (
                name,
                row["recipient"].as_str().map(str::to_owned),
                row["verdict"].as_str().expect("verdict").to_owned(),
                row["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, Option<String>, String, String)> = EXPECTED
        .iter()
        .map(|(f, r, v, why)| ((*f).to_owned(), r.map(str::to_owned), (*v).to_owned(), (*why).to_owned()))
        .collect();
    let mut diff = String::new();
    for (index, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            let _ = writeln!(diff, "row {index}: got {g:?}, want {w:?}");
        }
    }
    assert!(diff.is_empty() && got.len() == want.len(), "{diff}\n{} rows, want {}", got.len(), want.len());
}

#[test]
fn json_rows_have_the_documented_fields_and_are_never_wrong_in_the_safe_direction() {
    for row in scan_fixtures() {
        let object = row.as_object().expect("object");
        for key in ["file", "recipient", "verdict", "status", "reply", "reason", "send", "attributed"] {
            assert!(object.contains_key(key), "{key} missing in {row}");
        }
        assert_eq!(row["send"], serde_json::Value::Null);
        assert_eq!(row["attributed"], false);
        let file = row["file"].as_str().expect("file");
        let verdict = row["verdict"].as_str().expect("verdict");
        // Auto-replies, success notices and delay warnings never suppress.
        if file.contains("vacation") || file.contains("auto") || file.contains("delivered") || file.contains("relayed")
        {
            assert!(!matches!(verdict, "hard" | "soft" | "complaint"), "{row}");
        }
        if file.contains("delay") || file.contains("greylisted") {
            assert_ne!(verdict, "hard", "{row}");
        }
    }
}

#[test]
fn snapshot_of_the_json() {
    let root = fixture_dir("bounces");
    let out = run_in(root.parent().expect("parent"), &["bounces", "scan", "bounces", "--format", "json"]);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn text_format_prints_a_line_per_recipient_and_counts() {
    let root = fixture_dir("bounces");
    let out = run_in(
        root.parent().expect("parent"),
        &["bounces", "scan", "bounces/postfix-user-unknown.eml", "bounces/rfc5965-arf.eml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "bounces/postfix-user-unknown.eml\tnobody@example.com\thard\tuserunknown\t5.1.1\n\
         bounces/rfc5965-arf.eml\tsomebody@example.net\tcomplaint\tfeedback\t-\n"
    );
    assert_eq!(out.stderr, "scanned 2 messages: 1 complaint, 1 hard\n");
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_dir("bounces").join(format!("{name}.eml"))).expect("fixture")
}

#[test]
fn reads_an_mbox_with_from_quoting_and_a_maildir() {
    let project = Project::empty();
    let mut mbox = String::new();
    for name in ["qmail-no-mailbox", "rfc3834-auto-replied", "gmail-over-quota"] {
        let text = fixture(name).replace("\r\n", "\n").replace("\nThis week:", "\nFrom the desk: this week:");
        let quoted = text.replace("\nFrom the desk", "\n>From the desk");
        let _ = write!(mbox, "From MAILER-DAEMON Sun Mar  1 09:02:11 2026\n{quoted}\n");
    }
    project.write("bounces.mbox", &mbox);
    project.write("Maildir/cur/1.host:2,S", &fixture("postfix-user-unknown"));
    project.write("Maildir/new/2.host", &fixture("rfc5965-arf"));
    project.write("Maildir/tmp/3.host", &fixture("exim-quota"));
    let out = project.run(&["bounces", "scan", "bounces.mbox", "Maildir", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got: Vec<(String, String, String)> = rows(&out.stdout)
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap_or_default().to_owned(),
                r["recipient"].as_str().unwrap_or_default().to_owned(),
                r["verdict"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = [
        // An mbox's messages are `path#n`; a Maildir is read `new/` first, then `cur/`.
        ("bounces.mbox#1", "nobody@example.com", "hard"),
        ("bounces.mbox#2", "alex@example.net", "auto-reply"),
        ("bounces.mbox#3", "hoarder@gmail.example", "soft"),
        ("Maildir/new/2.host", "somebody@example.net", "complaint"),
        ("Maildir/cur/1.host:2,S", "nobody@example.com", "hard"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
    assert_eq!(got, want);
}

#[test]
fn a_report_with_ten_thousand_recipients_and_a_fifty_megabyte_message() {
    let project = Project::empty();
    let mut report = String::from(
        "From: MAILER-DAEMON@mx.example.net\nTo: bounces@news.example.org\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThe mail system\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n",
    );
    for i in 0..10_000 {
        let _ = write!(report, "Final-Recipient: rfc822; user{i}@example.net\nAction: failed\nStatus: 5.1.1\n\n");
    }
    report.push_str("--b--\n");
    project.write("many/report.eml", &report);
    let mut big = fixture("exim-user-unknown").replace("\r\n", "\n");
    big.push_str(
        &"x".repeat(76).repeat(50 * 1024 * 1024 / 77).replace("xx", "x\n").chars().take(50 << 20).collect::<String>(),
    );
    project.write("big/huge.eml", &big);
    let out = project.run(&["bounces", "scan", "many", "big", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = rows(&out.stdout);
    assert_eq!(rows.len(), 10_001);
    assert!(rows[..10_000].iter().all(|r| r["verdict"] == "hard"));
    assert_eq!(rows[9_999]["recipient"], "user9999@example.net");
    assert_eq!(rows[10_000]["recipient"], "ghost@example.org");
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let project = Project::empty();
    let out = project.run(&["bounces", "scan", "nowhere.mbox"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("nowhere.mbox"), "{}", out.stderr);
}

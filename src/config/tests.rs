use std::path::{Path, PathBuf};

use super::*;
use crate::error::Error;

const GOOD: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@news.example.org>\n";

#[test]
fn parses_a_minimal_config() {
    let config = Config::parse(Path::new("letterpress.yaml"), GOOD).unwrap();
    assert_eq!(config.site.base(), "https://news.example.org/");
    assert_eq!(config.site.unsubscribe(), "https://news.example.org/unsubscribe");
    assert_eq!(config.publication("weekly").map(|p| p.name.as_str()), Some("Weekly"));
}

#[test]
fn invalid_utf8_is_located_at_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"\xef\xbb\xbfsite:\n  title: caf\xe9\n").unwrap();
    let Err(Error::Invalid(errors)) = Config::from_file(&path, Path::new(FILE_NAME)) else {
        panic!("invalid UTF-8 accepted")
    };
    assert_eq!(errors[0].code, "config/utf8");
    assert!(errors[0].message.contains("byte offset 21"), "{}", errors[0].message);
    assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((2, 13)));
}

#[test]
fn urls_with_line_breaks_are_located_errors() {
    let text = GOOD.replace(
        "  base-url: https://news.example.org\n",
        "  base-url: https://news.example.org\n  unsubscribe-url: \"https://news.example.org/u\\r\\nBcc: all@example.org\"\n",
    );
    let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "config/control-character");
    assert_eq!(errors[0].message, "`unsubscribe-url` contains a line break or another control character");
    assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((4, 3)));
    let text = format!("{GOOD}sending:\n  unsubscribe-mailto: \"u@news.example.org\\r\\nX: y\"\n");
    let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
    assert!(errors.iter().any(|e| e.code == "config/control-character" && e.message.contains("`unsubscribe-mailto`")));
}

#[test]
fn reports_unknown_keys_with_a_hint() {
    let text = GOOD.replace("base-url", "base_url");
    let errors = Config::parse(Path::new("letterpress.yaml"), &text).unwrap_err();
    assert_eq!(errors[0].message, "unknown configuration key `base_url`");
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `base-url`?"));
    assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((3, 3)));
}

#[test]
fn lists_must_exist_and_default_to_the_subscribers_directory() {
    let text = format!("{GOOD}    lists: [weekly-list]\nlists:\n  - slug: weekly-lists\n    name: W\n");
    let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
    assert_eq!(errors[0].code, "config/unknown-list");
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `weekly-lists`?"));
    let fixed = text.replace("[weekly-list]", "[weekly-lists]");
    let config = Config::parse(Path::new("c.yaml"), &fixed).unwrap();
    assert_eq!(config.lists[0].csv_path(), PathBuf::from("subscribers/weekly-lists.csv"));
    assert_eq!(config.state.db_path(), PathBuf::from(".letterpress/state.db"));
}

/// A list slug is at most [`super::MAX_LIST_SLUG`] characters: it is in every unsubscribe
/// token and names the list's file.
#[test]
fn a_list_slug_is_at_most_the_longest_a_token_carries() {
    let list = |slug: &str| format!("{GOOD}    lists: [{slug}]\nlists:\n  - slug: {slug}\n    name: W\n");
    let longest = "l".repeat(super::MAX_LIST_SLUG);
    assert!(Config::parse(Path::new("c.yaml"), &list(&longest)).is_ok());
    let errors = Config::parse(Path::new("c.yaml"), &list(&format!("{longest}l"))).unwrap_err();
    assert_eq!(errors.iter().map(|d| d.code).collect::<Vec<_>>(), ["config/slug"]);
    assert!(errors[0].message.ends_with("is 201 characters long"), "{}", errors[0].message);
    assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(GOOD.lines().count() + 3));
}

#[test]
fn validates_urls_slugs_and_mailboxes() {
    let text = GOOD
        .replace("https://news.example.org", "news.example.org")
        .replace("slug: weekly", "slug: Weekly News")
        .replace("Weekly <w@news.example.org>", "Weekly <not an address>");
    let codes: Vec<_> = Config::parse(Path::new("c.yaml"), &text).unwrap_err().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["config/url", "config/slug", "config/mailbox"]);
}

/// `language` is a well-formed RFC 5646 tag; a line break in it is located at its line.
#[test]
fn the_language_is_a_language_tag() {
    for good in ["en", "en-GB", "cy", "zh-Hant-HK", "sgn-BE-FR", "x-house-style"] {
        let text = GOOD.replace("  base-url:", &format!("  language: {good}\n  base-url:"));
        assert!(Config::parse(Path::new("c.yaml"), &text).is_ok(), "{good}");
    }
    for (bad, shown) in [("e", "e"), ("en_GB", "en_GB"), ("\"en\\nX\"", "en\\nX"), ("en-", "en-")] {
        let text = GOOD.replace("  base-url:", &format!("  language: {bad}\n  base-url:"));
        let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(errors[0].code, "config/language", "{bad}");
        assert_eq!(errors[0].message, format!("`language` `{shown}` is not a language tag"));
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((3, 3)), "{bad}");
    }
}

/// A `from` with a line break is one error (the line break), not a second, unlocated one
/// about the mailbox it no longer is.
#[test]
fn a_mailbox_with_a_line_break_is_one_located_error() {
    let text =
        GOOD.replace("from: Weekly <w@news.example.org>", "from: \"Bad\\r\\nBcc: x@y.org <w@news.example.org>\"");
    let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
    assert_eq!(errors.iter().map(|d| d.code).collect::<Vec<_>>(), ["config/control-character"], "{errors:?}");
    assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((7, 5)));
}

#[test]
fn site_urls_follow_the_link_rule() {
    for (bad, why) in [
        ("javascript:alert(1)", "uses the `javascript:` scheme"),
        ("\" JavaScript:alert(1)\"", "uses the `javascript:` scheme"),
        ("\"java\\tscript:alert(1)\"", "is a `javascript:` link disguised"),
        ("data:text/html,hi", "uses the `data:` scheme"),
        ("file:///srv/unsubscribe", "uses the `file:` scheme"),
        ("mailto:editor@news.example.org", "must be an http(s) URL, not `mailto:`"),
    ] {
        let text = GOOD.replace(
            "base-url: https://news.example.org",
            &format!("base-url: https://news.example.org\n  unsubscribe-url: {bad}"),
        );
        let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(errors[0].code, "config/url", "{bad}");
        assert!(errors[0].message.starts_with(&format!("`unsubscribe-url` {why}")), "{bad}: {}", errors[0].message);
    }
}

#[test]
fn serve_settings_have_defaults_and_are_validated() {
    let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    assert_eq!(config.serve.confirm_ttl(), Ok(jiff::SignedDuration::from_hours(7 * 24)));
    assert_eq!((config.serve.rate_limit, config.serve.trust_proxy), (10, false));
    let text = format!("{GOOD}serve:\n  confirm-ttl: 48h\n  rate-limit: 5\n  trust-proxy: true\n");
    let config = Config::parse(Path::new("c.yaml"), &text).unwrap();
    assert_eq!(config.serve.confirm_ttl(), Ok(jiff::SignedDuration::from_hours(48)));
    let text = format!("{GOOD}serve:\n  body-timeout: 250ms\n  max-connections: 20\n  max-connections-per-client: 5\n");
    let serve = Config::parse(Path::new("c.yaml"), &text).unwrap().serve;
    assert_eq!(serve.body_timeout(), Ok(std::time::Duration::from_millis(250)));
    assert_eq!(serve.head_timeout(), Ok(std::time::Duration::from_secs(10)));
    assert_eq!((serve.max_connections, serve.max_connections_per_client), (20, 5));
    for bad in [
        "confirm-ttl: soon",
        "confirm-ttl: 30s",
        "confirm-ttl: 100d",
        "rate-limit: 0",
        "body-timeout: 1h",
        "head-timeout: never",
        "max-connections: 0",
        "max-connections-per-client: 2000",
    ] {
        let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}serve:\n  {bad}\n")).unwrap_err();
        assert_eq!(errors[0].code, "config/serve", "{bad}");
        assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
    }
}

#[test]
fn template_limits_have_generous_defaults_and_are_validated() {
    let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    let budget = config.templates.budget();
    assert_eq!((budget.max_output, budget.max_time), (2 * 1024 * 1024, std::time::Duration::from_secs(2)));
    let text = format!("{GOOD}templates:\n  max-output: 64KB\n  max-render-time: 500ms\n");
    let budget = Config::parse(Path::new("c.yaml"), &text).unwrap().templates.budget();
    assert_eq!((budget.max_output, budget.max_time), (64 * 1024, std::time::Duration::from_millis(500)));
    for bad in ["max-output: 10", "max-output: lots", "max-output: 2TB", "max-render-time: 1h", "max-render-time: x"] {
        let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}templates:\n  {bad}\n")).unwrap_err();
        assert_eq!(errors[0].code, "config/templates", "{bad}");
        assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
    }
}

#[test]
fn due_window_and_max_attempts_have_defaults_and_are_validated() {
    let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    assert_eq!(config.sending.due_window(), Ok(jiff::SignedDuration::from_hours(24)));
    assert_eq!(config.sending.max_attempts, 10);
    let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  max-attempts: 0\n")).unwrap_err();
    assert!(errors[0].message.contains("`max-attempts` must be at least 1"), "{}", errors[0].message);
    let config = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  due-window: 3d\n")).unwrap();
    assert_eq!(config.sending.due_window(), Ok(jiff::SignedDuration::from_hours(72)));
    for bad in ["due-window: soon", "due-window: 30s", "due-window: 400d"] {
        let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  {bad}\n")).unwrap_err();
        assert_eq!(errors[0].code, "config/sending", "{bad}");
        assert!(errors[0].message.contains("`due-window`"), "{bad}: {}", errors[0].message);
        assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
    }
}

#[test]
fn setting_values_fail_with_a_typed_error_that_reads_as_before() {
    let text = format!("{GOOD}serve:\n  confirm-ttl: soon\n");
    let config: Config = crate::yaml::parse(Path::new("c.yaml"), &text, &text, 1, "configuration").unwrap();
    let error: ValueError = config.serve.confirm_ttl().unwrap_err();
    assert_eq!(error.to_string(), "`confirm-ttl` `soon` is not a duration such as `7d` or `48h`");
    assert_eq!(SmtpUrl::parse("smtp://").unwrap_err(), ValueError::from("has no host"));
}

#[test]
fn feedback_id_sender_is_optional_and_has_no_colons_or_line_breaks() {
    let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    assert_eq!(config.sending.feedback_id_sender, None);
    let config =
        Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  feedback-id-sender: newsroom\n")).unwrap();
    assert_eq!(config.sending.feedback_id_sender.as_deref(), Some("newsroom"));
    for bad in ["feedback-id-sender: \"a:b\"", "feedback-id-sender: \"a\\r\\nX-Evil: 1\"", "feedback-id-sender: \" \""]
    {
        let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  {bad}\n")).unwrap_err();
        assert_eq!(errors[0].code, "config/sending", "{bad}");
        assert!(errors[0].message.contains("`feedback-id-sender` must be"), "{bad}: {}", errors[0].message);
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((9, 3)), "{bad}");
    }
}

/// The token of the longest list slug the configuration takes is one `verify` reads; the
/// limit is what it is because one much longer is not.
#[test]
fn the_token_of_the_longest_list_slug_verifies() {
    let keys = crate::token::Keys::from_secrets(vec![vec![1; 32]]).unwrap();
    let longest = "l".repeat(super::MAX_LIST_SLUG);
    let token = keys.token("a@example.org", &longest);
    assert!(token.len() <= crate::token::token_chars(longest.len()), "{}", token.len());
    assert_eq!(keys.verify(&token).map(|c| c.list), Some(longest));
    assert_eq!(keys.verify(&keys.token("a@example.org", &"l".repeat(400))), None);
}

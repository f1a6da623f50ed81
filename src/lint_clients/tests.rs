use super::*;

fn issue() -> crate::content::Issue {
    crate::content::parse(Path::new("content/w/2016-12-09-a.md"), b"---\ntitle: T\n---\nText ~~gone~~.\n")
        .expect("parses")
}

#[test]
fn the_vendored_data_parses() {
    assert!(DATA.0.features.len() > 250, "{}", DATA.0.features.len());
    assert_eq!(DATA.0.clients.len(), 10);
}

#[test]
fn one_diagnostic_per_feature_located_in_the_projects_template() {
    let html = "<html><head><style>\n@media (max-width: 600px) { .a { width: 100% !important; } }\n</style></head>\
                    <body><div style=\"display: flex; opacity: 0\">x</div><p style=\"opacity: 0.5\">y</p></body></html>";
    let template = "<body>\n<div class=\"a\">x</div>\n";
    let css = ".a { display: flex;\n  opacity: 0; }\np { opacity: 0.5 }\n";
    let issue = issue();
    let sources = Sources {
        templates: [
            (Path::new("templates/email.html"), template, false),
            (Path::new("templates/email.css"), css, false),
        ],
        issue: &issue,
    };
    let found = lint(html, &sources);
    let shown: Vec<String> =
        found.iter().map(|d| format!("{:?} {} {}", d.severity, d.location.as_ref().unwrap(), d.message)).collect();
    let opacity: Vec<&String> = shown.iter().filter(|s| s.contains("`opacity`")).collect();
    assert_eq!(opacity.len(), 1, "{shown:#?}");
    assert!(opacity[0].starts_with("Warning templates/email.css:2:3"), "{shown:#?}");
    assert!(opacity[0].contains("Outlook (Windows)"), "{shown:#?}");
    let media: Vec<&String> = shown.iter().filter(|s| s.contains("@media")).collect();
    assert_eq!(media.len(), 1, "one line for the media query: {shown:#?}");
    assert!(media[0].starts_with("Info"), "{shown:#?}");
    assert!(!shown.iter().any(|s| s.contains("`width`")), "rules inside @media are not judged: {shown:#?}");
}

#[test]
fn outlook_is_not_judged_on_what_mso_hide_hides_from_it() {
    let issue = issue();
    let css = ".preheader { max-height: 0; mso-hide: all; }\n";
    let sources = Sources {
        templates: [(Path::new("templates/email.html"), "", false), (Path::new("templates/email.css"), css, false)],
        issue: &issue,
    };
    let found = lint("<body><div style=\"max-height: 0;mso-hide: all;\">x</div></body>", &sources);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn built_in_templates_are_vouched_for_and_the_body_is_located_in_the_issue() {
    let issue = issue();
    let sources = Sources {
        templates: [
            (Path::new("(built-in) email.html"), "<body style=\"opacity: 0\">", true),
            (Path::new("(built-in) email.css"), "", true),
        ],
        issue: &issue,
    };
    let found = lint("<body style=\"opacity: 0\"><p>Text <marquee>gone</marquee>.</p></body>", &sources);
    assert!(!found.iter().any(|d| d.message.contains("opacity")), "{found:#?}");
    let marquee = found.iter().find(|d| d.message.contains("marquee")).expect("from the body");
    assert_eq!(marquee.location.as_ref().map(|l| l.path.as_path()), Some(Path::new("content/w/2016-12-09-a.md")));
}

mod folding {
    use proptest::prelude::*;

    use super::super::contains_folded;

    proptest! {
        /// The search without a copy finds what the search of a lowercased, stripped copy finds.
        #[test]
        fn is_the_same_as_searching_a_folded_copy(text in "[ mMsSoO:hHiIdDeEaAlL\\-;\\t\\u{a0}x]{0,40}") {
            let folded = text.to_ascii_lowercase().replace(char::is_whitespace, "");
            prop_assert_eq!(contains_folded(&text, "mso-hide:all"), folded.contains("mso-hide:all"));
        }
    }

    #[test]
    fn finds_the_pattern_across_spaces_and_case() {
        assert!(contains_folded("color: red; MSO-Hide : All !important", "mso-hide:all"));
        assert!(contains_folded("mmso-hide:all", "mso-hide:all"));
        assert!(!contains_folded("mso-hide: none", "mso-hide:all"));
    }
}

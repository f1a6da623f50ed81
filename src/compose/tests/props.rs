use proptest::prelude::*;

use super::*;

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,300}",
        "[\"'\\\\<>&=.,:; ]{0,80}",
        "[ Zoëü日本語👋🏽\u{301}\u{5e9}\r\n\t]{0,200}",
        "[a-zA-Z]{900,1200}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_name_or_attribute_gives_a_well_formed_message(name in value(), region in value()) {
        let (_dir, project) = temp_project(&[
            ("templates/email.html", "<p>{{ subscriber.name }}|{{ subscriber.attrs.region }}</p><a href=\"{{ unsubscribe_url }}\">u</a>"),
            ("templates/email.txt", "{{ subscriber.name }}|{{ subscriber.attrs.region }}\n{{ unsubscribe_url }}\n"),
        ]);
        let template = template(&project, "weekly/2016-12-09-first");
        let (_, message) = compose(&template, "reader@example.org", &name, &region);
        let body = message.split_once("\r\n\r\n").unwrap().1;
        for line in lines(&message) {
            prop_assert!(line.len() <= 998);
        }
        for line in body.split("\r\n") {
            prop_assert!(line.len() <= 76, "body line over 76: {line}");
        }
        prop_assert!(message.split("\r\n\r\n").next().unwrap().is_ascii());
        let parsed = parse(&message);
        prop_assert!(parsed.bcc().is_none());
        prop_assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some("reader@example.org"));
        let text = parsed.text_part(0).unwrap().text_contents().unwrap();
        prop_assert!(text.starts_with(&format!("{name}|{region}\r\n")), "text part starts with the values");
        let html = parsed.html_part(0).unwrap().text_contents().unwrap();
        let shown = format!(">{}|{}</p>", slots::escape_html(&name), slots::escape_html(&region));
        prop_assert!(html.contains(&shown), "html part shows the escaped values");
    }
}

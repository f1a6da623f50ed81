//! Whether templates only *print* the per-recipient subscriber values, read from their source.
//!
//! A send renders an issue's email once with markers in the personalisation slots (see
//! [`crate::compose`]) and fills them per message. That is only the same as rendering per
//! message when no `if`, loop or filter depends on `subscriber.name` or `subscriber.attrs`.
//! Rendering the templates a second time with those values empty proves it for any template;
//! this scan proves it for the common case without that render: every mention of `subscriber`
//! is `subscriber.email` (which a send always fills, so it may be tested) or a whole print tag
//! `{{ subscriber.name }}` / `{{ subscriber.attrs.<column> }}`, and no template uses a
//! construct that could capture or transform printed output (`{% filter %}` sections, block
//! `{% set %}`, components and macros) or reach the context another way (`__tera_context`). Anything else — even the
//! word in prose — answers `false`, and the caller renders the second time.

/// Whether every template in `texts` only prints subscriber names and attributes (see the
/// module documentation). Conservative: `false` is always safe.
pub(crate) fn only_prints_subscriber_values<'a>(mut texts: impl Iterator<Item = &'a str>) -> bool {
    texts.all(|text| !has_capturing_construct(text) && mentions_are_prints(text))
}

/// The columns `texts` name as `subscriber.attrs.<column>`, sorted, each once: outside a send
/// they are printed empty (Tera refuses a field a map lacks).
pub(crate) fn attribute_names<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    const PREFIX: &str = "subscriber.attrs.";
    let mut names: Vec<String> = texts
        .flat_map(|text| text.match_indices(PREFIX).map(move |(at, _)| &text[at + PREFIX.len()..]))
        .filter_map(|rest| identifier(rest).map(|(name, _)| name.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `__tera_context`, a `{% filter %}` section, a block `{% set %}` (closed by `endset`), a
/// component or a macro.
fn has_capturing_construct(text: &str) -> bool {
    text.contains("__tera_context")
        || text.match_indices("{%").any(|(at, _)| {
            let tag = text[at + 2..].trim_start_matches('-').trim_start();
            ["filter", "endfilter", "endset", "endset_global", "component", "endcomponent", "macro"]
                .iter()
                .any(|k| starts_with_word(tag, k))
        })
}

/// Every mention of the name `subscriber` in `text` is `subscriber.email` or a whole print tag
/// of a name or attribute.
fn mentions_are_prints(text: &str) -> bool {
    const NAME: &str = "subscriber";
    text.match_indices(NAME).all(|(at, _)| {
        let before = &text[..at];
        let after = &text[at + NAME.len()..];
        // Part of a longer name (`subscribers`, `my_subscriber`) or another value's field.
        if before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
            || after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            return true;
        }
        if starts_with_word(after, ".email") {
            return true;
        }
        let Some(rest) = field_path(after) else { return false };
        opens_print(before) && closes_print(rest)
    })
}

/// After `subscriber`: the text after `.name` or `.attrs.<identifier>`, if that is what follows.
fn field_path(after: &str) -> Option<&str> {
    if let Some(rest) = after.strip_prefix(".name") {
        return Some(rest);
    }
    identifier(after.strip_prefix(".attrs.")?).map(|(_, rest)| rest)
}

/// The identifier `text` starts with (a column of `subscriber.attrs`), and the text after it.
fn identifier(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    (end > 0 && !text.starts_with(|c: char| c.is_ascii_digit())).then(|| text.split_at(end))
}

/// `before` ends with `{{`, optionally `{{-`, and whitespace.
fn opens_print(before: &str) -> bool {
    let open = before.trim_end();
    let open = open.strip_suffix('-').unwrap_or(open);
    open.ends_with("{{") && !open.ends_with("{{{")
}

/// `rest` is whitespace, optionally `-`, then `}}`.
fn closes_print(rest: &str) -> bool {
    let close = rest.trim_start();
    close.starts_with("}}") || close.starts_with("-}}")
}

/// `text` starts with `word` not followed by an identifier character.
fn starts_with_word(text: &str, word: &str) -> bool {
    text.strip_prefix(word).is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::only_prints_subscriber_values as only_prints;

    #[test]
    fn attribute_names_are_each_column_named_once() {
        let texts = [
            "{{ subscriber.attrs.region }} {{subscriber.attrs.team_2}}",
            "{% if subscriber.attrs.region %}",
            "subscriber.attrs.9x subscriber.attrs.",
        ];
        assert_eq!(super::attribute_names(texts.into_iter()), ["region", "team_2"]);
    }

    #[test]
    fn plain_prints_and_email_tests_pass() {
        for text in [
            "Dear {{ subscriber.name }},",
            "Dear {{subscriber.name}},",
            "Dear {{- subscriber.name -}},",
            "Region {{ subscriber.attrs.region }} {{ subscriber.attrs.tier_2 }}",
            "{% if subscriber.email %} as {{ subscriber.email }}{% endif %}",
            "{% for s in subscribers %}{{ s }}{% endfor %}{{ issue.subscriber }}",
            "{% if x %}Dear {{ subscriber.name }}{% endif %}{% set y = 1 %}",
            include_str!("defaults/email.html"),
            include_str!("defaults/email.txt"),
            include_str!("defaults/email.css"),
            "",
        ] {
            assert!(only_prints([text].into_iter()), "{text}");
        }
    }

    #[test]
    fn anything_else_needs_the_comparing_render() {
        for text in [
            "{% if subscriber.name %}Dear {{ subscriber.name }}{% endif %}",
            "Dear {{ subscriber.name | length }}",
            "Dear {{ subscriber.name | upper }}",
            "Dear {{ subscriber.name ~ '!' }}",
            "{% if subscriber.attrs.region %}{{ subscriber.attrs.region }}{% endif %}",
            "{% for k, v in subscriber.attrs %}{{ v }}{% endfor %}",
            "{{ subscriber[\"name\"] }}",
            "{{ subscriber.attrs[\"region\"] }}",
            "{{ subscriber.name.first }}",
            "{% set s = subscriber %}{% if s.name %}x{% endif %}",
            "{% set n = subscriber.name %}",
            "{{ greet(name=subscriber.name) }}",
            "{% filter upper %}{{ subscriber.name }}{% endfilter %}",
            "{% set g %}{{ subscriber.name }}{% endset %}{% if g %}x{% endif %}",
            "{{ __tera_context }}",
            "{% component card() %}{{ subscriber.name }}{% endcomponent %}",
            "Hello, subscriber!",
            "{{{ subscriber.name }}",
        ] {
            assert!(!only_prints([text].into_iter()), "{text}");
        }
        assert!(!only_prints(["{{ subscriber.name }}", "{% if subscriber.name %}{% endif %}"].into_iter()));
    }
}

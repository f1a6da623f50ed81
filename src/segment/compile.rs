//! From the spanned YAML of an `audience` value to a [`Segment`], or located diagnostics.

use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_saphyr::Spanned;

use super::{Filter, Node, Raw, SUBSCRIBED_AT, Segment};
use crate::diagnostic::{Diagnostic, Located, Location, did_you_mean};

/// The operators of a field's condition mapping.
const OPERATORS: [&str; 5] = ["is", "not", "present", "since", "before"];

/// Compile `raw`, the `audience` value read from the YAML that starts on line `first_line` of
/// `path` (whole text `text`). A plain date in `since:`/`before:` is midnight in `zone` (UTC
/// without one).
pub fn compile(
    raw: &Raw,
    path: &Path,
    text: &str,
    first_line: usize,
    zone: Option<&TimeZone>,
) -> Result<Segment, Vec<Diagnostic>> {
    let mut compiler = Compiler { path, text, first_line, zone, problems: Vec::new(), fields: Vec::new() };
    let location = compiler.location(raw);
    let filter = compiler.filter(raw);
    if compiler.problems.is_empty() {
        Ok(Segment { filter, location, fields: compiler.fields })
    } else {
        Err(compiler.problems)
    }
}

struct Compiler<'a> {
    path: &'a Path,
    text: &'a str,
    first_line: usize,
    zone: Option<&'a TimeZone>,
    problems: Vec<Diagnostic>,
    fields: Vec<Located<String>>,
}

impl Compiler<'_> {
    fn located<T: Clone>(&self, spanned: &Spanned<T>) -> Located<T> {
        let line = usize::try_from(spanned.referenced.line()).unwrap_or(1).max(1) + self.first_line - 1;
        let col = usize::try_from(spanned.referenced.column()).unwrap_or(1).max(1);
        Located { value: spanned.value.clone(), line, col }
    }

    fn location<T: Clone>(&self, spanned: &Spanned<T>) -> Location {
        self.located(spanned).location(self.path)
    }

    fn fail<T: Clone>(&mut self, at: &Spanned<T>, diagnostic: Diagnostic) {
        let location = self.location(at);
        self.problems.push(diagnostic.at(location, self.text));
    }

    /// A mapping: every entry must hold.
    fn filter(&mut self, node: &Spanned<Node>) -> Filter {
        let Node::Map(entries) = &node.value else {
            self.fail(
                node,
                Diagnostic::error("audience/shape", "an audience filter must be a mapping of fields to conditions")
                    .help("write e.g. `audience: {region: [London, North West]}`"),
            );
            return Filter::All(Vec::new());
        };
        Filter::All(entries.iter().map(|(key, value)| self.entry(key, value)).collect())
    }

    fn entry(&mut self, key: &Spanned<String>, value: &Spanned<Node>) -> Filter {
        match key.value.as_str() {
            "all" | "any" => {
                let Node::List(items) = &value.value else {
                    self.fail(
                        value,
                        Diagnostic::error("audience/shape", format!("`{}` takes a list of filters", key.value))
                            .help(format!("write e.g. `{}: [{{region: London}}, {{plan: pro}}]`", key.value)),
                    );
                    return Filter::All(Vec::new());
                };
                let filters = items.iter().map(|item| self.filter(item)).collect();
                if key.value == "all" { Filter::All(filters) } else { Filter::Any(filters) }
            }
            "not" => Filter::Not(Box::new(self.filter(value))),
            _ => self.condition(key, value),
        }
    }

    /// The condition on one field.
    fn condition(&mut self, field: &Spanned<String>, value: &Spanned<Node>) -> Filter {
        let name = field.value.trim().to_owned();
        let why = match name.as_str() {
            "email" => Some("an address is not a segment: name the people by an attribute column instead"),
            "status" => Some("only `active` rows are ever mailed, so `status` cannot select among them"),
            "" => Some("a field name is empty"),
            _ => None,
        };
        if let Some(why) = why {
            self.fail(
                field,
                Diagnostic::error("audience/field", format!("`{name}` cannot be filtered on"))
                    .help(format!("{why}; filter on `name`, `subscribed_at` or an attribute column")),
            );
            return Filter::All(Vec::new());
        }
        let located = self.located(field);
        self.fields.push(Located { value: name.clone(), ..located });
        match &value.value {
            Node::Map(operators) => {
                Filter::All(operators.iter().map(|(op, operand)| self.operator(&name, op, operand)).collect())
            }
            _ if name == SUBSCRIBED_AT => {
                self.fail(
                    value,
                    Diagnostic::error("audience/compare", "`subscribed_at` is compared, not matched")
                        .help("write `subscribed_at: {since: 2026-01-01}` or `{before: 2026-01-01T09:00:00Z}`"),
                );
                Filter::All(Vec::new())
            }
            _ => self.one_of(&name, value),
        }
    }

    /// `value` or `[value, …]`: the field's value must be one of them.
    fn one_of(&mut self, field: &str, node: &Spanned<Node>) -> Filter {
        let values = match &node.value {
            Node::Scalar(value) => vec![value.clone()],
            Node::List(items) if !items.is_empty() => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match &item.value {
                        Node::Scalar(value) => values.push(value.clone()),
                        _ => self.fail(
                            item,
                            Diagnostic::error("audience/value", format!("a value of `{field}` must be plain text"))
                                .help("write each value as text, e.g. `[London, North West]`"),
                        ),
                    }
                }
                values
            }
            Node::List(_) => {
                self.fail(
                    node,
                    Diagnostic::error("audience/value", format!("`{field}` is given no values, so it matches nobody"))
                        .help("list the values to match, e.g. `[London, North West]`"),
                );
                Vec::new()
            }
            Node::Null | Node::Map(_) => {
                self.fail(
                    node,
                    Diagnostic::error("audience/value", format!("`{field}` has no value to match")).help(format!(
                        "write a value or a list of values, or `{field}: {{present: false}}` for subscribers without one"
                    )),
                );
                Vec::new()
            }
        };
        Filter::OneOf { field: field.to_owned(), values }
    }

    fn operator(&mut self, field: &str, op: &Spanned<String>, operand: &Spanned<Node>) -> Filter {
        let dated = field == SUBSCRIBED_AT;
        match (op.value.as_str(), dated) {
            ("is", false) => self.one_of(field, operand),
            ("not", false) => Filter::Not(Box::new(self.one_of(field, operand))),
            ("present", _) => match &operand.value {
                Node::Scalar(v) if v == "true" => Filter::Present { field: field.to_owned() },
                Node::Scalar(v) if v == "false" => Filter::Not(Box::new(Filter::Present { field: field.to_owned() })),
                _ => {
                    self.fail(
                        operand,
                        Diagnostic::error("audience/value", "`present` is `true` or `false`")
                            .help(format!("`{field}: {{present: true}}` selects subscribers with a value")),
                    );
                    Filter::All(Vec::new())
                }
            },
            ("since" | "before", true) => match self.instant(operand) {
                Some(at) if op.value == "since" => Filter::Since(at),
                Some(at) => Filter::Before(at),
                None => Filter::All(Vec::new()),
            },
            ("is" | "not", true) => {
                self.fail(
                    op,
                    Diagnostic::error("audience/compare", "`subscribed_at` is compared, not matched")
                        .help("use `since:` (at or after) or `before:`"),
                );
                Filter::All(Vec::new())
            }
            ("since" | "before", false) => {
                self.fail(
                    op,
                    Diagnostic::error("audience/compare", format!("`{}` compares only `subscribed_at`", op.value))
                        .help(format!("match `{field}` with a value, a list, `not:` or `present:`")),
                );
                Filter::All(Vec::new())
            }
            (other, _) => {
                let hint = did_you_mean(other, OPERATORS).map_or_else(
                    || format!("a condition is one of {}", OPERATORS.map(|o| format!("`{o}`")).join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                self.fail(
                    op,
                    Diagnostic::error("audience/operator", format!("unknown condition `{other}`")).help(hint),
                );
                Filter::All(Vec::new())
            }
        }
    }

    /// A timestamp with an offset, or a date (midnight in the site's zone).
    fn instant(&mut self, node: &Spanned<Node>) -> Option<Timestamp> {
        let text = match &node.value {
            Node::Scalar(text) => text.trim(),
            _ => "",
        };
        let parsed = if text.len() == 10 {
            text.parse::<Date>()
                .ok()
                .and_then(|d| d.to_zoned(self.zone.cloned().unwrap_or(TimeZone::UTC)).ok())
                .map(|z| z.timestamp())
        } else {
            text.parse::<Timestamp>().ok()
        };
        if parsed.is_none() {
            self.fail(
                node,
                Diagnostic::error("audience/time", format!("`{text}` is not a date or a time with an offset"))
                    .help("write `2026-01-01` (midnight in the site's time zone) or `2026-01-01T09:00:00Z`"),
            );
        }
        parsed
    }
}

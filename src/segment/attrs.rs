//! The filter of a regional block, written on its opening line: `region="London"`,
//! `region=["London","North West"]`, `plan!="trial"`, several of them separated by spaces (all
//! must hold). It compiles to the same [`Filter`] as an `audience:` mapping, so a block and a
//! segment match a subscriber the same way.

use super::{Filter, SUBSCRIBED_AT};
use crate::diagnostic::Diagnostic;

/// One `field=values` or `field!=values` term, with the columns (0-based, in characters, from
/// the start of the attribute text) of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The column.
    pub field: String,
    /// `!=`: the value must be none of `values`.
    pub negated: bool,
    /// The accepted (or refused) values.
    pub values: Vec<String>,
    /// Where the field name starts, in characters from the start of the attribute text.
    pub col: usize,
}

/// A problem in the attribute text, at a column (0-based, in characters) of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where.
    pub col: usize,
    /// What, and how to fix it (not yet located).
    pub diagnostic: Diagnostic,
}

/// Parse the attribute text of a block into its terms.
pub fn parse(text: &str) -> Result<Vec<Term>, Problem> {
    let mut parser = Parser { chars: text.chars().collect(), at: 0 };
    let mut terms = Vec::new();
    loop {
        parser.skip_spaces();
        if parser.at >= parser.chars.len() {
            break;
        }
        terms.push(parser.term()?);
    }
    if terms.is_empty() {
        return Err(Problem {
            col: parser.at,
            diagnostic: shape("this block has no filter").help("say who sees it, e.g. `::: only region=\"London\"`"),
        });
    }
    Ok(terms)
}

/// The filter of `terms`: every term holds.
pub fn filter(terms: &[Term]) -> Filter {
    Filter::All(
        terms
            .iter()
            .map(|t| {
                let one_of = Filter::OneOf { field: t.field.clone(), values: t.values.clone() };
                if t.negated { Filter::Not(Box::new(one_of)) } else { one_of }
            })
            .collect(),
    )
}

/// The label the archive shows above a block: "Only for readers in London", "Only for readers
/// whose plan is not trial".
pub fn describe(terms: &[Term]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| {
            let values = join_or(&t.values);
            let place = matches!(t.field.as_str(), "region" | "area" | "city" | "country" | "county" | "location");
            match (place, t.negated) {
                (true, false) => format!("in {values}"),
                (true, true) => format!("outside {values}"),
                (false, false) => format!("whose {} is {values}", t.field),
                (false, true) => format!("whose {} is not {values}", t.field),
            }
        })
        .collect();
    format!("Only for readers {}", parts.join(" and "))
}

fn join_or(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn shape(message: impl Into<String>) -> Diagnostic {
    Diagnostic::error("block/filter", message)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn fail<T>(col: usize, diagnostic: Diagnostic) -> Result<T, Problem> {
        Err(Problem { col, diagnostic })
    }

    fn term(&mut self) -> Result<Term, Problem> {
        let col = self.at;
        let mut field = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            field.push(c);
            self.at += 1;
        }
        if field.is_empty() {
            return Self::fail(
                col,
                shape(format!("expected a column name, found `{}`", self.peek().unwrap_or(' ')))
                    .help("write `column=\"value\"`, e.g. `region=\"London\"`"),
            );
        }
        let why = match field.as_str() {
            "email" => Some("an address is not a region: name the readers by an attribute column instead"),
            "status" => Some("only `active` rows are ever mailed, so `status` cannot select among them"),
            SUBSCRIBED_AT => Some("blocks match values; to compare `subscribed_at`, filter the issue's `audience`"),
            _ => None,
        };
        if let Some(why) = why {
            return Self::fail(
                col,
                Diagnostic::error("block/field", format!("a block cannot filter on `{field}`"))
                    .help(format!("{why}; filter on `name` or an attribute column")),
            );
        }
        self.skip_spaces();
        let negated = match (self.peek(), self.chars.get(self.at + 1)) {
            (Some('='), _) => false,
            (Some('!'), Some('=')) => {
                self.at += 1;
                true
            }
            _ => {
                return Self::fail(
                    self.at,
                    shape(format!("expected `=` or `!=` after `{field}`"))
                        .help(format!("write `{field}=\"value\"`, or `{field}!=\"value\"` for everyone else")),
                );
            }
        };
        self.at += 1;
        self.skip_spaces();
        let values = if self.peek() == Some('[') { self.list(&field)? } else { vec![self.value(&field)?] };
        Ok(Term { field, negated, values, col })
    }

    /// `["a", "b"]`.
    fn list(&mut self, field: &str) -> Result<Vec<String>, Problem> {
        let open = self.at;
        self.at += 1;
        let mut values = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(']') if values.is_empty() => {
                    return Self::fail(
                        open,
                        shape(format!("`{field}` is given no values, so the block reaches nobody"))
                            .help(format!("list the values, e.g. `{field}=[\"London\",\"North West\"]`")),
                    );
                }
                Some(']') => {
                    self.at += 1;
                    return Ok(values);
                }
                None => {
                    return Self::fail(open, shape("unclosed `[`").help("end the list of values with `]`"));
                }
                _ => {}
            }
            values.push(self.value(field)?);
            self.skip_spaces();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(']') => {}
                None => return Self::fail(open, shape("unclosed `[`").help("end the list of values with `]`")),
                _ => {
                    return Self::fail(
                        self.at,
                        shape("expected `,` or `]` in the list of values")
                            .help(format!("separate values with commas: `{field}=[\"London\",\"North West\"]`")),
                    );
                }
            }
        }
    }

    /// `"quoted"` (with `\"` and `\\`) or a bare word.
    fn value(&mut self, field: &str) -> Result<String, Problem> {
        let start = self.at;
        let mut value = String::new();
        if self.peek() == Some('"') {
            self.at += 1;
            loop {
                match self.peek() {
                    None => {
                        return Self::fail(
                            start,
                            shape("unclosed quote").help("end the value with `\"` on the same line"),
                        );
                    }
                    Some('"') => {
                        self.at += 1;
                        break;
                    }
                    Some('\\') if matches!(self.chars.get(self.at + 1), Some('"' | '\\')) => {
                        value.push(self.chars[self.at + 1]);
                        self.at += 2;
                    }
                    Some(c) => {
                        value.push(c);
                        self.at += 1;
                    }
                }
            }
        } else {
            while let Some(c) = self.peek().filter(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '[' | '"')) {
                value.push(c);
                self.at += 1;
            }
        }
        if value.trim().is_empty() {
            return Self::fail(
                start,
                shape(format!("`{field}` has no value to match"))
                    .help(format!("write a value in quotes, e.g. `{field}=\"London\"`")),
            );
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn terms(text: &str) -> Vec<(String, bool, Vec<String>, usize)> {
        parse(text)
            .unwrap_or_else(|p| panic!("{}", p.diagnostic))
            .into_iter()
            .map(|t| (t.field, t.negated, t.values, t.col))
            .collect()
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn equality_lists_negation_and_several_terms() {
        assert_eq!(terms("region=\"London\""), [("region".into(), false, strings(&["London"]), 0)]);
        assert_eq!(
            terms(" region = [\"London\", \"North West\"] "),
            [("region".into(), false, strings(&["London", "North West"]), 1)]
        );
        assert_eq!(terms("plan!=trial"), [("plan".into(), true, strings(&["trial"]), 0)]);
        assert_eq!(
            terms("region=\"Kent\" plan!=[\"trial\",free]"),
            [("region".into(), false, strings(&["Kent"]), 0), ("plan".into(), true, strings(&["trial", "free"]), 14)]
        );
        assert_eq!(terms(r#"name="A \"B\"""#)[0].2, strings(&["A \"B\""]));
    }

    #[track_caller]
    fn problem(text: &str, col: usize, message: &str) {
        let problem = parse(text).unwrap_err();
        assert_eq!(problem.col, col, "{}", problem.diagnostic);
        assert!(problem.diagnostic.message.contains(message), "{}", problem.diagnostic.message);
    }

    #[test]
    fn mistakes_point_at_their_column() {
        problem("", 0, "no filter");
        problem("region", 6, "expected `=`");
        problem("region=\"London", 7, "unclosed quote");
        problem("region=[\"London\"", 7, "unclosed `[`");
        problem("region=[]", 7, "no values");
        problem("region=[\"a\" \"b\"]", 12, "expected `,` or `]`");
        problem("region=\"\"", 7, "no value");
        problem("=London", 0, "expected a column name");
        problem("region=London subscribed_at=2026", 14, "cannot filter on `subscribed_at`");
        problem("email=a@example.org", 0, "cannot filter on `email`");
    }

    #[test]
    fn labels_read_as_sentences() {
        let label = |text: &str| describe(&parse(text).unwrap());
        assert_eq!(label("region=\"London\""), "Only for readers in London");
        assert_eq!(label("region=[London,\"North West\",Kent]"), "Only for readers in London, North West or Kent");
        assert_eq!(label("plan!=trial"), "Only for readers whose plan is not trial");
        assert_eq!(label("region=Kent plan=pro"), "Only for readers in Kent and whose plan is pro");
    }
}

//! The render budget: how many bytes one render of a template may write and how long it may take.
//!
//! Enters: a template's text (at load), and per render a [`Budget`]. Leaves: the text with every
//! `{% for %}` body starting with a call to [`TICK`], the loops' positions in the original text,
//! and per render the output or which limit was passed at which loop ([`Overrun`]).
//!
//! Tera 2 has no fuel or output limit of its own, and a loop that writes nothing never reaches
//! the writer, so each loop iteration calls [`TICK`], which checks the output written so far and
//! the time taken; the output goes to a writer that stops keeping bytes past the budget. The
//! meter of the render in progress lives in a thread-local for the length of one render: Tera
//! renders on the calling thread and gives functions no other way to reach per-render state.

use std::cell::RefCell;
use std::io::Write;

use tera::{Context, Kwargs, State, Tera, TeraResult};

use crate::clock::Stopwatch;

/// The function every loop iteration calls.
pub const TICK: &str = "letterpress_budget";

pub use crate::config::Budget;

/// Which limit a render passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// More output than `max_output`.
    Output,
    /// Longer than `max_time`.
    Time,
}

/// A render stopped by its budget: the limit, and the loop running then (an index into the
/// loops [`instrument`] numbered), if one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun {
    /// The limit passed.
    pub limit: Limit,
    /// The loop, if the limit was noticed in one.
    pub at: Option<usize>,
}

/// Why a render failed.
#[derive(Debug)]
pub enum Failure {
    /// The template failed on its own.
    Tera(tera::Error),
    /// The budget ran out.
    Overrun(Overrun),
}

/// A template's text ready for a budgeted render.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instrumented {
    /// The text Tera compiles.
    pub text: String,
    /// Each loop's `{%` in the original text: 1-based line, 0-based column in characters.
    pub loops: Vec<(usize, usize)>,
    /// Text put in: line, column in the new text, length in characters.
    shifts: Vec<(usize, usize, usize)>,
}

impl Instrumented {
    /// A position Tera reports in the new text (line, 0-based column) in the original text.
    pub fn original(&self, line: usize, col: usize) -> usize {
        let before: usize =
            self.shifts.iter().filter(|(l, c, len)| *l == line && col >= c + len).map(|(_, _, len)| len).sum();
        col - before
    }
}

/// A tag of a template: where it starts (`{%`) and ends (after `%}`), its keyword and the text
/// between the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Byte offset of `{%`.
    pub start: usize,
    /// Byte offset after `%}`.
    pub end: usize,
    /// The first word: `for`, `include`, `raw`.
    pub keyword: &'a str,
    /// The text after the keyword, without the closing delimiter.
    pub rest: &'a str,
}

/// The block tags of `text`, outside comments, expressions, strings and `{% raw %}` blocks.
pub fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find('{') {
        let start = at + offset;
        let next = text.as_bytes().get(start + 1).copied();
        at = match next {
            Some(b'#') => text[start + 2..].find("#}").map_or(text.len(), |e| start + 2 + e + 2),
            Some(b'{') => closing(text, start + 2, "}}"),
            Some(b'%') => {
                let end = closing(text, start + 2, "%}");
                let inner = text[start + 2..end].trim_start_matches('-').trim_start();
                let keyword = inner.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
                let rest = inner[keyword.len()..].trim_end_matches("%}").trim_end_matches('-');
                found.push(Tag { start, end, keyword, rest });
                if keyword == "raw" { end_of_raw(text, end) } else { end }
            }
            _ => start + 1,
        };
    }
    found
}

/// The offset after the first `close` from `from` that is not inside a string literal.
fn closing(text: &str, from: usize, close: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in text[from..].char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None if text[from + i..].starts_with(close) => return from + i + close.len(),
            Some(_) | None => {}
        }
    }
    text.len()
}

/// The offset after the `{% endraw %}` that ends a raw block starting at `from`.
fn end_of_raw(text: &str, from: usize) -> usize {
    let mut at = from;
    while let Some(offset) = text[at..].find("{%") {
        let start = at + offset;
        let end = text[start..].find("%}").map_or(text.len(), |e| start + e + 2);
        if text[start + 2..end].trim_matches(|c: char| c == '-' || c == '%' || c.is_whitespace()) == "endraw" {
            return end;
        }
        at = start + 2;
    }
    text.len()
}

/// 1-based line and 0-based column in characters of byte `offset` in `text`.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count();
    (line, col)
}

/// `text` with a call to [`TICK`] at the start of every loop body, numbering the loops from
/// `first`. Whitespace control is kept: after `-%}` the call trims what follows, as the tag did.
pub fn instrument(text: &str, first: usize) -> Instrumented {
    let mut out = Instrumented { text: String::with_capacity(text.len() + 64), ..Instrumented::default() };
    let mut copied = 0;
    let mut added_on_line = (0, 0);
    for tag in tags(text).into_iter().filter(|t| t.keyword == "for") {
        out.text.push_str(&text[copied..tag.end]);
        copied = tag.end;
        let index = first + out.loops.len();
        out.loops.push(position(text, tag.start));
        let call = if text[..tag.end].ends_with("-%}") {
            format!("{{{{- {TICK}(at={index}) -}}}}")
        } else {
            format!("{{{{ {TICK}(at={index}) }}}}")
        };
        let (line, col) = position(text, tag.end);
        if added_on_line.0 != line {
            added_on_line = (line, 0);
        }
        let len = call.chars().count();
        out.shifts.push((line, col + added_on_line.1, len));
        added_on_line.1 += len;
        out.text.push_str(&call);
    }
    out.text.push_str(&text[copied..]);
    out
}

thread_local! {
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct Meter {
    budget: Budget,
    watch: Stopwatch,
    written: usize,
    overrun: Option<Overrun>,
}

impl Meter {
    fn check(&mut self, at: Option<usize>) -> Result<(), Overrun> {
        if let Some(overrun) = self.overrun {
            return Err(overrun);
        }
        let limit = if self.written > self.budget.max_output {
            Limit::Output
        } else if self.watch.elapsed() > self.budget.max_time {
            Limit::Time
        } else {
            return Ok(());
        };
        let overrun = Overrun { limit, at };
        self.overrun = Some(overrun);
        Err(overrun)
    }
}

/// Register [`TICK`] on `tera`.
pub fn register(tera: &mut Tera) {
    tera.register_function(TICK, tick);
}

#[allow(clippy::needless_pass_by_value, reason = "tera's function signature")]
fn tick(kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let at = kwargs.get::<usize>("at")?;
    let checked = METER.with_borrow_mut(|meter| meter.as_mut().map_or(Ok(()), |m| m.check(at)));
    match checked {
        Ok(()) => Ok(String::new()),
        Err(_) => Err(tera::Error::message("the render budget ran out")),
    }
}

/// The output of a render, which keeps no byte past the budget.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let keep = METER.with_borrow_mut(|meter| {
            meter.as_mut().is_none_or(|m| {
                m.written = m.written.saturating_add(buf.len());
                m.written <= m.budget.max_output
            })
        });
        if keep {
            self.0.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Puts the previous meter back however the render ends.
struct Installed(Option<Meter>);

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = self.0.take();
        METER.with_borrow_mut(|meter| *meter = previous);
    }
}

/// Render `name` with `context` within `budget`.
pub fn render(tera: &Tera, name: &str, context: &Context, budget: Budget) -> Result<String, Failure> {
    let meter = Meter { budget, watch: Stopwatch::start(), written: 0, overrun: None };
    let previous = METER.with_borrow_mut(|slot| slot.replace(meter));
    let installed = Installed(previous);
    let mut output = Capped(Vec::new());
    let result = tera.render_to(name, context, &mut output);
    let overrun = METER.with_borrow_mut(|slot| slot.as_mut().map(|m| m.check(None)));
    drop(installed);
    if let Some(Err(overrun)) = overrun {
        return Err(Failure::Overrun(overrun));
    }
    result.map_err(Failure::Tera)?;
    String::from_utf8(output.0).map_err(|_| Failure::Tera(tera::Error::message("the output is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[track_caller]
    fn case(text: &str, expected: &str) {
        assert_eq!(instrument(text, 0).text, expected, "{text}");
    }

    #[test]
    fn every_loop_body_starts_with_a_tick_and_whitespace_control_is_kept() {
        case("a{% for x in y %}b{% endfor %}", "a{% for x in y %}{{ letterpress_budget(at=0) }}b{% endfor %}");
        case(
            "{%- for x in y -%}\n b{% endfor %}",
            "{%- for x in y -%}{{- letterpress_budget(at=0) -}}\n b{% endfor %}",
        );
        case("{# {% for x in y %} #}{{ \"{% for\" }}", "{# {% for x in y %} #}{{ \"{% for\" }}");
        case("{% raw %}{% for x in y %}{% endraw %}", "{% raw %}{% for x in y %}{% endraw %}");
        case(
            "{% if a == \"%}\" %}{% for i in x %}",
            "{% if a == \"%}\" %}{% for i in x %}{{ letterpress_budget(at=0) }}",
        );
        assert_eq!(instrument("{% for a in b %}{% for c in d %}", 3).loops, vec![(1, 0), (1, 16)]);
    }

    #[test]
    fn positions_after_a_loop_map_back_to_the_original_text() {
        let text = "é{% for a in b %}{% for c in d %}{{ x }}\n{{ y }}";
        let done = instrument(text, 0);
        let col = done.text.lines().next().unwrap().find("{{ x").unwrap();
        let col = done.text.lines().next().unwrap()[..col].chars().count();
        assert_eq!(done.original(1, col), 33);
        assert_eq!(done.original(2, 3), 3);
        assert_eq!(done.original(1, 1), 1);
    }

    fn engine(text: &str) -> Tera {
        let mut tera = Tera::new();
        register(&mut tera);
        tera.add_raw_template("t.txt", &instrument(text, 0).text).unwrap();
        tera
    }

    #[test]
    fn a_render_stops_at_its_output_budget_in_the_loop_that_passed_it() {
        let budget = Budget { max_output: 1000, max_time: Duration::from_secs(60) };
        let tera = engine("{% for i in range(end=20000) %}{% for j in range(end=20000) %}xx{% endfor %}{% endfor %}");
        let Err(Failure::Overrun(overrun)) = render(&tera, "t.txt", &Context::new(), budget) else { panic!() };
        assert_eq!(overrun, Overrun { limit: Limit::Output, at: Some(1) });
        let fine = engine("{% for i in range(end=3) %}{{ i }}{% endfor %}");
        assert_eq!(render(&fine, "t.txt", &Context::new(), budget).unwrap(), "012");
    }

    #[test]
    fn a_loop_that_writes_nothing_stops_at_the_time_budget() {
        let budget = Budget { max_output: 1000, max_time: Duration::ZERO };
        let tera = engine("{% for i in range(end=20000) %}{% for j in range(end=20000) %}{% endfor %}{% endfor %}");
        let Err(Failure::Overrun(overrun)) = render(&tera, "t.txt", &Context::new(), budget) else { panic!() };
        assert_eq!(overrun.limit, Limit::Time);
        assert!(overrun.at.is_some(), "{overrun:?}");
    }
}

//! Placeholder until the plain-text renderer lands.
use pulldown_cmark::Event;
/// Render events to plain text.
pub fn render_text<'a, I: IntoIterator<Item = Event<'a>>>(events: I) -> String {
    let mut out = String::new();
    for event in events {
        if let Event::Text(t) = event {
            out.push_str(&t);
            out.push('\n');
        }
    }
    out
}
/// Wrap column.
pub const WIDTH: usize = 72;
/// Longest line allowed.
pub const MAX_COLUMNS: usize = 78;

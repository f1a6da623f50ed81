//! The click report of one issue: each link with its text, URL, counted and filtered clicks and
//! its share of the counted ones, in issue order — as text, JSON or CSV (`letterpress clicks`),
//! and as rows for the preview.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;

use crate::error::Error;
use crate::state::LinkCounts;

/// How `letterpress clicks` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A table for people.
    #[default]
    Text,
    /// One JSON object: the issue, totals and links.
    Json,
    /// One CSV row per link, with a header row.
    Csv,
}

/// One link of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The link's number in the issue, from 1.
    pub number: u32,
    /// Its text.
    pub text: String,
    /// Where it goes.
    pub url: String,
    /// Clicks counted.
    pub counted: u64,
    /// Clicks filtered out.
    pub filtered: u64,
    /// Its share of the issue's counted clicks, in percent (0 when nothing was counted).
    pub share: f64,
}

/// The report's rows for an issue's links.
pub fn rows(links: &[LinkCounts]) -> Vec<Row> {
    let total: u64 = links.iter().map(|l| l.counted).sum();
    links
        .iter()
        .map(|l| Row {
            number: u32::from(l.index) + 1,
            text: l.text.clone(),
            url: l.url.clone(),
            counted: l.counted,
            filtered: l.filtered,
            share: share(l.counted, total),
        })
        .collect()
}

/// `part` of `total` in percent, to one decimal.
#[allow(clippy::cast_precision_loss, reason = "click counts are far below 2^52")]
fn share(part: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { (part as f64 * 1000.0 / total as f64).round() / 10.0 }
}

#[derive(Serialize)]
struct Report<'a> {
    issue: &'a str,
    counted: u64,
    filtered: u64,
    links: &'a [Row],
}

/// Write the report of `issue` in `format` to `out`.
pub fn write_report(issue: &str, links: &[LinkCounts], format: Format, out: &mut dyn Write) -> Result<(), Error> {
    let rows = rows(links);
    let counted = rows.iter().map(|r| r.counted).sum();
    let filtered = rows.iter().map(|r| r.filtered).sum();
    let stdout = |e| Error::io("write", std::path::Path::new("<stdout>"), e);
    match format {
        Format::Json => {
            let report = Report { issue, counted, filtered, links: &rows };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(|e| stdout(std::io::Error::other(e)))?;
            writeln!(out).map_err(stdout)
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            let fail = |e: csv::Error| stdout(std::io::Error::other(e));
            writer.write_record(["number", "text", "url", "counted", "filtered", "share"]).map_err(fail)?;
            for r in &rows {
                writer
                    .write_record([
                        r.number.to_string(),
                        r.text.clone(),
                        r.url.clone(),
                        r.counted.to_string(),
                        r.filtered.to_string(),
                        format!("{:.1}", r.share),
                    ])
                    .map_err(fail)?;
            }
            writer.flush().map_err(stdout)
        }
        Format::Text => {
            let mut text = format!("{issue}: {counted} clicks counted, {filtered} filtered\n\n");
            let _ = writeln!(text, "{:>3}  {:>7}  {:>8}  {:>6}  link", "#", "counted", "filtered", "share");
            for r in &rows {
                let label = if r.text.is_empty() { "(no text)" } else { r.text.as_str() };
                let _ = writeln!(
                    text,
                    "{:>3}  {:>7}  {:>8}  {:>5.1}%  {label}\n{:>34}{}",
                    r.number, r.counted, r.filtered, r.share, "", r.url
                );
            }
            out.write_all(text.as_bytes()).map_err(stdout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u16, counted: u64, filtered: u64) -> LinkCounts {
        LinkCounts {
            index,
            text: format!("Story, \"{index}\""),
            url: format!("https://example.org/{index}"),
            counted,
            filtered,
        }
    }

    #[test]
    fn shares_are_of_counted_clicks_and_formats_agree() {
        let links = [link(0, 3, 10), link(1, 1, 0), link(2, 0, 2)];
        let shares: Vec<String> = rows(&links).iter().map(|r| format!("{:.1}", r.share)).collect();
        assert_eq!(shares, ["75.0", "25.0", "0.0"]);
        assert_eq!(format!("{}", rows(&[link(0, 0, 4)])[0].share), "0", "nothing counted is no division by zero");
        let render = |format| {
            let mut out = Vec::new();
            write_report("weekly/x", &links, format, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        insta::assert_snapshot!(render(Format::Text));
        insta::assert_snapshot!(render(Format::Csv));
        let json: serde_json::Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(json["counted"], 4);
        assert_eq!(json["filtered"], 12);
        assert_eq!(json["links"][0]["share"], 75.0);
        assert_eq!(json["links"][2]["url"], "https://example.org/2");
    }
}

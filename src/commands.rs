//! Command handlers: thin adapters from the CLI to the pipeline stages.

use std::io::Write as _;
use std::path::Path;

use crate::cli::{Rendition, ReportFormat};
use crate::clock::Clock;
use crate::config;
use crate::diagnostic::{self, Diagnostic};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::project::Project;
use crate::{archive, check, content, preview, render, template};

mod bounces;
mod bounces_fetch;
mod bounces_scan;
mod clicks;
mod send;
mod serve;
mod state;
mod store;
mod subscribers;
pub use bounces::bounces;
pub use bounces_fetch::bounces_fetch;
pub use bounces_scan::bounces_scan;
pub use clicks::clicks;
pub use send::{cancel, log, send, status};
pub use serve::serve;
pub use state::state;
pub use store::keys;
pub use subscribers::{audience, resubscribe, subscribers, suppressions, unsubscribe};

/// `letterpress init <dir>`.
pub fn init(dir: &Path, clock: &Clock) -> Result<()> {
    if config::path_in(dir).exists() {
        return Err(Error::usage(format!("`{}` already holds a letterpress project", dir.display())));
    }
    let today = clock.now_local().date();
    let files: Vec<(String, String)> = [
        (config::FILE_NAME.to_owned(), include_str!("init/letterpress.yaml").to_owned()),
        (
            ".gitignore".to_owned(),
            "/public/\n/.letterpress/\n/outbox/\n/subscribers/.*.lock\n/subscribers/.letterpress-*\n".to_owned(),
        ),
        (
            format!("content/weekly/{today}-welcome.md"),
            include_str!("init/welcome.md").replace("{date}", &today.to_string()),
        ),
        ("static/.gitkeep".to_owned(), String::new()),
        ("subscribers/.gitkeep".to_owned(), String::new()),
    ]
    .into_iter()
    .chain(template::DEFAULTS.iter().map(|(name, text)| (format!("{}/{name}", template::DIR), (*text).to_owned())))
    .collect();
    for (path, text) in files {
        write_atomic(&dir.join(path), text.as_bytes())?;
    }
    eprintln!("created a letterpress project in `{}`; next: `letterpress -C {} check`", dir.display(), dir.display());
    Ok(())
}

/// `letterpress new <publication> <title>`: prints the new file's path.
pub fn new(root: &Path, publication: &str, title: &str, clock: &Clock) -> Result<()> {
    let project = Project::load(root)?;
    if project.config.publication(publication).is_none() {
        let known: Vec<&str> = project.config.publications.iter().map(|p| p.slug.as_str()).collect();
        return Err(Error::usage(format!("no publication `{publication}`; publications are: {}", known.join(", "))));
    }
    if title.contains(char::is_control) {
        return Err(Error::usage("the title must be one line of text: it becomes the email subject"));
    }
    let slug = render::slug(title);
    if slug.is_empty() {
        let why = if title.trim().is_empty() {
            "the title is empty".to_owned()
        } else {
            format!("the title `{title}` has no letters or digits to name the file after")
        };
        return Err(Error::usage(format!(
            "{why}; give a title with words in it, e.g. `letterpress new {publication} \"STP plans published\"`"
        )));
    }
    let date = clock.today(project.config.site.time_zone().as_ref());
    let relative = format!("content/{publication}/{date}-{slug}.md");
    let path = root.join(&relative);
    if path.exists() {
        return Err(Error::usage(format!("`{relative}` already exists")));
    }
    let quoted = serde_json::to_string(title).unwrap_or_default();
    let text = format!(
        "---\ntitle: {quoted}\ndate: {date}\nauthor: \"\"\nstandfirst: \"\"\nsummary: \"\"\ntags: []\nstatus: draft\n---\n\nWrite the issue here.\n"
    );
    write_atomic(&path, text.as_bytes())?;
    println!("{relative}");
    Ok(())
}

/// `letterpress check`: exit 1 when any error is found.
pub fn check(root: &Path, format: ReportFormat, env: &crate::env::Env) -> Result<()> {
    let mut diagnostics = match Project::load(root) {
        Ok(project) => {
            let (checked, mut diagnostics) = check::check(&project);
            diagnostics.extend(archive::check_pages(&project, &checked));
            diagnostics
        }
        Err(Error::Invalid(diagnostics)) => diagnostics,
        Err(other) => return Err(other),
    };
    diagnostics.extend(bounces::rate_warning(root, env));
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    match format {
        ReportFormat::Text => {
            if diagnostics.is_empty() {
                eprintln!("no problems found");
            } else {
                eprint!("{}", diagnostic::render_all(&diagnostics));
            }
        }
        ReportFormat::Json => {
            let report = serde_json::json!({ "errors": errors, "warnings": diagnostics.iter().filter(|d| d.severity == crate::diagnostic::Severity::Warning).count(), "diagnostics": diagnostics });
            print_stdout(&format!("{report:#}\n"))?;
        }
    }
    if errors > 0 { Err(Error::reported()) } else { Ok(()) }
}

/// `letterpress render <issue> --format html|text`.
pub fn render(root: &Path, name: &str, rendition: Rendition) -> Result<()> {
    let project = Project::load(root)?;
    let checked = check::issue(&project, project.find(name)?);
    let rendered = checked.rendered.map_err(|u| Error::Invalid(vec![u.error]))?;
    let errors: Vec<Diagnostic> = rendered.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    print_stdout(match rendition {
        Rendition::Html => &rendered.email.html,
        Rendition::Text => &rendered.email.text,
    })
}

/// `letterpress build`.
pub fn build(root: &Path, out: &Path, drafts: bool) -> Result<()> {
    let mut project = Project::load(root)?;
    let out = if out.is_absolute() { out.to_path_buf() } else { root.join(out) };
    // Each checked issue holds what the archive needs of its issue: the project's copies go,
    // each as soon as it is checked.
    let published: std::collections::BTreeSet<String> = project.published(drafts).map(content::Issue::id).collect();
    let mut issues = std::mem::take(&mut project.issues);
    issues.retain(|i| published.contains(&i.id()));
    let report = archive::build_issues(&project, issues, &out)?;
    eprintln!(
        "built {} issues into `{}` ({} files written, {} unchanged, {} removed)",
        report.issues,
        out.display(),
        report.written,
        report.unchanged,
        report.removed
    );
    Ok(())
}

/// `letterpress rename <issue> <new-slug> [--force]`.
pub fn rename(root: &Path, name: &str, new_slug: &str, force: bool, env: &crate::env::Env) -> Result<()> {
    let project = Project::load(root)?;
    let issue = project.find(name)?;
    let done = crate::rename::rename(&project, issue, new_slug, force, env)?;
    eprintln!(
        "renamed `{}` to `{}` ({}); {} links rewritten in {} files; {} journal rows moved",
        done.from,
        done.to,
        done.path.display(),
        done.links,
        done.files,
        done.journal
    );
    if done.redirect {
        eprintln!("`{}` was sent: `build` keeps a page at its old URL that redirects to the new one", done.to);
    }
    Ok(())
}

/// `letterpress preview`: serve until interrupted, on a small runtime of its own.
pub fn preview(root: &Path, options: preview::Options, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the preview server for", root, e))?;
    let result = runtime.block_on(preview::serve(root, options, clock.clone(), env.clone()));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Write to stdout, treating a closed pipe (`| head`) as success.
fn print_stdout(text: &str) -> Result<()> {
    write_stdout(text.as_bytes())
}

/// Write bytes to stdout, treating a closed pipe (`| head`) as success.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("write", Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
}

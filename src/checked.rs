//! `checked`: an issue rendered once and judged, as plain data.
//!
//! [`crate::project::Project::render`] makes a [`RenderedIssue`] (or says why it could not:
//! [`Unrendered`]); [`crate::check`] keeps it with every diagnostic in a [`CheckedIssue`], which
//! `build`, `render`, `preview`, `send` and [`crate::editions`] take. This module holds the
//! types only, so the stages that make them and the stages that take them import it and not
//! each other.

use serde::Serialize;

use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::template::EmailBody;
use crate::template::view::IssueView;

/// One issue rendered: the body (in the view: archive HTML, copy HTML, text, headings), and
/// the generic email, as in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedIssue {
    /// The template view of the issue, the rendered body in it.
    pub view: IssueView,
    /// The (not yet personalised) email.
    pub email: EmailBody,
    /// Problems found in the body's links, images and text.
    pub diagnostics: Vec<Diagnostic>,
}

/// An issue whose email could not be rendered: why, and its view when the body rendered (a
/// send's templates may print subscriber values the generic email does not have, so composing
/// still starts from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unrendered {
    /// The template view, unless the issue's publication is unknown.
    pub view: Option<IssueView>,
    /// What stopped the render.
    pub error: Diagnostic,
}

/// One issue rendered once and judged: what every later stage takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedIssue {
    /// The issue as loaded (serialised as its `publication/slug`).
    #[serde(serialize_with = "issue_id")]
    pub issue: Issue,
    /// Its rendering, or what stopped it (a template, or an unknown publication).
    pub rendered: Result<RenderedIssue, Unrendered>,
    /// Every diagnostic of the issue: front matter, body, templates and lints, in that order.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedIssue {
    /// The rendering, when the templates could render the issue.
    pub fn output(&self) -> Option<&RenderedIssue> {
        self.rendered.as_ref().ok()
    }

    /// The template view (the rendered body in it), even when the generic email failed.
    pub fn view(&self) -> Option<&IssueView> {
        match &self.rendered {
            Ok(rendered) => Some(&rendered.view),
            Err(unrendered) => unrendered.view.as_ref(),
        }
    }

    /// Whether any diagnostic is an error: such an issue is neither published nor sent.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

fn issue_id<S: serde::Serializer>(issue: &Issue, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&issue.id())
}

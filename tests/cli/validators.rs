//! The field's own validators on the example's archive and emails: html-validate and axe-core
//! (light and dark) in headless Chromium, from the npm package in `tests/validators/`.

use std::path::Path;
use std::process::Command;

use crate::harness::{Project, repo_root};

#[test]
#[ignore = "needs chromium and npm packages: apt-get install chromium; cd tests/validators && npm ci"]
#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
fn archive_and_email_pass_html_validate_and_axe() {
    let validators = repo_root().join("tests/validators");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(Path::new(&chromium).is_file(), "`{chromium}` is missing (apt-get install chromium)");
    assert!(validators.join("node_modules/html-validate").is_dir(), "run `npm ci` in `{}` first", validators.display());
    let project = Project::example();
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let output = Command::new("node")
        .current_dir(&validators)
        .arg("validate.mjs")
        .arg(project.path().join("public"))
        .args(["commissioner/2016-12-09-stp-plans-published/", "commissioner/", "https://news.example.org/"])
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("axe dark /commissioner/2016-12-09-stp-plans-published/: 0 serious"), "{stdout}");
}

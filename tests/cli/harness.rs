//! `Project`: a temporary copy of a fixture, and a way to run `letterpress` in it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixed "now" every test runs at, so dates in output are stable.
pub const NOW: &str = "2026-11-22T09:30:00Z";

/// The repository root, which is also the example newsletter project.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory under `tests/fixtures`.
pub fn fixture_dir(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A project in a temporary directory.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty temporary directory.
    pub fn empty() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A copy of `tests/fixtures/<name>`.
    pub fn fixture(name: &str) -> Self {
        let project = Self::empty();
        copy_tree(&fixture_dir(name), project.path());
        project
    }

    /// A copy of the example newsletter at the repository root.
    pub fn example() -> Self {
        let project = Self::empty();
        let root = repo_root();
        std::fs::copy(root.join("letterpress.yaml"), project.path().join("letterpress.yaml")).expect("config");
        for dir in ["content", "templates", "static", "subscribers"] {
            copy_tree(&root.join(dir), &project.path().join(dir));
        }
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// Run `letterpress <args>` with the project as working directory.
    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.path(), args)
    }

    /// Run `letterpress <args>` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        output(&command.output().expect("run letterpress"))
    }

    /// The `letterpress` command for this project, pinned clock and no colour, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_letterpress"));
        command.args(args).current_dir(self.path()).env("LETTERPRESS_NOW", NOW).env("NO_COLOR", "1");
        command
    }
}

fn output(output: &std::process::Output) -> Output {
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Run the binary in `dir` with a pinned clock and no colour.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_letterpress"))
        .args(args)
        .current_dir(dir)
        .env("LETTERPRESS_NOW", NOW)
        .env("NO_COLOR", "1")
        .output()
        .expect("run letterpress");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir` with its bytes, for comparing whole trees.
pub fn snapshot_tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).expect("prefix").to_path_buf(), std::fs::read(e.path()).expect("read")))
        .collect()
}

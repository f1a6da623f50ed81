//! Keeps the README honest: its quick-start commands run, in order, in a fresh directory.

use crate::harness::{Project, repo_root, run_in};

fn quick_start_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    let section = readme.split("## Quick start").nth(1).expect("a Quick start section");
    let block = section.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    block.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Split a command line on spaces, keeping double-quoted words together.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    for (i, part) in line.split('"').enumerate() {
        if i % 2 == 1 {
            words.push(part.to_owned());
        } else {
            words.extend(part.split_whitespace().map(str::to_owned));
        }
    }
    words
}

#[test]
fn readme_quick_start_commands_work() {
    let commands = quick_start_commands();
    assert!(commands.len() >= 4, "{commands:?}");
    let project = Project::empty();
    let mut dir = project.path().to_path_buf();
    for command in commands {
        let words = words(&command);
        match words.first().map(String::as_str) {
            Some("cd") => dir = dir.join(&words[1]),
            Some("letterpress") => {
                let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
                let out = run_in(&dir, &args);
                assert_eq!(out.code, 0, "`{command}` failed:\n{}", out.stderr);
            }
            other => panic!("unexpected quick-start command {other:?}"),
        }
    }
    assert!(dir.join("public/index.html").is_file());
}

#[test]
fn readme_subscriber_examples_work_on_a_fresh_list() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    let section = readme.split("## Subscriber lists").nth(1).expect("a Subscriber lists section");
    let add = section.lines().find(|l| l.starts_with("letterpress subscribers add")).expect("an add example");
    let command = add.split('#').next().unwrap_or(add);
    let project = Project::example();
    for fresh in ["email,name\n", ""] {
        let list = project.path().join("subscribers/commissioner-weekly.csv");
        if fresh.is_empty() {
            std::fs::remove_file(&list).expect("remove");
        } else {
            std::fs::write(&list, fresh).expect("write");
        }
        let words = words(command);
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = run_in(project.path(), &args);
        assert_eq!(out.code, 0, "`{command}` on {fresh:?} failed:\n{}", out.stderr);
        let written = std::fs::read_to_string(&list).expect("the list");
        assert!(written.lines().next().is_some_and(|h| h.ends_with(",region")), "{written}");
        assert!(written.contains("ruth@example.org,Ruth Akande,"), "{written}");
    }
}

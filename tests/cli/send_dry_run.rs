//! `send --dry-run` refuses what the real send would refuse before connecting, with the same
//! error and exit code: a relay URL with a bad scheme or a user name in it, a missing or empty
//! password variable, an unreadable DKIM key.

use crate::harness::{Output, Project};
use crate::send::{ISSUE, PASSWORD};

/// The last line of stderr: the error.
fn error_line(out: &Output) -> &str {
    out.stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default()
}

/// Run the dry run and the real send with `env`; both must fail alike, and nothing be sent.
#[track_caller]
fn both_refuse(project: &Project, env: &[(&str, &str)], code: i32, needle: &str) {
    let dry = project.run_env(&["send", ISSUE, "--dry-run"], env);
    let real = project.run_env(&["send", ISSUE, "--yes"], env);
    assert_eq!(dry.code, code, "dry run: {}", dry.stderr);
    assert_eq!(real.code, code, "real send: {}", real.stderr);
    assert_eq!(error_line(&dry), error_line(&real), "the same error");
    assert!(error_line(&dry).contains(needle), "no `{needle}` in: {}", dry.stderr);
    assert!(!dry.stderr.contains("messages composed"), "{}", dry.stderr);
    assert!(!dry.stderr.contains(PASSWORD) && !dry.stderr.contains("hunter2"), "no password printed");
    let status = project.run(&["status"]);
    assert_eq!(status.stdout, "no sends yet\n", "nothing journaled");
}

#[test]
fn a_relay_url_with_a_bad_scheme_or_user_info_is_refused_by_the_dry_run_too() {
    let project = Project::fixture("send");
    let password = ("LP_TEST_SMTP_PASSWORD", PASSWORD);
    both_refuse(&project, &[("LETTERPRESS_SMTP_URL", "http://127.0.0.1:2525"), password], 2, "`smtp://` or `smtps://`");
    both_refuse(
        &project,
        &[("LETTERPRESS_SMTP_URL", "smtp://editor:hunter2@127.0.0.1:2525"), password],
        2,
        "must not contain a user name or password",
    );
}

#[test]
fn a_missing_or_empty_password_variable_is_refused_by_the_dry_run_too() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("    ca-file: ca.pem\n", "");
    project.write("letterpress.yaml", &config);
    both_refuse(&project, &[], 2, "the SMTP password variable `LP_TEST_SMTP_PASSWORD` is not set");
    both_refuse(
        &project,
        &[("LP_TEST_SMTP_PASSWORD", "")],
        2,
        "the SMTP password variable `LP_TEST_SMTP_PASSWORD` is not set",
    );
}

#[test]
fn an_unreadable_dkim_key_is_refused_by_the_dry_run_too() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml")
        + "dkim:\n  domain: send.example.org\n  selector: lp\n  key-file: secrets/dkim.pem\n";
    project.write("letterpress.yaml", &config);
    let env = [("LP_TEST_SMTP_PASSWORD", PASSWORD)];
    both_refuse(&project, &env, 1, "failed to read `secrets/dkim.pem`");
    project.write("secrets/dkim.pem", "not a key\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let path = project.path().join("secrets/dkim.pem");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let dry = project.run_env(&["send", ISSUE, "--dry-run"], &env);
    let real = project.run_env(&["send", ISSUE, "--yes"], &env);
    assert_eq!((dry.code, real.code), (1, 1), "{}\n{}", dry.stderr, real.stderr);
    assert!(dry.stderr.contains("`dkim.key-file` `secrets/dkim.pem` holds no PEM private key"), "{}", dry.stderr);
    assert_eq!(dry.stderr, real.stderr);
}

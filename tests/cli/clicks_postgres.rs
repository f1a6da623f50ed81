//! Click counts on the PostgreSQL state store (issue 16): `send` records the link table of every
//! edition in the database, two `serve` processes on that database redirect and count clicks,
//! and `letterpress clicks` adds up what both wrote. Ignored unless asked for: they need
//! PostgreSQL's server binaries, which `.ci/run` installs.

use crate::clicks_editions::{
    ISSUE, KEY, KEY_VAR, LATER, LINKS, LONDON, NORTH_WEST, click_url, click_urls, follow, parts, report, send,
};
use crate::harness::Project;
use crate::postgres::{cluster, rows};
use crate::serve::client::Server;

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn two_serve_processes_on_one_postgres_database_count_clicks_that_add_up() {
    let project = Project::fixture("clicks-editions");
    let url = cluster::fresh_database();
    let store = ("LETTERPRESS_STATE_URL", url.as_str());
    let messages = send(&project, &[store]);
    assert!(!project.path().join(".letterpress/state.db").exists(), "no SQLite store beside PostgreSQL");
    let (_, london) = parts(&messages[LONDON[0]]);
    let (_, north_west) = parts(&messages[NORTH_WEST[0]]);
    assert_eq!(click_urls(&london), [click_url(0), click_url(1), click_url(2)]);
    assert_eq!(click_urls(&north_west), [click_url(0), click_url(2), click_url(3)]);
    let recorded = rows(&url, &format!("SELECT idx, url FROM click_links WHERE issue = '{ISSUE}' ORDER BY idx"));
    let expected: Vec<Vec<String>> =
        LINKS.iter().enumerate().map(|(i, (u, _))| vec![i.to_string(), (*u).to_owned()]).collect();
    assert_eq!(recorded, expected, "the send recorded every edition's links in the full issue's numbering");

    let env = [(KEY_VAR, KEY), ("LETTERPRESS_NOW", LATER), store];
    let mut servers = [Server::start(&project, &env), Server::start(&project, &env)];
    // Per server, per link: how many people follow it (each from a network of their own).
    let plan: [[usize; 4]; 2] = [[3, 1, 2, 0], [2, 0, 1, 4]];
    let mut network = 0;
    for (index, target) in (0..).zip(LINKS.map(|(target, _)| target)) {
        for (server, counts) in servers.iter().zip(plan) {
            for _ in 0..counts[usize::from(index)] {
                network += 1;
                let response = follow(server, &click_url(index), &format!("198.51.{network}.7"));
                assert_eq!((response.status, response.header("location")), (302, Some(target)), "{response:?}");
            }
        }
    }
    for server in &mut servers {
        assert!(server.stop().success(), "{:?}", server.log());
        assert!(!server.log().iter().any(|l| l.contains("\" 5")), "{:?}", server.log());
    }
    let (links, totals) = report(&project, &[store]);
    let counted: Vec<u64> = links.iter().map(|l| l.counted).collect();
    assert_eq!(counted, [5, 1, 3, 4], "both servers' clicks, per link: {links:?}");
    assert_eq!(totals, (13, 0));
    let stored = rows(
        &url,
        &format!(
            "SELECT idx, SUM(counted), SUM(filtered) FROM click_counts WHERE issue = '{ISSUE}' GROUP BY idx ORDER BY idx"
        ),
    );
    let stored: Vec<(String, String)> = stored.into_iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    let want = ["5", "1", "3", "4"].map(|c| (c.to_owned(), "0".to_owned()));
    assert_eq!(stored, want, "the database holds the sums");
    assert!(!project.path().join(".letterpress/state.db").exists(), "serve kept nothing in SQLite");
}

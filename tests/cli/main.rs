//! The one CLI integration test binary: each module drives the real `letterpress` binary
//! against small fixture projects copied to temporary directories.

mod bounces;
mod bounces_fetch;
mod bounces_scan;
mod build;
mod check;
mod clicks;
mod dovecot;
mod editions;
mod harness;
mod init;
mod postgres;
mod preview;
mod readme;
mod rename;
mod render;
mod segments;
mod send;
mod send_bounces;
mod send_cancel;
mod send_crash;
mod send_dkim;
mod send_dry_run;
mod send_gate;
mod send_pool;
mod send_relays;
mod send_transport;
mod senders;
mod serve;
mod signups;
mod smtp;
mod smtp_selftest;
mod subscribers;
mod validators;
mod webhooks;
mod welcome;

//! Benchmark for the figure issue #4 names: personalised messages assembled per second on one
//! core (target: ≥ 100,000), for the example issue, without DKIM and without the network.
//!
//! Signing figures are reported beside it for reference (RSA signing is slow by nature and is
//! not part of the target).
//!
//! Issue #15 adds a case: the same issue with six regional blocks (`::: only region=…`), one
//! per region of the generated subscribers, so each recipient is routed to one of six editions
//! (target: ≥ 100,000 messages/s per core with editions too).
//!
//! Run with `cargo bench --bench compose`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use letterpress::compose::{ComposeOptions, DkimKey, MessageTemplate, Recipient};
use letterpress::config::{Dkim, DkimAlgorithm};
use letterpress::project::Project;
use letterpress::token::Keys;

const ISSUE: &str = "commissioner/2016-12-09-stp-plans-published";
const REGIONS: [&str; 5] = ["North West", "London", "Midlands", "South East", "Yorkshire and the Humber"];

/// A generated subscriber: address, name, attributes.
type Reader = (String, String, BTreeMap<String, String>);

/// Generated subscribers: distinct addresses, names (some non-ASCII) and regions.
fn recipients(n: usize) -> Vec<Reader> {
    (0..n)
        .map(|i| {
            let name = if i % 3 == 0 { format!("Zoë Reader {i}") } else { format!("Reader {i}") };
            let attrs = BTreeMap::from([("region".to_owned(), REGIONS[i % REGIONS.len()].to_owned())]);
            (format!("reader.{i}@example{}.org", i % 97), name, attrs)
        })
        .collect()
}

/// The six regions of the editions case.
const SIX: [&str; 6] = ["North West", "London", "Midlands", "South East", "Yorkshire and the Humber", "South West"];

/// The example issue with one regional block per region of [`SIX`] appended, its template with
/// the editions the generated recipients need, and those recipients.
fn editions(project: &Project) -> (MessageTemplate, Vec<Reader>) {
    let mut issue = project.find(ISSUE).expect("example issue").clone();
    for (i, region) in SIX.iter().enumerate() {
        let _ = write!(
            issue.body,
            "\n::: only region=\"{region}\"\n## In {region}\n\nWhat the plan means for {region}: [read more](https://example.org/{i}).\n:::\n"
        );
    }
    let checked = letterpress::check::issue(project, &issue);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let mut template = MessageTemplate::new(project, &checked, options(None)).expect("template");
    let recipients: Vec<_> = recipients(10_000)
        .into_iter()
        .enumerate()
        .map(|(i, (email, name, mut attrs))| {
            attrs.insert("region".to_owned(), SIX[i % SIX.len()].to_owned());
            (email, name, attrs)
        })
        .collect();
    let blocks = template.blocks().expect("blocks").clone();
    let sets: Vec<u64> = recipients
        .iter()
        .map(|(email, name, attrs)| blocks.set_of(&Recipient { email, name, attrs, list: "commissioner-weekly" }))
        .collect();
    template.add_editions(project, &checked, sets).expect("editions");
    (template, recipients)
}

fn options(dkim: Option<DkimKey>) -> ComposeOptions {
    ComposeOptions {
        date: "2016-12-09T07:00:00Z".parse().expect("date"),
        keys: Keys::from_secrets(vec![vec![7; 32]]).expect("key"),
        dkim,
        attr_columns: vec!["region".to_owned()],
        test: false,
    }
}

fn template(project: &Project, dkim: Option<DkimKey>) -> MessageTemplate {
    let options = options(dkim);
    let checked = letterpress::check::issue(project, project.find(ISSUE).expect("example issue"));
    MessageTemplate::new(project, &checked, options).expect("template")
}

fn bench(c: &mut Criterion, name: &str, template: &MessageTemplate) {
    bench_with(c, name, template, &recipients(10_000));
}

fn bench_with(c: &mut Criterion, name: &str, template: &MessageTemplate, recipients: &[Reader]) {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut group = c.benchmark_group("compose");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        let mut next = recipients.iter().cycle();
        b.iter(|| {
            let (email, name, attrs) = next.next().expect("cycle");
            let recipient = Recipient { email, name, attrs, list: "commissioner-weekly" };
            let composed = template.compose(&recipient, &mut out).expect("composes");
            black_box((composed, out.len()))
        });
    });
    group.finish();
}

fn compose_messages(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::load(root).expect("the example project loads");
    let template = template(&project, None);
    let mut out = Vec::new();
    let attrs = BTreeMap::new();
    let sample = Recipient { email: "reader@example.org", name: "Reader", attrs: &attrs, list: "commissioner-weekly" };
    template.compose(&sample, &mut out).expect("composes");
    eprintln!("message size: {} bytes", out.len());
    bench(c, "one personalised message", &template);
    let (with_editions, six) = editions(&project);
    eprintln!("editions prepared: {}", with_editions.edition_count());
    bench_with(c, "one personalised message, 6 regional editions", &with_editions, &six);

    let dkim = |algorithm, pem: &[u8]| {
        let config = Dkim {
            domain: "news.example.org".to_owned(),
            selector: "bench".to_owned(),
            key_file: PathBuf::from("dkim.pem"),
            algorithm,
        };
        DkimKey::from_pem(pem, &config).expect("key")
    };
    let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key");
    let signed = self::template(&project, Some(dkim(DkimAlgorithm::Ed25519Sha256, ed25519.serialize_pem().as_bytes())));
    bench(c, "one message signed with ed25519-sha256", &signed);
    let rsa = std::fs::read(root.join("tests/fixtures/dkim/rsa-test-key.pem")).expect("rsa key");
    let signed = self::template(&project, Some(dkim(DkimAlgorithm::RsaSha256, &rsa)));
    bench(c, "one message signed with rsa-sha256 (2048 bits)", &signed);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = compose_messages
}
criterion_main!(benches);

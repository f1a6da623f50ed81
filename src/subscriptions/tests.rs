use super::*;

const EDITOR: Actor = Actor::Editor { force: false };
const FORCE: Actor = Actor::Editor { force: true };

fn list(slug: &str) -> Scope {
    Scope::List(slug.to_owned())
}

#[track_caller]
fn case(actor: Actor, reason: Reason, held: &Scope, asked: &Scope, expected: Outcome) {
    assert_eq!(
        outcome(actor, reason, held, asked),
        expected,
        "{actor:?} asking for {asked:?}, {reason:?} held for {held:?}"
    );
}

#[test]
fn the_resubscribe_rule() {
    use Outcome::{Kept, Lifted, Narrowed, Untouched};
    use Reason::{Bounced, Complained, Manual, Unsubscribed};
    let (all, weekly, briefing) = (Scope::All, list("weekly"), list("briefing"));
    // An unsubscribe: lifted for the lists named by anyone who asks, narrowed when global.
    for actor in [Actor::Person, Actor::Import, EDITOR, FORCE] {
        case(actor, Unsubscribed, &weekly, &weekly, Lifted);
        case(actor, Unsubscribed, &all, &weekly, Narrowed);
        case(actor, Unsubscribed, &briefing, &weekly, Untouched);
    }
    case(EDITOR, Unsubscribed, &all, &all, Lifted);
    case(EDITOR, Unsubscribed, &briefing, &all, Lifted);
    // A bounce or a complaint: only the editor's `--force`.
    for reason in [Bounced, Complained] {
        for actor in [Actor::Person, Actor::Import, EDITOR] {
            case(actor, reason, &all, &weekly, Kept);
            case(actor, reason, &weekly, &weekly, Kept);
            case(actor, reason, &briefing, &weekly, Untouched);
        }
        case(EDITOR, reason, &all, &all, Kept);
        case(FORCE, reason, &all, &all, Lifted);
        case(FORCE, reason, &weekly, &weekly, Lifted);
        case(FORCE, reason, &all, &weekly, Narrowed);
    }
    // A block by hand: the editor's own, so the editor (`resubscribe`, an import), never a link.
    case(Actor::Person, Manual, &all, &weekly, Kept);
    case(Actor::Person, Manual, &weekly, &weekly, Kept);
    for actor in [Actor::Import, EDITOR, FORCE] {
        case(actor, Manual, &all, &weekly, Narrowed);
        case(actor, Manual, &weekly, &weekly, Lifted);
    }
    case(EDITOR, Manual, &all, &all, Lifted);
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn store() -> (tempfile::TempDir, State) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("state.db");
    let state = State::open(&path, Path::new("state.db")).expect("a store");
    (dir, state)
}

fn held(state: &State, address: &str) -> Vec<(String, Reason)> {
    state.suppressions_of(address).unwrap().into_iter().map(|s| (s.scope.as_str().to_owned(), s.reason)).collect()
}

#[test]
fn a_global_unsubscribe_is_narrowed_and_a_bounce_stays() {
    let (_dir, state) = store();
    let lists = ["weekly".to_owned(), "briefing".to_owned(), "insiders".to_owned()];
    let t = at("2026-11-22T09:30:00Z");
    unsubscribe(&state, "tom@example.net", &Scope::All, Reason::Unsubscribed, "cli", Some("by phone"), t).unwrap();
    let done = resubscribe(&state, "Tom@Example.net", &list("weekly"), Actor::Person, &lists).unwrap();
    assert_eq!(done, Resubscribed { lifted: 0, narrowed: 1, kept: vec![] });
    assert_eq!(
        held(&state, "tom@example.net"),
        [("briefing".to_owned(), Reason::Unsubscribed), ("insiders".to_owned(), Reason::Unsubscribed)]
    );
    let narrowed = &state.suppressions_of("tom@example.net").unwrap()[0];
    assert_eq!((narrowed.source.as_str(), narrowed.created_at, narrowed.note.as_deref()), ("cli", t, Some("by phone")));

    let hard = Bounce { address: "ann@example.org", kind: BounceKind::Hard, source: "bounce:<1@x>" };
    assert_eq!(record_bounce(&state, &hard, SoftRule::default(), t).unwrap(), Some(Reason::Bounced));
    assert_eq!(record_bounce(&state, &hard, SoftRule::default(), t).unwrap(), None, "recorded once");
    unsubscribe(&state, "ann@example.org", &list("weekly"), Reason::Unsubscribed, "one-click", None, t).unwrap();
    let done = resubscribe(&state, "ann@example.org", &list("weekly"), Actor::Person, &lists).unwrap();
    assert_eq!((done.lifted, done.narrowed, done.kept.len()), (1, 0, 1), "{done:?}");
    assert_eq!(held(&state, "ann@example.org"), [("*".to_owned(), Reason::Bounced)]);
    let refused = admit(Some(&state), "ann@example.org", "weekly", Actor::Import, true).unwrap();
    assert!(matches!(refused, Admission::Refused(Some(ref s)) if s.reason == Reason::Bounced), "{refused:?}");
    let done = resubscribe(&state, "ann@example.org", &Scope::All, EDITOR, &lists).unwrap();
    assert_eq!((done.changed(), done.kept.len()), (0, 1));
    let done = resubscribe(&state, "ann@example.org", &Scope::All, FORCE, &lists).unwrap();
    assert_eq!((done.lifted, done.kept.len()), (1, 0));
    assert_eq!(admit(Some(&state), "ann@example.org", "weekly", Actor::Import, false).unwrap(), Admission::Allowed);
    assert_eq!(admit(None, "ann@example.org", "weekly", Actor::Import, false).unwrap(), Admission::Allowed);
    assert_eq!(admit(Some(&state), "tom@example.net", "briefing", Actor::Import, true).unwrap(), Admission::Lift);
    assert_eq!(
        admit(Some(&state), "tom@example.net", "briefing", Actor::Import, false).unwrap(),
        Admission::Refused(None)
    );
}

#[test]
fn bounces_and_complaints_cover_every_list() {
    assert_eq!(suppress_for(Reason::Bounced, Some("weekly")), Scope::All);
    assert_eq!(suppress_for(Reason::Complained, None), Scope::All);
    assert_eq!(suppress_for(Reason::Unsubscribed, Some("weekly")), list("weekly"));
    assert_eq!(suppress_for(Reason::Manual, None), Scope::All);
}

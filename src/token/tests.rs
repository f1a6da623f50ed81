use super::*;

fn keyring(secrets: &[u8]) -> Keys {
    Keys::from_secrets(secrets.iter().map(|&b| vec![b; 32]).collect()).unwrap()
}

#[test]
fn tokens_round_trip_and_never_show_the_address() {
    let keys = keyring(&[1]);
    let token = keys.token("Zoe.Hartley@Example.org", "commissioner-weekly");
    let claims = keys.verify(&token).unwrap();
    assert_eq!(
        claims,
        Claims { token_id: keys.token_id("zoe.hartley@example.org"), list: "commissioner-weekly".to_owned() }
    );
    assert_eq!(claims.token_id.len(), 32);
    assert_eq!(keys.token("zoe.hartley@example.org", "commissioner-weekly"), token, "stable");
    assert_ne!(keys.token("other@example.org", "commissioner-weekly"), token);
    let decoded = String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&token).unwrap()).to_lowercase();
    for shown in [token.to_lowercase(), decoded, claims.token_id] {
        assert!(!shown.contains("zoe") && !shown.contains("example.org"), "{shown}");
    }
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}

#[test]
fn tampered_truncated_retargeted_and_garbage_tokens_are_rejected() {
    let keys = keyring(&[1]);
    let token = keys.token("a@example.org", "weekly");
    let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let flipped = |i: usize| {
        let mut b = bytes.clone();
        b[i] ^= 1;
        URL_SAFE_NO_PAD.encode(b)
    };
    for i in 0..bytes.len() {
        assert_eq!(keys.verify(&flipped(i)), None, "byte {i} flipped");
    }
    let len = bytes.len();
    bytes[1 + ID_BYTES..len - TAG_BYTES].copy_from_slice(b"daily\0");
    for bad in [
        URL_SAFE_NO_PAD.encode(&bytes),
        token[..token.len() - 1].to_owned(),
        token[..10].to_owned(),
        String::new(),
        "not a token!".to_owned(),
        "A".repeat(600),
        format!("{token}="),
    ] {
        assert_eq!(keys.verify(&bad), None, "{bad}");
    }
    assert_eq!(keyring(&[2]).verify(&token), None, "another key");
}

#[test]
fn the_first_key_signs_and_every_key_verifies() {
    let old = keyring(&[1]);
    let rotated = keyring(&[2, 1]);
    let token = old.token("a@example.org", "weekly");
    assert_eq!(rotated.verify(&token), old.verify(&token));
    assert_ne!(rotated.token("a@example.org", "weekly"), token, "the new key signs");
    assert_eq!(old.verify(&rotated.token("a@example.org", "weekly")), None);
}

#[test]
fn keys_from_the_environment_are_hex_or_base64url_of_32_bytes() {
    let hex_key = "ab".repeat(32);
    let b64_key = URL_SAFE_NO_PAD.encode([9u8; 40]);
    let keys = Keys::from_env_value(KEYS_VAR, &format!("{hex_key}, {b64_key}=")).unwrap();
    assert_eq!(keys.macs.len(), 2);
    assert_eq!(keys.token_id("a@example.org"), keyring(&[0xab]).token_id("a@example.org"));
    let message = |value: &str| match Keys::from_env_value(KEYS_VAR, value) {
        Err(Error::Invalid(d)) => d[0].message.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        message(&format!("{hex_key},{}", "cd".repeat(16))),
        format!("`{KEYS_VAR}`: key 2 of 2 is 16 bytes; a key must be at least 32 bytes")
    );
    assert_eq!(message("not*base64"), format!("`{KEYS_VAR}`: key 1 of 1 is neither hex nor base64url"));
    assert_eq!(message(""), format!("`{KEYS_VAR}`: key 1 of 1 is empty"));
    assert!(!message(&format!("{}!", "s".repeat(50))).contains("sss"), "a key is never printed");
}

#[cfg(unix)]
#[test]
fn a_generated_key_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".letterpress");
    let first = Keys::from_key_file(&state).unwrap();
    let path = state.join(KEY_FILE);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let again = Keys::from_key_file(&state).unwrap();
    assert_eq!(first.token("a@example.org", "w"), again.token("a@example.org", "w"));
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1, "no temporary files left");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let Err(Error::Invalid(problems)) = Keys::from_key_file(&state) else { panic!("a group-readable key was used") };
    assert_eq!(
        problems[0].message,
        format!("`{}` can be read by other users (mode 640); refusing to use it", path.display())
    );
    assert_eq!(problems[0].help, Some(format!("run `chmod 600 {}`", path.display())));
}

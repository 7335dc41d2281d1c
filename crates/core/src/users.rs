//! The KV value `users`: `{"alice": {"key": "...", "owner": "...", "type": "paid", ...}}`.
//!
//! Order and unknown fields survive every read-modify-write. Keys are
//! compared in constant time, and never leave through [`Users::public_view`].

use crate::config::{
    check_opt_string, check_required_string, child, json_error_message, json_object_serde, present, Fields, JsonObject,
    ValidationIssue, ROOT,
};
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Shortest user key [`validate_users`] accepts.
pub const MIN_KEY_LEN: usize = 16;
/// Prefix of keys made by [`generate_key`].
pub const KEY_PREFIX: &str = "sk-aiproxy-";

/// All users, in stored order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Users {
    pub users: Vec<(String, User)>,
}

/// One user of the proxy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    /// The proxy key the user presents as `Authorization: Bearer`.
    pub key: String,
    pub owner: Option<String>,
    /// JSON `type`, e.g. "paid", "free", "expired".
    pub r#type: Option<String>,
    /// Unknown fields, `rateLimit` included (see [`User::rate_limit`]).
    pub extra: Map<String, Value>,
    /// Key order of the source object (empty for a new value).
    pub key_order: Vec<String>,
}

/// A user's `rateLimit`: at most `requests` per `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u64,
    pub window_seconds: u64,
}

/// Why the `users` value could not be read, or a key not made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsersError {
    NotJson(String),
    Invalid(ValidationIssue),
    /// The host gave no random bytes.
    Random,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsersError::NotJson(m) => write!(f, "users is not JSON: {m}"),
            UsersError::Invalid(issue) => write!(f, "users is not valid: {issue}"),
            UsersError::Random => f.write_str("no random bytes available to make a key"),
        }
    }
}

impl std::error::Error for UsersError {}

/// Result of checking a presented key.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthOutcome<'a> {
    Ok {
        name: String,
        user: &'a User,
    },
    /// No user has this key.
    Unknown,
    /// The key belongs to a user whose `type` is "expired".
    Expired,
}

/// Why an `Authorization` header gives no bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    NotBearer,
    Empty,
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BearerError::Missing => "missing Authorization header",
            BearerError::NotBearer => "Authorization header must use the Bearer scheme",
            BearerError::Empty => "empty bearer token",
        })
    }
}

impl std::error::Error for BearerError {}

/// The token of `Authorization: Bearer <token>` (scheme in any case).
pub fn bearer(header_value: Option<&str>) -> Result<&str, BearerError> {
    let value = header_value.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(BearerError::Missing);
    }
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::NotBearer);
    }
    match rest.trim() {
        "" => Err(BearerError::Empty),
        token => Ok(token),
    }
}

/// Parses the stored `users` value (a leading BOM is tolerated).
pub fn parse(bytes: &[u8]) -> Result<Users, UsersError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| UsersError::NotJson(json_error_message(&e)))?;
    Users::from_value(value).map_err(UsersError::Invalid)
}

impl Users {
    /// Builds users from a JSON object of name → user.
    pub fn from_value(value: Value) -> Result<Users, ValidationIssue> {
        let Value::Object(map) = value else {
            return Err(ValidationIssue::new(ROOT, "must be an object"));
        };
        let users = map
            .into_iter()
            .map(|(name, v)| {
                let user = User::from_json(v, &child(ROOT, &name))?;
                Ok((name, user))
            })
            .collect::<Result<_, ValidationIssue>>()?;
        Ok(Users { users })
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|(n, _)| n == name).map(|(_, u)| u)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &User)> {
        self.users.iter().map(|(n, u)| (n.as_str(), u))
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn to_value(&self) -> Value {
        Value::Object(
            self.users
                .iter()
                .map(|(n, u)| (n.clone(), Value::Object(u.to_map())))
                .collect(),
        )
    }

    /// Pretty JSON, as stored in KV.
    pub fn to_json(&self) -> String {
        // Serialising a Value to a String cannot fail.
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }

    /// Every user with every field except `key` (for `GET /admin/users`).
    pub fn public_view(&self) -> Value {
        let users = self.users.iter().map(|(n, u)| {
            let mut m = u.to_map();
            m.shift_remove("key");
            (n.clone(), Value::Object(m))
        });
        Value::Object(users.collect())
    }

    /// Finds the user holding `presented`. Every user's key is compared, in
    /// constant time on SHA-256 digests (so lengths do not leak either), with
    /// no early exit; the first match wins. Empty keys never match.
    pub fn authenticate(&self, presented: &str) -> AuthOutcome<'_> {
        let wanted = Sha256::digest(presented.as_bytes());
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, (_, user)) in self.users.iter().enumerate() {
            let have = Sha256::digest(user.key.as_bytes());
            let usable = Choice::from(u8::from(!user.key.is_empty()));
            let hit = have.as_slice().ct_eq(wanted.as_slice()) & usable;
            index.conditional_assign(&(i as u64), hit & !found);
            found |= hit;
        }
        if !bool::from(found) || presented.is_empty() {
            return AuthOutcome::Unknown;
        }
        match usize::try_from(index).ok().and_then(|i| self.users.get(i)) {
            Some((_, user)) if user.is_expired() => AuthOutcome::Expired,
            Some((name, user)) => AuthOutcome::Ok {
                name: name.clone(),
                user,
            },
            None => AuthOutcome::Unknown,
        }
    }
}

impl User {
    /// True when `type` is "expired" (any case).
    pub fn is_expired(&self) -> bool {
        self.r#type
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("expired"))
    }

    /// The `rateLimit` field when it is well formed.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        let rl = self.extra.get("rateLimit")?.as_object()?;
        let requests = rl.get("requests")?.as_u64().filter(|n| *n > 0)?;
        let window_seconds = rl.get("windowSeconds")?.as_u64().filter(|n| *n > 0)?;
        Some(RateLimit {
            requests,
            window_seconds,
        })
    }
}

impl JsonObject for User {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        let mut f = Fields::new(value, path)?;
        let key = f.string("key")?;
        let owner = f.opt_string("owner")?;
        let r#type = f.opt_string("type")?;
        let (extra, key_order) = f.finish();
        Ok(User {
            key,
            owner,
            r#type,
            extra,
            key_order,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut known = vec![("key", Value::from(self.key.clone()))];
        crate::config::put(&mut known, "owner", &self.owner);
        crate::config::put(&mut known, "type", &self.r#type);
        crate::config::ordered(known, &self.extra, &self.key_order)
    }
}

json_object_serde!(User);

/// A strong random key: `sk-aiproxy-` + 32 random bytes in unpadded base64url.
pub fn generate_key() -> Result<String, UsersError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| UsersError::Random)?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// User names: `[A-Za-z0-9_.@-]+`.
pub fn is_user_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

/// Every problem of a raw `users` value, with paths such as `alice.key`.
pub fn validate_users(value: &Value) -> Vec<ValidationIssue> {
    let mut out = Vec::new();
    let Some(users) = value.as_object() else {
        out.push(ValidationIssue::new(ROOT, "must be an object"));
        return out;
    };
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (name, user) in users {
        let path = child(ROOT, name);
        if !is_user_name(name) {
            out.push(ValidationIssue::new(
                &path,
                "user name must be non-empty and use only A-Z, a-z, 0-9, '_', '.', '@' and '-'",
            ));
        }
        let Some(u) = user.as_object() else {
            out.push(ValidationIssue::new(&path, "must be an object"));
            continue;
        };
        if let Some(key) = check_required_string(u, &path, "key", &mut out) {
            let key_path = child(&path, "key");
            if key.chars().count() < MIN_KEY_LEN {
                out.push(ValidationIssue::new(
                    &key_path,
                    format!("must be at least {MIN_KEY_LEN} characters"),
                ));
            } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                out.push(ValidationIssue::new(
                    &key_path,
                    "must not contain spaces or control characters",
                ));
            }
            // Never quote the key: name the other user instead.
            match seen.iter().find(|(_, k)| *k == key) {
                Some((other, _)) => out.push(ValidationIssue::new(
                    &key_path,
                    format!("same key as user {}", Value::from(*other)),
                )),
                None => seen.push((name, key)),
            }
        }
        check_opt_string(u, &path, "owner", &mut out);
        check_opt_string(u, &path, "type", &mut out);
        if let Some(rl) = present(u, "rateLimit") {
            validate_rate_limit(rl, &child(&path, "rateLimit"), &mut out);
        }
    }
    out
}

fn validate_rate_limit(value: &Value, path: &str, out: &mut Vec<ValidationIssue>) {
    let Some(rl) = value.as_object() else {
        out.push(ValidationIssue::new(path, "must be an object"));
        return;
    };
    for field in ["requests", "windowSeconds"] {
        match rl.get(field) {
            None => out.push(ValidationIssue::new(child(path, field), "missing")),
            Some(v) if v.as_u64().is_some_and(|n| n > 0) => {}
            Some(_) => out.push(ValidationIssue::new(child(path, field), "must be a positive integer")),
        }
    }
}

/// Applies an update from the admin UI, which never sees keys: a user sent
/// without `key` keeps its current key, a new user must bring one, users
/// left out are removed. The result is validated as a whole.
pub fn merge_update(current: &Users, update: &Value) -> Result<Users, Vec<ValidationIssue>> {
    let Some(update) = update.as_object() else {
        return Err(vec![ValidationIssue::new(ROOT, "must be an object")]);
    };
    let mut merged = Map::new();
    for (name, user) in update {
        let mut user = user.clone();
        if let (Value::Object(fields), Some(existing)) = (&mut user, current.get(name)) {
            if present(fields, "key").is_none() {
                // Put the key back where it was in the stored object.
                fields.shift_remove("key");
                let at = existing.key_order.iter().position(|k| k == "key").unwrap_or(0);
                let at = at.min(fields.len());
                fields.shift_insert(at, "key".to_string(), Value::from(existing.key.clone()));
            }
        }
        // A new user without a key is reported as `<name>.key: missing` below.
        merged.insert(name.clone(), user);
    }
    let merged = Value::Object(merged);
    let issues = validate_users(&merged);
    if !issues.is_empty() {
        return Err(issues);
    }
    Users::from_value(merged).map_err(|e| vec![e])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const STORED: &str = r#"{
  "ronan": {
    "key": "AGE-SECRET-KEY-RONAN-0001",
    "owner": "Ronan",
    "type": "paid",
    "rateLimit": {
      "requests": 60,
      "windowSeconds": 60
    }
  },
  "audrey": {
    "team": "ops",
    "key": "AGE-SECRET-KEY-AUDREY-002"
  },
  "old": {
    "key": "AGE-SECRET-KEY-OLD-00003",
    "type": "Expired"
  }
}"#;

    fn users() -> Users {
        parse(STORED.as_bytes()).unwrap()
    }

    #[test]
    fn parse_keeps_order_and_unknown_fields() {
        let u = users();
        let names: Vec<&str> = u.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ronan", "audrey", "old"]);
        assert_eq!(u.to_json(), STORED);
        assert_eq!(u.get("audrey").unwrap().extra.get("team"), Some(&json!("ops")));
        assert_eq!(
            u.get("ronan").unwrap().rate_limit(),
            Some(RateLimit {
                requests: 60,
                window_seconds: 60
            })
        );
        assert_eq!(u.get("audrey").unwrap().rate_limit(), None);
        assert_eq!(u.len(), 3);
        assert!(!u.is_empty());
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(parse(b"{nope"), Err(UsersError::NotJson(_))));
        assert!(matches!(parse(&[0xff, 0xfe]), Err(UsersError::NotJson(_))));
        assert_eq!(
            parse(b"[]"),
            Err(UsersError::Invalid(ValidationIssue::new(ROOT, "must be an object")))
        );
        assert_eq!(
            parse(br#"{"bob":{"owner":"b"}}"#),
            Err(UsersError::Invalid(ValidationIssue::new("bob.key", "missing")))
        );
        assert_eq!(
            parse(br#"{"bob":"SECRET"}"#),
            Err(UsersError::Invalid(ValidationIssue::new("bob", "must be an object")))
        );
        assert!(parse(b"\xef\xbb\xbf{}").unwrap().is_empty());
    }

    #[test]
    fn authenticate_ok_unknown_expired() {
        let u = users();
        match u.authenticate("AGE-SECRET-KEY-AUDREY-002") {
            AuthOutcome::Ok { name, user } => {
                assert_eq!(name, "audrey");
                assert_eq!(user.key, "AGE-SECRET-KEY-AUDREY-002");
            }
            other => panic!("expected Ok, got {other:?}"),
        }
        assert!(matches!(u.authenticate("AGE-SECRET-KEY-RONAN-0001"), AuthOutcome::Ok { name, .. } if name == "ronan"));
        assert_eq!(u.authenticate("AGE-SECRET-KEY-OLD-00003"), AuthOutcome::Expired);
        assert_eq!(u.authenticate("AGE-SECRET-KEY-AUDREY-00"), AuthOutcome::Unknown);
        assert_eq!(u.authenticate("AGE-SECRET-KEY-AUDREY-0022"), AuthOutcome::Unknown);
        assert_eq!(u.authenticate(""), AuthOutcome::Unknown);
        assert_eq!(Users::default().authenticate("x"), AuthOutcome::Unknown);
    }

    #[test]
    fn empty_keys_never_match_and_first_duplicate_wins() {
        let u = parse(br#"{"blank":{"key":""},"a":{"key":"same-key-0000000000"},"b":{"key":"same-key-0000000000"}}"#)
            .unwrap();
        assert_eq!(u.authenticate(""), AuthOutcome::Unknown);
        assert!(matches!(u.authenticate("same-key-0000000000"), AuthOutcome::Ok { name, .. } if name == "a"));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("BEARER   abc  ")), Ok("abc"));
        assert_eq!(bearer(Some("  Bearer\tabc")), Ok("abc"));
        assert_eq!(bearer(None), Err(BearerError::Missing));
        assert_eq!(bearer(Some("")), Err(BearerError::Missing));
        assert_eq!(bearer(Some("   ")), Err(BearerError::Missing));
        assert_eq!(bearer(Some("Bearer")), Err(BearerError::Empty));
        assert_eq!(bearer(Some("Bearer    ")), Err(BearerError::Empty));
        assert_eq!(bearer(Some("Basic abc")), Err(BearerError::NotBearer));
        assert_eq!(bearer(Some("Bearerabc")), Err(BearerError::NotBearer));
        assert_eq!(bearer(Some("abc")), Err(BearerError::NotBearer));
        assert_eq!(
            BearerError::NotBearer.to_string(),
            "Authorization header must use the Bearer scheme"
        );
    }

    #[test]
    fn validate_users_reports_paths() {
        let doc = json!({
            "alice": {"key": "short"},
            "bob": {"owner": 3, "type": "paid"},
            "carol": {"key": "0123456789abcdef", "rateLimit": {"requests": 0}},
            "dave": {"key": "0123456789abcdef", "rateLimit": 5},
            "bad name": {"key": "with space 0123456"},
            "eve.x@y-z_1": {"key": ["k"]},
            "frank": "nope"
        });
        let got: Vec<String> = validate_users(&doc).iter().map(ToString::to_string).collect();
        let expected = [
            "alice.key: must be at least 16 characters",
            "bob.key: missing",
            "bob.owner: must be a string",
            "carol.rateLimit.requests: must be a positive integer",
            "carol.rateLimit.windowSeconds: missing",
            "dave.key: same key as user \"carol\"",
            "dave.rateLimit: must be an object",
            "[\"bad name\"]: user name must be non-empty and use only A-Z, a-z, 0-9, '_', '.', '@' and '-'",
            "[\"bad name\"].key: must not contain spaces or control characters",
            "[\"eve.x@y-z_1\"].key: must be a string",
            "frank: must be an object",
        ];
        assert_eq!(got, expected);
        assert!(
            got.iter().all(|m| !m.contains("0123456789abcdef")),
            "keys must never be quoted"
        );
        assert_eq!(validate_users(&json!([1])).len(), 1);
        assert!(validate_users(&serde_json::from_str(STORED).unwrap()).is_empty());
    }

    #[test]
    fn generated_keys_are_strong_and_valid() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert!(a[KEY_PREFIX.len()..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(validate_users(&json!({"x": {"key": a}})).is_empty());
    }

    #[test]
    fn public_view_has_no_keys() {
        let view = users().public_view();
        assert_eq!(
            view,
            json!({
                "ronan": {"owner": "Ronan", "type": "paid", "rateLimit": {"requests": 60, "windowSeconds": 60}},
                "audrey": {"team": "ops"},
                "old": {"type": "Expired"}
            })
        );
        assert!(!view.to_string().contains("AGE-SECRET"));
    }

    #[test]
    fn merge_update_keeps_existing_keys_adds_and_removes() {
        let current = users();
        let mut update = current.public_view();
        update["audrey"]["team"] = json!("dev");
        update["zoe"] = json!({"owner": "Zoe", "key": "sk-aiproxy-zoe-0000000000"});
        update.as_object_mut().unwrap().shift_remove("old");
        let merged = merge_update(&current, &update).unwrap();
        let names: Vec<&str> = merged.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ronan", "audrey", "zoe"]);
        assert_eq!(merged.get("ronan").unwrap().key, "AGE-SECRET-KEY-RONAN-0001");
        assert_eq!(merged.get("audrey").unwrap().key, "AGE-SECRET-KEY-AUDREY-002");
        assert_eq!(merged.get("audrey").unwrap().extra.get("team"), Some(&json!("dev")));
        assert_eq!(merged.get("zoe").unwrap().key, "sk-aiproxy-zoe-0000000000");
        // The key goes back to where it was stored.
        let audrey: Vec<String> = merged.get("audrey").unwrap().to_map().keys().cloned().collect();
        assert_eq!(audrey, ["team", "key"]);
        let ronan: Vec<String> = merged.get("ronan").unwrap().to_map().keys().cloned().collect();
        assert_eq!(ronan, ["key", "owner", "type", "rateLimit"]);
        // An unchanged view merges back to exactly the stored value.
        assert_eq!(
            merge_update(&current, &current.public_view()).unwrap().to_json(),
            STORED
        );
    }

    #[test]
    fn merge_update_rotates_and_rejects() {
        let current = users();
        let rotated = merge_update(&current, &json!({"ronan": {"key": "a-brand-new-key-000001"}})).unwrap();
        assert_eq!(rotated.get("ronan").unwrap().key, "a-brand-new-key-000001");
        assert_eq!(rotated.len(), 1);
        let null_key = merge_update(&current, &json!({"ronan": {"key": null}})).unwrap();
        assert_eq!(null_key.get("ronan").unwrap().key, "AGE-SECRET-KEY-RONAN-0001");

        let err = merge_update(&current, &json!({"newbie": {"owner": "n"}, "ronan": {"rateLimit": {}}})).unwrap_err();
        let got: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "newbie.key: missing",
                "ronan.rateLimit.requests: missing",
                "ronan.rateLimit.windowSeconds: missing"
            ]
        );
        let err = merge_update(
            &current,
            &json!({"x": {"key": "AGE-SECRET-KEY-RONAN-0001"}, "ronan": {}}),
        )
        .unwrap_err();
        assert_eq!(err[0].to_string(), "ronan.key: same key as user \"x\"");
        assert_eq!(merge_update(&current, &json!([])).unwrap_err().len(), 1);
        assert!(merge_update(&current, &json!({})).unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_any_string(text in any::<String>()) {
            let _ = parse(text.as_bytes());
        }

        #[test]
        fn validate_and_merge_never_panic(
            entries in proptest::collection::vec(
                ("[a-z.@ ]{0,6}", proptest::option::of("[ -~]{0,24}"), any::<bool>(), any::<i64>()),
                0..6,
            ),
        ) {
            let update: Map<String, Value> = entries
                .into_iter()
                .map(|(name, key, with_limit, n)| {
                    let mut user = Map::new();
                    if let Some(k) = key {
                        user.insert("key".into(), Value::from(k));
                    }
                    if with_limit {
                        user.insert("rateLimit".into(), json!({"requests": n, "windowSeconds": n}));
                    }
                    (name, Value::Object(user))
                })
                .collect();
            let update = Value::Object(update);
            let _ = validate_users(&update);
            if let Ok(merged) = merge_update(&users(), &update) {
                prop_assert!(validate_users(&merged.to_value()).is_empty());
            }
        }
    }
}

//! `ai-proxy users add|list|remove|import`: the `users` value of the local
//! key-value store (`{"name": {"key", "owner", "type", ...}}`).
//!
//! User keys are never printed, except the one `users add` just made, once,
//! on stdout (every other message goes to stderr). Each write keeps the value
//! it replaces as `users.previous`, as the server's `PUT /admin/users` does.

use crate::kv::KvDb;
use crate::vault_cmd::{count, display, open_existing_db, read_input};
use ai_proxy_core::api::{USERS_KEY, USERS_PREVIOUS_KEY};
use ai_proxy_core::config::ValidationIssue;
use ai_proxy_core::users::{self, User, Users};
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    op: UsersOp,
    /// Directory holding sqlite_key_value.db.
    #[arg(long, global = true, default_value = ".spin")]
    state_dir: PathBuf,
    /// Key-value store label.
    #[arg(long, global = true, default_value = "default")]
    store: String,
}

#[derive(Subcommand)]
enum UsersOp {
    /// Add a user with a new random key, printed once on stdout.
    Add {
        /// User name: A-Z, a-z, 0-9, '_', '.', '@', '-'.
        name: String,
        /// The user's type, e.g. paid, free.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Who the user is (free text).
        #[arg(long)]
        owner: Option<String>,
    },
    /// List users: name, type and owner (never keys).
    List {
        /// Print JSON (every field except the keys).
        #[arg(long)]
        json: bool,
    },
    /// Remove a user.
    Remove { name: String },
    /// Merge users from a JSON file ('-' for stdin): same names are replaced,
    /// others added, the rest kept.
    Import { file: PathBuf },
}

pub fn run(args: UsersArgs) -> Result<()> {
    let (dir, store) = (args.state_dir.as_path(), args.store.as_str());
    match args.op {
        UsersOp::Add { name, kind, owner } => add(dir, store, &name, kind, owner),
        UsersOp::List { json } => list(dir, store, json),
        UsersOp::Remove { name } => remove(dir, store, &name),
        UsersOp::Import { file } => import(dir, store, &file),
    }
}

// ------------------------------------------------------------- commands --

fn add(dir: &Path, store: &str, name: &str, kind: Option<String>, owner: Option<String>) -> Result<()> {
    if !users::is_user_name(name) {
        bail!("invalid user name {name:?}: use only A-Z, a-z, 0-9, '_', '.', '@' and '-'");
    }
    let db = KvDb::open(dir)?;
    let (raw, mut all) = load(&db, store)?;
    if all.get(name).is_some() {
        bail!("user {name:?} already exists (remove it first, or replace it with `users import`)");
    }
    let key = loop {
        let k = users::generate_key().map_err(|e| anyhow!("{e}"))?;
        if all.iter().all(|(_, u)| u.key != k) {
            break k;
        }
    };
    let user = User {
        key,
        owner,
        r#type: kind,
        ..User::default()
    };
    let single = Users {
        users: vec![(name.to_owned(), user.clone())],
    };
    check_issues(name, &users::validate_users(&single.to_value()))?;
    all.users.push((name.to_owned(), user));
    save(&db, store, raw.as_deref(), &all)?;
    // Only once the key is stored, and only this once.
    println!("{}", single.users[0].1.key);
    eprintln!(
        "added user {name:?} to {} [store {store}]; the key above is shown only this once",
        db.path().display()
    );
    Ok(())
}

fn list(dir: &Path, store: &str, json: bool) -> Result<()> {
    let db = open_existing_db(dir)?;
    let (_, all) = load(&db, store)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all.public_view())?);
    } else if all.is_empty() {
        eprintln!("no users in {} [store {store}]", db.path().display());
    } else {
        print!("{}", render_list(&all));
    }
    Ok(())
}

fn remove(dir: &Path, store: &str, name: &str) -> Result<()> {
    let db = open_existing_db(dir)?;
    let (raw, mut all) = load(&db, store)?;
    let before = all.len();
    all.users.retain(|(n, _)| n != name);
    if all.len() == before {
        bail!("no user {name:?} in {} [store {store}]", db.path().display());
    }
    save(&db, store, raw.as_deref(), &all)?;
    eprintln!("removed user {name:?} ({} left)", all.len());
    Ok(())
}

fn import(dir: &Path, store: &str, file: &Path) -> Result<()> {
    let name = display(file);
    let bytes = read_input(file)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    // serde_json's syntax errors give a position, never the input.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| anyhow!("{name} is not JSON: {e}"))?;
    check_issues(&name, &users::validate_users(&value))?;
    let imported = Users::from_value(value).map_err(|issue| anyhow!("{name}: {issue}"))?;
    let db = KvDb::open(dir)?;
    let (raw, current) = load(&db, store)?;
    let (merged, counts) = merge(&current, imported);
    // Problems the stored users already had are not the import's fault;
    // new ones (e.g. a key shared with a kept user) refuse it.
    let old = users::validate_users(&current.to_value());
    let new: Vec<ValidationIssue> = users::validate_users(&merged.to_value())
        .into_iter()
        .filter(|i| !old.contains(i))
        .collect();
    check_issues(&format!("{name} merged into the stored users"), &new)?;
    save(&db, store, raw.as_deref(), &merged)?;
    eprintln!(
        "imported {name} into {} [store {store}]: {} added, {} replaced, {} kept ({})",
        db.path().display(),
        counts.added,
        counts.replaced,
        counts.kept,
        count(merged.len(), "user")
    );
    Ok(())
}

// ----------------------------------------------------------------- pure --

/// What [`merge`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MergeCounts {
    pub added: usize,
    pub replaced: usize,
    pub kept: usize,
}

/// Imported users replace the stored ones of the same name in place; new
/// names are appended in the file's order; the others are kept.
pub fn merge(current: &Users, imported: Users) -> (Users, MergeCounts) {
    let mut merged = current.clone();
    let mut counts = MergeCounts::default();
    for (name, user) in imported.users {
        match merged.users.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => {
                *slot = user;
                counts.replaced += 1;
            }
            None => {
                merged.users.push((name, user));
                counts.added += 1;
            }
        }
    }
    counts.kept = merged.len() - counts.added - counts.replaced;
    (merged, counts)
}

/// One line a user: name, type, owner (`-` when absent). Never the key.
pub fn render_list(all: &Users) -> String {
    let rows: Vec<[&str; 3]> = all
        .iter()
        .map(|(n, u)| [n, u.r#type.as_deref().unwrap_or("-"), u.owner.as_deref().unwrap_or("-")])
        .collect();
    let header = ["NAME", "TYPE", "OWNER"];
    let w0 = rows
        .iter()
        .map(|r| r[0].chars().count())
        .chain([header[0].len()])
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r[1].chars().count())
        .chain([header[1].len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows) {
        let _ = writeln!(out, "{:w0$}  {:w1$}  {}", r[0], r[1], r[2]);
    }
    out
}

// ---------------------------------------------------------------- store --

fn load(db: &KvDb, store: &str) -> Result<(Option<Vec<u8>>, Users)> {
    match db.get(store, USERS_KEY)? {
        None => Ok((None, Users::default())),
        Some(raw) => {
            let all = users::parse(&raw).map_err(|e| {
                anyhow!("the stored {USERS_KEY:?} value cannot be read ({e}); replace it with `ai-proxy kv put`")
            })?;
            Ok((Some(raw), all))
        }
    }
}

fn save(db: &KvDb, store: &str, previous: Option<&[u8]>, all: &Users) -> Result<()> {
    if let Some(prev) = previous {
        db.set(store, USERS_PREVIOUS_KEY, prev)?;
    }
    db.set(store, USERS_KEY, all.to_json().as_bytes())
}

fn check_issues(what: &str, issues: &[ValidationIssue]) -> Result<()> {
    if issues.is_empty() {
        return Ok(());
    }
    eprint!("{}", crate::vault_cmd::render_issues(what, issues));
    bail!(
        "{what} is not valid ({}); nothing stored",
        count(issues.len(), "problem")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        users: UsersArgs,
    }

    fn parse(args: &[&str]) -> Result<UsersArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("users").chain(args.iter().copied())).map(|c| c.users)
    }

    fn users(json: &str) -> Users {
        users::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn arguments() {
        let a = parse(&["add", "alice", "--type", "paid", "--owner", "Alice A."]).unwrap();
        assert_eq!(a.state_dir, Path::new(".spin"));
        assert_eq!(a.store, "default");
        assert!(matches!(&a.op, UsersOp::Add { name, kind: Some(k), owner: Some(o) }
            if name == "alice" && k == "paid" && o == "Alice A."));
        let a = parse(&["--state-dir", "s", "list", "--json"]).unwrap();
        assert_eq!(a.state_dir, Path::new("s"));
        assert!(matches!(a.op, UsersOp::List { json: true }));
        assert!(matches!(parse(&["remove", "bob"]).unwrap().op, UsersOp::Remove { name } if name == "bob"));
        assert!(matches!(
            parse(&["import", "u.json", "--store", "x"]).unwrap().op,
            UsersOp::Import { .. }
        ));
        assert!(parse(&["add"]).is_err(), "NAME is required");
        assert!(
            parse(&["add", "a", "--key", "k"]).is_err(),
            "a key is never chosen by hand"
        );
    }

    #[test]
    fn merge_replaces_in_place_appends_and_keeps() {
        let current = users(
            r#"{"a":{"key":"key-a-0000000000001","type":"paid"},
                "b":{"key":"key-b-0000000000001","team":"ops"},
                "c":{"key":"key-c-0000000000001"}}"#,
        );
        let imported = users(
            r#"{"d":{"key":"key-d-0000000000001"},
                "b":{"key":"key-b-0000000000002","type":"free"}}"#,
        );
        let (merged, counts) = merge(&current, imported);
        assert_eq!(
            counts,
            MergeCounts {
                added: 1,
                replaced: 1,
                kept: 2
            }
        );
        let names: Vec<&str> = merged.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        let b = merged.get("b").unwrap();
        assert_eq!(b.key, "key-b-0000000000002");
        assert_eq!(b.r#type.as_deref(), Some("free"));
        assert!(b.extra.get("team").is_none(), "a replaced user is replaced whole");
        assert_eq!(merged.get("a"), current.get("a"));
    }

    #[test]
    fn merge_into_nothing_adds_all() {
        let (merged, counts) = merge(&Users::default(), users(r#"{"x":{"key":"key-x-0000000000001"}}"#));
        assert_eq!(merged.len(), 1);
        assert_eq!(
            counts,
            MergeCounts {
                added: 1,
                replaced: 0,
                kept: 0
            }
        );
    }

    #[test]
    fn list_shows_names_types_owners_and_never_keys() {
        let all = users(
            r#"{"alice":{"key":"SECRET-KEY-ALICE-001","type":"paid","owner":"Alice"},
                "bob":{"key":"SECRET-KEY-BOB-00001"}}"#,
        );
        let out = render_list(&all);
        assert_eq!(out, "NAME   TYPE  OWNER\nalice  paid  Alice\nbob    -     -\n");
        assert!(!out.contains("SECRET"));
    }
}

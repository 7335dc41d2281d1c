//! `ai-proxy kv list|get|put|delete`: the same SQLite file `up` serves from.

use crate::kv::KvDb;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct KvArgs {
    #[command(subcommand)]
    op: KvOp,
    /// Directory holding sqlite_key_value.db.
    #[arg(long, global = true, default_value = ".spin")]
    state_dir: PathBuf,
    /// Key-value store label.
    #[arg(long, global = true, default_value = "default")]
    store: String,
}

#[derive(Subcommand)]
enum KvOp {
    /// List the keys of the store.
    List,
    /// Print a value to stdout.
    Get { key: String },
    /// Set a value from the argument or from --file.
    Put {
        key: String,
        value: Option<String>,
        #[arg(long, conflicts_with = "value")]
        file: Option<PathBuf>,
    },
    /// Delete a key.
    Delete { key: String },
}

pub fn run(args: KvArgs) -> Result<()> {
    let db = KvDb::open(&args.state_dir)?;
    match args.op {
        KvOp::List => {
            for k in db.keys(&args.store)? {
                println!("{k}");
            }
        }
        KvOp::Get { key } => match db.get(&args.store, &key)? {
            Some(v) => std::io::stdout().write_all(&v)?,
            None => bail!("no key {key:?} in store {:?}", args.store),
        },
        KvOp::Put { key, value, file } => {
            let bytes = match (value, file) {
                (Some(v), None) => v.into_bytes(),
                (None, Some(f)) => std::fs::read(&f)?,
                _ => bail!("give a VALUE or --file PATH"),
            };
            db.set(&args.store, &key, &bytes)?;
            eprintln!("stored {key} ({} bytes) in {}", bytes.len(), db.path().display());
        }
        KvOp::Delete { key } => db.delete(&args.store, &key)?,
    }
    Ok(())
}

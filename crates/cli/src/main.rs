//! `ai-proxy`: runs the ai-proxy component locally as Spin would (`up`) and
//! administers its state (`kv`, `vault`, `users`).

mod builder;
mod compile_cache;
mod host_state;
mod kv;
mod kv_cmd;
mod manifest;
mod outbound;
mod server;
mod spin_iface;
mod token;
mod up;
mod users_cmd;
mod variables;
mod vault_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ai-proxy", version, about = "ai-proxy local host and admin tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the component from spin.toml (like `spin up`).
    Up(up::UpArgs),
    /// Read and write the local key-value store (Spin's SQLite file).
    Kv(kv_cmd::KvArgs),
    /// Encrypt, decrypt, check and store the vault (ai.json.enc).
    Vault(vault_cmd::VaultArgs),
    /// Add, list, remove and import proxy users in the local key-value store.
    Users(users_cmd::UsersArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Kv(args) => kv_cmd::run(args),
        Command::Vault(args) => vault_cmd::run(args),
        Command::Users(args) => users_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

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
mod up;
mod variables;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Kv(args) => kv_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

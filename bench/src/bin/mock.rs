//! Mock OpenAI-compatible upstream for the benchmark (loopback only).

use ai_proxy_bench::mock::{self, MockConfig};
use anyhow::{bail, Result};
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Fast mock upstream: chat, SSE stream, embeddings, models")]
struct Args {
    /// Loopback address to listen on (port 0 = pick a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// SSE chunks per streamed completion (header x-mock-chunks overrides).
    #[arg(long, default_value_t = 20)]
    chunks: u32,
    /// Milliseconds between SSE chunks (header x-mock-delay-ms overrides).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Length of the canned embedding vector.
    #[arg(long, default_value_t = 768)]
    embedding_dims: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        bail!("the mock only listens on loopback, not {}", args.listen);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        // The orchestrator reads this line to learn the port.
        println!("mock listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let cfg = MockConfig {
            chunks: args.chunks,
            delay: Duration::from_millis(args.delay_ms),
            embedding_dims: args.embedding_dims,
        };
        mock::serve(listener, cfg).await?;
        Ok(())
    })
}

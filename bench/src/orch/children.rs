//! Child processes (mock, ai-proxy host): spawn, learn their URL from the
//! first `http://127.0.0.1:PORT` they print, log their output, read their
//! memory and CPU use, and make sure they die with the orchestrator.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub struct Proc {
    pub name: String,
    pub pid: u32,
    pub url: String,
    /// Spawn → URL line printed.
    pub url_after: Duration,
    pub spawned: Instant,
    log: PathBuf,
    child: Child,
}

/// Spawns `cmd` and waits (up to `timeout`) for it to print its URL on
/// stdout. Stderr goes straight to the log file: a host that logs every
/// request must never block on (or cost CPU in) the orchestrator.
pub async fn spawn(name: &str, mut cmd: Command, log: &Path, timeout: Duration) -> Result<Proc> {
    File::create(log).with_context(|| format!("create {}", log.display()))?;
    // Both streams append to one file, so their lines interleave sanely.
    let file = std::fs::OpenOptions::new().append(true).open(log)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file.try_clone()?))
        // Dropping the handle (error, panic, Ctrl-C) kills the child.
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it makes the kernel kill the child
    // if the orchestrator dies without unwinding (e.g. SIGKILL).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let file = Arc::new(Mutex::new(file));
    let spawned = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {name}"))?;
    let pid = child.id().context("child has no pid")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let out = child.stdout.take().context("stdout")?;
    tokio::spawn(pump(out, file, tx));

    let url = tokio::select! {
        url = rx.recv() => url,
        status = child.wait() => {
            bail!("{name} exited before printing its URL ({}):\n{}", status?, tail(log))
        }
        _ = tokio::time::sleep(timeout) => {
            bail!("{name} printed no http://127.0.0.1:PORT within {timeout:?}:\n{}", tail(log))
        }
    };
    let url_after = spawned.elapsed();
    let url = url.with_context(|| format!("{name} closed its output:\n{}", tail(log)))?;
    Ok(Proc {
        name: name.to_string(),
        pid,
        url,
        url_after,
        spawned,
        log: log.to_path_buf(),
        child,
    })
}

/// Copies a child's stdout to the log and reports the first URL seen.
async fn pump(stream: impl AsyncRead + Unpin, log: Arc<Mutex<File>>, tx: mpsc::UnboundedSender<String>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = find_url(&line) {
            let _ = tx.send(url);
        }
        let _ = writeln!(log.lock().expect("log lock"), "{line}");
    }
}

/// First `http://127.0.0.1:PORT` (or localhost) in a line.
pub fn find_url(line: &str) -> Option<String> {
    for prefix in ["http://127.0.0.1:", "http://localhost:"] {
        if let Some(i) = line.find(prefix) {
            let rest = &line[i + prefix.len()..];
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !port.is_empty() && port != "0" {
                return Some(format!("http://127.0.0.1:{port}"));
            }
        }
    }
    None
}

/// Last lines of a log, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Proc {
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Fails with the log tail if the child has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, tail(&self.log));
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub async fn stop(mut self) -> Result<()> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }

    pub fn memory(&self) -> Result<Memory> {
        memory(self.pid)
    }

    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(self.pid)
    }
}

/// Resident memory from /proc/PID/status, in KiB.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Memory {
    pub vm_rss_kib: u64,
    pub vm_hwm_kib: u64,
}

pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        vm_rss_kib: field("VmRSS:"),
        vm_hwm_kib: field("VmHWM:"),
    })
}

/// User + system CPU time of a process, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime/stime are 14/15.
    let after = stat.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

/// CPU time all processes on the machine spent busy (every CPU summed),
/// from /proc/stat: shows load from anything else sharing the machine.
pub fn machine_busy_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    let busy = f.iter().sum::<u64>().saturating_sub(idle);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(busy as f64 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_in_line() {
        assert_eq!(
            find_url("listening on http://127.0.0.1:4321 (ok)").as_deref(),
            Some("http://127.0.0.1:4321")
        );
        assert_eq!(find_url("bind 127.0.0.1:0"), None);
        assert_eq!(find_url("http://127.0.0.1:0"), None);
    }

    #[test]
    fn own_process_stats() {
        let me = std::process::id();
        assert!(memory(me).unwrap().vm_rss_kib > 0);
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(machine_busy_seconds().unwrap() > 0.0);
    }
}

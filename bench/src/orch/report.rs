//! Turns an `Outcome` into the comparison table, RESULTS.md and
//! results.json. Numbers are reported, never asserted.

use super::children::Memory;
use super::lifecycle::{AFTER_CHANGE_SAMPLES, SLOW_FACTOR, WARM_SAMPLES};
use super::scenarios::{upstream_per_request, Metric, Run, ScenarioResult};
use super::Outcome;
use crate::stats::Spread;
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One line of the direct-vs-proxied table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    /// "ms" or "req/s".
    pub unit: &'static str,
    pub direct: Option<Spread>,
    pub proxied: Option<Spread>,
    /// Median proxied − median direct.
    pub added: Option<f64>,
    /// Median proxied / median direct.
    pub ratio: Option<f64>,
    pub errors_direct: u64,
    pub errors_proxied: u64,
}

/// One line of the one-off costs table (proxy only, against a baseline).
#[derive(Clone, Debug, Serialize)]
pub struct CostRow {
    pub measurement: String,
    pub baseline_label: String,
    pub baseline: Option<Spread>,
    pub value: Option<Spread>,
    pub added: Option<f64>,
    pub ratio: Option<f64>,
}

pub fn comparison_rows(results: &[ScenarioResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in results {
        let s = &r.scenario;
        for &m in s.metrics {
            let values = |runs: &[Run]| -> Vec<f64> { runs.iter().filter_map(|x| m.value(&x.result)).collect() };
            let direct = Spread::of(&values(&r.direct));
            let proxied = Spread::of(&values(&r.proxied));
            let (added, ratio) = diff(direct, proxied);
            rows.push(Row {
                scenario: s.title.to_string(),
                metric: m.label(s.kind.streaming()).to_string(),
                unit: if m.is_rate() { "req/s" } else { "ms" },
                direct,
                proxied,
                added,
                ratio,
                errors_direct: r.direct.iter().map(|x| x.result.errors).sum(),
                errors_proxied: r.proxied.iter().map(|x| x.result.errors).sum(),
            });
        }
    }
    rows
}

fn diff(base: Option<Spread>, value: Option<Spread>) -> (Option<f64>, Option<f64>) {
    match (base, value) {
        (Some(b), Some(v)) => (Some(v.median - b.median), (b.median > 0.0).then(|| v.median / b.median)),
        _ => (None, None),
    }
}

pub fn cost_rows(o: &Outcome) -> Vec<CostRow> {
    let l = &o.lifecycle;
    let cached = Spread::of(&l.warm_ms);
    let labelled = |measurement: &str, values: &[f64], label: &str, baseline: Option<Spread>| {
        let value = Spread::of(values);
        let (added, ratio) = diff(baseline, value);
        CostRow {
            measurement: measurement.to_string(),
            baseline_label: if baseline.is_some() { label.into() } else { "—".into() },
            baseline,
            value,
            added,
            ratio,
        }
    };
    let row = |measurement: &str, values: &[f64], baseline: Option<Spread>| {
        labelled(measurement, values, "warm request", baseline)
    };
    let mut rows = vec![
        row(
            "host start-up, empty state dir (spawn → URL)",
            &[l.first_start_url_ms],
            None,
        ),
        row(
            "↳ of which: component ready (host log)",
            l.first_start_ready_ms.as_slice(),
            None,
        ),
        row("host restart (spawn → URL)", &l.restart_url_ms, None),
        row("↳ of which: component ready (host log)", &l.restart_ready_ms, None),
        row("restart: URL → first answer", &l.restart_url_to_answer_ms, cached),
        row("restart: spawn → first answer", &l.restart_spawn_to_answer_ms, cached),
        row("first vault upload (PUT /ai.json.enc)", &[l.first_vault_put_ms], None),
        row(
            "first request on fresh host (after first upload)",
            l.first_request_ms.as_slice(),
            cached,
        ),
        row("vault change (PUT /ai.json.enc)", &l.vault_put_ms, None),
        row("first request after vault change", &l.after_vault_put_ms, cached),
        row(
            &format!("requests 2–{AFTER_CHANGE_SAMPLES} after vault change"),
            &l.later_after_put_ms,
            cached,
        ),
    ];
    // The cold burst against the steady-state proxied c=64 rounds.
    let steady = o.scenarios.iter().find(|r| r.scenario.id == "chat_c64");
    if let (Some(b), Some(steady)) = (&l.cold_burst, steady) {
        for m in [Metric::P50, Metric::P99] {
            let base: Vec<f64> = steady.proxied.iter().filter_map(|x| m.value(&x.result)).collect();
            rows.push(labelled(
                &format!("chat c=64 burst on fresh host · {}", m.label(false)),
                m.value(&b.result).as_slice(),
                &format!("steady c=64 {}", m.label(false)),
                Spread::of(&base),
            ));
        }
    }
    rows
}

/// Every failure in the run, one line each; empty means a clean run.
pub fn errors(o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    for r in &o.scenarios {
        for (path, runs) in [("direct", &r.direct), ("proxied", &r.proxied)] {
            for run in runs.iter().filter(|x| x.result.errors > 0) {
                out.push(format!(
                    "{} / {path} / round {}: {} of {} requests failed {:?}",
                    r.scenario.title,
                    run.round + 1,
                    run.result.errors,
                    run.result.requests,
                    run.result.error_kinds
                ));
            }
        }
    }
    if let Some(b) = o.lifecycle.cold_burst.as_ref().filter(|b| b.result.errors > 0) {
        out.push(format!(
            "chat c=64 burst on fresh host: {} of {} requests failed {:?}",
            b.result.errors, b.result.requests, b.result.error_kinds
        ));
    }
    out.extend(o.lifecycle.errors.iter().cloned());
    out
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    outcome: &'a Outcome,
    comparison: Vec<Row>,
    one_off: Vec<CostRow>,
    errors: Vec<String>,
}

/// Writes RESULTS.md and results.json into `dir`; returns the markdown.
pub fn write(o: &Outcome, dir: &Path) -> Result<String> {
    let md = markdown(o);
    std::fs::write(dir.join("RESULTS.md"), &md)?;
    let json = Json {
        outcome: o,
        comparison: comparison_rows(&o.scenarios),
        one_off: cost_rows(o),
        errors: errors(o),
    };
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    Ok(md)
}

pub fn markdown(o: &Outcome) -> String {
    let mut s = String::new();
    let c = &o.config;
    let m = &o.machine;
    let _ = writeln!(s, "# ai-proxy benchmark results\n");
    let _ = writeln!(
        s,
        "Generated by `bench/run` (unix time {}, {:.0} s wall). Loopback only; \
         the load generator, ai-proxy and the mock share the machine's CPUs.\n",
        o.started_unix, o.wall_s
    );
    let errs = errors(o);
    if !errs.is_empty() {
        let _ = writeln!(s, "> **⚠ THIS RUN HAD ERRORS — affected numbers are marked ⚠:**");
        for e in &errs {
            let _ = writeln!(s, "> - {e}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Machine\n");
    let _ = writeln!(s, "- CPU: {} ({} logical CPUs)", m.cpu_model, m.logical_cpus);
    let _ = writeln!(s, "- Kernel: {}", m.kernel);
    let _ = writeln!(s, "- {}; {}", m.rustc, m.openssl);
    let _ = writeln!(
        s,
        "- Settings: {} rounds alternating direct/proxied; each run {} ms warm-up + {} ms measured; \
         SSE {} chunks, {} ms apart\n",
        c.rounds, c.warmup_ms, c.duration_ms, c.chunks, c.chunk_delay_ms
    );

    let _ = writeln!(s, "## Direct (loadgen → mock) vs proxied (loadgen → ai-proxy → mock)\n");
    let _ = writeln!(
        s,
        "Median over rounds, (min–max) in brackets. *added* = proxied − direct; \
         *ratio* = proxied ÷ direct (for req/s: proxied as % of direct).\n"
    );
    s.push_str(&comparison_table(&comparison_rows(&o.scenarios)));
    s.push('\n');
    s.push_str(&cpu_section(o));

    let _ = writeln!(s, "## One-off costs (proxy only)\n");
    let _ = writeln!(
        s,
        "Single requests, a fresh connection each. *warm request* = {WARM_SAMPLES} chat \
         requests on the warm host after the load scenarios, before any vault change.\n"
    );
    s.push_str(&cost_table(&cost_rows(o)));
    let l = &o.lifecycle;
    if let Some(b) = &l.cold_burst {
        let _ = writeln!(
            s,
            "\nChat c=64 burst on the fresh host ({:.1} s, no warm-up): {} requests, {} req/s, \
             max latency {} ms{}.",
            b.result.elapsed_s,
            b.result.ok,
            thousands(b.result.rps),
            ms(b.result.latency.max_us as f64 / 1e3),
            if b.result.errors > 0 {
                format!(", ⚠ {} errors {:?}", b.result.errors, b.result.error_kinds)
            } else {
                String::new()
            }
        );
    }
    if !l.slow_after_put.is_empty() {
        let _ = writeln!(
            s,
            "\nSlow requests (> {SLOW_FACTOR}× the warm median) among the {AFTER_CHANGE_SAMPLES} \
             sequential requests after each vault change: {:?}. The unlocked vault is cached per \
             component instance, so each instance pays the key derivation once per change.",
            l.slow_after_put
        );
    }
    s.push('\n');
    s.push_str(&resources_section(o));
    s
}

pub fn comparison_table(rows: &[Row]) -> String {
    let mut s = String::from("| scenario | direct | proxied | added | ratio |\n|---|---:|---:|---:|---:|\n");
    for r in rows {
        let rate = r.unit == "req/s";
        let cell = |sp: Option<Spread>, errors: u64| {
            let mut c = sp.map_or("—".into(), |sp| spread(sp, rate));
            if errors > 0 {
                let _ = write!(c, " ⚠ {errors} err");
            }
            c
        };
        let added = r.added.map_or("—".into(), |a| signed(a, rate));
        let ratio = r.ratio.map_or("—".into(), |x| {
            if rate {
                format!("{:.0} %", x * 100.0)
            } else {
                times(x)
            }
        });
        let _ = writeln!(
            s,
            "| {} · {} ({}) | {} | {} | {added} | {ratio} |",
            r.scenario,
            r.metric,
            r.unit,
            cell(r.direct, r.errors_direct),
            cell(r.proxied, r.errors_proxied)
        );
    }
    s
}

fn cost_table(rows: &[CostRow]) -> String {
    let mut s = String::from("| measurement | baseline | proxied | added | ratio |\n|---|---:|---:|---:|---:|\n");
    for r in rows {
        let base = r
            .baseline
            .map_or("—".into(), |b| format!("{}: {}", r.baseline_label, spread(b, false)));
        let value = r.value.map_or("—".into(), |v| spread(v, false));
        let added = r.added.map_or("—".into(), |a| signed(a, false));
        let ratio = r.ratio.map_or("—".into(), times);
        let _ = writeln!(s, "| {} | {base} | {value} | {added} | {ratio} |", r.measurement);
    }
    s
}

/// Who used the CPU during each run (median over rounds), and how
/// the mock alone compares, to show the mock is not the bottleneck.
fn cpu_section(o: &Outcome) -> String {
    let mut s = String::from("### CPU use during the runs (cores, median over rounds)\n\n");
    s.push_str(
        "| scenario | path | loadgen | ai-proxy | mock | other processes | upstream calls / request |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in &o.scenarios {
        for (path, runs) in [("direct", &r.direct), ("proxied", &r.proxied)] {
            let med =
                |f: &dyn Fn(&Run) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>()).map_or(0.0, |x| x.median);
            let per_req = upstream_per_request(runs).map_or("—".into(), |x| format!("{x:.2}"));
            let _ = writeln!(
                s,
                "| {} | {path} | {:.2} | {:.2} | {:.2} | {:.2} | {per_req} |",
                r.scenario.title,
                med(&|x| x.cpu.loadgen),
                med(&|x| x.cpu.proxy),
                med(&|x| x.cpu.mock),
                med(&|x| x.cpu.other),
            );
        }
    }
    let busiest = o
        .scenarios
        .iter()
        .flat_map(|r| r.direct.iter().chain(&r.proxied))
        .map(|x| x.cpu.other)
        .fold(0.0, f64::max);
    if busiest > 0.25 {
        let _ = writeln!(
            s,
            "\n> Note: other processes on the machine used up to {busiest:.2} cores during some \
             runs; those runs are noisier (see the min–max ranges)."
        );
    }
    if let Some(r) = o.scenarios.iter().find(|r| r.scenario.id == "chat_c64") {
        let rps = |runs: &[Run]| {
            Spread::of(
                &runs
                    .iter()
                    .filter_map(|x| Metric::Rps.value(&x.result))
                    .collect::<Vec<_>>(),
            )
            .map_or(0.0, |x| x.median)
        };
        let (d, p) = (rps(&r.direct), rps(&r.proxied));
        let _ = writeln!(
            s,
            "\nMock headroom: the mock alone (direct chat, c=64) served {} req/s, {} the proxied {} req/s.",
            thousands(d),
            if p > 0.0 {
                format!("{:.1}×", d / p)
            } else {
                "vs".into()
            },
            thousands(p)
        );
    }
    s.push('\n');
    s
}

fn resources_section(o: &Outcome) -> String {
    let r = &o.resources;
    let mib = |b: Option<u64>| {
        b.map_or("missing".into(), |b| {
            format!("{:.2} MiB ({b} bytes)", b as f64 / 1048576.0)
        })
    };
    let mem = |m: &Memory| {
        format!(
            "VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            m.vm_rss_kib as f64 / 1024.0,
            m.vm_hwm_kib as f64 / 1024.0
        )
    };
    let mut s = String::from("## Size and memory\n\n| what | value |\n|---|---|\n");
    let _ = writeln!(s, "| component `ai_proxy.wasm` | {} |", mib(r.component_bytes));
    let _ = writeln!(s, "| host binary `ai-proxy` | {} |", mib(r.host_bin_bytes));
    let _ = writeln!(
        s,
        "| host at idle (first start, no request yet) | {} |",
        mem(&r.idle_first_start)
    );
    let _ = writeln!(s, "| host after first request | {} |", mem(&r.after_first_request));
    let _ = writeln!(s, "| host after all load scenarios | {} |", mem(&r.after_load));
    for (i, m) in r.idle_after_restart.iter().enumerate() {
        let _ = writeln!(s, "| host at idle after restart {} | {} |", i + 1, mem(m));
    }
    let _ = writeln!(s, "| mock after load | {} |", mem(&r.mock_after_load));
    let _ = writeln!(s, "\nMock counters at the end: `{}`", o.mock_stats);
    s
}

fn spread(sp: Spread, rate: bool) -> String {
    let f = |v: f64| if rate { thousands(v) } else { ms(v) };
    if sp.n > 1 {
        format!("{} ({}–{})", f(sp.median), f(sp.min), f(sp.max))
    } else {
        f(sp.median)
    }
}

fn signed(v: f64, rate: bool) -> String {
    let sign = if v < 0.0 { "−" } else { "+" };
    if rate {
        format!("{sign}{} req/s", thousands(v.abs()))
    } else {
        format!("{sign}{} ms", ms(v.abs()))
    }
}

fn times(x: f64) -> String {
    if x >= 100.0 {
        format!("×{x:.0}")
    } else if x >= 10.0 {
        format!("×{x:.1}")
    } else {
        format!("×{x:.2}")
    }
}

/// Milliseconds with about three significant digits.
fn ms(v: f64) -> String {
    let a = v.abs();
    if a < 1.0 {
        format!("{v:.3}")
    } else if a < 10.0 {
        format!("{v:.2}")
    } else if a < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(0.12345), "0.123");
        assert_eq!(ms(12.345), "12.3");
        assert_eq!(signed(-1500.0, true), "−1,500 req/s");
        assert_eq!(signed(0.25, false), "+0.250 ms");
    }
}

//! `cargo xtask bench render`: `capstan template` against `helm template` (v3 and v4) on the same
//! generated charts, whole process; then the warm renderer daemon's latency and throughput; then
//! real charts of the conformance corpus, both ways (`realcharts`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::chartgen::{Flavor, generate};
use super::{Sample, Stats, measure, ms, out_dir, round_order, timed_sample};
use crate::{helm, paths};

const SIZES: [usize; 3] = [10, 200, 1000];
const RUNS: usize = 5;

pub fn run() -> anyhow::Result<()> {
    super::build_release(&["capstan-cli", "capstan-renderer"], true)?;
    let helms = helm::build_all()?;
    let release = paths::target().join("release");
    let capstan = release.join("capstan");
    let charts = out_dir().join("charts");
    let mut rows = Vec::new();
    let mut report = String::from("## template (whole process)\n\n");
    report.push_str("| objects | tool | median | min | max | peak RSS | capstan/tool (median of pairs) |\n|---|---|---|---|---|---|---|\n");
    for objects in SIZES {
        let ours = generate(&charts, Flavor::Capstan, objects)?;
        let theirs = generate(&charts, Flavor::Helm, objects)?;
        check_equivalent(&capstan, &ours, &helms, &theirs)?;
        let capstan_args = template_args(&ours);
        let helm_args = template_args(&theirs);
        // Warm-up (under `/usr/bin/time`: each tool's peak memory), then alternate capstan,
        // helm v3, helm v4, each started directly.
        let our_rss = measure(&capstan, &capstan_args, &[])?.max_rss_kib;
        let mut their_rss = Vec::new();
        for h in &helms {
            their_rss.push(measure(h, &helm_args, &[])?.max_rss_kib);
        }
        let mut ours_samples: Vec<Sample> = Vec::new();
        let mut theirs_samples: Vec<Vec<Sample>> = vec![Vec::new(); helms.len()];
        // Each round in its own order ([`round_order`]).
        for round in 0..RUNS {
            for turn in round_order(round, helms.len() + 1) {
                match turn {
                    0 => ours_samples.push(timed_sample(&capstan, &capstan_args, &[], our_rss)?),
                    i => theirs_samples[i - 1].push(timed_sample(
                        &helms[i - 1],
                        &helm_args,
                        &[],
                        their_rss[i - 1],
                    )?),
                }
            }
        }
        let ours_stats = Stats::of(&ours_samples.iter().map(|s| s.seconds).collect::<Vec<_>>());
        let ours_rss = ours_samples
            .iter()
            .map(|s| s.max_rss_kib)
            .max()
            .unwrap_or(0);
        writeln!(
            report,
            "| {objects} | capstan | {} | {} | {} | {} MiB | |",
            ms(ours_stats.median),
            ms(ours_stats.min),
            ms(ours_stats.max),
            ours_rss / 1024
        )?;
        let mut row = json!({"objects": objects, "capstan": {"seconds": ours_stats, "max_rss_kib": ours_rss}});
        for (i, h) in helms.iter().enumerate() {
            let name = helm_name(h);
            let samples = &theirs_samples[i];
            let stats = Sample::times(samples);
            let rss = Sample::peak_rss(samples);
            let ratio = Sample::paired_ratio(&ours_samples, samples);
            writeln!(
                report,
                "| {objects} | {name} | {} | {} | {} | {} MiB | {ratio:.3} ({:.1}x faster) |",
                ms(stats.median),
                ms(stats.min),
                ms(stats.max),
                rss / 1024,
                1.0 / ratio
            )?;
            row[name.as_str()] = json!({"seconds": stats, "max_rss_kib": rss, "ratio": ratio});
        }
        rows.push(row);
    }

    let load: Vec<String> = [
        "--set",
        "replicaCount=3",
        "--requests",
        "2000",
        "--concurrency",
        "4",
    ]
    .map(String::from)
    .to_vec();
    let daemon = daemon_latency(
        &release,
        &charts.join("capstan-200").join("bench"),
        &[],
        &load,
    )?;
    writeln!(
        report,
        "\n## warm renderer daemon (200 objects, render by digest)\n"
    )?;
    writeln!(
        report,
        "| requests | in flight | p50 | p99 | renders/s | daemon peak RSS |\n|---|---|---|---|---|---|"
    )?;
    writeln!(
        report,
        "| {} | {} | {:.2} ms | {:.2} ms | {:.0} | {} MiB |",
        daemon["requests"],
        daemon["concurrency"],
        daemon["p50_ms"].as_f64().unwrap_or(0.0),
        daemon["p99_ms"].as_f64().unwrap_or(0.0),
        daemon["renders_per_second"].as_f64().unwrap_or(0.0),
        daemon["daemon_peak_rss_kib"].as_u64().unwrap_or(0) / 1024
    )?;

    let real = super::realcharts::run(&release, &helms)?;
    report.push_str(&real.markdown);

    std::fs::create_dir_all(out_dir())?;
    std::fs::write(out_dir().join("render.md"), &report)?;
    std::fs::write(
        out_dir().join("render.json"),
        serde_json::to_vec_pretty(
            &json!({"template": rows, "daemon": daemon, "real_charts": real.json}),
        )?,
    )?;
    println!("{report}");
    println!("written to {}", out_dir().join("render.md").display());
    Ok(())
}

fn template_args(chart: &Path) -> Vec<String> {
    vec![
        "template".into(),
        "bench".into(),
        chart.display().to_string(),
        "--set".into(),
        "replicaCount=3".into(),
    ]
}

pub(super) fn helm_name(binary: &Path) -> String {
    let version = binary
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?");
    format!("helm {version}")
}

/// Refuses to time charts whose capstan and Helm versions render different objects.
pub(super) fn check_equivalent(
    capstan: &Path,
    ours: &Path,
    helms: &[PathBuf],
    theirs: &Path,
) -> anyhow::Result<()> {
    let expected = normalized(capstan, ours)?;
    for h in helms {
        let got = normalized(h, theirs)?;
        if got != expected {
            let (a, b) = (
                serde_json::to_string_pretty(&expected)?,
                serde_json::to_string_pretty(&got)?,
            );
            let first = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            bail!(
                "{} and capstan render different objects from the generated charts (first difference near line {first}: {:?} vs {:?}); not timing them",
                helm_name(h),
                a.lines().nth(first),
                b.lines().nth(first)
            );
        }
    }
    Ok(())
}

/// The objects a tool renders, parsed and sorted by kind and name.
fn normalized(tool: &Path, chart: &Path) -> anyhow::Result<Vec<Value>> {
    let output = Command::new(tool)
        .args(template_args(chart))
        .output()
        .context("running template")?;
    if !output.status.success() {
        bail!(
            "{} template failed: {}",
            tool.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let mut objects = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    objects.sort_by_key(|o| (o["kind"].to_string(), o["metadata"]["name"].to_string()));
    Ok(objects)
}

/// Starts the release daemon (with `daemon_args` after `--listen`), loads it with the example
/// load client (`load`: its arguments after `--addr` and `--chart`), and reports its latency and
/// its peak RSS.
pub(super) fn daemon_latency(
    release: &Path,
    chart: &Path,
    daemon_args: &[&str],
    load: &[String],
) -> anyhow::Result<Value> {
    let mut daemon = Command::new(release.join("capstan-renderer"))
        .args(["--listen", "127.0.0.1:0"])
        .args(daemon_args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = daemon.stdout.take().context("daemon stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let result = (|| {
        let output = Command::new(release.join("examples").join("render_load"))
            .args(["--addr", &addr, "--chart"])
            .arg(chart)
            .args(load)
            .output()?;
        if !output.status.success() {
            bail!(
                "render_load failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut stats: Value = serde_json::from_slice(&output.stdout)?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.id()))?;
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        stats["daemon_peak_rss_kib"] = json!(hwm);
        Ok(stats)
    })();
    let _ = daemon.kill();
    let _ = daemon.wait();
    std::thread::sleep(Duration::from_millis(10));
    result
}

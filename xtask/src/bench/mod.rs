//! `cargo xtask bench [SUITE]`: side-by-side benchmarks on this machine, written as Markdown and JSON
//! under `target/bench/`. Runs alternate capstan and Helm after a warm-up; each row reports the median,
//! min and max and the ratio capstan/Helm.

mod apply;
mod chartgen;
mod kps;
mod list;
mod load;
mod realcharts;
mod render;
mod repos;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::paths;

/// Runs a benchmark suite by name.
pub fn run(suite: &str) -> anyhow::Result<()> {
    match suite {
        "render" => render::run(),
        "list" => list::run(),
        "apply" => apply::run(),
        "kps" => kps::run_alone(),
        "load" => load::run(),
        "repos" => repos::run(),
        "all" => render::run()
            .and_then(|()| list::run())
            .and_then(|()| apply::run())
            .and_then(|()| load::run())
            .and_then(|()| repos::run()),
        other => {
            bail!(
                "unknown benchmark suite {other:?}; known: render, list, apply, kps (apply's \
                 kube-prometheus-stack part alone), load, repos, all"
            )
        }
    }
}

/// Where results go.
pub fn out_dir() -> PathBuf {
    paths::root().join("target").join("bench")
}

/// One timed run of a whole process: wall time and peak resident memory.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub seconds: f64,
    pub max_rss_kib: u64,
}

impl Sample {
    /// The time statistics of `samples`.
    pub fn times(samples: &[Sample]) -> Stats {
        Stats::of(&samples.iter().map(|s| s.seconds).collect::<Vec<_>>())
    }

    /// The largest peak RSS of `samples` (KiB).
    pub fn peak_rss(samples: &[Sample]) -> u64 {
        samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0)
    }

    /// The median of `ours[i] / theirs[i]` over runs that alternated the two tools.
    pub fn paired_ratio(ours: &[Sample], theirs: &[Sample]) -> f64 {
        let ratios: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| a.seconds / b.seconds)
            .collect();
        Stats::of(&ratios).median
    }
}

/// Runs `command` under GNU time and returns its wall time and peak RSS; its stdout is discarded.
pub fn measure(
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<Sample> {
    let report = tempfile_path("time");
    let mut command = Command::new("/usr/bin/time");
    command.args(["-f", "%M", "-o"]).arg(&report).arg(program);
    let seconds = run_timed(&mut command, program, args, env)
        .context("running /usr/bin/time (Debian package `time`)")?;
    let text = std::fs::read_to_string(&report)?;
    let _ = std::fs::remove_file(&report);
    let max_rss_kib = text
        .lines()
        .last()
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    Ok(Sample {
        seconds,
        max_rss_kib,
    })
}

/// Runs `command` directly (no `/usr/bin/time` in between: its own start and wait, about a
/// millisecond, would count against a process of a few) and returns its wall time; its stdout
/// is discarded. Peak memory is [`measure`]'s.
pub fn time_process(
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<f64> {
    run_timed(&mut Command::new(program), program, args, env)
        .with_context(|| format!("running {}", program.display()))
}

/// Runs `command` (which runs `program`) with `args` and `env`, its stdout discarded, and
/// returns its wall time; a failure is an error with its stderr.
fn run_timed(
    command: &mut Command,
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let output = command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{} {:?} failed: {}",
            program.display(),
            args,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(seconds)
}

/// The order the tools run in, in round `round` of timed runs of `tools` tools: shuffled
/// (Fisher-Yates on a fixed generator, the same every run of the bench), so each tool follows
/// each other about as often. A process run straight after one of Helm's, which touched 90 MB,
/// finds the caches cold and is slower than one run after itself; a fixed order, rotated or
/// not, gives every tool the same predecessor every time.
pub fn round_order(round: usize, tools: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..tools).collect();
    let mut state = (round as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in (1..tools).rev() {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let pick = state.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1);
        order.swap(i, pick as usize);
    }
    order
}

/// A [`time_process`] run with the peak memory [`measure`] found for the same command.
pub fn timed_sample(
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, String)],
    max_rss_kib: u64,
) -> anyhow::Result<Sample> {
    Ok(Sample {
        seconds: time_process(program, args, env)?,
        max_rss_kib,
    })
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "capstan-bench-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Median, min and max of a set of durations in seconds.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Stats {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// Builds the release binaries the benchmarks run.
pub fn build_release(packages: &[&str], examples: bool) -> anyhow::Result<()> {
    let mut command = Command::new(paths::cargo());
    command
        .current_dir(paths::root())
        .args(["build", "--release"]);
    for package in packages {
        command.args(["--package", package]);
    }
    if examples {
        command.args(["--bins", "--examples"]);
    }
    let status = command.status()?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(())
}

/// Builds one release example program.
pub fn build_release_example(package: &str, example: &str) -> anyhow::Result<()> {
    let status = Command::new(paths::cargo())
        .current_dir(paths::root())
        .args([
            "build",
            "--release",
            "--package",
            package,
            "--example",
            example,
        ])
        .status()?;
    if !status.success() {
        bail!("cargo build --release --example {example} failed");
    }
    Ok(())
}

/// Formats seconds as milliseconds for tables.
pub fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::round_order;

    /// Every round runs every tool once, and over the rounds each tool follows more than one
    /// other.
    #[test]
    fn rounds_shuffle_the_tools() {
        let mut followed = vec![std::collections::BTreeSet::new(); 4];
        for round in 0..15 {
            let order = round_order(round, 4);
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2, 3], "round {round}");
            for pair in order.windows(2) {
                followed[pair[1]].insert(pair[0]);
            }
        }
        for (tool, before) in followed.iter().enumerate() {
            assert!(
                before.len() >= 2,
                "tool {tool} only ever follows {before:?}"
            );
        }
    }
}

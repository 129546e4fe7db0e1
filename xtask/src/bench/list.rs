//! `cargo xtask bench list`: `capstan list -A` over 1,000 releases of 3 revisions each, and
//! `capstan history` of a release with 100 revisions, against `helm list` / `helm history` (v3 and
//! v4) on the same local control plane. The releases are written once per cluster by the
//! `release_bench` example (capstan's Secret store, Helm's format).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;
use serde_json::json;

use super::{Sample, Stats, measure, ms, out_dir};
use crate::{cluster, helm, paths};

const RELEASES: usize = 1000;
const REVISIONS: u32 = 3;
const DEEP_REVISIONS: u32 = 100;
const RUNS: usize = 5;

pub fn run() -> anyhow::Result<()> {
    super::build_release_example("capstan-kube", "release_bench")?;
    super::build_release(&["capstan-cli"], false)?;
    let tool = paths::target()
        .join("release")
        .join("examples")
        .join("release_bench");
    let capstan = paths::target().join("release").join("capstan");
    let helms = helm::build_all()?;
    let cluster = cluster::up()?;
    let env = [("KUBECONFIG", cluster.state.kubeconfig.display().to_string())];

    let listed = count_lines(&tool, &["list"], &env)?;
    if listed < RELEASES {
        println!("populating {RELEASES} releases x {REVISIONS} revisions (once per cluster)...");
        run_tool(
            &tool,
            &[
                "populate",
                "--releases",
                &RELEASES.to_string(),
                "--revisions",
                &REVISIONS.to_string(),
            ],
            &env,
        )?;
        run_tool(
            &tool,
            &[
                "populate",
                "--namespaces",
                "1",
                "--releases",
                "1",
                "--prefix",
                "deep",
                "--revisions",
                &DEEP_REVISIONS.to_string(),
            ],
            &env,
        )?;
    }

    let mut report = format!(
        "## list -A ({RELEASES} releases x {REVISIONS} revisions) and history ({DEEP_REVISIONS} revisions)\n\n\
         | operation | tool | median | min | max | peak RSS | capstan/tool (median of pairs) |\n|---|---|---|---|---|---|---|\n"
    );
    let mut rows = Vec::new();
    // The same command line for both tools.
    let history: Vec<String> = [
        "history",
        "deep-0000",
        "-n",
        "bench-list-0",
        "--max",
        "1000",
    ]
    .map(String::from)
    .to_vec();
    let cases: [(&str, Vec<String>, Vec<String>); 2] = [
        (
            "list -A",
            vec!["list".into(), "-A".into()],
            vec!["list".into(), "-A".into(), "--max".into(), "0".into()],
        ),
        ("history", history.clone(), history),
    ];
    for (operation, ours_args, helm_args) in cases {
        let ours_args = ours_args.as_slice();
        measure(&capstan, ours_args, &env)?;
        for h in &helms {
            measure(h, &helm_args, &env)?;
        }
        let mut ours: Vec<Sample> = Vec::new();
        let mut theirs: Vec<Vec<Sample>> = vec![Vec::new(); helms.len()];
        for _ in 0..RUNS {
            ours.push(measure(&capstan, ours_args, &env)?);
            for (i, h) in helms.iter().enumerate() {
                theirs[i].push(measure(h, &helm_args, &env)?);
            }
        }
        let stats = Stats::of(&ours.iter().map(|s| s.seconds).collect::<Vec<_>>());
        let rss = Sample::peak_rss(&ours);
        writeln!(
            report,
            "| {operation} | capstan | {} | {} | {} | {} MiB | |",
            ms(stats.median),
            ms(stats.min),
            ms(stats.max),
            rss / 1024
        )?;
        let mut row =
            json!({"operation": operation, "capstan": {"seconds": stats, "max_rss_kib": rss}});
        for (i, h) in helms.iter().enumerate() {
            let s = Sample::times(&theirs[i]);
            let r = Sample::peak_rss(&theirs[i]);
            let ratio = Sample::paired_ratio(&ours, &theirs[i]);
            let name = super::render::helm_name(h);
            writeln!(
                report,
                "| {operation} | {name} | {} | {} | {} | {} MiB | {ratio:.3} ({:.1}x faster; {:.1}x less memory) |",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                r / 1024,
                1.0 / ratio,
                r as f64 / rss.max(1) as f64
            )?;
            row[name.as_str()] = json!({"seconds": s, "max_rss_kib": r, "ratio": ratio});
        }
        rows.push(row);
    }
    std::fs::create_dir_all(out_dir())?;
    std::fs::write(out_dir().join("list.md"), &report)?;
    std::fs::write(
        out_dir().join("list.json"),
        serde_json::to_vec_pretty(&json!({"rows": rows}))?,
    )?;
    println!("{report}");
    println!("written to {}", out_dir().join("list.md").display());
    Ok(())
}

fn run_tool(tool: &Path, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<()> {
    let status = Command::new(tool)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()?;
    if !status.success() {
        bail!("{} {args:?} failed", tool.display());
    }
    Ok(())
}

fn count_lines(tool: &PathBuf, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<usize> {
    let output = Command::new(tool)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).lines().count())
}

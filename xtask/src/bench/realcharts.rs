//! The real-chart part of `cargo xtask bench render`: charts of the conformance corpus
//! (`/work/shared/charts` or `CAPSTAN_CHARTS_DIR`) rendered with their default values by
//! `capstan template` and `helm template` (v3 and v4), whole process; then by a warm
//! `capstan-renderer` daemon, one render at a time, against Helm's whole process.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::{Value, json};

use super::render::{daemon_latency, helm_name};
use super::{Sample, Stats, measure, ms, round_order, timed_sample};
use crate::conformance;

/// The charts timed, by directory in the corpus.
const CHARTS: [&str; 3] = ["kube-prometheus-stack", "postgresql", "ingress-nginx"];
/// Timed runs per tool and chart, after one warm-up each.
const RUNS: usize = 15;
/// Renders timed on the warm daemon per chart, one in flight.
const DAEMON_RENDERS: usize = 300;
/// The targets: whole process against Helm, warm daemon against Helm's whole process
/// (on kube-prometheus-stack).
const PROCESS_TARGET: f64 = 5.0;
const DAEMON_TARGET: f64 = 30.0;

/// What `run` measured: the report's Markdown sections and the JSON rows.
pub struct Measured {
    pub markdown: String,
    pub json: Value,
}

/// Times every chart of `CHARTS`; `release` holds the release binaries, `helms` the reference Helms.
pub fn run(release: &Path, helms: &[PathBuf]) -> anyhow::Result<Measured> {
    let charts = conformance::charts_dir()?;
    let capstan = release.join("capstan");
    for chart in CHARTS {
        for h in helms {
            if let Some(difference) = conformance::difference(&charts, chart, &capstan, h)? {
                bail!(
                    "capstan and {} render different objects from {chart}: {difference}; not timing it",
                    helm_name(h)
                );
            }
        }
    }

    let mut markdown = String::from(
        "\n## real charts: template (whole process, default values)\n\n\
         `template rel CHART --namespace ns --kube-version 1.33`, charts from the conformance corpus.\n\n",
    );
    markdown.push_str("| chart | tool | median | min | max | peak RSS | capstan/tool (median of pairs) |\n|---|---|---|---|---|---|---|\n");
    let mut rows = Vec::new();
    // The median of Helm's whole process per chart, fastest Helm first, for the daemon's ratio.
    let mut helm_medians: Vec<(f64, String)> = Vec::new();
    // capstan twice: with its compile cache (a directory of this run's own, filled by the
    // warm-up run: every later run finds the chart's translations there, as a user's second
    // `template` of a chart does) and without it (`CAPSTAN_COMPILE_CACHE=off`: every run parses
    // and translates the chart's templates).
    let cache_dir =
        std::env::temp_dir().join(format!("capstan-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache_dir);
    let modes: [(&str, Vec<(&str, String)>); 2] = [
        (
            "capstan (compile cache warm)",
            vec![("CAPSTAN_COMPILE_CACHE", cache_dir.display().to_string())],
        ),
        (
            "capstan (no compile cache)",
            vec![("CAPSTAN_COMPILE_CACHE", "off".to_string())],
        ),
    ];
    for chart in CHARTS {
        let args = template_args(&charts.join(chart));
        // The warm-up runs, under `/usr/bin/time`, give each tool's peak memory; the timed
        // runs start the tool directly.
        let mut our_rss = Vec::new();
        for (_, env) in &modes {
            our_rss.push(measure(&capstan, &args, env)?.max_rss_kib);
        }
        let mut their_rss = Vec::new();
        for h in helms {
            their_rss.push(measure(h, &args, &[])?.max_rss_kib);
        }
        let mut ours: Vec<Vec<Sample>> = vec![Vec::new(); modes.len()];
        let mut theirs: Vec<Vec<Sample>> = vec![Vec::new(); helms.len()];
        // Each round in its own order ([`round_order`]).
        let tools = modes.len() + helms.len();
        for round in 0..RUNS {
            for turn in round_order(round, tools) {
                match turn {
                    i if i < modes.len() => {
                        ours[i].push(timed_sample(&capstan, &args, &modes[i].1, our_rss[i])?);
                    }
                    i => {
                        let i = i - modes.len();
                        theirs[i].push(timed_sample(&helms[i], &args, &[], their_rss[i])?);
                    }
                }
            }
        }
        let mut row = json!({"chart": chart});
        for (mode, (label, _)) in modes.iter().enumerate() {
            let stats = Stats::of(&ours[mode].iter().map(|s| s.seconds).collect::<Vec<_>>());
            let rss = Sample::peak_rss(&ours[mode]);
            writeln!(
                markdown,
                "| {chart} | {label} | {} | {} | {} | {} MiB | |",
                ms(stats.median),
                ms(stats.min),
                ms(stats.max),
                rss / 1024
            )?;
            let key = if mode == 0 {
                "capstan"
            } else {
                "capstan_no_cache"
            };
            row[key] = json!({"seconds": stats, "max_rss_kib": rss});
        }
        let mut fastest: Option<(f64, String)> = None;
        for (i, h) in helms.iter().enumerate() {
            let name = helm_name(h);
            let s = Sample::times(&theirs[i]);
            let r = Sample::peak_rss(&theirs[i]);
            let mut verdicts = Vec::new();
            let mut ratios = Vec::new();
            for (mode, (label, _)) in modes.iter().enumerate() {
                let rss = Sample::peak_rss(&ours[mode]);
                let ratio = Sample::paired_ratio(&ours[mode], &theirs[i]);
                let verdict = if 1.0 / ratio >= PROCESS_TARGET && rss < r {
                    "met"
                } else {
                    "not met"
                };
                verdicts.push(format!(
                    "{label}: {ratio:.3} ({:.1}x faster; {:.1}x less memory; target {PROCESS_TARGET}x and less memory: {verdict})",
                    1.0 / ratio,
                    r as f64 / rss.max(1) as f64
                ));
                ratios.push(ratio);
            }
            writeln!(
                markdown,
                "| {chart} | {name} | {} | {} | {} | {} MiB | {} |",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                r / 1024,
                verdicts.join("<br>")
            )?;
            row[name.as_str()] = json!({"seconds": s, "max_rss_kib": r, "ratio": ratios[0], "ratio_no_cache": ratios[1]});
            if fastest.as_ref().is_none_or(|(m, _)| s.median < *m) {
                fastest = Some((s.median, name));
            }
        }
        helm_medians.push(fastest.unwrap_or((f64::NAN, "helm".into())));
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&cache_dir);

    writeln!(
        markdown,
        "\n## real charts: warm renderer daemon (render by digest, one in flight)\n\n\
         The chart is uploaded once; then {DAEMON_RENDERS} renders of the same request (after 20 untimed),\n\
         asked as an install asks (the response carries the stored chart and the CRDs) and as\n\
         `capstan template --renderer` asks (neither). Two daemon set-ups: renders on the daemon's\n\
         threads (`--render-memory-limit 0`: the chart is compiled on its first render, \"first\",\n\
         and kept by digest) and the default, each render in a fresh memory-capped worker\n\
         process (which loads and compiles the chart for every render). \"vs Helm\" is the\n\
         faster Helm's whole-process median over the daemon's p50.\n"
    )?;
    markdown.push_str("| chart | daemon | request | documents | first | p50 | p99 | min | max | renders/s | daemon peak RSS | vs Helm |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut daemon_rows = Vec::new();
    let setups: [(&str, &[&str], bool); 3] = [
        ("threads", &["--render-memory-limit", "0"], false),
        ("threads", &["--render-memory-limit", "0"], true),
        ("workers (default)", &[], true),
    ];
    for ((chart, (helm_median, helm)), (setup, daemon_args, as_template)) in CHARTS
        .iter()
        .zip(&helm_medians)
        .flat_map(|c| setups.map(|s| (c, s)))
    {
        let mut load: Vec<String> = [
            "--name",
            "rel",
            "--namespace",
            "ns",
            "--kube-version",
            "1.33",
            "--concurrency",
            "1",
            "--warmup",
            "20",
            "--requests",
        ]
        .map(String::from)
        .to_vec();
        load.push(DAEMON_RENDERS.to_string());
        if as_template {
            load.push("--as-template".into());
        }
        let mut stats = daemon_latency(release, &charts.join(chart), daemon_args, &load)?;
        let f = |key: &str| stats[key].as_f64().unwrap_or(0.0);
        let speedup = helm_median * 1000.0 / f("p50_ms");
        let target = if *chart == "kube-prometheus-stack" && setup == "threads" {
            let verdict = if speedup >= DAEMON_TARGET {
                "met"
            } else {
                "not met"
            };
            format!("; target {DAEMON_TARGET}x: {verdict}")
        } else {
            String::new()
        };
        writeln!(
            markdown,
            "| {chart} | {setup} | {} | {} | {:.1} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {} MiB | {speedup:.1}x faster than {helm} ({}){target} |",
            if as_template {
                "as template"
            } else {
                "as install"
            },
            stats["documents"],
            f("first_ms"),
            f("p50_ms"),
            f("p99_ms"),
            f("min_ms"),
            f("max_ms"),
            f("renders_per_second"),
            stats["daemon_peak_rss_kib"].as_u64().unwrap_or(0) / 1024,
            ms(*helm_median)
        )?;
        stats["chart"] = json!(chart);
        stats["as_template"] = json!(as_template);
        stats["daemon"] = json!(setup);
        stats["helm_median_seconds"] = json!(helm_median);
        stats["speedup_vs_helm"] = json!(speedup);
        daemon_rows.push(stats);
    }
    Ok(Measured {
        markdown,
        json: json!({"template": rows, "daemon": daemon_rows}),
    })
}

/// The conformance run's arguments, default values.
fn template_args(chart: &Path) -> Vec<String> {
    vec![
        "template".into(),
        "rel".into(),
        chart.display().to_string(),
        "--namespace".into(),
        "ns".into(),
        "--kube-version".into(),
        "1.33".into(),
    ]
}

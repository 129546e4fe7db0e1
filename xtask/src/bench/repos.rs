//! `cargo xtask bench repos`: `repo update` of a 10,000-entry `index.yaml` (2,000 charts x 5
//! versions, fields as large public repositories carry them) served by nginx on 127.0.0.1, and
//! `search repo` over it, capstan against Helm v3 and v4, each with a Helm home of its own;
//! then `install` (client dry run, against the local control plane) and `template` of a chart
//! from a repository with a warm chart cache, against the same chart as a local directory.
//!
//! `CAPSTAN_BENCH_CAPSTAN=PATH` measures that capstan binary instead of building the release one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::{Sample, Stats, measure, ms, out_dir};
use crate::{helm, paths};

const CHARTS: usize = 2000;
const VERSIONS: usize = 5;
/// Runs of each operation per tool (alternating): short capstan runs on a shared machine need
/// more than a handful for a steady median.
const RUNS: usize = 11;

pub fn run() -> anyhow::Result<()> {
    let capstan = match std::env::var_os("CAPSTAN_BENCH_CAPSTAN") {
        Some(path) => PathBuf::from(path),
        None => {
            super::build_release(&["capstan-cli"], false)?;
            paths::target().join("release").join("capstan")
        }
    };
    let helms = helm::build_all()?;
    let work = out_dir().join("repos");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("served"))?;
    write_index(&work.join("served/index.yaml"))?;
    let server = Nginx::start(&work)?;

    let mut tools: Vec<(String, PathBuf)> = vec![("capstan".into(), capstan)];
    for h in &helms {
        tools.push((super::render::helm_name(h), h.clone()));
    }
    let mut envs = Vec::new();
    for (name, binary) in &tools {
        let home = work.join(format!("home-{name}"));
        let env = vec![
            ("HOME", home.display().to_string()),
            (
                "HELM_CONFIG_HOME",
                home.join("config").display().to_string(),
            ),
            ("HELM_CACHE_HOME", home.join("cache").display().to_string()),
            ("HELM_DATA_HOME", home.join("data").display().to_string()),
        ];
        let add = ["repo", "add", "big", &server.url].map(String::from);
        measure(binary, &add, &env)?;
        envs.push(env);
    }
    let cases: [(&str, Vec<String>); 2] = [
        ("repo update", vec!["repo".into(), "update".into()]),
        (
            "search repo database",
            vec!["search".into(), "repo".into(), "database".into()],
        ),
    ];
    let mut report = format!(
        "## repo update and search repo ({} entries, {:.1} MiB index.yaml)\n\n\
         | operation | tool | median | min | max | peak RSS | capstan/tool (median of pairs) |\n|---|---|---|---|---|---|---|\n",
        CHARTS * VERSIONS,
        std::fs::metadata(work.join("served/index.yaml"))?.len() as f64 / (1024.0 * 1024.0)
    );
    let mut rows = Vec::new();
    for (operation, args) in cases {
        for ((_, binary), env) in tools.iter().zip(&envs) {
            measure(binary, &args, env)?;
        }
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tools.len()];
        for _ in 0..RUNS {
            for (i, ((_, binary), env)) in tools.iter().zip(&envs).enumerate() {
                samples[i].push(measure(binary, &args, env)?);
            }
        }
        let ours = &samples[0];
        let rss = Sample::peak_rss(ours);
        let mut row = json!({"operation": operation});
        for (i, (name, _)) in tools.iter().enumerate() {
            let s: Stats = Sample::times(&samples[i]);
            let r = Sample::peak_rss(&samples[i]);
            let comparison = if i == 0 {
                String::new()
            } else {
                let ratio = Sample::paired_ratio(ours, &samples[i]);
                row[name.as_str()] = json!({"ratio": ratio});
                format!(
                    "{ratio:.3} ({:.1}x faster; {:.1}x less memory)",
                    1.0 / ratio,
                    r as f64 / rss.max(1) as f64
                )
            };
            writeln!(
                report,
                "| {operation} | {name} | {} | {} | {} | {} MiB | {comparison} |",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                r / 1024
            )?;
            row[format!("{name}_seconds")] = json!(s);
            row[format!("{name}_max_rss_kib")] = json!(r);
        }
        rows.push(row);
    }
    report.push_str(&warm_cache(&work, &server, &tools[0].1, &envs[0])?);
    drop(server);
    std::fs::write(out_dir().join("repos.md"), &report)?;
    std::fs::write(
        out_dir().join("repos.json"),
        serde_json::to_vec_pretty(&json!({"rows": rows}))?,
    )?;
    println!("{report}");
    println!("written to {}", out_dir().join("repos.md").display());
    Ok(())
}

/// `install --dry-run` and `template` of `examples/charts/webapp` from a repository whose chart
/// is already in capstan's cache, alternating with the same chart as a local directory.
fn warm_cache(
    work: &Path,
    server: &Nginx,
    capstan: &Path,
    env: &[(&str, String)],
) -> anyhow::Result<String> {
    let chart_dir = paths::root().join("examples/charts/webapp");
    let served = work.join("served/charts");
    std::fs::create_dir_all(&served)?;
    let url = format!("{}/charts", server.url);
    let run = |args: &[&str]| {
        measure(
            capstan,
            &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            env,
        )
    };
    run(&[
        "package",
        &chart_dir.display().to_string(),
        "-d",
        &served.display().to_string(),
    ])?;
    run(&[
        "repo",
        "index",
        &served.display().to_string(),
        "--url",
        &url,
    ])?;
    run(&["repo", "add", "local", &url])?;
    // Warm: the first resolution downloads the archive into the chart cache.
    run(&["template", "x", "local/webapp"])?;
    let mut env = env.to_vec();
    env.push((
        "KUBECONFIG",
        paths::state_dir().join("kubeconfig").display().to_string(),
    ));
    let dir = chart_dir.display().to_string();
    let cases: [(&str, [Vec<String>; 2]); 2] = [
        (
            "install --dry-run",
            [
                ["install", "x", "local/webapp", "--dry-run", "-n", "default"],
                ["install", "x", &dir, "--dry-run", "-n", "default"],
            ]
            .map(|a| a.map(String::from).to_vec()),
        ),
        (
            "template",
            [["template", "x", "local/webapp"], ["template", "x", &dir]]
                .map(|a| a.map(String::from).to_vec()),
        ),
    ];
    let mut report = String::from(
        "\n## A chart from a repository (warm cache) against a local directory\n\n\
         | operation | chart | median | min | max | peak RSS | repository/directory (median of pairs) |\n|---|---|---|---|---|---|---|\n",
    );
    for (operation, [from_repo, from_dir]) in cases {
        measure(capstan, &from_repo, &env)?;
        measure(capstan, &from_dir, &env)?;
        let (mut repo_samples, mut dir_samples) = (Vec::new(), Vec::new());
        for _ in 0..RUNS * 2 {
            repo_samples.push(measure(capstan, &from_repo, &env)?);
            dir_samples.push(measure(capstan, &from_dir, &env)?);
        }
        let ratio = Sample::paired_ratio(&repo_samples, &dir_samples);
        for (label, samples, comparison) in [
            (
                "local/webapp (cached)",
                &repo_samples,
                format!("{ratio:.3}"),
            ),
            ("examples/charts/webapp", &dir_samples, String::new()),
        ] {
            let s = Sample::times(samples);
            writeln!(
                report,
                "| {operation} | {label} | {} | {} | {} | {} MiB | {comparison} |",
                ms(s.median),
                ms(s.min),
                ms(s.max),
                Sample::peak_rss(samples) / 1024
            )?;
        }
    }
    Ok(report)
}

/// A 10,000-entry index with the fields public repositories carry (annotations, dependencies,
/// maintainers, keywords, sources, digests).
fn write_index(path: &Path) -> anyhow::Result<()> {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for c in 0..CHARTS {
        let name = format!("chart-{c:04}");
        writeln!(out, "  {name}:")?;
        for v in 0..VERSIONS {
            let version = format!("{v}.{}.{}", c % 7, v * 3);
            let digest: String = sha2::Digest::finalize(sha2::Digest::chain_update(
                <sha2::Sha256 as sha2::Digest>::new(),
                format!("{name}-{version}"),
            ))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
            write!(
                out,
                "  - annotations:\n      category: Infrastructure\n      licenses: Apache-2.0\n    apiVersion: v2\n    appVersion: {v}.{}.0\n    created: \"2024-05-{:02}T10:00:00.123456789Z\"\n    dependencies:\n    - name: common\n      repository: oci://registry.example.com/charts\n      tags:\n      - common\n      version: 2.x.x\n    description: Chart number {c} deploys an application, with a description as long as real ones are.\n    digest: {digest}\n    home: https://example.com/{name}\n    icon: https://example.com/{name}.svg\n    keywords:\n    - {name}\n    - {}\n    - web\n    maintainers:\n    - name: Example Maintainers\n      url: https://example.com\n    name: {name}\n    sources:\n    - https://github.com/example/charts/tree/main/{name}\n    urls:\n    - https://charts.example.com/{name}-{version}.tgz\n    version: {version}\n",
                c % 10,
                c % 28 + 1,
                if c % 3 == 0 { "database" } else { "cache" },
            )?;
        }
    }
    out.push_str("generated: \"2024-05-30T10:00:00Z\"\n");
    std::fs::write(path, out)?;
    Ok(())
}

/// nginx (Debian's `nginx-light`) serving `<work>/served` over plain HTTP on a free port.
struct Nginx {
    child: Child,
    url: String,
}

impl Nginx {
    fn start(work: &Path) -> anyhow::Result<Nginx> {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .context("nginx is missing: apt-get install -y nginx-light")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let w = work.display();
        std::fs::create_dir_all(work.join("tmp"))?;
        let config = format!(
            "daemon off;\nmaster_process off;\npid {w}/nginx.pid;\nerror_log {w}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {w}/tmp/body;\n  proxy_temp_path {w}/tmp/proxy;\n  fastcgi_temp_path {w}/tmp/fastcgi;\n  uwsgi_temp_path {w}/tmp/uwsgi;\n  scgi_temp_path {w}/tmp/scgi;\n\
             \x20 server {{\n    listen 127.0.0.1:{port};\n    root {w}/served;\n  }}\n}}\n"
        );
        std::fs::write(work.join("nginx.conf"), config)?;
        let child = Command::new(nginx)
            .arg("-p")
            .arg(work)
            .arg("-c")
            .arg(work.join("nginx.conf"))
            .arg("-e")
            .arg(work.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Nginx {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nginx did not start: see {}/error.log", work.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

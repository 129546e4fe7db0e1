//! A classic HTTP chart repository for tests: Debian's nginx serving a folder of `index.yaml`
//! and chart archives on 127.0.0.1, over TLS with a CA the test makes, with basic
//! authentication, and optionally redirecting a path prefix to another server.
//!
//! ```no_run
//! # fn example() -> anyhow::Result<()> {
//! let repo = capstan_testkit::chartrepo::ChartRepo::start(Default::default())?;
//! std::fs::write(repo.dir().join("index.yaml"), "apiVersion: v1\nentries: {}\n")?;
//! // capstan repo add r {repo.url()} --ca-file {repo.ca_file()} --username ... --password ...
//! # Ok(()) }
//! ```
//!
//! nginx runs in the foreground (`daemon off`, one process) and is killed when the value is
//! dropped. It comes from Debian's `nginx-light` package (`apt-get install -y nginx-light`);
//! [`ChartRepo::start`] installs it when `nginx` is missing and the test runs as root.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// How the repository is served.
#[derive(Debug, Clone)]
pub struct RepoOptions {
    /// Serve HTTPS (with a fresh CA) instead of plain HTTP.
    pub tls: bool,
    /// Basic-auth user and password (every path but redirects requires them).
    pub basic_auth: Option<(String, String)>,
    /// Paths starting with this prefix answer `302` to the same path under this base URL.
    pub redirect: Option<(String, String)>,
}

impl Default for RepoOptions {
    fn default() -> RepoOptions {
        RepoOptions {
            tls: true,
            basic_auth: Some(("capstan".into(), "s3cret".into())),
            redirect: None,
        }
    }
}

/// A running nginx chart repository.
pub struct ChartRepo {
    child: Child,
    work: tempfile::TempDir,
    url: String,
    options: RepoOptions,
}

impl ChartRepo {
    /// Starts nginx on a free port of 127.0.0.1 and waits until it answers.
    pub fn start(options: RepoOptions) -> anyhow::Result<ChartRepo> {
        let nginx = nginx_binary()?;
        let work = tempfile::Builder::new()
            .prefix("capstan-chartrepo-")
            .tempdir()?;
        let root = work.path().join("charts");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(work.path().join("tmp"))?;
        let port = free_port()?;
        let scheme = if options.tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let mut server = String::new();
        if options.tls {
            write_pki(work.path())?;
            server += &format!(
                "    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {0}/server.pem;\n    ssl_certificate_key {0}/server.key;\n",
                work.path().display()
            );
        } else {
            server += &format!("    listen 127.0.0.1:{port};\n");
        }
        if let Some((user, password)) = &options.basic_auth {
            std::fs::write(
                work.path().join("htpasswd"),
                format!("{user}:{{PLAIN}}{password}\n"),
            )?;
            server += &format!(
                "    auth_basic \"charts\";\n    auth_basic_user_file {}/htpasswd;\n",
                work.path().display()
            );
        }
        if let Some((prefix, target)) = &options.redirect {
            server += &format!(
                "    location ~ ^{prefix}(.*)$ {{\n        auth_basic off;\n        return 302 {}/$1;\n    }}\n",
                target.trim_end_matches('/')
            );
        }
        let w = work.path().display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {w}/nginx.pid;\nerror_log {w}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {w}/access.log;\n  client_body_temp_path {w}/tmp/body;\n  proxy_temp_path {w}/tmp/proxy;\n\
             \x20 fastcgi_temp_path {w}/tmp/fastcgi;\n  uwsgi_temp_path {w}/tmp/uwsgi;\n  scgi_temp_path {w}/tmp/scgi;\n\
             \x20 types {{ text/yaml yaml; application/gzip tgz; text/plain prov; }}\n\
             \x20 server {{\n    root {root};\n{server}  }}\n}}\n",
            root = root.display()
        );
        std::fs::write(work.path().join("nginx.conf"), config)?;
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(work.path())
            .arg("-c")
            .arg(work.path().join("nginx.conf"))
            .arg("-e")
            .arg(work.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", nginx.display()))?;
        let mut repo = ChartRepo {
            child,
            work,
            url,
            options,
        };
        repo.wait_ready(port)?;
        Ok(repo)
    }

    fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("nginx exited ({status}): {}", self.error_log());
            }
            if Instant::now() > deadline {
                bail!(
                    "nginx did not listen on 127.0.0.1:{port} in 15 s: {}",
                    self.error_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.work.path().join("error.log")).unwrap_or_default()
    }

    /// The repository URL (`https://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The folder served at the URL's root.
    pub fn dir(&self) -> PathBuf {
        self.work.path().join("charts")
    }

    /// The CA certificate (PEM) that signed the server's certificate (with TLS).
    pub fn ca_file(&self) -> PathBuf {
        self.work.path().join("ca.pem")
    }

    /// The basic-auth user and password.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.options
            .basic_auth
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The access log: one line per request, to check what was (not) downloaded.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.work.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for ChartRepo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nginx` on the PATH or in `/usr/sbin`, installed from Debian's `nginx-light` when missing.
fn nginx_binary() -> anyhow::Result<PathBuf> {
    let find = || {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([PathBuf::from("/usr/sbin")])
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    eprintln!("nginx is missing; installing Debian's nginx-light");
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "nginx-light"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get to install nginx-light")?;
    if !status.success() {
        bail!("nginx is missing and `apt-get install -y nginx-light` failed ({status})");
    }
    find().context("nginx-light installed, but no nginx binary found")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost it signed.
fn write_pki(dir: &Path) -> anyhow::Result<()> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("server.pem"), server_cert.pem())?;
    std::fs::write(dir.join("server.key"), server_key.serialize_pem())?;
    Ok(())
}

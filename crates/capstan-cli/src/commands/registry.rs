//! `capstan registry login|logout HOST`: check credentials against a registry and keep them in
//! Helm's credentials file, or remove them, with Helm's output.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use capstan_oci::{Credential, CredentialsFile};

use crate::cli::{RegistryCommand, RegistryLoginArgs, RegistryLogoutArgs};
use crate::console::{eoutln, outln};

pub async fn run(command: RegistryCommand) -> anyhow::Result<u8> {
    match command {
        RegistryCommand::Login(args) => login(args).await,
        RegistryCommand::Logout(args) => logout(args),
    }
}

/// `host[:port]` from what the user typed: a scheme or a repository path is dropped, as Helm
/// does.
fn host_of(text: &str) -> String {
    let plain = ["oci://", "https://", "http://"]
        .iter()
        .find_map(|s| text.strip_prefix(s))
        .unwrap_or(text);
    plain.split('/').next().unwrap_or(plain).to_string()
}

async fn login(args: RegistryLoginArgs) -> anyhow::Result<u8> {
    let host = host_of(&args.host);
    let Some(username) = args.username.clone().filter(|u| !u.is_empty()) else {
        bail!("registry login {host}: a user name is required (-u/--username)");
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from standard input")?;
        text.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(password) = args.password.clone() {
        eoutln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        password
    } else {
        bail!("registry login {host}: a password is required (-p/--password or --password-stdin)");
    };
    let credential = Credential { username, password };
    let options = capstan_oci::Options {
        plain_http: args.plain_http,
        insecure_skip_tls_verify: args.insecure,
        ca_file: args.ca_file.clone(),
        cert_file: args.cert_file.clone(),
        key_file: args.key_file.clone(),
        credential: Some(credential.clone()),
        connect_timeout: None,
    };
    let registry = capstan_oci::Registry::new(&host, &options)?;
    registry
        .ping()
        .await
        .with_context(|| format!("logging in to registry {host}"))?;
    let path = crate::oci::credentials_path();
    let mut file = CredentialsFile::load(&path)?;
    file.put(&host, &credential);
    file.save()?;
    outln!("Login Succeeded");
    Ok(0)
}

fn logout(args: RegistryLogoutArgs) -> anyhow::Result<u8> {
    let host = host_of(&args.host);
    let path = crate::oci::credentials_path();
    let mut file = CredentialsFile::load(&path)?;
    if file.remove(&host) {
        file.save()?;
    }
    outln!("Removing login credentials for {host}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_are_taken_from_what_users_type() {
        assert_eq!(
            super::host_of("oci://127.0.0.1:5000/charts"),
            "127.0.0.1:5000"
        );
        assert_eq!(super::host_of("https://r.example.com"), "r.example.com");
        assert_eq!(super::host_of("localhost:5000"), "localhost:5000");
    }
}

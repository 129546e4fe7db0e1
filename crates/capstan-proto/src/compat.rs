//! The enums of `capstan.applier.v1` and the deprecated string fields they replace: one rule,
//! for servers and clients, of which value a message means.
//!
//! An enum field set (not `UNSPECIFIED`) wins; otherwise the deprecated string is read as
//! servers always read it, so a message from an older client means what it meant. A name or a
//! number that is not known is an [`Error`]. Servers answer with both fields and new clients send
//! both, so older peers keep reading the strings.

use crate::applier::v1::{
    Cascade, DryRunMode, InstallRequest, ListRequest, ReleaseInfo, ReleaseStatus, RollbackRequest,
    ServerSide, UninstallRequest, UpgradeRequest,
};

/// A field whose value cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A deprecated string field holds a name it does not know.
    #[error("invalid {flag} value {value:?}: expected {expected}")]
    UnknownName {
        /// The flag the field carries (`dry-run`).
        flag: &'static str,
        /// What the message holds.
        value: String,
        /// The names the field takes.
        expected: &'static str,
    },
    /// `ListRequest.states` holds a name that is no status.
    #[error("unknown status {value:?}")]
    UnknownStatus {
        /// What the message holds.
        value: String,
    },
    /// An enum field holds a number this schema does not know (or `UNSPECIFIED` where a value
    /// is required).
    #[error("invalid {field} value {number}: not a {enumeration} this server knows")]
    UnknownNumber {
        /// The field (`dry_run_mode`).
        field: &'static str,
        /// The number it holds.
        number: i32,
        /// The enum (`DryRunMode`).
        enumeration: &'static str,
    },
}

/// The result of reading a field.
pub type Result<T> = std::result::Result<T, Error>;

/// The value of an enum field and its deprecated string: the enum when set, else the string
/// by `from_name` (which never answers `UNSPECIFIED`).
fn resolve<E>(
    number: i32,
    name: &str,
    (field, enumeration): (&'static str, &'static str),
    from_name: impl FnOnce(&str) -> Result<E>,
) -> Result<E>
where
    E: TryFrom<i32>,
{
    if number == 0 {
        return from_name(name);
    }
    E::try_from(number).map_err(|_| Error::UnknownNumber {
        field,
        number,
        enumeration,
    })
}

impl DryRunMode {
    /// The mode a deprecated `dry_run` string names: `""`, `none` or `false` (none), `client`
    /// or `true`, `server`.
    pub fn from_legacy(name: &str) -> Option<Self> {
        match name {
            "" | "none" | "false" => Some(Self::None),
            "client" | "true" => Some(Self::Client),
            "server" => Some(Self::Server),
            _ => None,
        }
    }

    /// The string older servers read: `""` (none), `client` or `server`.
    pub fn legacy_name(self) -> &'static str {
        match self {
            Self::Unspecified | Self::None => "",
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    fn parse(name: &str) -> Result<Self> {
        Self::from_legacy(name).ok_or_else(|| Error::UnknownName {
            flag: "dry-run",
            value: name.to_owned(),
            expected: "client or server",
        })
    }
}

impl ServerSide {
    /// The choice a deprecated `server_side` string names: `""` or `auto`, `true`, `false`.
    pub fn from_legacy(name: &str) -> Option<Self> {
        match name {
            "" | "auto" => Some(Self::Auto),
            "true" => Some(Self::True),
            "false" => Some(Self::False),
            _ => None,
        }
    }

    /// The string older servers read: `auto`, `true` or `false` (`""` when unspecified).
    pub fn legacy_name(self) -> &'static str {
        match self {
            Self::Unspecified => "",
            Self::Auto => "auto",
            Self::True => "true",
            Self::False => "false",
        }
    }

    fn parse(name: &str) -> Result<Self> {
        Self::from_legacy(name).ok_or_else(|| Error::UnknownName {
            flag: "server-side",
            value: name.to_owned(),
            expected: "auto, true or false",
        })
    }
}

impl Cascade {
    /// The strategy a deprecated `cascade` string names: `""` or `background`, `foreground`,
    /// `orphan`.
    pub fn from_legacy(name: &str) -> Option<Self> {
        match name {
            "" | "background" => Some(Self::Background),
            "foreground" => Some(Self::Foreground),
            "orphan" => Some(Self::Orphan),
            _ => None,
        }
    }

    /// The string older servers read: `background`, `foreground` or `orphan` (`""` when
    /// unspecified).
    pub fn legacy_name(self) -> &'static str {
        match self {
            Self::Unspecified => "",
            Self::Background => "background",
            Self::Foreground => "foreground",
            Self::Orphan => "orphan",
        }
    }

    fn parse(name: &str) -> Result<Self> {
        Self::from_legacy(name).ok_or_else(|| Error::UnknownName {
            flag: "cascade",
            value: name.to_owned(),
            expected: "background, foreground or orphan",
        })
    }
}

impl ReleaseStatus {
    /// Helm's nine statuses, in Helm's order.
    pub const HELM: [ReleaseStatus; 9] = [
        Self::Unknown,
        Self::Deployed,
        Self::Uninstalled,
        Self::Superseded,
        Self::Failed,
        Self::Uninstalling,
        Self::PendingInstall,
        Self::PendingUpgrade,
        Self::PendingRollback,
    ];

    /// The statuses `all` names in a list filter: every one but `unknown` (Helm's `ListAll`).
    pub const LIST_ALL: [ReleaseStatus; 8] = [
        Self::Deployed,
        Self::Uninstalled,
        Self::Superseded,
        Self::Failed,
        Self::Uninstalling,
        Self::PendingInstall,
        Self::PendingUpgrade,
        Self::PendingRollback,
    ];

    /// The statuses `pending` names in a list filter.
    pub const PENDING: [ReleaseStatus; 3] = [
        Self::PendingInstall,
        Self::PendingUpgrade,
        Self::PendingRollback,
    ];

    /// Helm's name of the status (`""` when unspecified).
    pub fn helm_name(self) -> &'static str {
        match self {
            Self::Unspecified => "",
            Self::Unknown => "unknown",
            Self::Deployed => "deployed",
            Self::Uninstalled => "uninstalled",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
            Self::Uninstalling => "uninstalling",
            Self::PendingInstall => "pending-install",
            Self::PendingUpgrade => "pending-upgrade",
            Self::PendingRollback => "pending-rollback",
        }
    }

    /// The status Helm's `name` names.
    pub fn from_helm_name(name: &str) -> Option<Self> {
        Self::HELM.into_iter().find(|s| s.helm_name() == name)
    }

    /// Whether an operation is under way (Helm's `IsPending`).
    pub fn is_pending(self) -> bool {
        Self::PENDING.contains(&self)
    }
}

/// The statuses a list filter's names ask for: each of Helm's names, `pending` (the three
/// pending ones) and `all` (every one but `unknown`, as Helm's `ListAll`), in order, without
/// repeats.
pub fn statuses_named<S: AsRef<str>>(names: &[S]) -> Result<Vec<ReleaseStatus>> {
    let mut statuses = Vec::new();
    for name in names {
        let named: &[ReleaseStatus] = match name.as_ref() {
            "all" => &ReleaseStatus::LIST_ALL,
            "pending" => &ReleaseStatus::PENDING,
            other => {
                &[
                    ReleaseStatus::from_helm_name(other).ok_or_else(|| Error::UnknownStatus {
                        value: other.to_owned(),
                    })?,
                ]
            }
        };
        for status in named {
            if !statuses.contains(status) {
                statuses.push(*status);
            }
        }
    }
    Ok(statuses)
}

impl InstallRequest {
    /// `--dry-run`: `dry_run_mode`, else the deprecated `dry_run` (never `UNSPECIFIED`).
    pub fn dry_run_setting(&self) -> Result<DryRunMode> {
        resolve(
            self.dry_run_mode,
            &self.dry_run,
            ("dry_run_mode", "DryRunMode"),
            DryRunMode::parse,
        )
    }

    /// `--server-side`: `server_side_mode`, else the deprecated `server_side` (never
    /// `UNSPECIFIED`).
    pub fn server_side_setting(&self) -> Result<ServerSide> {
        resolve(
            self.server_side_mode,
            &self.server_side,
            ("server_side_mode", "ServerSide"),
            ServerSide::parse,
        )
    }
}

impl UpgradeRequest {
    /// `--dry-run`: `dry_run_mode`, else the deprecated `dry_run` (never `UNSPECIFIED`).
    pub fn dry_run_setting(&self) -> Result<DryRunMode> {
        resolve(
            self.dry_run_mode,
            &self.dry_run,
            ("dry_run_mode", "DryRunMode"),
            DryRunMode::parse,
        )
    }

    /// `--server-side`: `server_side_mode`, else the deprecated `server_side` (never
    /// `UNSPECIFIED`).
    pub fn server_side_setting(&self) -> Result<ServerSide> {
        resolve(
            self.server_side_mode,
            &self.server_side,
            ("server_side_mode", "ServerSide"),
            ServerSide::parse,
        )
    }
}

impl RollbackRequest {
    /// `--server-side`: `server_side_mode`, else the deprecated `server_side` (never
    /// `UNSPECIFIED`).
    pub fn server_side_setting(&self) -> Result<ServerSide> {
        resolve(
            self.server_side_mode,
            &self.server_side,
            ("server_side_mode", "ServerSide"),
            ServerSide::parse,
        )
    }
}

impl UninstallRequest {
    /// `--cascade`: `cascade_mode`, else the deprecated `cascade` (never `UNSPECIFIED`).
    pub fn cascade_setting(&self) -> Result<Cascade> {
        resolve(
            self.cascade_mode,
            &self.cascade,
            ("cascade_mode", "Cascade"),
            Cascade::parse,
        )
    }
}

impl ListRequest {
    /// The statuses to list: `statuses`, else the deprecated `states` by name; empty: every
    /// status.
    pub fn status_filter(&self) -> Result<Vec<ReleaseStatus>> {
        if self.statuses.is_empty() {
            return statuses_named(&self.states);
        }
        self.statuses
            .iter()
            .map(|&number| match ReleaseStatus::try_from(number) {
                Ok(ReleaseStatus::Unspecified) | Err(_) => Err(Error::UnknownNumber {
                    field: "statuses",
                    number,
                    enumeration: "ReleaseStatus",
                }),
                Ok(status) => Ok(status),
            })
            .collect()
    }
}

impl ReleaseInfo {
    /// The status: `release_status`, else (a server older than that field) the deprecated
    /// `status` by Helm's name; `UNSPECIFIED` when neither says.
    pub fn status_value(&self) -> ReleaseStatus {
        match ReleaseStatus::try_from(self.release_status) {
            Ok(status) if status != ReleaseStatus::Unspecified => status,
            _ => ReleaseStatus::from_helm_name(&self.status).unwrap_or_default(),
        }
    }

    /// Helm's name of the status, as `helm list` prints it: of `release_status` when set, else
    /// the deprecated `status` as the server wrote it.
    pub fn status_name(&self) -> &str {
        match ReleaseStatus::try_from(self.release_status) {
            Ok(status) if status != ReleaseStatus::Unspecified => status.helm_name(),
            _ => &self.status,
        }
    }

    /// Sets both status fields, for newer and older clients.
    pub fn set_status(&mut self, status: ReleaseStatus) {
        self.release_status = status as i32;
        self.status = status.helm_name().to_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_round_trip() {
        for mode in [DryRunMode::None, DryRunMode::Client, DryRunMode::Server] {
            assert_eq!(DryRunMode::from_legacy(mode.legacy_name()), Some(mode));
        }
        for side in [ServerSide::Auto, ServerSide::True, ServerSide::False] {
            assert_eq!(ServerSide::from_legacy(side.legacy_name()), Some(side));
        }
        for cascade in [Cascade::Background, Cascade::Foreground, Cascade::Orphan] {
            assert_eq!(Cascade::from_legacy(cascade.legacy_name()), Some(cascade));
        }
        for status in ReleaseStatus::HELM {
            assert_eq!(
                ReleaseStatus::from_helm_name(status.helm_name()),
                Some(status)
            );
        }
        assert_eq!(ReleaseStatus::from_helm_name(""), None);
    }

    #[test]
    fn unknown_names_say_what_is_expected() {
        let error = InstallRequest {
            dry_run: "sideways".into(),
            ..InstallRequest::default()
        }
        .dry_run_setting()
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid dry-run value \"sideways\": expected client or server"
        );
        let error = ListRequest {
            states: vec!["deployed".into(), "bogus".into()],
            ..ListRequest::default()
        }
        .status_filter()
        .unwrap_err();
        assert_eq!(error.to_string(), "unknown status \"bogus\"");
    }

    #[test]
    fn list_names_expand_once() {
        assert_eq!(
            statuses_named(&["pending", "pending-upgrade", "failed"]).unwrap(),
            [
                ReleaseStatus::PendingInstall,
                ReleaseStatus::PendingUpgrade,
                ReleaseStatus::PendingRollback,
                ReleaseStatus::Failed
            ]
        );
        assert_eq!(statuses_named(&["all"]).unwrap(), ReleaseStatus::LIST_ALL);
        assert!(statuses_named::<&str>(&[]).unwrap().is_empty());
    }
}

//! The nine release statuses, with Helm's strings.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The status of one release revision, as Helm writes it in `info.status` and the `status` label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// `unknown`: the release is in an uncertain state. Also what a record without a status reads
    /// as (Go's empty `Status`).
    #[default]
    Unknown,
    /// `deployed`: the release has been pushed to Kubernetes.
    Deployed,
    /// `uninstalled`: the release has been uninstalled (kept with `--keep-history`).
    Uninstalled,
    /// `superseded`: a newer revision replaced this one.
    Superseded,
    /// `failed`: the operation that wrote this revision failed.
    Failed,
    /// `uninstalling`: an uninstall is under way.
    Uninstalling,
    /// `pending-install`: an install is under way.
    PendingInstall,
    /// `pending-upgrade`: an upgrade is under way.
    PendingUpgrade,
    /// `pending-rollback`: a rollback is under way.
    PendingRollback,
}

impl Status {
    /// All nine statuses.
    pub const ALL: [Status; 9] = [
        Status::Unknown,
        Status::Deployed,
        Status::Uninstalled,
        Status::Superseded,
        Status::Failed,
        Status::Uninstalling,
        Status::PendingInstall,
        Status::PendingUpgrade,
        Status::PendingRollback,
    ];

    /// Helm's string for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// Whether an install, upgrade or rollback is under way (Helm's `IsPending`). Helm refuses
    /// to start another operation on a release whose latest revision is pending.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Error;

    /// Parses Helm's string; the empty string is [`Status::Unknown`], as Go's zero value.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Ok(Status::Unknown);
        }
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::InvalidStatus {
                value: s.to_owned(),
            })
    }
}

const STATUS_STRINGS: &[&str] = &[
    "unknown",
    "deployed",
    "uninstalled",
    "superseded",
    "failed",
    "uninstalling",
    "pending-install",
    "pending-upgrade",
    "pending-rollback",
];

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        if s.is_empty() {
            return Ok(Status::Unknown);
        }
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| serde::de::Error::unknown_variant(&s, STATUS_STRINGS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_strings() {
        let strings: Vec<_> = Status::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            strings,
            [
                "unknown",
                "deployed",
                "uninstalled",
                "superseded",
                "failed",
                "uninstalling",
                "pending-install",
                "pending-upgrade",
                "pending-rollback"
            ]
        );
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), s);
        }
    }

    #[test]
    fn pending() {
        let pending: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_pending()).collect();
        assert_eq!(
            pending,
            [
                Status::PendingInstall,
                Status::PendingUpgrade,
                Status::PendingRollback
            ]
        );
    }

    #[test]
    fn empty_is_unknown_and_garbage_is_an_error() {
        assert_eq!("".parse::<Status>().unwrap(), Status::Unknown);
        assert_eq!(
            serde_json::from_str::<Status>("\"\"").unwrap(),
            Status::Unknown
        );
        assert_eq!(
            serde_json::from_str::<Status>("null").unwrap(),
            Status::Unknown
        );
        let err = "DEPLOYED".parse::<Status>().unwrap_err();
        assert_eq!(err.to_string(), "unknown release status \"DEPLOYED\"");
        let err = serde_json::from_str::<Status>("\"done\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant `done`"), "{err}");
    }
}

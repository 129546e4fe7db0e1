//! The enum fields that replaced strings are a compatible wire change: bytes written by the old
//! schema (the string only) decode and mean what bytes with only the enum mean, and what a new
//! peer writes (both) still reads as the string in the old schema.

use capstan_proto::applier::v1 as pb;
use capstan_proto::compat::Error;
use pb::{Cascade, DryRunMode, ReleaseStatus, ServerSide};
use prost::Message;

/// `InstallRequest` and `UpgradeRequest` as the old schema wrote them (the fields that changed;
/// the tags of `InstallRequest`).
#[derive(Clone, PartialEq, Message)]
struct OldInstallRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "9")]
    dry_run: String,
    #[prost(string, tag = "16")]
    server_side: String,
}

/// `UpgradeRequest`'s changed fields in the old schema.
#[derive(Clone, PartialEq, Message)]
struct OldUpgradeRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "11")]
    dry_run: String,
    #[prost(string, tag = "18")]
    server_side: String,
}

/// `RollbackRequest`'s changed field in the old schema.
#[derive(Clone, PartialEq, Message)]
struct OldRollbackRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "13")]
    server_side: String,
}

/// `UninstallRequest`'s changed field in the old schema.
#[derive(Clone, PartialEq, Message)]
struct OldUninstallRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "9")]
    cascade: String,
}

/// `ListRequest`'s changed field in the old schema.
#[derive(Clone, PartialEq, Message)]
struct OldListRequest {
    #[prost(string, repeated, tag = "3")]
    states: Vec<String>,
}

/// `ReleaseInfo`'s changed field in the old schema.
#[derive(Clone, PartialEq, Message)]
struct OldReleaseInfo {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "4")]
    status: String,
}

/// A message of one schema as the other reads it.
fn reread<A: Message, B: Message + Default>(message: &A) -> B {
    B::decode(message.encode_to_vec().as_slice()).expect("the bytes decode")
}

#[test]
fn install_and_upgrade_dry_run_and_server_side_read_alike() {
    let modes = [
        ("", DryRunMode::None),
        ("client", DryRunMode::Client),
        ("server", DryRunMode::Server),
    ];
    let sides = [
        ("", ServerSide::Auto),
        ("auto", ServerSide::Auto),
        ("true", ServerSide::True),
        ("false", ServerSide::False),
    ];
    for (dry_name, dry) in modes {
        for (side_name, side) in sides {
            let old: pb::InstallRequest = reread(&OldInstallRequest {
                name: "web".into(),
                dry_run: dry_name.into(),
                server_side: side_name.into(),
            });
            let new: pb::InstallRequest = reread(&pb::InstallRequest {
                name: "web".into(),
                dry_run_mode: dry as i32,
                server_side_mode: side as i32,
                ..pb::InstallRequest::default()
            });
            assert_eq!(old.name, "web");
            for request in [&old, &new] {
                assert_eq!(request.dry_run_setting(), Ok(dry), "{request:?}");
                assert_eq!(request.server_side_setting(), Ok(side), "{request:?}");
            }

            let old: pb::UpgradeRequest = reread(&OldUpgradeRequest {
                name: "web".into(),
                dry_run: dry_name.into(),
                server_side: side_name.into(),
            });
            let new: pb::UpgradeRequest = reread(&pb::UpgradeRequest {
                name: "web".into(),
                dry_run_mode: dry as i32,
                server_side_mode: side as i32,
                ..pb::UpgradeRequest::default()
            });
            for request in [&old, &new] {
                assert_eq!(request.dry_run_setting(), Ok(dry), "{request:?}");
                assert_eq!(request.server_side_setting(), Ok(side), "{request:?}");
            }
        }
    }
}

#[test]
fn rollback_server_side_and_uninstall_cascade_read_alike() {
    for side in [ServerSide::Auto, ServerSide::True, ServerSide::False] {
        let old: pb::RollbackRequest = reread(&OldRollbackRequest {
            name: "web".into(),
            server_side: side.legacy_name().into(),
        });
        let new: pb::RollbackRequest = reread(&pb::RollbackRequest {
            server_side_mode: side as i32,
            ..pb::RollbackRequest::default()
        });
        assert_eq!(old.server_side_setting(), Ok(side));
        assert_eq!(new.server_side_setting(), Ok(side));
    }
    for (name, cascade) in [
        ("", Cascade::Background),
        ("background", Cascade::Background),
        ("foreground", Cascade::Foreground),
        ("orphan", Cascade::Orphan),
    ] {
        let old: pb::UninstallRequest = reread(&OldUninstallRequest {
            name: "web".into(),
            cascade: name.into(),
        });
        let new: pb::UninstallRequest = reread(&pb::UninstallRequest {
            cascade_mode: cascade as i32,
            ..pb::UninstallRequest::default()
        });
        assert_eq!(old.cascade_setting(), Ok(cascade));
        assert_eq!(new.cascade_setting(), Ok(cascade));
    }
}

#[test]
fn list_states_by_name_read_as_the_statuses() {
    let cases: [(&[&str], &[ReleaseStatus]); 4] = [
        (&[], &[]),
        (
            &["deployed", "failed"],
            &[ReleaseStatus::Deployed, ReleaseStatus::Failed],
        ),
        (&["pending"], &ReleaseStatus::PENDING),
        (&["all"], &ReleaseStatus::LIST_ALL),
    ];
    for (names, statuses) in cases {
        let old: pb::ListRequest = reread(&OldListRequest {
            states: names.iter().map(|s| (*s).to_owned()).collect(),
        });
        let new: pb::ListRequest = reread(&pb::ListRequest {
            statuses: statuses.iter().map(|s| *s as i32).collect(),
            ..pb::ListRequest::default()
        });
        assert_eq!(old.status_filter().as_deref(), Ok(statuses), "{names:?}");
        assert_eq!(new.status_filter().as_deref(), Ok(statuses), "{names:?}");
    }
}

#[test]
fn what_a_new_client_sends_an_old_server_reads_as_the_string() {
    let new = pb::InstallRequest {
        name: "web".into(),
        dry_run: DryRunMode::Server.legacy_name().into(),
        dry_run_mode: DryRunMode::Server as i32,
        server_side: ServerSide::False.legacy_name().into(),
        server_side_mode: ServerSide::False as i32,
        ..pb::InstallRequest::default()
    };
    let old: OldInstallRequest = reread(&new);
    assert_eq!(
        (old.dry_run.as_str(), old.server_side.as_str()),
        ("server", "false")
    );
    let old: OldUninstallRequest = reread(&pb::UninstallRequest {
        cascade: Cascade::Orphan.legacy_name().into(),
        cascade_mode: Cascade::Orphan as i32,
        ..pb::UninstallRequest::default()
    });
    assert_eq!(old.cascade, "orphan");
}

#[test]
fn release_status_reads_from_old_and_new_servers_alike() {
    for status in ReleaseStatus::HELM {
        // An old server wrote the string only.
        let from_old: pb::ReleaseInfo = reread(&OldReleaseInfo {
            name: "web".into(),
            status: status.helm_name().into(),
        });
        assert_eq!(from_old.status_value(), status);
        assert_eq!(from_old.status_name(), status.helm_name());
        // A new server writes both; an old client reads the string.
        let mut info = pb::ReleaseInfo {
            name: "web".into(),
            ..pb::ReleaseInfo::default()
        };
        info.set_status(status);
        let from_new: pb::ReleaseInfo = reread(&info);
        assert_eq!(from_new.status_value(), status);
        assert_eq!(from_new.status_name(), status.helm_name());
        let old_client: OldReleaseInfo = reread(&info);
        assert_eq!(old_client.status, status.helm_name());
        // Only the enum: still understood.
        let enum_only: pb::ReleaseInfo = reread(&pb::ReleaseInfo {
            release_status: status as i32,
            ..pb::ReleaseInfo::default()
        });
        assert_eq!(enum_only.status_value(), status);
        assert_eq!(enum_only.status_name(), status.helm_name());
    }
}

#[test]
fn the_enum_wins_and_unknown_values_are_errors() {
    let both = pb::InstallRequest {
        dry_run: "client".into(),
        dry_run_mode: DryRunMode::Server as i32,
        ..pb::InstallRequest::default()
    };
    assert_eq!(both.dry_run_setting(), Ok(DryRunMode::Server));

    let old: pb::UninstallRequest = reread(&OldUninstallRequest {
        name: "web".into(),
        cascade: "sideways".into(),
    });
    assert_eq!(
        old.cascade_setting(),
        Err(Error::UnknownName {
            flag: "cascade",
            value: "sideways".into(),
            expected: "background, foreground or orphan",
        })
    );

    // A newer client's value this schema does not know.
    let newer = pb::UpgradeRequest {
        server_side_mode: 42,
        ..pb::UpgradeRequest::default()
    };
    let error = newer.server_side_setting().unwrap_err();
    assert!(
        matches!(error, Error::UnknownNumber { number: 42, .. }),
        "{error}"
    );
    let newer = pb::ListRequest {
        statuses: vec![ReleaseStatus::Deployed as i32, 0],
        ..pb::ListRequest::default()
    };
    assert!(newer.status_filter().is_err());
}

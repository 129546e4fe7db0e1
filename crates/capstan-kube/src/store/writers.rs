//! Who wrote a release record: capstan writes its records under one field manager, so a listing
//! can tell a payload only capstan wrote (whose summary annotations it trusts) from one another
//! writer touched (`kubectl edit`, a backup tool, a hand-made patch), which it decodes to see
//! whether it can still be read.

use kube::api::PostParams;

/// The field manager of every record, part and metadata write capstan's store makes.
pub(super) const RECORD_MANAGER: &str = "capstan";

/// The parameters of a record write: capstan's field manager, so the object's managed fields
/// say who wrote its payload.
pub(super) fn record_write() -> PostParams {
    PostParams {
        field_manager: Some(RECORD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}

/// Whether `manager` is the only writer of an object's payload (`data`), given its managed
/// fields as (manager, raw `fieldsV1` JSON) pairs: false when another writer owns any field of
/// `data`, or when no entry records the payload at all (managed fields stripped, or written
/// before capstan named its writes).
pub(super) fn payload_written_by_only(
    manager: &str,
    entries: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<[u8]>)>,
) -> bool {
    let mut written_by_manager = false;
    for (writer, fields) in entries {
        if !touches_data(fields.as_ref()) {
            continue;
        }
        if writer.as_ref() != manager {
            return false;
        }
        written_by_manager = true;
    }
    written_by_manager
}

/// Whether raw `fieldsV1` JSON owns anything under `data` (or `binaryData`).
fn touches_data(fields: &[u8]) -> bool {
    let contains = |needle: &[u8]| fields.windows(needle.len()).any(|w| w == needle);
    contains(br#""f:data""#) || contains(br#""f:binaryData""#)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &[u8] = br#"{"f:data":{".":{},"f:release":{}},"f:metadata":{"f:labels":{}}}"#;
    const LABELS: &[u8] = br#"{"f:metadata":{"f:labels":{"f:team":{}}}}"#;

    #[test]
    fn a_payload_only_capstan_wrote_is_trusted() {
        assert!(payload_written_by_only("capstan", [("capstan", DATA)]));
        // Another writer that only labelled the object does not touch the payload.
        assert!(payload_written_by_only(
            "capstan",
            [("capstan", DATA), ("kubectl-label", LABELS)]
        ));
    }

    #[test]
    fn a_payload_another_writer_touched_is_not() {
        assert!(!payload_written_by_only(
            "capstan",
            [("capstan", DATA), ("kubectl-edit", DATA)]
        ));
        assert!(!payload_written_by_only("capstan", [("unknown", DATA)]));
        // No entry at all: managed fields stripped, or an object from before named writes.
        assert!(!payload_written_by_only(
            "capstan",
            [] as [(&str, &[u8]); 0]
        ));
        assert!(!payload_written_by_only("capstan", [("capstan", LABELS)]));
    }
}

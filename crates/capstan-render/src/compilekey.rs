//! The content key of a chart's compilation ([`compile_key`]): the digest of the files that
//! compiling reads, so a compile cache entry is found again for the same templates whatever the
//! chart's values, CRDs or other files, and never for different ones.

use capstan_chart::ChartFile;
use sha2::{Digest as _, Sha256};

/// Whether compiling can read `name`: every `Chart.yaml` and `requirements.yaml` (names,
/// aliases, dependencies, the template syntax annotation), every file under a `templates/`
/// directory of the chart or a subchart, and every subchart archive (which holds both).
fn read_by_compile(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base == "Chart.yaml"
        || base == "requirements.yaml"
        || name.starts_with("templates/")
        || name.contains("/templates/")
        || name.ends_with(".tgz")
        || name.ends_with(".tar.gz")
}

/// The sha256 (64 hex digits) of the files of a chart directory or archive (chart-relative
/// paths, as [`capstan_chart::Chart::dir_files`] gives them) that compiling the chart reads: of
/// their paths, lengths and each one's own sha256, in path order. Hashing each file apart lets
/// a large chart's files be hashed on two threads ([`PARALLEL_HASH_FROM`]); the key is the same
/// whichever hashes them.
pub fn compile_key(files: &[ChartFile]) -> String {
    let mut read: Vec<&ChartFile> = files.iter().filter(|f| read_by_compile(&f.name)).collect();
    read.sort_by(|a, b| a.name.cmp(&b.name));
    let digests = file_digests(&read);
    let mut hasher = Sha256::new();
    hasher.update(b"capstan compile inputs v2\0");
    for (file, digest) in read.iter().zip(&digests) {
        hasher.update((file.name.len() as u64).to_be_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update((file.data.len() as u64).to_be_bytes());
        hasher.update(digest);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Charts whose files to hash hold at least this many bytes are hashed on two threads.
const PARALLEL_HASH_FROM: u64 = 1 << 20;

/// The sha256 of each of `files`, in order: the first half of the bytes on this thread and
/// the rest on a second one when there are enough of them.
fn file_digests(files: &[&ChartFile]) -> Vec<[u8; 32]> {
    let digest = |f: &&ChartFile| -> [u8; 32] { Sha256::digest(&f.data).into() };
    capstan_chart::map_in_halves(
        files,
        |f| f.data.len() as u64,
        PARALLEL_HASH_FROM,
        "capstan-hash",
        digest,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> ChartFile {
        ChartFile {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn only_what_compiling_reads_changes_the_key() {
        let base = vec![
            file("Chart.yaml", "name: a"),
            file("values.yaml", "x: 1"),
            file("templates/a.yaml", "a"),
            file("crds/c.yaml", "c"),
            file("charts/db/Chart.yaml", "name: db"),
            file("charts/db/templates/s.yaml", "s"),
            file("charts/cache-1.0.0.tgz", "archive"),
            file("README.md", "readme"),
        ];
        let key = compile_key(&base);
        let with = |i: usize, data: &str| {
            let mut files = base.clone();
            files[i].data = data.into();
            compile_key(&files)
        };
        for unread in [1, 3, 7] {
            assert_eq!(with(unread, "changed"), key, "{}", base[unread].name);
        }
        for read in [0, 2, 4, 5, 6] {
            assert_ne!(with(read, "changed"), key, "{}", base[read].name);
        }
        let mut added = base.clone();
        added.push(file("templates/b.yaml", ""));
        assert_ne!(compile_key(&added), key);
        let mut reversed = base.clone();
        reversed.reverse();
        assert_eq!(compile_key(&reversed), key);
    }

    /// A chart large enough to be hashed on two threads has the key one thread would give it.
    #[test]
    fn two_threads_hash_to_the_same_key() {
        let big = "x".repeat((PARALLEL_HASH_FROM / 3) as usize);
        let files: Vec<ChartFile> = (0..5)
            .map(|i| file(&format!("templates/t{i}.yaml"), &format!("{i}{big}")))
            .chain([file("Chart.yaml", "name: a")])
            .collect();
        let mut read: Vec<&ChartFile> = files.iter().collect();
        read.sort_by(|a, b| a.name.cmp(&b.name));
        let one: Vec<[u8; 32]> = read
            .iter()
            .map(|f| Sha256::digest(&f.data).into())
            .collect();
        assert_eq!(file_digests(&read), one);
        let mut changed = files.clone();
        changed[4].data = format!("4{big}y").into();
        assert_ne!(compile_key(&changed), compile_key(&files));
    }
}

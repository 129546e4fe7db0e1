//! Fuzzes chart archive loading (`capstan_chart::Chart::load_archive`): gzip, tar, paths,
//! Chart.yaml, values and `.helmignore` parsing of hostile bytes, under small limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = capstan_chart::Limits {
        max_archive_bytes: 1 << 20,
        max_decompressed_bytes: 4 << 20,
        max_total_bytes: 2 << 20,
        max_file_bytes: 1 << 20,
        max_files: 256,
        max_depth: 4,
    };
    let _ = capstan_chart::Chart::load_archive(data, &limits);
});

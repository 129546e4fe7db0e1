//! Fuzzes the `--set` family of parsers (`capstan_chart::strvals`): any input either parses or
//! is an error; never a panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let mut dest = serde_json::Map::new();
    let _ = capstan_chart::strvals::parse_into(expr, &mut dest);
    let _ = capstan_chart::strvals::parse_into_string(expr, &mut serde_json::Map::new());
    let _ = capstan_chart::strvals::parse_json(expr, &mut serde_json::Map::new());
    let _ = capstan_chart::strvals::parse_literal(expr, &mut serde_json::Map::new());
    let mut read = |name: &str| -> Result<String, String> { Ok(name.to_string()) };
    let _ = capstan_chart::strvals::parse_into_file(expr, &mut serde_json::Map::new(), &mut read);
    // What parsed must also serialise (values are sent on as JSON and YAML).
    let _ = serde_json::to_string(&dest);
});

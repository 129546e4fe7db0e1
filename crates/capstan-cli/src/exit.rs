//! How `capstan` reports errors and which exit code each kind gets.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `diff --detailed-exitcode`: no changes) |
//! | 1 | an error: bad input, a failed operation, an unreachable service |
//! | 2 | `diff --detailed-exitcode` found changes |

/// Any error.
pub const ERROR: u8 = 1;
/// `diff --detailed-exitcode` found changes.
pub const DIFF_FOUND: u8 = 2;

/// Prints the error in one clear line, then its causes (all of them with `--debug`).
pub fn report(error: &anyhow::Error, debug: bool) {
    eprintln!("Error: {error}");
    let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
    for cause in &causes {
        eprintln!("  caused by: {cause}");
    }
    if debug {
        eprintln!("{error:?}");
    }
}

/// The exit code for an error.
pub fn code_of(_error: &anyhow::Error) -> u8 {
    ERROR
}

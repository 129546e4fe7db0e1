//! Standard output and standard error that never panic: when the reader goes away early
//! (`capstan status R | head -1`) or the terminal is gone, what is left to write is dropped and
//! the command ends quietly, as Helm does (no panic, no backtrace).
//!
//! Everything the CLI prints goes through [`out!`], [`outln!`], [`eout!`] and [`eoutln!`]
//! (never `print!` and friends, which panic when a write fails). The first failed write to a
//! stream closes that stream for the rest of the process; nothing else changes, so an operation
//! whose progress nobody reads any more still runs to its end. [`finish`] then decides how the
//! process ends: a reader that went away from standard output ends it with
//! [`crate::exit::OUTPUT_CLOSED`] (141, what a shell reports for Helm killed by SIGPIPE there),
//! any other failure to write standard output (a full disk) is an error.

use std::fmt;
use std::io::{self, Write as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why standard output stopped taking writes, once it has.
static STDOUT_FAILED: OnceLock<io::Error> = OnceLock::new();

/// Whether standard error has stopped taking writes.
static STDERR_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output unless it failed before; a failure is kept for [`finish`].
pub fn write_stdout(args: fmt::Arguments<'_>) {
    if STDOUT_FAILED.get().is_some() {
        return;
    }
    if let Err(error) = io::stdout().lock().write_fmt(args) {
        let _ = STDOUT_FAILED.set(error);
    }
}

/// Writes to standard error unless it failed before (then there is nowhere to say so).
pub fn write_stderr(args: fmt::Arguments<'_>) {
    if STDERR_FAILED.load(Ordering::Relaxed) {
        return;
    }
    if io::stderr().lock().write_fmt(args).is_err() {
        STDERR_FAILED.store(true, Ordering::Relaxed);
    }
}

/// How standard output ended, once everything is written.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Everything written.
    Written,
    /// The reader went away before the end (a broken pipe).
    ReaderGone,
    /// Writing failed otherwise; the message says why.
    Failed(String),
}

/// Flushes standard output and says how it ended.
pub fn finish() -> Ending {
    if STDOUT_FAILED.get().is_none()
        && let Err(error) = io::stdout().lock().flush()
    {
        let _ = STDOUT_FAILED.set(error);
    }
    match STDOUT_FAILED.get() {
        None => Ending::Written,
        Some(error) if error.kind() == io::ErrorKind::BrokenPipe => Ending::ReaderGone,
        Some(error) => Ending::Failed(error.to_string()),
    }
}

/// `print!` that never panics (see the module docs).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that never panics (see the module docs).
macro_rules! outln {
    () => {
        $crate::console::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics (see the module docs).
macro_rules! eout {
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see the module docs).
macro_rules! eoutln {
    () => {
        $crate::console::write_stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {eout, eoutln, out, outln};

#[cfg(test)]
mod tests {
    /// Tidy: nothing in the CLI prints but through this module (a `println!` would panic on a
    /// closed pipe again).
    #[test]
    fn nothing_prints_around_this_module() {
        let mut offenders = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.ends_with("console.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                for (number, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if code.starts_with("//") {
                        continue;
                    }
                    if ["print!(", "println!(", "eprint!(", "eprintln!(", "dbg!("]
                        .iter()
                        .any(|p| code.contains(p))
                    {
                        offenders.push(format!("{}:{}: {code}", path.display(), number + 1));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "print through crate::console:\n{}",
            offenders.join("\n")
        );
    }
}

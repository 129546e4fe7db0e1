//! Go's text/template language, parsed and translated into minijinja source.
//!
//! Helm charts are written in Go's `text/template`; capstan runs them on minijinja. This crate
//! is the language half of that: [`parse`] reads a template file into a [`Tree`] (its body and
//! the `define`/`block` templates it declares, with source positions), and [`translate`] turns
//! a body into minijinja source plus a map from each fallible expression back to the Go node it
//! came from ([`Translation::spans`]). The runtime that gives the translation Go's semantics
//! (field access, `range`, printing, the function library) lives in `capstan-sprig` and
//! `capstan-render`; the contract between the two is documented in [`translate`]'s module.
//!
//! # Invariants
//! - Pure: no I/O, no minijinja dependency; the output is text.
//! - Every action of text/template is either translated or rejected with a syntax error
//!   naming the byte position in the Go source; literal text reaches the output unchanged,
//!   whatever minijinja delimiters it contains.

pub mod ast;
mod lex;
mod parse;
mod translate;

pub use ast::Tree;
pub use parse::{parse, parse_number, pipe_text};
pub use translate::{Span, Translation, quote, translate};

/// Errors of parsing and translating a Go template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The source is not a valid template.
    #[error("{message}")]
    Syntax {
        /// Byte offset in the source.
        pos: usize,
        /// What is wrong, worded as Go's parser words it.
        message: String,
    },
}

impl Error {
    pub(crate) fn syntax(pos: usize, message: impl Into<String>) -> Error {
        Error::Syntax {
            pos,
            message: message.into(),
        }
    }

    /// Byte offset in the source.
    pub fn pos(&self) -> usize {
        match self {
            Error::Syntax { pos, .. } => *pos,
        }
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line and column (in characters) of byte offset `pos` in `src`.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    (line, col)
}

//! Go template errors in Helm's words, located in the Go source (never the translation).

use capstan_sprig::{ArgError, ArityError};
use minijinja::{Error, ErrorKind};

use super::Compiled;
use crate::objects::{FailMarker, LimitMarker};
use crate::{Error as RenderError, TemplateErrorKind};

/// How a runtime error is reported.
enum Class {
    /// A function returned an error: `error calling NAME: ...` at the command.
    Call,
    /// Wrong argument count: at the function's name, as is.
    Arity,
    /// An argument of the wrong type: at that argument.
    Arg(usize),
    /// An error of the executor itself (not of a call): at the node, as is.
    Exec,
}

/// An error of a `{{ template }}` call: Go passes it up unchanged (no `executing ... at` of
/// the caller); it keeps the original as its source, so markers (fail, limit) stay visible.
#[derive(Debug)]
pub(crate) struct PassThrough(pub Error);

impl std::fmt::Display for PassThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("error of a template call")
    }
}

impl std::error::Error for PassThrough {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The error of a `{{ template }}` call as its caller raises it (see [`PassThrough`]).
pub(crate) fn pass_through(e: Error) -> Error {
    if has::<LimitMarker>(&e) || e.kind() == ErrorKind::OutOfFuel {
        return e;
    }
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    Error::new(ErrorKind::InvalidOperation, detail).with_source(PassThrough(e))
}

/// Marks an error raised by the executor around a call rather than by the function called
/// (`x is not a method but has arguments`): Go reports it at the node, without `error calling`.
#[derive(Debug)]
pub(crate) struct ExecMarker;

impl std::fmt::Display for ExecMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("executor error")
    }
}

impl std::error::Error for ExecMarker {}

/// An executor error (see [`ExecMarker`]).
pub(crate) fn exec_error(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg).with_source(ExecMarker)
}

/// Go's text for a literal argument that does not fit the parameter: a constant is converted
/// by the parameter's kind (`expected string; found 1`), not checked as a value.
fn literal_mismatch(node: &str, detail: &str) -> Option<String> {
    let first = node.chars().next()?;
    let second_digit = node.chars().nth(1).is_some_and(|c| c.is_ascii_digit());
    let literal = matches!(first, '"' | '`' | '\'' | '0'..='9')
        || (matches!(first, '-' | '+' | '.') && second_digit)
        || node == "true"
        || node == "false";
    if !literal {
        return None;
    }
    let rest = detail.strip_prefix("wrong type for value; expected ")?;
    let (want, _) = rest.split_once("; got ")?;
    let kind = match want {
        "string" => "string",
        "bool" => "bool",
        "float64" | "float32" => "float",
        "int" | "int64" | "int32" | "int16" | "int8" | "uint" | "uint64" | "uint32" | "uint8" => {
            "integer"
        }
        // A constant for a parameter of another type (`*semver.Version`).
        _ => return Some(format!("can't handle {node} for arg of type {want}")),
    };
    Some(format!("expected {kind}; found {node}"))
}

fn class(e: &Error) -> Class {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.is::<ArityError>() {
            return Class::Arity;
        }
        if let Some(a) = s.downcast_ref::<ArgError>() {
            return Class::Arg(a.0);
        }
        if s.is::<ExecMarker>() {
            return Class::Exec;
        }
        cur = s.source();
    }
    Class::Call
}

fn has<T: std::error::Error + 'static>(e: &Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.is::<T>() {
            return true;
        }
        cur = s.source();
    }
    false
}

/// Go's `file:line:col` of byte `pos` (the column is the 0-based byte offset in the line).
fn location(file: &str, src: &str, pos: usize) -> String {
    let pos = pos.min(src.len());
    let text = &src[..pos];
    let line = 1 + text.matches('\n').count();
    let col = match text.rfind('\n') {
        Some(i) => pos - (i + 1),
        None => pos,
    };
    format!("{file}:{line}:{col}")
}

/// The Go text of an error raised while executing `compiled`.
fn go_text(compiled: &Compiled, e: &Error) -> String {
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if has::<PassThrough>(e) {
        return detail;
    }
    let span = e
        .range()
        .and_then(|r| compiled.spans.span_at(r.start, r.end));
    let Some(span) = span else {
        return format!("template: {}: {detail}", compiled.file);
    };
    let (pos, node, msg) = match (&span.function, class(e)) {
        (Some(f), Class::Call) => {
            // `call` names its callee by the argument's node text.
            let detail = match (f.as_str(), span.args.first()) {
                ("call", Some((_, callee))) if detail.starts_with("non-function ") => {
                    match detail.rsplit_once(" of type ") {
                        Some((_, ty)) => format!("non-function {callee} of type {ty}"),
                        None => detail,
                    }
                }
                _ => detail,
            };
            (
                span.pos,
                span.text.clone(),
                format!("error calling {f}: {detail}"),
            )
        }
        (Some(f), Class::Arity) => (span.pos, f.clone(), detail),
        (Some(_), Class::Arg(i)) => match span.args.get(i) {
            Some((p, t)) => (
                *p,
                t.clone(),
                literal_mismatch(t, &detail).unwrap_or(detail),
            ),
            None => (span.pos, span.text.clone(), detail),
        },
        (Some(_), Class::Exec) => (span.pos, span.text.clone(), detail),
        (None, _) => (span.pos, span.text.clone(), detail),
    };
    format!(
        "template: {}: executing {:?} at <{node}>: {msg}",
        location(&compiled.file, compiled.go_source.text(), pos),
        compiled.exec_name
    )
}

/// An error of a nested render (`include`, `template`, `tpl`), as the error its caller gets:
/// Go's text, the markers (fail, limit) kept. Limits pass through unchanged.
pub(crate) fn nested(compiled: &Compiled, e: &Error) -> Error {
    if has::<LimitMarker>(e) || e.kind() == ErrorKind::OutOfFuel {
        return limit_passthrough(e);
    }
    let text = go_text(compiled, e);
    let out = Error::new(ErrorKind::InvalidOperation, text);
    if has::<FailMarker>(e) {
        out.with_source(FailMarker)
    } else {
        out
    }
}

fn limit_passthrough(e: &Error) -> Error {
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if e.kind() == ErrorKind::OutOfFuel {
        return crate::objects::limit_error(
            "template ran out of fuel (endless or too long loop?)".into(),
        );
    }
    crate::objects::limit_error(detail)
}

/// `prefix: <error>`, markers kept.
pub(crate) fn rewrap(prefix: String, e: Error) -> Error {
    if has::<LimitMarker>(&e) {
        return e;
    }
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    let out = Error::new(ErrorKind::InvalidOperation, format!("{prefix}: {detail}"));
    if has::<FailMarker>(&e) {
        out.with_source(FailMarker)
    } else {
        out
    }
}

/// A top-level template's error as the render's error, in Helm's words: `fail` and `required`
/// become `execution error at (<file:line:col>): <message>`.
pub(crate) fn render_error(compiled: &Compiled, e: &Error) -> RenderError {
    if has::<LimitMarker>(e) || e.kind() == ErrorKind::OutOfFuel {
        let limited = limit_passthrough(e);
        return RenderError::Go {
            kind: TemplateErrorKind::Limit,
            file: compiled.file.clone(),
            message: format!(
                "template: {}: {}",
                compiled.file,
                limited.detail().unwrap_or_default()
            ),
        };
    }
    let text = go_text(compiled, e);
    if let (Some(start), Some(end)) = (text.find("HELM_ERR_START"), text.rfind("HELM_ERR_END"))
        && start < end
    {
        let msg = &text[start + "HELM_ERR_START".len()..end];
        let location = text.split(": ").nth(1).unwrap_or_default();
        return RenderError::Go {
            kind: TemplateErrorKind::Fail,
            file: compiled.file.clone(),
            message: format!("execution error at ({location}): {msg}"),
        };
    }
    RenderError::Go {
        kind: TemplateErrorKind::Runtime,
        file: compiled.file.clone(),
        message: text,
    }
}

/// A syntax error of a Go template, as Helm reports it: Helm keeps only the text after the
/// last `: ` of Go's message (`illegal number syntax: "-"` reads `"-"`).
pub(crate) fn syntax_error(file: &str, src: &str, e: &capstan_gotmpl::Error) -> RenderError {
    let message = e.to_string();
    let last = message.rsplit(": ").next().unwrap_or_default();
    RenderError::Go {
        kind: TemplateErrorKind::Syntax,
        file: file.to_string(),
        message: format!("parse error at ({file}:{}): {last}", syntax_line(src, e)),
    }
}

/// The line Go's parser names for a syntax error.
fn syntax_line(src: &str, e: &capstan_gotmpl::Error) -> usize {
    let pos = e.pos().min(src.len());
    1 + src[..pos].matches('\n').count()
}

/// A syntax error of a `tpl` text as Go words it: `template: gotpl:LINE: message`.
pub(crate) fn tpl_syntax_error(src: &str, e: &capstan_gotmpl::Error) -> String {
    format!("template: gotpl:{}: {e}", syntax_line(src, e))
}

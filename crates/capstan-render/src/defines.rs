//! Named templates: `{% define "name" %}...{% enddefine %}` blocks, cut out of template sources.
//!
//! minijinja has no `define`, so blocks are extracted before compilation: each body becomes a
//! template of its own, registered under the define's name (what `include` renders), and the
//! block is replaced in its file by a comment with the same number of newlines, so every line
//! number still matches the file. The body is prefixed with a comment spanning the lines before
//! it, so errors inside a define report the line of the file it was written in. Whitespace
//! control follows Jinja: `-%}` strips what follows the tag, `{%-` what precedes it, and a
//! newline right after `{% define ... %}` is dropped (trim_blocks).

use std::sync::LazyLock;

use regex::Regex;

static DEFINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\{%([-+]?)\s*define\s+(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*([-+]?)%\}"#)
        .unwrap_or_else(|e| panic!("define regex: {e}"))
});
static ENDDEFINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%([-+]?)\s*enddefine\s*([-+]?)%\}").unwrap_or_else(|e| panic!("{e}"))
});

/// One named template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Define {
    /// The name given to `include`.
    pub name: String,
    /// The body, padded so that its line numbers are those of the file.
    pub source: String,
    /// 1-based line of the body's first character in the file.
    pub line: usize,
    /// 1-based column of the body's first character in the file.
    pub column: usize,
    /// How many columns the padding adds on the body's first line.
    pub pad_columns: usize,
}

/// A define block that is not closed, or other structural problem, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefineError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn blank_comment(text: &str) -> String {
    let newlines = text.matches('\n').count();
    format!("{{#{}#}}", "\n".repeat(newlines))
}

/// Splits `src` into the file's remaining source and its define blocks.
pub(crate) fn extract(src: &str) -> Result<(String, Vec<Define>), DefineError> {
    let mut out = String::with_capacity(src.len());
    let mut defines = Vec::new();
    let mut pos = 0;
    while let Some(open) = DEFINE.captures_at(src, pos) {
        let whole = open.get(0).map_or(0..0, |m| m.range());
        let name = open
            .get(2)
            .map(|m| m.as_str().replace("\\\"", "\"").replace("\\\\", "\\"))
            .or_else(|| open.get(3).map(|m| m.as_str().to_string()))
            .unwrap_or_default();
        let trim_after = open.get(4).is_some_and(|m| m.as_str() == "-");
        let Some(close) = ENDDEFINE.captures_at(src, whole.end) else {
            let (line, column) = line_col(src, whole.start);
            return Err(DefineError {
                line,
                column,
                message: format!("define {name:?} is not closed with {{% enddefine %}}"),
            });
        };
        let close_range = close.get(0).map_or(0..0, |m| m.range());
        if let Some(nested) = DEFINE.find_at(src, whole.end)
            && nested.start() < close_range.start
        {
            let (line, column) = line_col(src, nested.start());
            return Err(DefineError {
                line,
                column,
                message: "define blocks cannot be nested".into(),
            });
        }
        let trim_before_close = close.get(1).is_some_and(|m| m.as_str() == "-");

        let mut body_start = whole.end;
        let mut body_end = close_range.start;
        let body = &src[body_start..body_end];
        if trim_after {
            body_start += body.len() - body.trim_start().len();
        } else if body.starts_with("\r\n") {
            body_start += 2;
        } else if body.starts_with('\n') {
            body_start += 1;
        }
        if body_start > body_end {
            body_start = body_end;
        }
        let body = &src[body_start..body_end];
        if trim_before_close {
            body_end = body_start + body.trim_end().len();
        } else {
            // lstrip_blocks: indentation before the closing tag on its own line goes.
            let trimmed = body.trim_end_matches([' ', '\t']);
            if trimmed.is_empty() || trimmed.ends_with('\n') {
                body_end = body_start + trimmed.len();
            }
        }
        let (line, column) = line_col(src, body_start);
        let pad = format!("{{#{}#}}", "\n".repeat(line - 1));
        let pad_columns = pad.rsplit('\n').next().map_or(0, str::len);
        defines.push(Define {
            name,
            source: format!("{pad}{}", &src[body_start..body_end]),
            line,
            column,
            pad_columns,
        });

        out.push_str(&src[pos..whole.start]);
        out.push_str(&blank_comment(&src[whole.start..close_range.end]));
        pos = close_range.end;
    }
    out.push_str(&src[pos..]);
    Ok((out, defines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_bodies_and_keeps_line_numbers() {
        let src = "a\n{% define \"x.labels\" %}\napp: {{ name }}\n{% enddefine %}\nb: 1\n{%- define 'y' -%}\n  body  {%- enddefine %}\n";
        let (rest, defs) = extract(src).unwrap();
        assert_eq!(rest.matches('\n').count(), src.matches('\n').count());
        assert!(rest.starts_with("a\n{#"));
        assert!(rest.contains("#}\nb: 1\n"));
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0].name, "x.labels");
        assert_eq!(defs[0].line, 3);
        assert_eq!(defs[0].column, 1);
        assert_eq!(defs[0].source, "{#\n\n#}app: {{ name }}\n");
        assert_eq!(defs[1].name, "y");
        assert_eq!(defs[1].source, "{#\n\n\n\n\n\n#}body");
        assert_eq!((defs[1].line, defs[1].column), (7, 3));
    }

    #[test]
    fn unclosed_and_nested_defines_are_errors() {
        let e = extract("x\n{% define \"a\" %}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not closed"));
        let e = extract("{% define \"a\" %}{% define \"b\" %}{% enddefine %}{% enddefine %}")
            .unwrap_err();
        assert!(e.message.contains("nested"), "{e:?}");
    }
}

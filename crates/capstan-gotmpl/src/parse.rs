//! Parsing the text and actions of a Go template into a [`Tree`].

use crate::ast::{
    Branch, Command, Define, List, Node, Number, Operand, OperandKind, Pipe, Pos, Tree, Variable,
};
use crate::lex::{Item, Tok, Token, items};
use crate::{Error, Result};

/// Parses a whole template file.
pub fn parse(src: &str) -> Result<Tree> {
    let items = items(src)?;
    let mut p = Parser {
        src,
        items,
        at: 0,
        defines: Vec::new(),
        range_depth: 0,
    };
    let (root, end) = p.list(true)?;
    match end {
        End::Eof => {}
        End::End(pos) => return Err(Error::syntax(pos, "unexpected {{end}}")),
        End::Else(pos, _) => return Err(Error::syntax(pos, "unexpected {{else}}")),
    }
    Ok(Tree {
        root,
        defines: p.defines,
    })
}

/// What ended a list.
#[allow(clippy::enum_variant_names)]
enum End {
    Eof,
    End(Pos),
    /// `{{else}}` and the tokens after `else` (`if ...` / `with ...`), if any.
    Else(Pos, Vec<Token>),
}

struct Parser<'a> {
    src: &'a str,
    items: Vec<Item>,
    at: usize,
    defines: Vec<Define>,
    range_depth: usize,
}

impl Parser<'_> {
    fn list(&mut self, top: bool) -> Result<(List, End)> {
        let mut list = Vec::new();
        while self.at < self.items.len() {
            let item = self.items[self.at].clone();
            self.at += 1;
            let (tokens, pos) = match item {
                Item::Text(t) => {
                    list.push(Node::Text(t));
                    continue;
                }
                Item::Action { tokens, pos, .. } => (tokens, pos),
            };
            let Some(first) = tokens.first() else {
                return Err(Error::syntax(pos, "missing value for command"));
            };
            let keyword = match &first.tok {
                Tok::Ident(k) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" => {
                    self.expect_alone(&tokens, "end")?;
                    return Ok((list, End::End(pos)));
                }
                "else" => return Ok((list, End::Else(pos, tokens[1..].to_vec()))),
                "if" | "with" | "range" => {
                    let node = self.branch(keyword, pos, &tokens[1..])?;
                    list.push(node);
                }
                "define" => {
                    if !top {
                        return Err(Error::syntax(pos, "unexpected <define> in command"));
                    }
                    let name = self.template_name(&tokens[1..], pos, "define")?;
                    if tokens.len() > 2 {
                        return Err(Error::syntax(
                            tokens[2].pos,
                            "unexpected token in define clause",
                        ));
                    }
                    let (body, end) = self.list(false)?;
                    if !matches!(end, End::End(_)) {
                        return Err(self.eof());
                    }
                    self.defines.push(Define {
                        name,
                        pos,
                        list: body,
                    });
                }
                "block" => {
                    let name = self.template_name(&tokens[1..], pos, "block")?;
                    let pipe = Some(self.pipe(&tokens[2..], pos, "block clause")?);
                    let (body, end) = self.list(false)?;
                    if !matches!(end, End::End(_)) {
                        return Err(self.eof());
                    }
                    self.defines.push(Define {
                        name: name.clone(),
                        pos,
                        list: body,
                    });
                    list.push(Node::Template { pos, name, pipe });
                }
                "template" => {
                    let name = self.template_name(&tokens[1..], pos, "template")?;
                    let pipe = if tokens.len() > 2 {
                        Some(self.pipe(&tokens[2..], pos, "template clause")?)
                    } else {
                        None
                    };
                    // Go places the node at the name.
                    list.push(Node::Template {
                        pos: tokens[1].pos,
                        name,
                        pipe,
                    });
                }
                "break" | "continue" => {
                    self.expect_alone(&tokens, keyword)?;
                    if self.range_depth == 0 {
                        return Err(Error::syntax(
                            pos,
                            format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                        ));
                    }
                    list.push(if keyword == "break" {
                        Node::Break(pos)
                    } else {
                        Node::Continue(pos)
                    });
                }
                _ => {
                    let pipe = self.pipe(&tokens, pos, "command")?;
                    list.push(Node::Action(pipe));
                }
            }
        }
        Ok((list, End::Eof))
    }

    /// `if`, `with` or `range` from the tokens after the keyword, through its `{{end}}`.
    fn branch(&mut self, keyword: &str, pos: Pos, tokens: &[Token]) -> Result<Node> {
        let is_range = keyword == "range";
        let pipe = self.pipe(tokens, pos, keyword)?;
        if is_range {
            self.range_depth += 1;
        }
        let body = self.list(false);
        if is_range {
            self.range_depth -= 1;
        }
        let (list, end) = body?;
        let otherwise = match end {
            End::Eof => return Err(self.eof()),
            End::End(_) => None,
            End::Else(_, rest) if rest.is_empty() => {
                let (other, end) = self.list(false)?;
                match end {
                    End::End(_) => Some(other),
                    End::Else(p, _) => {
                        return Err(Error::syntax(p, "expected end; found {{else}}"));
                    }
                    End::Eof => return Err(self.eof()),
                }
            }
            End::Else(else_pos, rest) => {
                // `else if` / `else with`: a nested branch that shares this one's `{{end}}`.
                // Go leaves an `if` / `with` after `else` pending; only the branch's own keyword
                // continues it, any other is an unexpected token of the body.
                let chained = match &rest[0].tok {
                    Tok::Ident(k) if k == keyword && k != "range" => k.clone(),
                    Tok::Ident(k) if k == "if" || k == "with" => {
                        return Err(Error::syntax(
                            rest[0].pos,
                            format!("unexpected <{k}> in input"),
                        ));
                    }
                    _ => {
                        return Err(Error::syntax(
                            rest[0].pos,
                            format!("unexpected {} in else", self.show(&rest[0])),
                        ));
                    }
                };
                Some(vec![self.branch(&chained, else_pos, &rest[1..])?])
            }
        };
        let branch = Branch {
            pos,
            pipe,
            list,
            otherwise,
        };
        Ok(match keyword {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    /// A pipeline from `tokens`, with its declaration if any.
    fn pipe(&self, tokens: &[Token], pos: Pos, context: &str) -> Result<Pipe> {
        let is_range = context == "range";
        let mut decl = Vec::new();
        let mut is_assign = false;
        let mut rest = tokens;
        let var = |t: &Token| match &t.tok {
            Tok::Var(v) => Some(Variable {
                pos: t.pos,
                name: v.clone(),
            }),
            _ => None,
        };
        if let (Some(v), Some(op)) = (rest.first().and_then(var), rest.get(1)) {
            match op.tok {
                Tok::Declare | Tok::Assign => {
                    is_assign = op.tok == Tok::Assign;
                    decl.push(v);
                    rest = &rest[2..];
                }
                Tok::Comma if !is_range => {
                    return Err(Error::syntax(
                        op.pos,
                        format!("too many declarations in {context}"),
                    ));
                }
                Tok::Comma => {
                    let second = rest.get(2).and_then(var);
                    let op2 = rest.get(3);
                    match (second, op2) {
                        (Some(v2), Some(op2)) if matches!(op2.tok, Tok::Declare | Tok::Assign) => {
                            is_assign = op2.tok == Tok::Assign;
                            decl.push(v);
                            decl.push(v2);
                            rest = &rest[4..];
                        }
                        _ => {
                            return Err(Error::syntax(
                                op.pos,
                                format!("too many declarations in {context}"),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut cmds: Vec<Command> = Vec::new();
        let mut at = 0;
        // A pipeline may end after a `|`, as in Go.
        while at < rest.len() {
            let (cmd, used) = self.command(&rest[at..], pos, context)?;
            cmds.push(cmd);
            at += used;
            match rest.get(at) {
                None => break,
                Some(t) if t.tok == Tok::Pipe => at += 1,
                Some(t) => {
                    return Err(Error::syntax(
                        t.pos,
                        format!("unexpected {} in {context}", self.show(t)),
                    ));
                }
            }
        }
        if cmds.is_empty() {
            let at_pos = tokens.last().map_or(pos, |t| t.pos);
            return Err(Error::syntax(
                at_pos,
                format!("missing value for {context}"),
            ));
        }
        for (i, c) in cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0].kind,
                OperandKind::Bool(_)
                    | OperandKind::Dot
                    | OperandKind::Nil
                    | OperandKind::Number(_)
                    | OperandKind::String(_)
            ) {
                return Err(Error::syntax(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(Pipe {
            pos: tokens.first().map_or(pos, |t| t.pos),
            decl,
            is_assign,
            cmds,
        })
    }

    /// One command from the start of `tokens`; returns it and how many tokens it used.
    fn command(&self, tokens: &[Token], pos: Pos, context: &str) -> Result<(Command, usize)> {
        let mut args = Vec::new();
        let mut at = 0;
        while let Some(t) = tokens.get(at) {
            if matches!(t.tok, Tok::Pipe | Tok::RParen) {
                break;
            }
            if at > 0 && !t.space_before {
                // Operands are separated by spaces (`1.2.3` is `1.2` then `.3`).
                return Err(Error::syntax(
                    t.pos,
                    format!("unexpected {} in operand", self.show(t)),
                ));
            }
            let what = if at == 0 { context } else { "operand" };
            let (op, used) = self.operand(&tokens[at..], what)?;
            args.push(op);
            at += used;
        }
        let Some(first) = tokens.first().filter(|_| !args.is_empty()) else {
            let at_pos = tokens.first().map_or(pos, |t| t.pos);
            return Err(Error::syntax(at_pos, "missing value for command"));
        };
        let text = args
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok((
            Command {
                pos: first.pos,
                text,
                args,
            },
            at,
        ))
    }

    /// One operand (a term and the fields chained to it).
    fn operand(&self, tokens: &[Token], context: &str) -> Result<(Operand, usize)> {
        let t = &tokens[0];
        let mut used = 1;
        let mut end = t.end;
        // Go puts a chain `.A.B` / `$x.A` at its second part (the first chained field).
        let mut pos = t.pos;
        let fields_after = |from: usize, used: &mut usize, end: &mut Pos| -> Vec<String> {
            let mut fields = Vec::new();
            while let Some(Token {
                tok: Tok::Field(f),
                space_before: false,
                end: e,
                ..
            }) = tokens.get(from + fields.len())
            {
                fields.push(f.clone());
                *end = *e;
            }
            *used += fields.len();
            fields
        };
        let kind = match &t.tok {
            Tok::Dot => OperandKind::Dot,
            Tok::Field(f) => {
                let mut fields = vec![f.clone()];
                fields.extend(fields_after(1, &mut used, &mut end));
                if fields.len() > 1 {
                    pos = tokens[1].pos;
                }
                OperandKind::Field(fields)
            }
            Tok::Var(v) => {
                let fields = fields_after(1, &mut used, &mut end);
                if !fields.is_empty() {
                    pos = tokens[1].pos;
                }
                OperandKind::Variable(v.clone(), fields)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => OperandKind::Bool(true),
                "false" => OperandKind::Bool(false),
                "nil" => OperandKind::Nil,
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                | "break" | "continue" => {
                    return Err(Error::syntax(
                        t.pos,
                        format!("unexpected <{name}> in {context}"),
                    ));
                }
                _ => {
                    if let Some(Token {
                        tok: Tok::Field(_),
                        space_before: false,
                        pos,
                        ..
                    }) = tokens.get(1)
                    {
                        return Err(Error::syntax(
                            *pos,
                            format!("unexpected . after term {name:?}"),
                        ));
                    }
                    OperandKind::Identifier(name.clone())
                }
            },
            Tok::Str(s) => OperandKind::String(s.clone()),
            Tok::Char(c) => OperandKind::Number(Number::Int(*c)),
            Tok::Number(text) => {
                OperandKind::Number(number(text).map_err(|m| Error::syntax(t.pos, m))?)
            }
            Tok::LParen => {
                // Find the matching right paren.
                let mut depth = 0;
                let mut close = None;
                for (i, tok) in tokens.iter().enumerate() {
                    match tok.tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close = close.ok_or_else(|| Error::syntax(t.pos, "unclosed left paren"))?;
                let inner = self.pipe(&tokens[1..close], t.pos, "parenthesized pipeline")?;
                if !inner.decl.is_empty() {
                    return Err(Error::syntax(
                        t.pos,
                        "parenthesized pipeline cannot declare variables",
                    ));
                }
                used = close + 1;
                end = tokens[close].end;
                let fields = fields_after(close + 1, &mut used, &mut end);
                OperandKind::Pipe(Box::new(inner), fields)
            }
            _ => {
                return Err(Error::syntax(
                    t.pos,
                    format!("unexpected {} in {context}", self.show(t)),
                ));
            }
        };
        let text = match &kind {
            OperandKind::Pipe(p, fields) => {
                let mut s = format!("({})", pipe_text(p));
                for f in fields {
                    s.push('.');
                    s.push_str(f);
                }
                s
            }
            _ => self.src[t.pos..end].to_string(),
        };
        Ok((Operand { pos, text, kind }, used))
    }
}

/// The pipeline as Go prints it: commands joined by ` | `.
pub fn pipe_text(p: &Pipe) -> String {
    let cmds: Vec<&str> = p.cmds.iter().map(|c| c.text.as_str()).collect();
    let mut s = String::new();
    if !p.decl.is_empty() {
        let names: Vec<&str> = p.decl.iter().map(|v| v.name.as_str()).collect();
        s.push_str(&names.join(", "));
        s.push_str(if p.is_assign { " = " } else { " := " });
    }
    s.push_str(&cmds.join(" | "));
    s
}

impl Parser<'_> {
    /// A token as Go's parser prints it in errors: keywords as `<if>`, others quoted (at most
    /// ten characters, then `...`).
    fn show(&self, t: &Token) -> String {
        let text = &self.src[t.pos..t.end];
        match &t.tok {
            Tok::Dot => "<.>".into(),
            Tok::Ident(k)
                if matches!(
                    k.as_str(),
                    "block"
                        | "break"
                        | "continue"
                        | "define"
                        | "else"
                        | "end"
                        | "if"
                        | "nil"
                        | "range"
                        | "template"
                        | "with"
                ) =>
            {
                format!("<{k}>")
            }
            _ if text.chars().count() > 10 => {
                format!(
                    "{}...",
                    go_quote(&text.chars().take(10).collect::<String>())
                )
            }
            _ => go_quote(text),
        }
    }

    /// Go's error for a template that ends inside an action's body.
    fn eof(&self) -> Error {
        Error::syntax(self.src.len(), "unexpected EOF")
    }

    fn expect_alone(&self, tokens: &[Token], keyword: &str) -> Result<()> {
        match tokens.get(1) {
            None => Ok(()),
            Some(t) => Err(Error::syntax(
                t.pos,
                format!("unexpected {} in {keyword}", self.show(t)),
            )),
        }
    }

    fn template_name(&self, tokens: &[Token], pos: Pos, what: &str) -> Result<String> {
        match tokens.first() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => Ok(s.clone()),
            Some(t) => Err(Error::syntax(
                t.pos,
                format!("unexpected {} in {what} clause", self.show(t)),
            )),
            None => Err(Error::syntax(
                pos,
                format!("unexpected \"}}}}\" in {what} clause"),
            )),
        }
    }
}

/// `s` quoted as Go's `%q` quotes it.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number literal as Go's parser reads it, or its error text.
fn number(text: &str) -> std::result::Result<Number, String> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let digits = clean.strip_prefix(['+', '-']).unwrap_or(&clean);
    let decimal = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if decimal && clean.parse::<i64>().is_err() {
        return match digits.parse::<u64>() {
            Ok(u) if !clean.starts_with('-') => Ok(Number::Uint(u)),
            _ => Err(format!("integer overflow: {text:?}")),
        };
    }
    parse_number(text).ok_or_else(|| format!("illegal number syntax: {text:?}"))
}

/// A number constant typed as text/template types it: float when written with `.`, an
/// exponent or `p` (and not a hex integer), int otherwise.
pub fn parse_number(text: &str) -> Option<Number> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    if body.ends_with('i') {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let sign = |v: i64| if neg { v.checked_neg() } else { Some(v) };
    if let Some(hex) = lower.strip_prefix("0x") {
        if !hex.contains('p') && !hex.contains('.') {
            return i64::from_str_radix(hex, 16)
                .ok()
                .and_then(sign)
                .map(Number::Int)
                .or_else(|| {
                    u64::from_str_radix(hex, 16)
                        .ok()
                        .map(|v| Number::Float(if neg { -(v as f64) } else { v as f64 }))
                });
        }
        let f = hex_float(hex)?;
        return Some(Number::Float(if neg { -f } else { f }));
    }
    if let Some(oct) = lower.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8)
            .ok()
            .and_then(sign)
            .map(Number::Int);
    }
    if let Some(bin) = lower.strip_prefix("0b") {
        return i64::from_str_radix(bin, 2)
            .ok()
            .and_then(sign)
            .map(Number::Int);
    }
    if lower.contains(['.', 'e']) {
        let f: f64 = lower.parse().ok()?;
        return Some(Number::Float(if neg { -f } else { f }));
    }
    if lower.len() > 1 && lower.starts_with('0') {
        return i64::from_str_radix(&lower[1..], 8)
            .ok()
            .and_then(sign)
            .map(Number::Int);
    }
    match lower.parse::<i64>() {
        Ok(v) => sign(v).map(Number::Int),
        Err(_) => {
            let f: f64 = lower.parse().ok()?;
            Some(Number::Float(if neg { -f } else { f }))
        }
    }
}

/// A hexadecimal floating-point literal without its `0x` (`1p20`, `1.8p1`).
fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("3"), Some(Number::Int(3)));
        assert_eq!(parse_number("-3"), Some(Number::Int(-3)));
        assert_eq!(parse_number("3.0"), Some(Number::Float(3.0)));
        assert_eq!(parse_number("1e3"), Some(Number::Float(1000.0)));
        assert_eq!(parse_number("0x1F"), Some(Number::Int(31)));
        assert_eq!(parse_number("0x1p20"), Some(Number::Float(1048576.0)));
        assert_eq!(parse_number("010"), Some(Number::Int(8)));
        assert_eq!(parse_number("1_000"), Some(Number::Int(1000)));
    }

    #[test]
    fn else_if_chains_share_one_end() {
        let t = parse("{{if .a}}A{{else if .b}}B{{else}}C{{end}}").unwrap();
        let Node::If(b) = &t.root[0] else { panic!() };
        let Some(other) = &b.otherwise else { panic!() };
        assert!(matches!(&other[0], Node::If(inner) if inner.otherwise.is_some()));
    }

    #[test]
    fn defines_are_collected() {
        let t = parse("{{define \"a\"}}x{{end}}y{{block \"b\" .}}z{{end}}").unwrap();
        assert_eq!(t.defines.len(), 2);
        assert_eq!(t.root.len(), 2);
    }

    #[test]
    fn pipelines_and_fields() {
        let t = parse("{{ (include \"x\" . | fromYaml).key }}").unwrap();
        let Node::Action(p) = &t.root[0] else {
            panic!()
        };
        assert!(matches!(&p.cmds[0].args[0].kind, OperandKind::Pipe(_, f) if f == &["key"]));
        assert!(parse("{{ break }}").is_err());
        assert!(parse("{{ range .x }}{{ break }}{{ end }}").is_ok());
    }
}

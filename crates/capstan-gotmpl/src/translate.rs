//! Turning a parsed Go template into minijinja source that the Go runtime executes.
//!
//! The generated source leans on a small runtime registered by the engine:
//!
//! | emitted | meaning |
//! |---|---|
//! | `D0` | the data the template was executed with: Go's `$` |
//! | `D1`, `D2`, ... | dot inside `with` and `range` bodies |
//! | `V1`, ... (or `V1.v` for a variable assigned from a deeper `range`) | Go variables |
//! | `x\|go_field(unwrap, "A", "B")` | `x.A.B` with Go's rules (methods, then struct fields or map keys; a field of a nil read from a map or list is an error, of an untyped nil (`undefined`) is nil); `unwrap` when the chain is a whole command, whose nil result Go makes untyped |
//! | `x\|go_method("Get", args...)` | a method call on a built-in object |
//! | `(x)\|go_range` / `(x)\|go_range2` | what `range` iterates: values, or (key, value) pairs |
//! | `go_template("name", x)` | `{{ template "name" x }}` |
//! | `go_fail("msg")` | a Go execution error known at translation time |
//! | `go_v(x)` | `x` itself (keeps minijinja from folding constants of `and` / `or`) |
//! | `none\|f_NAME(args...)` | the Go function NAME (a filter, whose piped `none` it ignores) |
//! | `A and B`, `A or B` | Go's `and` / `or`: minijinja's operators short-circuit and return an operand, with the same truth as Go for every runtime value |
//!
//! The runtime's own operations and Go's functions are minijinja filters, not functions: a
//! filter is found once per template evaluation (minijinja keeps it by the call site), where a
//! function's name is looked up through every scope and the globals at every call.
//!
//! Every expression that can fail at run time is recorded in [`Translation::spans`] with the Go
//! position and text to report, so errors name the Go source, never the translation.

use std::collections::HashMap;

use crate::ast::{Branch, Command, List, Node, Number, Operand, OperandKind, Pipe, Pos};
use crate::{Error, Result};

/// A template translated into minijinja source.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The minijinja source.
    pub source: String,
    /// Where each fallible expression of `source` comes from in the Go source.
    pub spans: Vec<Span>,
}

/// A fallible expression in the translation and the Go node it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Byte range of the expression in [`Translation::source`].
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// Byte offset of the Go node in the template source.
    pub pos: Pos,
    /// The Go node as text/template prints it in errors (`.Values.a.b`, `include "x" .`).
    pub text: String,
    /// For a function call, the function name (errors from it read `error calling NAME: ...`).
    pub function: Option<String>,
    /// For a function call, its arguments' positions and texts (errors converting one name it).
    pub args: Vec<(Pos, String)>,
}

impl Translation {
    /// The innermost span around `range` of the source, if any.
    pub fn span_at(&self, start: usize, end: usize) -> Option<&Span> {
        self.spans
            .iter()
            .filter(|s| s.start <= start && end <= s.end)
            .min_by_key(|s| s.end - s.start)
    }
}

/// Translates a template body. `is_function` says which function names exist.
pub fn translate(list: &List, is_function: &dyn Fn(&str) -> bool) -> Result<Translation> {
    let mut cells = HashMap::new();
    scan_list(list, &mut vec![Vec::new()], 0, &mut cells)?;
    let mut t = Translator {
        out: String::new(),
        spans: Vec::new(),
        scopes: vec![Vec::new()],
        cells,
        next_dot: 1,
        next_var: 1,
        is_function,
    };
    t.list(list, "D0")?;
    Ok(Translation {
        source: t.out,
        spans: t.spans,
    })
}

/// A declared variable in scope: its Go name, its minijinja expression.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    decl: Pos,
    target: String,
    cell: bool,
}

struct Translator<'f> {
    out: String,
    spans: Vec<Span>,
    scopes: Vec<Vec<Var>>,
    /// Declarations (by position) assigned from a deeper `range`: kept in a namespace cell.
    cells: HashMap<Pos, bool>,
    next_dot: usize,
    next_var: usize,
    is_function: &'f dyn Fn(&str) -> bool,
}

/// First pass: finds variables assigned from inside a `range` deeper than their declaration.
fn scan_list(
    list: &List,
    scopes: &mut Vec<Vec<(String, Pos, usize)>>,
    depth: usize,
    cells: &mut HashMap<Pos, bool>,
) -> Result<()> {
    for node in list {
        match node {
            Node::Action(p) => scan_pipe(p, scopes, depth, cells, true)?,
            Node::Template { pipe: Some(p), .. } => scan_pipe(p, scopes, depth, cells, false)?,
            Node::If(b) | Node::With(b) => {
                scopes.push(Vec::new());
                scan_pipe(&b.pipe, scopes, depth, cells, true)?;
                scan_list(&b.list, scopes, depth, cells)?;
                if let Some(o) = &b.otherwise {
                    scan_list(o, scopes, depth, cells)?;
                }
                scopes.pop();
            }
            Node::Range(b) => {
                scopes.push(Vec::new());
                scan_pipe(&b.pipe, scopes, depth, cells, false)?;
                for v in &b.pipe.decl {
                    if let Some(s) = scopes.last_mut() {
                        s.push((v.name.clone(), v.pos, depth + 1));
                    }
                }
                scan_list(&b.list, scopes, depth + 1, cells)?;
                scopes.pop();
                if let Some(o) = &b.otherwise {
                    scopes.push(Vec::new());
                    scan_list(o, scopes, depth, cells)?;
                    scopes.pop();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn scan_pipe(
    p: &Pipe,
    scopes: &mut [Vec<(String, Pos, usize)>],
    depth: usize,
    cells: &mut HashMap<Pos, bool>,
    declares: bool,
) -> Result<()> {
    if p.decl.is_empty() {
        return Ok(());
    }
    if p.is_assign {
        for v in &p.decl {
            let found = scopes
                .iter()
                .rev()
                .flat_map(|s| s.iter().rev())
                .find(|(n, _, _)| *n == v.name);
            match found {
                Some((_, decl, decl_depth)) if *decl_depth < depth => {
                    cells.insert(*decl, true);
                }
                // Undeclared: an execution error (see `declare`).
                Some(_) | None => {}
            }
        }
    } else if declares {
        for v in &p.decl {
            if let Some(s) = scopes.last_mut() {
                s.push((v.name.clone(), v.pos, depth));
            }
        }
    }
    Ok(())
}

impl Translator<'_> {
    fn list(&mut self, list: &List, dot: &str) -> Result<()> {
        for node in list {
            self.node(node, dot)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, dot: &str) -> Result<()> {
        match node {
            Node::Text(t) => self.text(t),
            Node::Action(p) => {
                if p.decl.is_empty() {
                    self.out.push_str("{{ ");
                    self.pipe(p, dot)?;
                    self.out.push_str(" }}");
                } else {
                    self.declare(p, dot)?;
                }
            }
            Node::If(b) => self.if_with(b, dot, false)?,
            Node::With(b) => self.if_with(b, dot, true)?,
            Node::Range(b) => self.range(b, dot)?,
            Node::Template { pos, name, pipe } => {
                let start = self.out.len() + 3;
                self.out.push_str("{{ go_template(");
                self.out.push_str(&quote(name));
                self.out.push_str(", ");
                match pipe {
                    Some(p) => self.pipe(p, dot)?,
                    None => self.out.push_str("none"),
                }
                self.out.push_str(") }}");
                let end = self.out.len() - 3;
                let text = match pipe {
                    Some(p) => format!(
                        "{{{{template {} {}}}}}",
                        go_quote(name),
                        crate::parse::pipe_text(p)
                    ),
                    None => format!("{{{{template {}}}}}", go_quote(name)),
                };
                self.spans.push(Span {
                    start,
                    end,
                    pos: *pos,
                    text,
                    function: None,
                    args: Vec::new(),
                });
            }
            Node::Break(_) => self.out.push_str("{% break %}"),
            Node::Continue(_) => self.out.push_str("{% continue %}"),
        }
        Ok(())
    }

    fn text(&mut self, t: &str) {
        // Text that minijinja could read as a tag (or that ends in `{`, which would make one
        // with the next tag) goes through as a string literal.
        if t.contains("{{") || t.contains("{%") || t.contains("{#") || t.ends_with('{') {
            self.out.push_str("{{ ");
            self.out.push_str(&quote(t));
            self.out.push_str(" }}");
        } else {
            self.out.push_str(t);
        }
    }

    /// `{{ $x := p }}` / `{{ $x = p }}` (prints nothing).
    fn declare(&mut self, p: &Pipe, dot: &str) -> Result<()> {
        let v = &p.decl[0];
        if p.is_assign && self.lookup(&v.name, v.pos).is_err() {
            // Go's parser lets `$x = ...` through; assigning fails when it runs, after the
            // pipeline, at the last node evaluated.
            self.out.push_str("{% set _ = ");
            self.pipe(p, dot)?;
            self.out.push_str(" %}{{ ");
            let start = self.out.len();
            self.out.push_str(&format!(
                "go_fail({})",
                quote(&format!("undefined variable: {}", v.name))
            ));
            let (pos, text) = last_at(p);
            self.node_span(start, pos, text);
            self.out.push_str(" }}");
            return Ok(());
        }
        if p.is_assign {
            let var = self.lookup(&v.name, v.pos)?;
            self.out.push_str("{% set ");
            self.out.push_str(&var.target);
            self.out.push_str(" = ");
            self.pipe(p, dot)?;
            self.out.push_str(" %}");
        } else {
            let var = self.new_var(&v.name, v.pos);
            self.out.push_str("{% set ");
            if var.cell {
                let cell = var.target.trim_end_matches(".v").to_string();
                self.out.push_str(&cell);
                self.out.push_str(" = namespace(v=");
                self.pipe(p, dot)?;
                self.out.push_str(") %}");
            } else {
                self.out.push_str(&var.target);
                self.out.push_str(" = ");
                self.pipe(p, dot)?;
                self.out.push_str(" %}");
            }
            if let Some(s) = self.scopes.last_mut() {
                s.push(var);
            }
        }
        Ok(())
    }

    fn new_var(&mut self, name: &str, pos: Pos) -> Var {
        let n = self.next_var;
        self.next_var += 1;
        let cell = self.cells.get(&pos).copied().unwrap_or(false);
        Var {
            name: name.to_string(),
            decl: pos,
            target: if cell {
                format!("V{n}.v")
            } else {
                format!("V{n}")
            },
            cell,
        }
    }

    fn lookup(&self, name: &str, pos: Pos) -> Result<Var> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|v| v.name == name)
            .cloned()
            .ok_or_else(|| Error::syntax(pos, format!("undefined variable \"{name}\"")))
    }

    fn fresh_dot(&mut self) -> String {
        let d = format!("D{}", self.next_dot);
        self.next_dot += 1;
        d
    }

    fn if_with(&mut self, b: &Branch, dot: &str, is_with: bool) -> Result<()> {
        self.scopes.push(Vec::new());
        if !is_with && b.pipe.decl.is_empty() {
            // `if` tests the pipeline's value and keeps nothing of it.
            self.out.push_str("{% if ");
            self.pipe(&b.pipe, dot)?;
            self.out.push_str(" %}");
            self.list(&b.list, dot)?;
            if let Some(o) = &b.otherwise {
                self.out.push_str("{% else %}");
                self.list(o, dot)?;
            }
            self.out.push_str("{% endif %}");
            self.scopes.pop();
            return Ok(());
        }
        let value = self.fresh_dot();
        if b.pipe.decl.is_empty() {
            self.out.push_str("{% set ");
            self.out.push_str(&value);
            self.out.push_str(" = ");
            self.pipe(&b.pipe, dot)?;
            self.out.push_str(" %}");
        } else {
            self.declare(&b.pipe, dot)?;
            let target = self
                .lookup(&b.pipe.decl[0].name, b.pipe.decl[0].pos)
                .map_or_else(|_| "none".to_string(), |v| v.target);
            self.out.push_str("{% set ");
            self.out.push_str(&value);
            self.out.push_str(" = ");
            self.out.push_str(&target);
            self.out.push_str(" %}");
        }
        self.out.push_str("{% if ");
        self.out.push_str(&value);
        self.out.push_str(" %}");
        let inner = if is_with { value.as_str() } else { dot };
        self.list(&b.list, inner)?;
        if let Some(o) = &b.otherwise {
            self.out.push_str("{% else %}");
            self.list(o, dot)?;
        }
        self.out.push_str("{% endif %}");
        self.scopes.pop();
        Ok(())
    }

    fn range(&mut self, b: &Branch, dot: &str) -> Result<()> {
        self.scopes.push(Vec::new());
        let elem = self.fresh_dot();
        let pairs = b.pipe.decl.len() == 2;
        self.out.push_str("{% for ");
        let mut declared = Vec::new();
        if pairs {
            let key = self.new_var(&b.pipe.decl[0].name, b.pipe.decl[0].pos);
            self.out.push_str(key.target.trim_end_matches(".v"));
            self.out.push_str(", ");
            declared.push(Var {
                cell: false,
                target: key.target.trim_end_matches(".v").to_string(),
                ..key
            });
        }
        self.out.push_str(&elem);
        if let Some(v) = b.pipe.decl.last() {
            declared.push(Var {
                name: v.name.clone(),
                decl: v.pos,
                target: elem.clone(),
                cell: false,
            });
        }
        self.out.push_str(" in (");
        let range_pipe = Pipe {
            decl: Vec::new(),
            is_assign: false,
            ..b.pipe.clone()
        };
        let start = self.out.len() - 1;
        self.pipe(&range_pipe, dot)?;
        self.out
            .push_str(if pairs { ")|go_range2" } else { ")|go_range" });
        // Go reports what it cannot iterate at the last node it evaluated.
        let (at_pos, at_text) = last_at(&b.pipe);
        self.spans.push(Span {
            start,
            end: self.out.len(),
            pos: at_pos,
            text: at_text,
            function: None,
            args: Vec::new(),
        });
        self.out.push_str(" %}");
        // A loop variable assigned from a deeper range keeps its value in a cell too.
        let mut cells = Vec::new();
        for v in &mut declared {
            if self.cells.get(&v.decl).copied().unwrap_or(false) {
                let n = self.next_var;
                self.next_var += 1;
                cells.push(format!("{{% set V{n} = namespace(v={}) %}}", v.target));
                v.target = format!("V{n}.v");
                v.cell = true;
            }
        }
        for c in cells {
            self.out.push_str(&c);
        }
        if let Some(s) = self.scopes.last_mut() {
            s.extend(declared);
        }
        self.list(&b.list, &elem)?;
        self.scopes.pop();
        if let Some(o) = &b.otherwise {
            self.out.push_str("{% else %}");
            self.scopes.push(Vec::new());
            self.list(o, dot)?;
            self.scopes.pop();
        }
        self.out.push_str("{% endfor %}");
        Ok(())
    }

    /// A pipeline's value as an expression.
    fn pipe(&mut self, p: &Pipe, dot: &str) -> Result<()> {
        self.commands(&p.cmds, dot)
    }

    /// Commands joined by `|`: each one's value is the last argument of the next.
    fn commands(&mut self, cmds: &[Command], dot: &str) -> Result<()> {
        let Some((last, before)) = cmds.split_last() else {
            return Ok(());
        };
        let final_arg = if before.is_empty() {
            None
        } else {
            let mut sub = Translator {
                out: String::new(),
                spans: Vec::new(),
                scopes: self.scopes.clone(),
                cells: self.cells.clone(),
                next_dot: self.next_dot,
                next_var: self.next_var,
                is_function: self.is_function,
            };
            sub.commands(before, dot)?;
            Some((sub.out, sub.spans))
        };
        self.command(last, dot, final_arg)
    }

    /// One command, with the piped value of the commands before it.
    fn command(
        &mut self,
        cmd: &Command,
        dot: &str,
        final_arg: Option<(String, Vec<Span>)>,
    ) -> Result<()> {
        let first = &cmd.args[0];
        let start = self.out.len();
        match &first.kind {
            OperandKind::Identifier(name) => {
                if !(self.is_function)(name) {
                    return Err(Error::syntax(
                        first.pos,
                        format!("function \"{name}\" not defined"),
                    ));
                }
                if name == "and" || name == "or" {
                    let mut operands: Vec<&Operand> = cmd.args[1..].iter().collect();
                    let n = operands.len() + usize::from(final_arg.is_some());
                    if n == 0 {
                        self.out.push_str(&format!(
                            "go_fail(\"wrong number of args for {name}: want at least 1 got 0\")"
                        ));
                        self.node_span(start, first.pos, name.clone());
                    } else {
                        self.out.push('(');
                        let mut first_op = true;
                        for op in operands.drain(..) {
                            if !first_op {
                                self.out
                                    .push_str(if name == "and" { " and " } else { " or " });
                            }
                            first_op = false;
                            // A literal goes through `go_v`: minijinja folds `and`/`or` of
                            // constants into a bool, where Go returns the operand.
                            let literal = matches!(
                                op.kind,
                                OperandKind::String(_)
                                    | OperandKind::Number(_)
                                    | OperandKind::Bool(_)
                                    | OperandKind::Nil
                            );
                            if literal {
                                self.out.push_str("go_v(");
                            }
                            self.operand(op, dot)?;
                            if literal {
                                self.out.push(')');
                            }
                        }
                        if let Some((text, spans)) = final_arg {
                            if !first_op {
                                self.out
                                    .push_str(if name == "and" { " and " } else { " or " });
                            }
                            self.splice(&text, spans);
                        }
                        self.out.push(')');
                    }
                    return Ok(());
                }
                self.out.push_str("none|f_");
                self.out.push_str(name);
                self.out.push('(');
                let mut args = Vec::new();
                for (i, op) in cmd.args[1..].iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    args.push((op.pos, op.text.clone()));
                    self.operand(op, dot)?;
                }
                if let Some((text, spans)) = final_arg {
                    if cmd.args.len() > 1 {
                        self.out.push_str(", ");
                    }
                    self.splice(&text, spans);
                }
                self.out.push(')');
                self.spans.push(Span {
                    start,
                    end: self.out.len(),
                    pos: cmd.pos,
                    text: cmd.text.clone(),
                    function: Some(name.clone()),
                    args,
                });
            }
            _ if cmd.args.len() > 1 || final_arg.is_some() => {
                // A method call: the last field names the method.
                let (receiver, method) = match &first.kind {
                    OperandKind::Field(f) if !f.is_empty() => (
                        Receiver::Fields(dot.to_string(), f[..f.len() - 1].to_vec()),
                        f[f.len() - 1].clone(),
                    ),
                    OperandKind::Variable(v, f) if !f.is_empty() => {
                        let base = self.variable(v, first.pos)?;
                        (
                            Receiver::Fields(base, f[..f.len() - 1].to_vec()),
                            f[f.len() - 1].clone(),
                        )
                    }
                    OperandKind::Pipe(p, f) if f.len() == 1 => {
                        (Receiver::Pipe(p.clone()), f[0].clone())
                    }
                    _ => {
                        self.out.push_str(&format!(
                            "go_fail({})",
                            quote(&format!(
                                "can't give argument to non-function {}",
                                first.text
                            ))
                        ));
                        self.node_span(start, first.pos, first.text.clone());
                        return Ok(());
                    }
                };
                // Go reports a method's errors at the field node that names it; on a
                // pipeline's value, at the last node the pipeline evaluated.
                let (at_pos, at_text) = match &receiver {
                    Receiver::Pipe(p) => last_at(p),
                    Receiver::Fields(..) => (first.pos, first.text.clone()),
                };
                match receiver {
                    Receiver::Fields(base, fields) => {
                        self.fields(&base, &fields, first.pos, &first.text, false);
                    }
                    Receiver::Pipe(p) => {
                        let mut sub = Translator {
                            out: String::new(),
                            spans: Vec::new(),
                            scopes: self.scopes.clone(),
                            cells: self.cells.clone(),
                            next_dot: self.next_dot,
                            next_var: self.next_var,
                            is_function: self.is_function,
                        };
                        sub.pipe(&p, dot)?;
                        let at = self.out.len();
                        self.out.push('(');
                        self.out.push_str(&sub.out);
                        self.out.push(')');
                        self.spans.extend(shift(sub.spans, at + 1));
                    }
                }
                self.out.push_str("|go_method(");
                self.out.push_str(&quote(&method));
                let mut args = Vec::new();
                for op in &cmd.args[1..] {
                    self.out.push_str(", ");
                    args.push((op.pos, op.text.clone()));
                    self.operand(op, dot)?;
                }
                if let Some((text, spans)) = final_arg {
                    self.out.push_str(", ");
                    self.splice(&text, spans);
                }
                self.out.push(')');
                self.spans.push(Span {
                    start,
                    end: self.out.len(),
                    pos: at_pos,
                    text: at_text,
                    function: Some(method),
                    args,
                });
            }
            OperandKind::Nil => {
                self.out.push_str("go_fail(\"nil is not a command\")");
                self.node_span(start, first.pos, first.text.clone());
            }
            _ => self.operand_as(first, dot, true)?,
        }
        Ok(())
    }

    /// Records that the expression from `start` to the end of the output stands for the Go node
    /// at `pos` printed as `text` (no function call).
    fn node_span(&mut self, start: usize, pos: Pos, text: String) {
        self.spans.push(Span {
            start,
            end: self.out.len(),
            pos,
            text,
            function: None,
            args: Vec::new(),
        });
    }

    /// Appends an expression translated apart, moving its spans along.
    fn splice(&mut self, text: &str, spans: Vec<Span>) {
        let offset = self.out.len();
        self.out.push_str(text);
        self.spans.extend(spans.into_iter().map(|s| Span {
            start: s.start + offset,
            end: s.end + offset,
            ..s
        }));
    }

    fn variable(&self, name: &str, pos: Pos) -> Result<String> {
        if name == "$" {
            return Ok("D0".into());
        }
        Ok(self.lookup(name, pos)?.target)
    }

    /// `base.F1.F2` with Go's field rules. `unwrap`: the chain is a whole command, whose nil
    /// result Go turns into an untyped nil (see `go_field` in the module docs).
    fn fields(&mut self, base: &str, fields: &[String], pos: Pos, text: &str, unwrap: bool) {
        if fields.is_empty() {
            self.out.push_str(base);
            return;
        }
        let start = self.out.len();
        self.out.push_str(base);
        self.out.push_str(if unwrap {
            "|go_field(true"
        } else {
            "|go_field(false"
        });
        for f in fields {
            self.out.push_str(", ");
            self.out.push_str(&quote(f));
        }
        self.out.push(')');
        self.node_span(start, pos, text.to_string());
    }

    fn operand(&mut self, op: &Operand, dot: &str) -> Result<()> {
        self.operand_as(op, dot, false)
    }

    /// An operand; `unwrap` when it is a whole command (Go then drops the interface type of
    /// its value, so a nil read from a map becomes an untyped nil).
    fn operand_as(&mut self, op: &Operand, dot: &str, unwrap: bool) -> Result<()> {
        match &op.kind {
            OperandKind::Dot => self.out.push_str(dot),
            OperandKind::Field(f) => self.fields(dot, f, op.pos, &op.text, unwrap),
            OperandKind::Variable(v, f) => {
                let base = self.variable(v, op.pos)?;
                self.fields(&base, f, op.pos, &op.text, unwrap);
            }
            OperandKind::Identifier(_) => {
                let cmd = Command {
                    pos: op.pos,
                    text: op.text.clone(),
                    args: vec![op.clone()],
                };
                self.command(&cmd, dot, None)?;
            }
            OperandKind::Pipe(p, f) => {
                let mut sub = Translator {
                    out: String::new(),
                    spans: Vec::new(),
                    scopes: self.scopes.clone(),
                    cells: self.cells.clone(),
                    next_dot: self.next_dot,
                    next_var: self.next_var,
                    is_function: self.is_function,
                };
                sub.pipe(p, dot)?;
                let inner = format!("({})", sub.out);
                if f.is_empty() {
                    let at = self.out.len();
                    self.out.push_str(&inner);
                    self.spans.extend(shift(sub.spans, at + 1));
                } else {
                    let start = self.out.len();
                    self.out.push_str(&inner);
                    self.spans.extend(shift(sub.spans, start + 1));
                    self.out.push_str(if unwrap {
                        "|go_field(true"
                    } else {
                        "|go_field(false"
                    });
                    for name in f {
                        self.out.push_str(", ");
                        self.out.push_str(&quote(name));
                    }
                    self.out.push(')');
                    // Go reports a field of a pipeline's value at the last node the pipeline
                    // evaluated.
                    let (pos, text) = last_at(p);
                    self.node_span(start, pos, text);
                }
            }
            OperandKind::String(s) => self.out.push_str(&quote(s)),
            OperandKind::Number(Number::Int(i)) => {
                if *i < 0 {
                    self.out.push_str(&format!("({i})"));
                } else {
                    self.out.push_str(&i.to_string());
                }
            }
            OperandKind::Number(Number::Uint(u)) => {
                let start = self.out.len();
                self.out
                    .push_str(&format!("go_fail(\"{u} overflows int\")"));
                self.node_span(start, op.pos, op.text.clone());
            }
            OperandKind::Number(Number::Float(f)) => {
                let text = if f.is_finite() {
                    format!("{f:?}")
                } else {
                    "go_fail(\"number out of range\")".into()
                };
                if *f < 0.0 {
                    self.out.push_str(&format!("({text})"));
                } else {
                    self.out.push_str(&text);
                }
            }
            OperandKind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            OperandKind::Nil => self.out.push_str("none"),
        }
        Ok(())
    }
}

/// The node Go's executor last visits while evaluating `p` (its errors' location when what
/// fails is the pipeline's value): the last argument of the last command, looked into.
fn last_at(p: &Pipe) -> (Pos, String) {
    let Some(cmd) = p.cmds.last() else {
        return (p.pos, crate::parse::pipe_text(p));
    };
    let op = if cmd.args.len() > 1 {
        &cmd.args[cmd.args.len() - 1]
    } else {
        &cmd.args[0]
    };
    match &op.kind {
        OperandKind::Pipe(inner, _) => last_at(inner),
        _ => (op.pos, op.text.clone()),
    }
}

/// What a method is called on: fields of an expression, or a parenthesized pipeline's value.
enum Receiver {
    Fields(String, Vec<String>),
    Pipe(Box<Pipe>),
}

fn shift(spans: Vec<Span>, by: usize) -> Vec<Span> {
    spans
        .into_iter()
        .map(|s| Span {
            start: s.start + by,
            end: s.end + by,
            ..s
        })
        .collect()
}

/// A minijinja string literal holding `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as Go's `%q` would print a template name.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    fn source(go: &str) -> String {
        let tree = crate::parse(go).unwrap();
        super::translate(&tree.root, &|_| true).unwrap().source
    }

    /// The shapes the runtime's contract (the table above) promises.
    #[test]
    fn translations_keep_the_runtime_contract() {
        assert_eq!(
            source("{{ .Values.a }}"),
            r#"{{ D0|go_field(true, "Values", "a") }}"#
        );
        assert_eq!(source("{{ quote 1 }}"), "{{ none|f_quote(1) }}");
        assert_eq!(
            source("{{ .a | default 2 }}"),
            r#"{{ none|f_default(2, D0|go_field(true, "a")) }}"#
        );
        assert_eq!(
            source(r#"{{ .Files.Get "x" }}"#),
            r#"{{ D0|go_field(false, "Files")|go_method("Get", "x") }}"#
        );
        assert_eq!(
            source("{{ range $k, $v := .m }}{{ $k }}{{ end }}"),
            r#"{% for V1, D1 in (D0|go_field(true, "m"))|go_range2 %}{{ V1 }}{% endfor %}"#
        );
        // `if` tests its pipeline in place; `with` keeps the value as dot.
        assert_eq!(
            source("{{ if .a }}x{{ else }}y{{ end }}"),
            r#"{% if D0|go_field(true, "a") %}x{% else %}y{% endif %}"#
        );
        assert_eq!(
            source("{{ with .a }}{{ . }}{{ end }}"),
            r#"{% set D1 = D0|go_field(true, "a") %}{% if D1 %}{{ D1 }}{% endif %}"#
        );
    }
}

//! The parse tree of a Go template: nodes with their source positions.

/// A byte offset into the template source.
pub type Pos = usize;

/// A sequence of nodes.
pub type List = Vec<Node>;

/// One node of a template body.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text, already trimmed by `{{-` / `-}}` markers.
    Text(String),
    /// `{{ pipeline }}`: its value is printed unless it declares or assigns variables.
    Action(Pipe),
    /// `{{ if }}`, with `else if` chains nested in `otherwise`.
    If(Branch),
    /// `{{ with }}`, with `else with` chains nested in `otherwise`.
    With(Branch),
    /// `{{ range }}`; `otherwise` runs when there is nothing to iterate.
    Range(Branch),
    /// `{{ template "name" pipeline }}` (also the call half of `{{ block }}`).
    Template {
        /// Where the action starts.
        pos: Pos,
        /// The template's name.
        name: String,
        /// The data passed, `nil` when absent.
        pipe: Option<Pipe>,
    },
    /// `{{ break }}`.
    Break(Pos),
    /// `{{ continue }}`.
    Continue(Pos),
}

/// The parts shared by `if`, `with` and `range`.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// Where the action starts.
    pub pos: Pos,
    /// The condition (or the value iterated / bound to dot).
    pub pipe: Pipe,
    /// The body.
    pub list: List,
    /// The `else` body, if any.
    pub otherwise: Option<List>,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    /// Where the pipeline starts.
    pub pos: Pos,
    /// The variables declared (`:=`) or assigned (`=`), at most two (in `range`).
    pub decl: Vec<Variable>,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// The commands; the value of each is the last argument of the next.
    pub cmds: Vec<Command>,
}

/// A variable reference in a declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Where it appears.
    pub pos: Pos,
    /// Its name with the `$`.
    pub name: String,
}

/// One command of a pipeline: a function call or a single operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Where the command starts.
    pub pos: Pos,
    /// The source text of the command, for error messages.
    pub text: String,
    /// The operands: a function or method and its arguments, or one value.
    pub args: Vec<Operand>,
}

/// An operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// Where it starts.
    pub pos: Pos,
    /// Its source text (`.Values.a.b`), for error messages.
    pub text: String,
    /// What it is.
    pub kind: OperandKind,
}

/// The kinds of operand.
#[derive(Debug, Clone, PartialEq)]
pub enum OperandKind {
    /// `.`.
    Dot,
    /// `.A.B` on dot.
    Field(Vec<String>),
    /// `$x` or `$`, with trailing fields `$x.A.B`.
    Variable(String, Vec<String>),
    /// A function name.
    Identifier(String),
    /// `(pipeline)`, with trailing fields `(pipeline).A.B`.
    Pipe(Box<Pipe>, Vec<String>),
    /// A string literal (quoted or raw), unescaped.
    String(String),
    /// A number literal.
    Number(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
}

/// A number constant as text/template types it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer constant (`3`, `0x1F`, `'a'`): Go `int`.
    Int(i64),
    /// An integer constant beyond `int` that fits `uint64`: Go's executor refuses it
    /// (`N overflows int`).
    Uint(u64),
    /// A floating-point constant (`3.0`, `1e3`, `0x1p-2`): Go `float64`.
    Float(f64),
}

/// A parsed template file: its body and the named templates it defines.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// The file's own body (without its `define` blocks).
    pub root: List,
    /// `define` and `block` bodies, in source order.
    pub defines: Vec<Define>,
}

/// A named template.
#[derive(Debug, Clone, PartialEq)]
pub struct Define {
    /// Its name.
    pub name: String,
    /// Where `{{ define` starts.
    pub pos: Pos,
    /// The body.
    pub list: List,
}

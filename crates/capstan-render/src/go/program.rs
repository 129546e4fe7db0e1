//! A translated template compiled into minijinja's instructions ([`Program`]): built once per
//! compiled chart, run directly on minijinja's VM, and kept as bytes in the compile cache so
//! a render with the cache warm skips minijinja's lexer, parser and code generator.
//!
//! This uses minijinja's `unstable_machinery` API, which has no semver guarantee: the
//! workspace pins minijinja to one version and [`FORMAT`] names it (a change of either bumps
//! the other). The bytes hold every instruction of that version, each string that points into
//! the translation as its offset there (others stored beside), each constant by its exact
//! kind, and every instruction's line and span, so errors are located exactly as after a
//! compile. Decoding checks every tag, offset, length, jump target and filter slot and answers
//! `None` for anything it cannot take: the template is then compiled from its translation.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::stored::{Reader, SharedText};
use minijinja::machinery::{
    CompiledTemplate, Instruction, Instructions, Span, TemplateConfig, Vm, WhitespaceConfig,
    make_string_output,
};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, Error};

/// The stored form's version: minijinja's version (its instructions) and this encoding's.
pub(crate) const FORMAT: &str = "minijinja 2.24.0 instructions v1";

/// Filter and test slots of the VM (minijinja's `MAX_LOCALS`); `!0` is "not cached".
const MAX_LOCALS: u8 = 50;

/// What a program's instructions borrow: its name, its translation, and the strings decoded
/// that do not point into the translation.
struct Text {
    name: Box<str>,
    /// Shared with the template's [`super::Compiled`]: not copied per program.
    source: SharedText,
    extra: Box<str>,
}

self_cell::self_cell!(
    struct Cell {
        owner: Text,

        #[covariant]
        dependent: CompiledTemplate,
    }
);

/// A translated template's minijinja instructions (see the module docs).
pub(crate) struct Program(Cell);

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.0.borrow_owner().name)
            .field(
                "instructions",
                &self.0.borrow_dependent().instructions.len(),
            )
            .finish_non_exhaustive()
    }
}

/// How translations are compiled: as the chart's environment would (keep the trailing
/// newline, no auto-escaping, the default syntax).
// `SyntaxConfig` is a unit struct only while minijinja's `custom_syntax` is off.
#[allow(clippy::default_constructed_unit_structs)]
fn config() -> &'static TemplateConfig {
    static CONFIG: OnceLock<TemplateConfig> = OnceLock::new();
    CONFIG.get_or_init(|| TemplateConfig {
        syntax_config: SyntaxConfig::default(),
        ws_config: WhitespaceConfig {
            keep_trailing_newline: true,
            lstrip_blocks: false,
            trim_blocks: false,
        },
        default_auto_escape: Arc::new(|_| AutoEscape::None),
    })
}

impl Program {
    /// [`Program::compile_shared`] of a copy of `source`.
    #[cfg(test)]
    pub(crate) fn compile(name: &str, source: &str) -> Result<Program, Error> {
        Program::compile_shared(name, source.into())
    }

    /// Compiles the translation `source` (minijinja's lexer, parser and code generator),
    /// which the program shares.
    pub(crate) fn compile_shared(name: &str, source: SharedText) -> Result<Program, Error> {
        let text = Text {
            name: name.into(),
            source,
            extra: "".into(),
        };
        Cell::try_new(text, |t| {
            CompiledTemplate::new(&t.name, &t.source, config())
        })
        .map(Program)
    }

    /// Runs the program on `env` with `root` as its context, as `Template::render` does.
    pub(crate) fn render(&self, env: &Environment<'_>, root: Value) -> Result<String, Error> {
        let t = self.0.borrow_dependent();
        let mut out = String::with_capacity(t.buffer_size_hint);
        Vm::new(env).eval(
            &t.instructions,
            root,
            &t.blocks,
            &mut make_string_output(&mut out),
            t.initial_auto_escape,
        )?;
        Ok(out)
    }

    /// Whether [`Program::encode`] can store it (every translation compiles to instructions
    /// it can; this only guards against the unexpected).
    pub(crate) fn storable(&self) -> bool {
        let t = self.0.borrow_dependent();
        t.blocks.is_empty()
            && (0..t.instructions.len() as u32)
                .filter_map(|i| t.instructions.get(i))
                .all(|instr| match instr {
                    Instruction::LoadConst(v) => storable_value(v),
                    Instruction::CompareAndPreserve(_) | Instruction::BeginCapture(_) => {
                        prototype_index(instr).is_some()
                    }
                    _ => true,
                })
    }

    /// The program as bytes for [`Program::decode_shared`], `None` when it holds something the
    /// format cannot store.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let text = self.0.borrow_owner();
        let t = self.0.borrow_dependent();
        if !t.blocks.is_empty() {
            return None;
        }
        let ins = &t.instructions;
        let mut enc = Encoder {
            source: &text.source,
            body: Vec::with_capacity(ins.len() * 6),
            extra: String::new(),
            extra_at: HashMap::new(),
        };
        let mut last_line = None;
        let mut last_span = None;
        for i in 0..ins.len() as u32 {
            enc.instruction(ins.get(i)?)?;
            match (ins.get_span(i), ins.get_line(i)) {
                (Some(span), Some(line)) if line == usize::from(span.start_line) => {
                    if last_span == Some(span) {
                        enc.body.push(LOC_SAME_SPAN);
                    } else {
                        enc.body.push(LOC_SPAN);
                        put_span(&mut enc.body, span);
                        last_span = Some(span);
                    }
                    last_line = Some(line);
                }
                // A span whose line is not its own: nothing the code generator makes.
                (Some(_), _) => return None,
                (None, Some(line)) => {
                    if last_line == Some(line) {
                        enc.body.push(LOC_SAME_LINE);
                    } else {
                        enc.body.push(LOC_LINE);
                        put(&mut enc.body, line as u64);
                        last_line = Some(line);
                    }
                }
                (None, None) => enc.body.push(LOC_NONE),
            }
        }
        let mut out = Vec::with_capacity(enc.body.len() + enc.extra.len() + 24);
        put(&mut out, t.buffer_size_hint as u64);
        put(&mut out, enc.extra.len() as u64);
        out.extend_from_slice(enc.extra.as_bytes());
        put(&mut out, ins.len() as u64);
        out.extend_from_slice(&enc.body);
        Some(out)
    }

    /// [`Program::decode_shared`] with a copy of `source`.
    #[cfg(test)]
    pub(crate) fn decode(name: &str, source: &str, bytes: &[u8]) -> Option<Program> {
        Program::decode_shared(name, source.into(), bytes)
    }

    /// The program [`Program::encode`] stored for the translation `source` named `name`
    /// (which the program shares); `None` when the bytes are malformed or do not fit `source`.
    pub(crate) fn decode_shared(name: &str, source: SharedText, bytes: &[u8]) -> Option<Program> {
        let mut r = Reader(bytes);
        let hint = usize::try_from(r.int()?).ok()?;
        let extra_len = r.len()?;
        let extra = std::str::from_utf8(r.take(extra_len)?).ok()?;
        let count = r.len()?;
        // Every instruction takes at least two bytes: a count beyond that is malformed.
        if count > r.0.len() / 2 {
            return None;
        }
        let text = Text {
            name: name.into(),
            source,
            extra: extra.into(),
        };
        let body = r.0;
        Cell::try_new(text, |t| -> Result<CompiledTemplate<'_>, ()> {
            let mut dec = Decoder {
                r: Reader(body),
                text: t,
            };
            let mut ins = Instructions::new(&t.name, &t.source);
            let mut at = Located::default();
            for _ in 0..count {
                dec.instruction(count, &mut ins, &mut at).ok_or(())?;
            }
            if !dec.r.0.is_empty() {
                return Err(());
            }
            Ok(CompiledTemplate {
                instructions: ins,
                blocks: BTreeMap::new(),
                buffer_size_hint: hint,
                syntax_config: config().syntax_config.clone(),
                initial_auto_escape: (config().default_auto_escape)(&t.name),
            })
        })
        .ok()
        .map(Program)
    }

    /// The instructions, for tests that compare two programs.
    #[cfg(test)]
    pub(crate) fn instructions(&self) -> &Instructions<'_> {
        &self.0.borrow_dependent().instructions
    }
}

/// The location the last instructions decoded had, which later ones may repeat.
#[derive(Default)]
struct Located {
    line: Option<u16>,
    span: Option<Span>,
}

const LOC_NONE: u8 = 0;
const LOC_LINE: u8 = 1;
const LOC_SAME_LINE: u8 = 2;
const LOC_SPAN: u8 = 3;
const LOC_SAME_SPAN: u8 = 4;

/// Instructions whose operand type minijinja does not export (`CompareOp`, `CaptureMode`),
/// taken from a template that makes each of them; stored by their index here.
fn prototypes() -> &'static [(String, Instruction<'static>)] {
    static PROTOTYPES: OnceLock<Vec<(String, Instruction<'static>)>> = OnceLock::new();
    PROTOTYPES.get_or_init(|| {
        const SOURCE: &str = "{{ a == a == a }}{{ a != a != a }}{{ a < a < a }}\
            {{ a <= a <= a }}{{ a > a > a }}{{ a >= a >= a }}{{ a in a in a }}\
            {{ a not in a not in a }}{% set x %}{% endset %}{% from a import b %}";
        let Ok(t) = CompiledTemplate::new("prototypes", SOURCE, config()) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Instruction<'static>)> = Vec::new();
        for i in 0..t.instructions.len() as u32 {
            if let Some(
                instr @ (Instruction::CompareAndPreserve(_) | Instruction::BeginCapture(_)),
            ) = t.instructions.get(i)
            {
                let name = format!("{instr:?}");
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, instr.clone()));
                }
            }
        }
        out
    })
}

fn prototype_index(instr: &Instruction<'_>) -> Option<usize> {
    let name = format!("{instr:?}");
    prototypes().iter().position(|(n, _)| *n == name)
}

/// The exact kind of a constant, as its serialization reveals it (minijinja keeps unsigned,
/// signed and 128-bit integers apart).
enum Prim {
    Unit,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    U128(u128),
    I128(i128),
    Str(String),
}

/// Whether [`Encoder::value`] stores `v`.
fn storable_value(v: &Value) -> bool {
    if v.as_object().is_some() {
        if v.is_kwargs() {
            return Kwargs::try_from(v.clone()).is_ok_and(|k| {
                k.args()
                    .all(|key| k.peek::<Value>(key).is_ok_and(|x| storable_value(&x)))
            });
        }
        if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
            return items.iter().all(storable_value);
        }
        if let Some(m) = v.downcast_object_ref::<BTreeMap<Value, Value>>() {
            return m
                .iter()
                .all(|(k, x)| storable_value(k) && storable_value(x));
        }
        return false;
    }
    if v.is_undefined() || v.is_safe() {
        return false;
    }
    if v.as_str().is_some() {
        return true;
    }
    match serde::Serialize::serialize(v, Capture) {
        Ok(Prim::Unit) => v.is_none(),
        Ok(_) => true,
        Err(NotPrim) => false,
    }
}

struct Encoder<'a> {
    source: &'a str,
    body: Vec<u8>,
    extra: String,
    extra_at: HashMap<String, usize>,
}

impl Encoder<'_> {
    /// A string operand: its place in the translation when it points there, else in the
    /// strings stored beside.
    fn str(&mut self, s: &str) {
        let base = self.source.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        if !s.is_empty() && at >= base && at + s.len() <= base + self.source.len() {
            self.body.push(0);
            put(&mut self.body, (at - base) as u64);
        } else {
            let offset = match self.extra_at.get(s) {
                Some(&o) => o,
                None => {
                    let o = self.extra.len();
                    self.extra.push_str(s);
                    self.extra_at.insert(s.to_string(), o);
                    o
                }
            };
            self.body.push(1);
            put(&mut self.body, offset as u64);
        }
        put(&mut self.body, s.len() as u64);
    }

    fn opt(&mut self, n: Option<u16>) {
        match n {
            Some(n) => put(&mut self.body, u64::from(n) + 1),
            None => put(&mut self.body, 0),
        }
    }

    fn value(&mut self, v: &Value) -> Option<()> {
        if v.as_object().is_some() {
            if v.is_kwargs() {
                let k = Kwargs::try_from(v.clone()).ok()?;
                let keys: Vec<&str> = k.args().collect();
                self.body.push(V_KWARGS);
                put(&mut self.body, keys.len() as u64);
                for key in keys {
                    put_bytes(&mut self.body, key.as_bytes());
                    self.value(&k.peek::<Value>(key).ok()?)?;
                }
                return Some(());
            }
            if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
                self.body.push(V_SEQ);
                put(&mut self.body, items.len() as u64);
                for item in items {
                    self.value(item)?;
                }
                return Some(());
            }
            if let Some(m) = v.downcast_object_ref::<BTreeMap<Value, Value>>() {
                self.body.push(V_MAP);
                put(&mut self.body, m.len() as u64);
                for (key, x) in m {
                    self.value(key)?;
                    self.value(x)?;
                }
                return Some(());
            }
            return None;
        }
        if v.is_undefined() || v.is_safe() {
            return None;
        }
        if let Some(s) = v.as_str() {
            self.body.push(V_STR);
            put_bytes(&mut self.body, s.as_bytes());
            return Some(());
        }
        match serde::Serialize::serialize(v, Capture).ok()? {
            Prim::Unit if v.is_none() => self.body.push(V_NONE),
            Prim::Unit => return None,
            Prim::Bool(b) => self.body.push(if b { V_TRUE } else { V_FALSE }),
            Prim::U64(n) => {
                self.body.push(V_U64);
                put(&mut self.body, n);
            }
            Prim::I64(n) => {
                self.body.push(V_I64);
                put(&mut self.body, zigzag(n));
            }
            Prim::F64(x) => {
                self.body.push(V_F64);
                self.body.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Prim::U128(n) => {
                self.body.push(V_U128);
                self.body.extend_from_slice(&n.to_le_bytes());
            }
            Prim::I128(n) => {
                self.body.push(V_I128);
                self.body.extend_from_slice(&n.to_le_bytes());
            }
            Prim::Str(s) => {
                self.body.push(V_STR);
                put_bytes(&mut self.body, s.as_bytes());
            }
        }
        Some(())
    }

    fn instruction(&mut self, instr: &Instruction<'_>) -> Option<()> {
        use Instruction as I;
        let op = opcode(instr);
        self.body.push(op);
        match instr {
            I::EmitRaw(s)
            | I::StoreLocal(s)
            | I::Lookup(s)
            | I::GetAttr(s)
            | I::SetAttr(s)
            | I::CallBlock(s)
            | I::Enclose(s) => self.str(s),
            I::LoadConst(v) => self.value(v)?,
            I::BuildMap(n)
            | I::BuildKwargs(n)
            | I::MergeKwargs(n)
            | I::UnpackList(n)
            | I::UnpackLists(n) => put(&mut self.body, *n as u64),
            I::BuildList(n) => put(&mut self.body, n.map_or(0, |n| n as u64 + 1)),
            I::CompareAndPreserve(_) | I::BeginCapture(_) => {
                put(&mut self.body, prototype_index(instr)? as u64);
            }
            I::ApplyFilter(s, n, local) | I::PerformTest(s, n, local) => {
                self.str(s);
                self.opt(*n);
                self.body.push(*local);
            }
            I::PushLoop(flags) => self.body.push(*flags),
            I::Iterate(t)
            | I::Jump(t)
            | I::JumpIfFalse(t)
            | I::JumpIfFalseOrPop(t)
            | I::JumpIfTrueOrPop(t) => put(&mut self.body, u64::from(*t)),
            I::CallFunction(s, n) | I::CallMethod(s, n) => {
                self.str(s);
                self.opt(*n);
            }
            I::CallObject(n) => self.opt(*n),
            I::Include(b) => self.body.push(u8::from(*b)),
            I::BuildMacro(s, at, flags) => {
                self.str(s);
                put(&mut self.body, u64::from(*at));
                self.body.push(*flags);
            }
            I::GetItem
            | I::Slice
            | I::Add
            | I::Sub
            | I::Mul
            | I::Div
            | I::IntDiv
            | I::Rem
            | I::Pow
            | I::Neg
            | I::Eq
            | I::Ne
            | I::Gt
            | I::Gte
            | I::Lt
            | I::Lte
            | I::Not
            | I::StringConcat
            | I::In
            | I::Emit
            | I::PushWith
            | I::PushDidNotIterate
            | I::PopFrame
            | I::PopLoopFrame
            | I::PushAutoEscape
            | I::PopAutoEscape
            | I::EndCapture
            | I::DupTop
            | I::DiscardTop
            | I::FastSuper
            | I::FastRecurse
            | I::Swap
            | I::LoadBlocks
            | I::ExportLocals
            | I::Return
            | I::IsUndefined
            | I::GetClosure => {}
        }
        Some(())
    }
}

/// Each instruction's code in the stored form.
fn opcode(instr: &Instruction<'_>) -> u8 {
    use Instruction as I;
    match instr {
        I::EmitRaw(_) => 0,
        I::StoreLocal(_) => 1,
        I::Lookup(_) => 2,
        I::GetAttr(_) => 3,
        I::SetAttr(_) => 4,
        I::GetItem => 5,
        I::Slice => 6,
        I::LoadConst(_) => 7,
        I::BuildMap(_) => 8,
        I::BuildKwargs(_) => 9,
        I::MergeKwargs(_) => 10,
        I::BuildList(_) => 11,
        I::UnpackList(_) => 12,
        I::UnpackLists(_) => 13,
        I::Add => 14,
        I::Sub => 15,
        I::Mul => 16,
        I::Div => 17,
        I::IntDiv => 18,
        I::Rem => 19,
        I::Pow => 20,
        I::Neg => 21,
        I::Eq => 22,
        I::Ne => 23,
        I::Gt => 24,
        I::Gte => 25,
        I::Lt => 26,
        I::Lte => 27,
        I::Not => 28,
        I::StringConcat => 29,
        I::In => 30,
        I::CompareAndPreserve(_) => 31,
        I::ApplyFilter(..) => 32,
        I::PerformTest(..) => 33,
        I::Emit => 34,
        I::PushLoop(_) => 35,
        I::PushWith => 36,
        I::Iterate(_) => 37,
        I::PushDidNotIterate => 38,
        I::PopFrame => 39,
        I::PopLoopFrame => 40,
        I::Jump(_) => 41,
        I::JumpIfFalse(_) => 42,
        I::JumpIfFalseOrPop(_) => 43,
        I::JumpIfTrueOrPop(_) => 44,
        I::PushAutoEscape => 45,
        I::PopAutoEscape => 46,
        I::BeginCapture(_) => 47,
        I::EndCapture => 48,
        I::CallFunction(..) => 49,
        I::CallMethod(..) => 50,
        I::CallObject(_) => 51,
        I::DupTop => 52,
        I::DiscardTop => 53,
        I::FastSuper => 54,
        I::FastRecurse => 55,
        I::Swap => 56,
        I::CallBlock(_) => 57,
        I::LoadBlocks => 58,
        I::Include(_) => 59,
        I::ExportLocals => 60,
        I::BuildMacro(..) => 61,
        I::Return => 62,
        I::IsUndefined => 63,
        I::Enclose(_) => 64,
        I::GetClosure => 65,
    }
}

const V_NONE: u8 = 0;
const V_FALSE: u8 = 1;
const V_TRUE: u8 = 2;
const V_U64: u8 = 3;
const V_I64: u8 = 4;
const V_F64: u8 = 5;
const V_U128: u8 = 6;
const V_I128: u8 = 7;
const V_STR: u8 = 8;
const V_SEQ: u8 = 9;
const V_MAP: u8 = 10;
const V_KWARGS: u8 = 11;

/// Constants nest (lists of lists): bounded, so a malformed entry cannot recurse deeply.
const MAX_VALUE_DEPTH: usize = 32;

struct Decoder<'a, 't> {
    r: Reader<'a>,
    text: &'t Text,
}

impl<'t> Decoder<'_, 't> {
    fn str(&mut self) -> Option<&'t str> {
        let place = self.r.byte()?;
        let offset = self.r.len()?;
        let len = self.r.len()?;
        let from: &'t str = match place {
            0 => &self.text.source,
            1 => &self.text.extra,
            _ => return None,
        };
        from.get(offset..offset.checked_add(len)?)
    }

    fn opt(&mut self) -> Option<Option<u16>> {
        match self.r.int()? {
            0 => Some(None),
            n => Some(Some(u16::try_from(n - 1).ok()?)),
        }
    }

    fn target(&mut self, count: usize) -> Option<u32> {
        let t = u32::try_from(self.r.int()?).ok()?;
        (t as usize <= count).then_some(t)
    }

    fn local(&mut self) -> Option<u8> {
        let id = self.r.byte()?;
        (id < MAX_LOCALS || id == !0).then_some(id)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_VALUE_DEPTH {
            return None;
        }
        Some(match self.r.byte()? {
            V_NONE => Value::from(()),
            V_FALSE => Value::from(false),
            V_TRUE => Value::from(true),
            V_U64 => Value::from(self.r.int()?),
            V_I64 => Value::from(unzigzag(self.r.int()?)),
            V_F64 => Value::from(f64::from_bits(u64::from_le_bytes(
                self.r.take(8)?.try_into().ok()?,
            ))),
            V_U128 => Value::from(u128::from_le_bytes(self.r.take(16)?.try_into().ok()?)),
            V_I128 => Value::from(i128::from_le_bytes(self.r.take(16)?.try_into().ok()?)),
            V_STR => Value::from(self.r.str()?),
            V_SEQ => {
                let n = self.r.len()?;
                let mut items = Vec::with_capacity(n.min(self.r.0.len()));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::from(items)
            }
            V_MAP => {
                let n = self.r.len()?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let key = self.value(depth + 1)?;
                    m.insert(key, self.value(depth + 1)?);
                }
                Value::from_object(m)
            }
            V_KWARGS => {
                let n = self.r.len()?;
                let mut pairs = Vec::with_capacity(n.min(self.r.0.len()));
                for _ in 0..n {
                    let key = self.r.str()?.to_string();
                    pairs.push((key, self.value(depth + 1)?));
                }
                Value::from(Kwargs::from_iter(pairs))
            }
            _ => return None,
        })
    }

    fn span(&mut self) -> Option<Span> {
        let mut small = || u16::try_from(self.r.int()?).ok();
        let start_line = small()?;
        let start_col = small()?;
        let start_offset = u32::try_from(self.r.int()?).ok()?;
        let mut small = || u16::try_from(self.r.int()?).ok();
        let end_line = small()?;
        let end_col = small()?;
        let end_offset = u32::try_from(self.r.int()?).ok()?;
        Some(Span {
            start_line,
            start_col,
            start_offset,
            end_line,
            end_col,
            end_offset,
        })
    }

    /// Adds `instr` to `ins` with the location that follows it (see [`Located`]). Not
    /// inlined: each of [`Decoder::instruction`]'s arms hands its instruction straight here,
    /// rather than through one `Option` copied between misaligned stack slots (which stalled
    /// every instruction on a failed store-to-load forwarding).
    #[inline(never)]
    fn put(
        &mut self,
        ins: &mut Instructions<'t>,
        at: &mut Located,
        instr: Instruction<'t>,
    ) -> Option<()> {
        match self.r.byte()? {
            LOC_NONE => ins.add(instr),
            LOC_LINE => {
                let line = u16::try_from(self.r.int()?).ok()?;
                at.line = Some(line);
                ins.add_with_line(instr, line)
            }
            LOC_SAME_LINE => ins.add_with_line(instr, at.line?),
            LOC_SPAN => {
                let span = self.span()?;
                at.span = Some(span);
                at.line = Some(span.start_line);
                ins.add_with_span(instr, span)
            }
            LOC_SAME_SPAN => ins.add_with_span(instr, at.span?),
            _ => return None,
        };
        Some(())
    }

    /// Decodes the next instruction and adds it to `ins` ([`Decoder::put`]).
    fn instruction(
        &mut self,
        count: usize,
        ins: &mut Instructions<'t>,
        at: &mut Located,
    ) -> Option<()> {
        use Instruction as I;
        let instr = match self.r.byte()? {
            0 => I::EmitRaw(self.str()?),
            1 => I::StoreLocal(self.str()?),
            2 => I::Lookup(self.str()?),
            3 => I::GetAttr(self.str()?),
            4 => I::SetAttr(self.str()?),
            5 => I::GetItem,
            6 => I::Slice,
            7 => I::LoadConst(self.value(0)?),
            8 => I::BuildMap(self.r.len()?),
            9 => I::BuildKwargs(self.r.len()?),
            10 => I::MergeKwargs(self.r.len()?),
            11 => I::BuildList(match self.r.len()? {
                0 => None,
                n => Some(n - 1),
            }),
            12 => I::UnpackList(self.r.len()?),
            13 => I::UnpackLists(self.r.len()?),
            14 => I::Add,
            15 => I::Sub,
            16 => I::Mul,
            17 => I::Div,
            18 => I::IntDiv,
            19 => I::Rem,
            20 => I::Pow,
            21 => I::Neg,
            22 => I::Eq,
            23 => I::Ne,
            24 => I::Gt,
            25 => I::Gte,
            26 => I::Lt,
            27 => I::Lte,
            28 => I::Not,
            29 => I::StringConcat,
            30 => I::In,
            op @ (31 | 47) => {
                let (_, instr) = prototypes().get(self.r.len()?)?;
                if opcode(instr) != op {
                    return None;
                }
                instr.clone()
            }
            32 => I::ApplyFilter(self.str()?, self.opt()?, self.local()?),
            33 => I::PerformTest(self.str()?, self.opt()?, self.local()?),
            34 => I::Emit,
            35 => I::PushLoop(self.r.byte()?),
            36 => I::PushWith,
            37 => I::Iterate(self.target(count)?),
            38 => I::PushDidNotIterate,
            39 => I::PopFrame,
            40 => I::PopLoopFrame,
            41 => I::Jump(self.target(count)?),
            42 => I::JumpIfFalse(self.target(count)?),
            43 => I::JumpIfFalseOrPop(self.target(count)?),
            44 => I::JumpIfTrueOrPop(self.target(count)?),
            45 => I::PushAutoEscape,
            46 => I::PopAutoEscape,
            48 => I::EndCapture,
            49 => I::CallFunction(self.str()?, self.opt()?),
            50 => I::CallMethod(self.str()?, self.opt()?),
            51 => I::CallObject(self.opt()?),
            52 => I::DupTop,
            53 => I::DiscardTop,
            54 => I::FastSuper,
            55 => I::FastRecurse,
            56 => I::Swap,
            57 => I::CallBlock(self.str()?),
            58 => I::LoadBlocks,
            59 => I::Include(match self.r.byte()? {
                0 => false,
                1 => true,
                _ => return None,
            }),
            60 => I::ExportLocals,
            61 => I::BuildMacro(self.str()?, self.target(count)?, self.r.byte()?),
            62 => I::Return,
            63 => I::IsUndefined,
            64 => I::Enclose(self.str()?),
            65 => I::GetClosure,
            _ => return None,
        };
        self.put(ins, at, instr)
    }
}

/// Writes `n` as an unsigned LEB128 number.
fn put(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_span(out: &mut Vec<u8>, s: Span) {
    put(out, u64::from(s.start_line));
    put(out, u64::from(s.start_col));
    put(out, u64::from(s.start_offset));
    put(out, u64::from(s.end_line));
    put(out, u64::from(s.end_col));
    put(out, u64::from(s.end_offset));
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// A serializer that only tells which primitive a value is ([`Prim`]).
struct Capture;

#[derive(Debug)]
struct NotPrim;

impl std::fmt::Display for NotPrim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a primitive constant")
    }
}

impl std::error::Error for NotPrim {}

impl serde::ser::Error for NotPrim {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotPrim
    }
}

type Never = serde::ser::Impossible<Prim, NotPrim>;

impl serde::Serializer for Capture {
    type Ok = Prim;
    type Error = NotPrim;
    type SerializeSeq = Never;
    type SerializeTuple = Never;
    type SerializeTupleStruct = Never;
    type SerializeTupleVariant = Never;
    type SerializeMap = Never;
    type SerializeStruct = Never;
    type SerializeStructVariant = Never;

    fn serialize_bool(self, v: bool) -> Result<Prim, NotPrim> {
        Ok(Prim::Bool(v))
    }
    fn serialize_i8(self, _: i8) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_i16(self, _: i16) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_i32(self, _: i32) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_i64(self, v: i64) -> Result<Prim, NotPrim> {
        Ok(Prim::I64(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Prim, NotPrim> {
        Ok(Prim::I128(v))
    }
    fn serialize_u8(self, _: u8) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_u16(self, _: u16) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_u32(self, _: u32) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_u64(self, v: u64) -> Result<Prim, NotPrim> {
        Ok(Prim::U64(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Prim, NotPrim> {
        Ok(Prim::U128(v))
    }
    fn serialize_f32(self, _: f32) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_f64(self, v: f64) -> Result<Prim, NotPrim> {
        Ok(Prim::F64(v))
    }
    fn serialize_char(self, _: char) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_str(self, v: &str) -> Result<Prim, NotPrim> {
        Ok(Prim::Str(v.to_string()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_none(self) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_some<T: ?Sized + serde::Serialize>(self, _: &T) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_unit(self) -> Result<Prim, NotPrim> {
        Ok(Prim::Unit)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_newtype_struct<T: ?Sized + serde::Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_newtype_variant<T: ?Sized + serde::Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Prim, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_tuple(self, _: usize) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Never, NotPrim> {
        Err(NotPrim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles `source`, and asserts its instructions survive the stored form unchanged:
    /// every instruction, line and span, and the bytes encoded again.
    fn round_trip(name: &str, source: &str) -> Vec<u8> {
        let compiled = Program::compile(name, source).unwrap();
        assert!(compiled.storable(), "{name}: not storable");
        let bytes = compiled
            .encode()
            .unwrap_or_else(|| panic!("{name}: not encoded"));
        let decoded = Program::decode(name, source, &bytes)
            .unwrap_or_else(|| panic!("{name}: does not decode"));
        let (a, b) = (compiled.instructions(), decoded.instructions());
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}");
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() as u32 {
            assert_eq!(a.get_line(i), b.get_line(i), "{name}: line of {i}");
            assert_eq!(a.get_span(i), b.get_span(i), "{name}: span of {i}");
        }
        assert_eq!(
            decoded.encode().as_deref(),
            Some(bytes.as_slice()),
            "{name}"
        );
        bytes
    }

    /// Templates that make every kind of instruction and constant the stored form takes.
    const EVERY_KIND: &str = r#"raw {{ a }} {{- b.c }} {{ d[0] }} {{ e[1:2:3] }} {{ e[:] }}
{% set f = 1 %}{% set g, h = [1, 2] %}{{ [a, b] }} {{ {"k": a} }} {{ [1, "x", none, true] }}
{{ {"a": 1, "b": [2.5, -3]} }} {{ 1 + a - 2 * b / 3 // 4 % 5 ** 6 }} {{ -a }} {{ -1 }}
{{ 340282366920938463463374607431768211455 }} {{ -170141183460469231731687303715884105728 }}
{{ 18446744073709551615 }} {{ 1.5e300 }} {{ "é\n\"" ~ 'x' }}
{{ a == b }}{{ a != b }}{{ a < b }}{{ a <= b }}{{ a > b }}{{ a >= b }}{{ a in b }}
{{ a not in b }}{{ a == b == c }}{{ a != b != c }}{{ a < b < c }}{{ a <= b <= c }}
{{ a > b > c }}{{ a >= b >= c }}{{ a in b in c }}{{ a not in b not in c }}
{{ not a }}{{ a and b or c }}{{ a | upper }}{{ a | default("x", true) }}
{{ a is defined }}{{ a is divisibleby(3) }}{{ f(1, 2) }}{{ f(*a) }}{{ f(x=1, y="z") }}
{{ f(x=a) }}{{ f(**a) }}{{ f(1, x=a, **b) }}{{ a.m(1) }}{{ a.m() }}{{ a(1)(2) }}
{% for x in a %}{{ loop.index }}{% if x %}{% continue %}{% else %}{% break %}{% endif %}
{% else %}empty{% endfor %}{% for k, v in a if v recursive %}{{ loop(v) }}{% endfor %}
{% with x = 1 %}{{ x }}{% endwith %}{% set ns = namespace(v=1) %}{% set ns.v = 2 %}
{% set cap %}captured {{ a }}{% endset %}{% filter upper %}text{% endfilter %}
{% autoescape true %}{{ a }}{% endautoescape %}
{% macro m(x, y=1) %}{{ x }}{{ caller() if caller }}{% endmacro %}{{ m(1) }}
{% call m(2) %}in the call{% endcall %}{% call(z) m(3) %}{{ z }}{% endcall %}
{% include "other.txt" ignore missing %}{% from "lib" import m2 %}{% import "lib" as lib %}
{{ self.x() if false }}
"#;

    #[test]
    fn every_kind_of_instruction_round_trips() {
        let t = Program::compile("every", EVERY_KIND).unwrap();
        // The silent undefined of `x if y` without an else cannot be told from Go's
        // undefined: such a template is not stored.
        assert!(!t.storable());
        assert!(t.encode().is_none());
        let storable = EVERY_KIND.replace("{{ self.x() if false }}", "");
        let storable = storable.replace("{{ caller() if caller }}", "{{ caller() }}");
        round_trip("every", &storable);
        let prototypes = prototypes();
        assert_eq!(prototypes.len(), 10, "{prototypes:?}");
    }

    /// The stored form names the minijinja version whose instructions it holds: a bump of
    /// minijinja must bump [`FORMAT`] (and check that every instruction is still stored).
    #[test]
    fn the_format_names_the_minijinja_version_in_use() {
        let lock = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
        )
        .unwrap();
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("\nname = \"minijinja\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .map(|v| v.trim_matches('"').to_string())
            .expect("minijinja in Cargo.lock");
        assert!(
            FORMAT.starts_with(&format!("minijinja {version} ")),
            "{FORMAT} against minijinja {version}"
        );
    }

    #[test]
    fn malformed_bytes_decode_to_none_never_a_crash() {
        let source = "a {{ f(x=1, y=[1, 'two']) }} {% for x in a %}{{ x | upper }}{% endfor %}";
        let bytes = round_trip("t", source);
        for cut in 0..bytes.len() {
            assert!(
                Program::decode("t", source, &bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Program::decode("t", source, &extra).is_none());
        assert!(
            Program::decode("t", "", &bytes).is_none(),
            "offsets beyond the source"
        );
        assert!(Program::decode("t", source, &[0xff; 16]).is_none());
        // Any single byte changed: decoded or refused, never a panic.
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = Program::decode("t", source, &damaged);
            }
        }
    }

    #[test]
    fn programs_render_as_minijinja_templates() {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        let source = "{% for x in items %}{{ loop.index }}={{ x | upper }} {% endfor %}\n";
        let ctx = minijinja::context! { items => ["a", "b"] };
        let expected = env.template_from_str(source).unwrap().render(&ctx).unwrap();
        let bytes = round_trip("t", source);
        let program = Program::decode("t", source, &bytes).unwrap();
        assert_eq!(
            program.render(&env, Value::from_serialize(&ctx)).unwrap(),
            expected
        );
        assert_eq!(expected, "1=A 2=B \n");
        // Errors carry the template's name and line as minijinja's own.
        let failing = "line one\n{{ 1 + none }}";
        let err = Program::compile("bad", failing)
            .unwrap()
            .render(&env, Value::from(()))
            .unwrap_err();
        let theirs = env
            .template_from_named_str("bad", failing)
            .unwrap()
            .render(())
            .unwrap_err();
        assert_eq!(
            (err.name(), err.line(), err.range(), err.to_string()),
            (
                theirs.name(),
                theirs.line(),
                theirs.range(),
                theirs.to_string()
            )
        );
    }
}

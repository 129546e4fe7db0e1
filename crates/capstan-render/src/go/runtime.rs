//! The runtime of translated Go templates: field access, ranges, printing, and Helm's
//! functions that reach the running template (`include`, `template`, `tpl`, `required`,
//! `fail`, `lookup`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use capstan_sprig::value::{
    Kind, Num, as_list, as_map, int, is_nil, kind, list, map, map_entries, nil, num, type_name,
};
use capstan_sprig::{go_error, want_args};
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Error, ErrorKind, State, Value};

use super::errors;
use super::{GoTemplates, define_name};
use crate::objects::{FailMarker, SESSION_KEY, Session, limit_error};

/// Where the Go runtime keeps its per-render state in every context.
pub(crate) const GO_KEY: &str = "__go";

/// The named templates a `tpl` text defines, by name.
pub(crate) type Overlay = Arc<HashMap<String, Arc<super::Compiled>>>;

/// Most Go maps whose includes' outputs a render keeps (each map is held until the render
/// ends: a loop including a template with a new `dict` each time keeps nothing past this).
const MAX_KEPT_DATA: usize = 4096;

/// The per-render state of a Go chart's render: the engine's session (limits, time, output)
/// and the named templates that `tpl` texts define while they run.
#[derive(Debug)]
pub(crate) struct GoSession {
    pub session: Arc<Session>,
    pub templates: Arc<GoTemplates>,
    /// `define`s of the `tpl` texts being executed, innermost last.
    pub overlays: Mutex<Vec<Overlay>>,
    /// Outputs of includes whose data is a Go map, by the map's address (see [`include`]).
    pub includes: Mutex<HashMap<usize, Included>>,
}

/// The outputs of the templates included with one Go map as data.
#[derive(Debug)]
pub(crate) struct Included {
    /// The map, held so that its address names no other map while the render runs.
    _data: Value,
    /// By template name.
    outputs: HashMap<String, Output>,
}

/// An include's output and the counts it was made at (see [`include`]).
#[derive(Debug)]
struct Output {
    /// `capstan_sprig::value::effects`.
    effects: u64,
    /// `capstan_sprig::value::template_writes`.
    template_writes: u64,
    /// Whether making it read a `.Template`.
    read_template: bool,
    output: Value,
}

impl Object for GoSession {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

thread_local! {
    /// The Go renders running on this thread, innermost last. A render is synchronous: every
    /// template, include, `tpl` and function of it runs on the thread that started it.
    static CURRENT: RefCell<Vec<Arc<GoSession>>> = const { RefCell::new(Vec::new()) };
}

/// Marks a Go render as running on this thread until dropped (see [`go_session`]).
pub(crate) struct Running(());

impl Running {
    pub(crate) fn start(go: Arc<GoSession>) -> Running {
        CURRENT.with(|c| c.borrow_mut().push(go));
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

/// The session of the running render: the thread's current one, without searching the
/// template's scopes for it; else (a template evaluated outside [`GoChart::render`]) the one in
/// its context.
///
/// [`GoChart::render`]: super::GoChart::render
pub(crate) fn go_session(state: &State<'_, '_>) -> Result<Arc<GoSession>, Error> {
    if let Some(go) = CURRENT.with(|c| c.borrow().last().cloned()) {
        return Ok(go);
    }
    state
        .lookup(GO_KEY)
        .and_then(|v| v.downcast_object::<GoSession>())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no Go render session"))
}

/// The context a translated template is rendered with: dot as `D0`, and the render's
/// sessions under [`GO_KEY`] and [`SESSION_KEY`]. A scope minijinja searches for every name it
/// does not find in the template's own, so it answers by comparing the name with three.
#[derive(Debug)]
pub(crate) struct GoContext {
    pub dot: Value,
    pub go: Arc<GoSession>,
}

impl GoContext {
    pub(crate) fn value(dot: Value, go: Arc<GoSession>) -> Value {
        Value::from_object(GoContext { dot, go })
    }
}

impl Object for GoContext {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match key {
            "D0" => Some(self.dot.clone()),
            GO_KEY => Some(Value::from_dyn_object(self.go.clone())),
            SESSION_KEY => Some(Value::from_dyn_object(self.go.session.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["D0", GO_KEY, SESSION_KEY])
    }
}

/// Registers the runtime and every function of the library (as `f_NAME`). Every string a
/// function returns is bounded by `max_string_bytes` (checked on the result: a runaway
/// doubling stops within twice the bound).
pub(crate) fn register(
    env: &mut Environment<'static>,
    registry: &capstan_sprig::Registry,
    max_string_bytes: usize,
) {
    // Every Go function and runtime operation is a filter (see `capstan_gotmpl::translate`):
    // a function `f_NAME` is called as `none|f_NAME(args...)`, its piped `none` dropped.
    for (name, f) in registry.iter() {
        let pure = PURE_FUNCTIONS.contains(&name);
        env.add_filter(
            format!("f_{name}"),
            move |state: &State<'_, '_>, args: &[Value]| {
                if !pure {
                    capstan_sprig::value::note_effect();
                }
                let value = f(state, go_args(args))?;
                if let Some(s) = value.as_str()
                    && s.len() > max_string_bytes
                {
                    return Err(limit_error(format!(
                        "{name} built a string of {} bytes, more than the limit of {max_string_bytes}",
                        s.len()
                    )));
                }
                Ok(untyped(value))
            },
        );
    }
    env.add_filter("go_field", go_field);
    env.add_filter("go_method", go_method);
    env.add_filter("go_range", |v: &Value| go_range(v, false));
    env.add_filter("go_range2", |v: &Value| go_range(v, true));
    env.add_function("go_fail", |msg: String| -> Result<Value, Error> {
        Err(go_error(msg))
    });
    env.add_function("go_v", |v: Value| v);
    env.add_function(
        "go_template",
        |state: &State<'_, '_>, name: String, data: Value| -> Result<Value, Error> {
            if !template_exists(state, &name)? {
                return Err(go_error(format!("template {name:?} not defined")));
            }
            include(state, &name, data).map_err(errors::pass_through)
        },
    );
    env.add_filter("f_include", |state: &State<'_, '_>, args: &[Value]| {
        let args = go_args(args);
        want_args("include", args, 2)?;
        let name = args[0].as_str().ok_or_else(|| {
            capstan_sprig::arg_error(
                0,
                format!(
                    "wrong type for value; expected string; got {}",
                    type_name(&args[0])
                ),
            )
        })?;
        include(state, name, args[1].clone())
    });
    env.add_filter("f_tpl", |state: &State<'_, '_>, args: &[Value]| {
        let args = go_args(args);
        want_args("tpl", args, 2)?;
        let text = args[0].as_str().ok_or_else(|| {
            capstan_sprig::arg_error(
                0,
                format!(
                    "wrong type for value; expected string; got {}",
                    type_name(&args[0])
                ),
            )
        })?;
        tpl(state, text, args[1].clone()).map(Value::from)
    });
    env.add_filter("f_required", |state: &State<'_, '_>, args: &[Value]| {
        let args = go_args(args);
        want_args("required", args, 2)?;
        let empty = is_nil(&args[1]) || args[1].as_str() == Some("");
        if empty {
            let message = capstan_sprig::fmt::sprint_value(&args[0]);
            // Helm's lint mode: noted, and the value is "".
            capstan_sprig::value::note_effect();
            if go_session(state).is_ok_and(|g| {
                g.session
                    .linted(format!("Missing required value: {message}"))
            }) {
                return Ok(Value::from(""));
            }
            return Err(fail_error(&message));
        }
        Ok(args[1].clone())
    });
    env.add_filter(
        "f_fail",
        |state: &State<'_, '_>, args: &[Value]| -> Result<Value, Error> {
            let args = go_args(args);
            want_args("fail", args, 1)?;
            let message = capstan_sprig::fmt::sprint_value(&args[0]);
            capstan_sprig::value::note_effect();
            if go_session(state).is_ok_and(|g| g.session.linted(format!("Fail: {message}"))) {
                return Ok(Value::from(""));
            }
            Err(fail_error(&message))
        },
    );
    env.add_filter("f_lookup", |state: &State<'_, '_>, args: &[Value]| {
        let args = go_args(args);
        want_args("lookup", args, 4)?;
        let mut parts = Vec::with_capacity(4);
        for (i, arg) in args.iter().enumerate() {
            match arg.as_str() {
                Some(s) => parts.push(s.to_owned()),
                None => {
                    return Err(capstan_sprig::arg_error(
                        i,
                        format!(
                            "wrong type for value; expected string; got {}",
                            type_name(arg)
                        ),
                    ));
                }
            }
        }
        let [api_version, kind, namespace, name] = <[String; 4]>::try_from(parts)
            .map_err(|_| Error::new(ErrorKind::InvalidOperation, "lookup takes 4 arguments"))?;
        // The keys asked without an answer are noted for the caller.
        capstan_sprig::value::note_effect();
        let session = go_session(state)?;
        let found = session.session.lookups.resolve(crate::LookupKey {
            api_version,
            kind,
            namespace,
            name,
        });
        // As Kubernetes' unstructured objects: integers are int64.
        Ok(found.map_or_else(
            || map(Default::default()),
            |object| capstan_sprig::value::from_json(&object, capstan_sprig::value::Numbers::Int64),
        ))
    });
}

/// A Go function's arguments: a filter's, without the `none` piped into it.
fn go_args(args: &[Value]) -> &[Value] {
    args.get(1..).unwrap_or_default()
}

/// Every function name the runtime answers, for the translator.
pub(crate) const ENGINE_FUNCTIONS: &[&str] =
    &["include", "tpl", "required", "fail", "lookup", "and", "or"];

/// `fail` and `required`: Helm wraps the message so the error can be reworded at the top.
fn fail_error(msg: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("HELM_ERR_START{msg}HELM_ERR_END"),
    )
    .with_source(FailMarker)
}

/// A command's value as Go's pipelines leave it: a nil holding an interface type (read from a
/// map or list: none) becomes an untyped nil (undefined).
fn untyped(v: Value) -> Value {
    if v.is_none() { Value::UNDEFINED } else { v }
}

/// `x.A.B...`: niladic methods, struct fields and map keys, with Go's errors. A field of an
/// untyped nil (a variable, a pipeline's value, an include's data) is nil; of a nil read from a
/// map or list it is Go's `nil pointer evaluating interface {}.A`. `unwrap`: the result is a
/// whole command's value (see [`untyped`]).
fn go_field(state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let (Some(receiver), Some(unwrap)) = (args.first(), args.get(1)) else {
        return Err(Error::from(ErrorKind::MissingArgument));
    };
    let unwrap = unwrap.is_true();
    let mut cur = receiver.clone();
    for (i, name) in args[2..].iter().enumerate() {
        let name = name.as_str().unwrap_or_default();
        // Fast paths, each giving what the general rules below give:
        // a plain Go map (no methods, Kind::Map): the key, or nil;
        if let Some(m) = cur.downcast_object_ref::<capstan_sprig::value::GoMap>() {
            cur = m
                .get(name)
                .filter(|v| !v.is_undefined())
                .unwrap_or_else(nil);
            continue;
        }
        let maybe_method = name.starts_with(|c: char| c.is_ascii_uppercase());
        // `.Values` (a map with methods) read by a name no method can have;
        if !maybe_method
            && let Some(m) = cur.downcast_object_ref::<capstan_sprig::value::NamedMap>()
        {
            cur = m
                .map
                .get(name)
                .filter(|v| !v.is_undefined())
                .unwrap_or_else(nil);
            continue;
        }
        // a field a struct has (a missing one is the error below).
        if let Some(field) = cur
            .downcast_object_ref::<capstan_sprig::value::GoStruct>()
            .and_then(|st| st.fields.get(name))
            .filter(|v| !v.is_undefined())
        {
            cur = field.clone();
            continue;
        }
        if cur.is_undefined() {
            return Ok(Value::UNDEFINED);
        }
        if cur.is_none() {
            return Err(go_error(format!(
                "nil pointer evaluating interface {{}}.{name}"
            )));
        }
        // Methods come before fields and keys, as in Go (`(.Files.Glob "x").AsConfig`); only
        // exported (capitalised) names can be methods, so `.Values.image` never asks.
        if maybe_method && has_methods(&cur) {
            // The object's own method only: minijinja's `Value::call_method` would fall back to
            // calling an attribute of that name.
            let own = cur.as_object().map(|o| o.call_method(state, name, &[]));
            match own.unwrap_or_else(|| Err(Error::new(ErrorKind::UnknownMethod, ""))) {
                Err(e) if e.kind() == ErrorKind::UnknownMethod => {}
                other => {
                    cur = other?;
                    continue;
                }
            }
        }
        // The static type Go names in the error: the value's own for the first step, the
        // map's element type (`interface {}`) after it.
        let static_type = |cur: &Value| {
            if i == 0 {
                type_name(cur)
            } else {
                "interface {}".to_string()
            }
        };
        cur = match kind(&cur) {
            Kind::Map => match as_map(&cur) {
                Some(m) => m
                    .get(name)
                    .filter(|v| !v.is_undefined())
                    .unwrap_or_else(nil),
                None => cur
                    .get_attr(name)
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .unwrap_or_else(nil),
            },
            Kind::Struct => match cur.get_attr(name) {
                Ok(v) if !v.is_undefined() => v,
                _ => {
                    return Err(go_error(format!(
                        "can't evaluate field {name} in type {}",
                        static_type(&cur)
                    )));
                }
            },
            _ => {
                return Err(go_error(format!(
                    "can't evaluate field {name} in type {}",
                    static_type(&cur)
                )));
            }
        };
    }
    Ok(if unwrap { untyped(cur) } else { cur })
}

/// Whether `v` is a built-in object with methods (`.Files`, `.Capabilities.APIVersions`).
fn has_methods(v: &Value) -> bool {
    v.as_object().is_some()
        && v.downcast_object_ref::<capstan_sprig::value::GoMap>()
            .is_none()
        && v.downcast_object_ref::<capstan_sprig::value::GoStruct>()
            .is_none()
        && v.downcast_object_ref::<capstan_sprig::value::Int64>()
            .is_none()
}

/// `x.Method args...` on a built-in object.
fn go_method(state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let (Some(receiver), Some(method)) = (args.first(), args.get(1)) else {
        return Err(Error::from(ErrorKind::MissingArgument));
    };
    let method = method.as_str().unwrap_or_default();
    let args = &args[2..];
    if is_nil(receiver) {
        return Err(go_error(format!(
            "nil pointer evaluating interface {{}}.{method}"
        )));
    }
    if as_map(receiver).is_some() {
        // Go: a map's key is not a method, present or not.
        return Err(errors::exec_error(format!(
            "{method} is not a method but has arguments"
        )));
    }
    let own = receiver
        .as_object()
        .map(|o| o.call_method(state, method, args));
    match own.unwrap_or_else(|| Err(Error::new(ErrorKind::UnknownMethod, ""))) {
        Ok(v) => Ok(untyped(v)),
        // The object's own words when it gives them (its Go type's name).
        Err(e) if e.kind() == ErrorKind::UnknownMethod => Err(errors::exec_error(
            e.detail().filter(|d| !d.is_empty()).map_or_else(
                || {
                    format!(
                        "can't evaluate field {method} in type {}",
                        type_name(receiver)
                    )
                },
                str::to_string,
            ),
        )),
        Err(e) => Err(e),
    }
}

/// What `range` iterates: elements (or, with `pairs`, key/index and element).
fn go_range(v: &Value, pairs: bool) -> Result<Value, Error> {
    let pair = |k: Value, x: Value| list(vec![k, x]);
    match kind(v) {
        Kind::Invalid => Ok(list(Vec::new())),
        // A slice's elements: a list value iterates as itself (lists are never changed in
        // place, so no copy is needed to iterate it as it was).
        Kind::Slice if !pairs && v.downcast_object_ref::<Vec<Value>>().is_some() => Ok(v.clone()),
        Kind::Slice => {
            let items = as_list(v).unwrap_or_default();
            if pairs {
                Ok(list(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| pair(int(i as i64), x))
                        .collect(),
                ))
            } else {
                Ok(list(items))
            }
        }
        Kind::Map => {
            let entries = map_entries(v);
            Ok(list(
                entries
                    .into_iter()
                    .map(|(k, x)| if pairs { pair(Value::from(k), x) } else { x })
                    .collect(),
            ))
        }
        Kind::Int | Kind::Int64 => {
            let n = num(v).map_or(0, Num::as_i64);
            if pairs {
                return Err(go_error(format!(
                    "can't use {n} to iterate over more than one variable"
                )));
            }
            let make = |i: i64| match num(v) {
                Some(Num::Int64(_)) => capstan_sprig::value::int64(i),
                _ => int(i),
            };
            Ok(list((0..n.max(0)).map(make).collect()))
        }
        _ => Err(go_error(format!(
            "range can't iterate over {}",
            capstan_sprig::fmt::sprint_value(v)
        ))),
    }
}

/// Sprig's and Helm's functions whose result their arguments fix, and that change nothing but
/// Go maps (`set`, `merge`: their writes count as effects themselves, see `GoMap`). Every
/// other function counts as an effect when called (random values, the clock, certificates,
/// `lookup`): an include that calls one is rendered anew every time.
const PURE_FUNCTIONS: &[&str] = &[
    "abbrev",
    "abbrevboth",
    "add",
    "add1",
    "add1f",
    "addf",
    "adler32sum",
    "all",
    "any",
    "append",
    "atoi",
    "b32dec",
    "b32enc",
    "b64dec",
    "b64enc",
    "base",
    "biggest",
    "camelcase",
    "cat",
    "ceil",
    "chunk",
    "clean",
    "coalesce",
    "compact",
    "concat",
    "contains",
    "deepCopy",
    "deepEqual",
    "default",
    "dict",
    "dig",
    "dir",
    "div",
    "divf",
    "empty",
    "eq",
    "ext",
    "first",
    "float64",
    "floor",
    "fromJson",
    "fromJsonArray",
    "fromToml",
    "fromYaml",
    "fromYamlArray",
    "ge",
    "get",
    "gt",
    "has",
    "hasKey",
    "hasPrefix",
    "hasSuffix",
    "html",
    "indent",
    "index",
    "initial",
    "initials",
    "int",
    "int64",
    "isAbs",
    "join",
    "js",
    "kebabcase",
    "keys",
    "kindIs",
    "kindOf",
    "last",
    "le",
    "len",
    "list",
    "lower",
    "lt",
    "max",
    "maxf",
    "merge",
    "mergeOverwrite",
    "min",
    "minf",
    "mod",
    "mul",
    "mulf",
    "mustAppend",
    "mustChunk",
    "mustCompact",
    "mustDeepCopy",
    "mustFirst",
    "mustFromJson",
    "mustHas",
    "mustInitial",
    "mustLast",
    "mustMerge",
    "mustMergeOverwrite",
    "mustPrepend",
    "mustPush",
    "mustRegexFind",
    "mustRegexFindAll",
    "mustRegexMatch",
    "mustRegexReplaceAll",
    "mustRegexReplaceAllLiteral",
    "mustRegexSplit",
    "mustRest",
    "mustReverse",
    "mustSlice",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "mustUniq",
    "mustWithout",
    "ne",
    "nindent",
    "nospace",
    "not",
    "omit",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "pick",
    "pluck",
    "plural",
    "prepend",
    "print",
    "printf",
    "println",
    "push",
    "quote",
    "regexFind",
    "regexFindAll",
    "regexMatch",
    "regexQuoteMeta",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "repeat",
    "replace",
    "rest",
    "reverse",
    "round",
    "semver",
    "semverCompare",
    "seq",
    "set",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "slice",
    "snakecase",
    "sortAlpha",
    "split",
    "splitList",
    "splitn",
    "squote",
    "sub",
    "subf",
    "substr",
    "swapcase",
    "ternary",
    "title",
    "toDecimal",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "toString",
    "toStrings",
    "toToml",
    "toYaml",
    "toYamlPretty",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trimall",
    "trunc",
    "tuple",
    "typeIs",
    "typeIsLike",
    "typeOf",
    "uniq",
    "unset",
    "until",
    "untilStep",
    "untitle",
    "upper",
    "urlJoin",
    "urlParse",
    "urlquery",
    "values",
    "without",
    "wrap",
    "wrapWith",
];

/// `include` and `template`: the named template's output for `data`. What a template gives
/// for a Go map as data is kept and given again for the same name and map while the effect
/// count (`capstan_sprig::value::effects`: Go map writes on this thread, the only one a map of this render is written on, and functions whose result
/// their arguments do not fix) has not moved since: dot is the same map with the same
/// contents, `$` is dot, named templates do not change during a render, and the template did
/// nothing but write its output. The engine's `.Template` writes are not effects: an output
/// made while something read a `.Template` (`template_reads` moved) is given again only while
/// no `.Template` was written since. Inside a `tpl` text's defines, nothing is kept.
pub(crate) fn include(state: &State<'_, '_>, name: &str, data: Value) -> Result<Value, Error> {
    use capstan_sprig::value::{effects, note_template_read, template_reads, template_writes};
    let Some(id) = data
        .downcast_object_ref::<capstan_sprig::value::GoMap>()
        .map(|m| std::ptr::from_ref(m) as usize)
    else {
        return render_named(state, name, data).map(Value::from);
    };
    let go = go_session(state)?;
    let no_overlays = || {
        go.overlays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    };
    let lock = || go.includes.lock().unwrap_or_else(|e| e.into_inner());
    if !no_overlays() {
        return render_named(state, name, data).map(Value::from);
    }
    let hit = lock()
        .get(&id)
        .and_then(|i| i.outputs.get(name))
        .and_then(|o| {
            (o.effects == effects() && (!o.read_template || o.template_writes == template_writes()))
                .then(|| (o.read_template, o.output.clone()))
        });
    if let Some((read_template, output)) = hit {
        // The reused output read a `.Template`: so did this include, for the ones around it.
        if read_template {
            note_template_read();
        }
        return Ok(output);
    }
    // From here, a write to a map made before counts as an effect; the counts are read after.
    capstan_sprig::value::include_started();
    let (before, writes, reads) = (effects(), template_writes(), template_reads());
    let output = Value::from(render_named(state, name, data.clone())?);
    let read_template = template_reads() != reads;
    let mut kept = lock();
    if effects() == before
        && (!read_template || template_writes() == writes)
        && no_overlays()
        && (kept.len() < MAX_KEPT_DATA || kept.contains_key(&id))
    {
        kept.entry(id)
            .or_insert_with(|| Included {
                _data: data,
                outputs: HashMap::new(),
            })
            .outputs
            .insert(
                name.to_string(),
                Output {
                    effects: before,
                    template_writes: writes,
                    read_template,
                    output: output.clone(),
                },
            );
    }
    Ok(output)
}

/// Renders the named template `name` with `data` as dot (`include`, `template`).
pub(crate) fn render_named(
    state: &State<'_, '_>,
    name: &str,
    data: Value,
) -> Result<String, Error> {
    let go = go_session(state)?;
    // The render's include depth bounds recursion (Helm's own bound, 1000 nested includes of
    // one name, is never reached first).
    let _depth = go.session.enter(|| format!("include {name:?}"))?;
    render_named_inner(state, &go, name, data)
}

fn render_named_inner(
    state: &State<'_, '_>,
    go: &Arc<GoSession>,
    name: &str,
    data: Value,
) -> Result<String, Error> {
    let overlay = {
        let overlays = go.overlays.lock().unwrap_or_else(|e| e.into_inner());
        overlays.iter().rev().find_map(|o| o.get(name).cloned())
    };
    // The data reaches the template as `interface{}`: a nil is untyped there.
    let ctx = GoContext::value(untyped(data), go.clone());
    match overlay {
        Some(compiled) => {
            let (program, _) = compiled.program()?;
            program
                .render(state.env(), ctx)
                .map_err(|e| errors::nested(&compiled, &e))
        }
        None => {
            // Named templates first, then template files by path (`include (print
            // $.Template.BasePath "/configmap.yaml") .`).
            let mut key = define_name(name);
            if !go.templates.compiled.contains_key(&key) {
                key = name.to_string();
            }
            let Some(compiled) = go.templates.compiled.get(&key) else {
                return Err(go_error(format!(
                    "template: no template {name:?} associated with template \"gotpl\""
                )));
            };
            let program = go.templates.program(compiled)?;
            program
                .render(state.env(), ctx)
                .map_err(|e| errors::nested(compiled, &e))
        }
    }
}

/// Whether a named template (or template file) `name` exists for `{{ template }}`.
fn template_exists(state: &State<'_, '_>, name: &str) -> Result<bool, Error> {
    let go = go_session(state)?;
    let overlays = go.overlays.lock().unwrap_or_else(|e| e.into_inner());
    Ok(overlays.iter().any(|o| o.contains_key(name))
        || go.templates.compiled.contains_key(&define_name(name))
        || go.templates.compiled.contains_key(name))
}

/// Helm's `tpl`: `text` rendered as a template with `data` as dot; defines in the text are
/// visible to includes inside it; `<no value>` removed from the result.
fn tpl(state: &State<'_, '_>, text: &str, data: Value) -> Result<String, Error> {
    if !text.contains("{{") {
        return Ok(without_no_value(text.to_string()));
    }
    let go = go_session(state)?;
    let _depth = go.session.enter(|| "tpl".to_string())?;
    let compiled = go.templates.compile_tpl(text).map_err(|e| {
        go_error(format!(
            "cannot parse template {text:?}: {}",
            errors::tpl_syntax_error(text, &e)
        ))
    })?;
    let overlay = Arc::new(compiled.defines.clone());
    let pushed = !overlay.is_empty();
    if pushed {
        go.overlays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(overlay);
    }
    // Compiled once per text and chart (the translation cache keeps it).
    let result = compiled
        .body
        .program()
        .and_then(|(p, _)| p.render(state.env(), GoContext::value(data, go.clone())))
        .map_err(|e| errors::nested(&compiled.body, &e));
    if pushed {
        go.overlays.lock().unwrap_or_else(|e| e.into_inner()).pop();
    }
    match result {
        Ok(out) => Ok(without_no_value(out)),
        Err(e) => Err(errors::rewrap(
            format!("error during tpl function execution for {text:?}"),
            e,
        )),
    }
}

/// `text` without Helm's `<no value>` (what Go prints for a missing value, which Helm removes
/// from every template's output). Most outputs have none: it is looked for with `memmem`.
pub(crate) fn without_no_value(text: String) -> String {
    const NO_VALUE: &str = "<no value>";
    if memchr::memmem::find(text.as_bytes(), NO_VALUE.as_bytes()).is_some() {
        text.replace(NO_VALUE, "")
    } else {
        text
    }
}

/// Helm's `toYaml` text of `v`.
pub(crate) fn to_yaml(v: &Value) -> Result<String, Error> {
    capstan_sprig::encoding::to_yaml(v)
}

/// Prints an action's value as Go does (`%v`; nil as `<no value>`); the render's time bound is
/// checked at every print.
pub(crate) fn formatter(
    out: &mut minijinja::Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    let text = match value.as_str() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(capstan_sprig::fmt::template_print(value)),
    };
    if let Ok(go) = go_session(state) {
        go.session.check_time_now_and_then()?;
    }
    out.write_str(&text)
        .map_err(|e| Error::new(ErrorKind::WriteFailure, "cannot write output").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::without_no_value;

    #[test]
    fn no_value_is_removed_wherever_it_is() {
        for (text, want) in [
            ("", ""),
            ("a: b\n", "a: b\n"),
            ("<no value>", ""),
            ("a: <no value>\nb: <no value>", "a: \nb: "),
            ("<<no value>>", "<>"),
            ("<no valu", "<no valu"),
            ("x <= y <no value", "x <= y <no value"),
            ("é<no value>é", "éé"),
        ] {
            assert_eq!(without_no_value(text.to_string()), want, "{text:?}");
        }
    }
}

//! Go's types on minijinja values.
//!
//! | Go | here |
//! |---|---|
//! | `nil` (an empty `interface{}`) | `Value::from(())` (none); undefined reads as nil too |
//! | `bool`, `string` | minijinja's own |
//! | `int` (template literals, `len`, Sprig's `int`) | an `i64` value |
//! | `int64` (`--set` integers, `add`, `int64`) | [`Int64`], an object |
//! | `float64` (every number of a values file, `float64`) | an `f64` value |
//! | `[]interface{}` | a minijinja sequence (slices are not changed in place by any function) |
//! | `map[string]interface{}` | [`GoMap`]: shared, mutable in place (`set`, `unset`, `merge`) |
//! | a struct (`.Release`, `.Chart`, ...) | [`GoStruct`]: fixed Go field names, an unknown one is an error |

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, Value};

/// The effect bookkeeping of the thread running a render (see [`effects`]), kept per thread:
/// a render runs on one thread (its part of a render split over two, see capstan-render's
/// `GoChart::render`), and a Go map is made, written and read only by the thread of the render
/// that made it (no map is shared between renders or between the parts of one), so what one
/// thread does cannot change what another's templates give, and the threads do not share a
/// counter's cache line at every map they make.
#[derive(Clone, Copy)]
struct Book {
    /// Counts what can make a template give another output for the same data: writes to Go
    /// maps (`set`, `unset`, `merge`; not the engine's `.Template`, nor maps made since the
    /// last include started, see [`include_started`]), and calls of the functions whose result
    /// their arguments do not fix (random values, the clock, `lookup`), which their callers
    /// note with [`note_effect`]. An evaluation during which the count did not move, repeated
    /// with the same data while it has still not moved, gives the same output (capstan-render's
    /// include cache).
    effects: u64,
    /// Orders when Go maps are made and when includes and templates start.
    clock: u64,
    /// When the last include started, on `clock` (see [`include_started`]).
    latest_include: u64,
    /// When the running top-level template started, on `clock` (see [`template_started`]).
    template_start: u64,
    /// Writes to maps made before the running top-level template started (see
    /// [`outside_writes`]).
    outside_writes: u64,
    /// Counts the engine's writes of `.Template` into a chart's root map (one per template
    /// rendered, see [`GoMap::insert_template`]): not effects, as most templates never read
    /// it.
    template_writes: u64,
    /// Counts reads that may see a `.Template`: the key `Template` of any map read or tested,
    /// and any whole reading (keys, length, entries) of a map holding a `Template` or
    /// `Subcharts` key (a chart's root, before or after its first `.Template`).
    template_reads: u64,
}

thread_local! {
    static BOOK: std::cell::Cell<Book> = const {
        std::cell::Cell::new(Book {
            effects: 0,
            clock: 1,
            latest_include: 0,
            template_start: 0,
            outside_writes: 0,
            template_writes: 0,
            template_reads: 0,
        })
    };
}

/// Reads this thread's bookkeeping.
#[inline]
fn book() -> Book {
    BOOK.with(std::cell::Cell::get)
}

/// Changes this thread's bookkeeping.
#[inline]
fn update(f: impl FnOnce(&mut Book)) {
    BOOK.with(|b| {
        let mut book = b.get();
        f(&mut book);
        b.set(book);
    });
}

/// The next time on this thread's clock.
#[inline]
fn tick() -> u64 {
    let mut now = 0;
    update(|b| {
        now = b.clock;
        b.clock += 1;
    });
    now
}

/// Notes that an include starts (before it reads [`effects`]): from then on a write to any
/// map made before counts as an effect; a write to a map made later (within the include, or
/// after it) does not, until the next include starts.
pub fn include_started() {
    update(|b| {
        b.latest_include = b.clock;
        b.clock += 1;
    });
}

/// Notes that a top-level template starts: from then on (until the next one starts) a write
/// to a map made before counts in [`outside_writes`].
pub fn template_started() {
    update(|b| {
        b.template_start = b.clock;
        b.clock += 1;
    });
}

/// The count, on this thread, of writes to Go maps made before the top-level template that
/// wrote them started (see [`template_started`]): while it does not move over a run of
/// templates, nothing they did is visible to a later template but their output (a map made
/// within a template reaches outside it only through a write to one made before).
pub fn outside_writes() -> u64 {
    book().outside_writes
}

/// The count of effects so far on this thread (see `Book::effects`).
pub fn effects() -> u64 {
    book().effects
}

/// Notes an effect: a Go map written, or a result its arguments do not fix.
pub fn note_effect() {
    update(|b| b.effects += 1);
}

/// The count of `.Template` writes so far on this thread (see `Book::template_writes`).
pub fn template_writes() -> u64 {
    book().template_writes
}

/// The count of reads that may have seen a `.Template` so far on this thread (see
/// `Book::template_reads`).
pub fn template_reads() -> u64 {
    book().template_reads
}

/// Notes a read that may have seen a `.Template` (an include's output reused, that read one).
pub fn note_template_read() {
    update(|b| b.template_reads += 1);
}

/// Go's `nil`.
pub fn nil() -> Value {
    Value::from(())
}

/// Whether `v` is Go's `nil` (a missing value included).
pub fn is_nil(v: &Value) -> bool {
    v.is_none() || v.is_undefined()
}

/// A Go `int`.
pub fn int(i: i64) -> Value {
    Value::from(i)
}

/// A Go `int64`.
pub fn int64(i: i64) -> Value {
    Value::from_object(Int64(i))
}

/// A Go `float64`.
pub fn float64(f: f64) -> Value {
    Value::from(f)
}

/// A Go `int64` (kept apart from `int`, which `typeOf`, `kindIs` and printing tell apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub i64);

impl Object for Int64 {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.0 != 0
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A number as Go sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// `int`.
    Int(i64),
    /// `int64`.
    Int64(i64),
    /// `float64`.
    Float(f64),
}

impl Num {
    /// The value as a float64 (Go's conversion).
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) | Num::Int64(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The value as an int64, truncating a float toward zero as Go's conversion does.
    pub fn as_i64(self) -> i64 {
        match self {
            Num::Int(i) | Num::Int64(i) => i,
            Num::Float(f) => go_float_to_int(f),
        }
    }

    /// Back to a value of the same Go type.
    pub fn to_value(self) -> Value {
        match self {
            Num::Int(i) => int(i),
            Num::Int64(i) => int64(i),
            Num::Float(f) => float64(f),
        }
    }
}

/// Go's `int64(f)`: truncation toward zero; out of range and NaN give the minimum int64 as
/// amd64 does.
pub fn go_float_to_int(f: f64) -> i64 {
    // 2^63: the first float64 past int64's range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// `v` as a Go number, if it is one (not a string, not a bool).
pub fn num(v: &Value) -> Option<Num> {
    if let Some(i) = v.downcast_object_ref::<Int64>() {
        return Some(Num::Int64(i.0));
    }
    if v.is_number() {
        if v.is_integer() {
            return i64::try_from(v.clone()).ok().map(Num::Int);
        }
        return f64::try_from(v.clone()).ok().map(Num::Float);
    }
    None
}

/// Go's `map[string]interface{}`: a reference to mutable entries, iterated in key order.
///
/// The entries are kept sorted in one vector: templates read maps far more than they change
/// them, and a binary search that compares keys' first bytes before calling `memcmp` costs a
/// fraction of a B-tree's linear scans of string keys.
#[derive(Debug, Default)]
pub struct GoMap {
    /// Sorted by key, each key once.
    entries: RwLock<Vec<(String, Value)>>,
    /// When it was made, on its thread's clock (0, the earliest, for a default map).
    born: u64,
}

/// `a.cmp(b)`, deciding by the first bytes where they differ without calling `memcmp`.
#[inline]
fn cmp_key(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// The key of a chart root's `.Template`.
const TEMPLATE_KEY: &str = "Template";

/// Where `key` is in sorted `entries` (`Err`: where it would go).
#[inline]
fn find(entries: &[(String, Value)], key: &str) -> Result<usize, usize> {
    entries.binary_search_by(|(k, _)| cmp_key(k, key))
}

impl GoMap {
    /// A map holding `entries`.
    pub fn new(entries: BTreeMap<String, Value>) -> GoMap {
        GoMap {
            entries: RwLock::new(entries.into_iter().collect()),
            born: tick(),
        }
    }

    /// A map holding `pairs` (a later pair of a key replaces an earlier one).
    pub fn from_pairs(mut pairs: Vec<(String, Value)>) -> GoMap {
        if !pairs.is_sorted_by(|a, b| cmp_key(&a.0, &b.0).is_lt()) {
            // Stable: of equal keys the later pair stays last, and is the one kept.
            pairs.sort_by(|a, b| cmp_key(&a.0, &b.0));
            let mut unique: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match unique.last_mut() {
                    Some(last) if last.0 == pair.0 => *last = pair,
                    _ => unique.push(pair),
                }
            }
            pairs = unique;
        }
        GoMap {
            entries: RwLock::new(pairs),
            born: tick(),
        }
    }

    /// The value at `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value> {
        let entries = self.read_key(key);
        find(&entries, key).ok().map(|i| entries[i].1.clone())
    }

    /// Whether `key` is present (with any value, nil included).
    pub fn contains(&self, key: &str) -> bool {
        find(&self.read_key(key), key).is_ok()
    }

    /// Sets `.Template`, as the engine does in a chart's root before each template: counted
    /// as a `.Template` write, not as an effect (see `Book::template_writes`).
    pub fn insert_template(&self, value: Value) {
        update(|b| b.template_writes += 1);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        match find(&entries, TEMPLATE_KEY) {
            Ok(i) => entries[i].1 = value,
            Err(i) => entries.insert(i, (TEMPLATE_KEY.to_string(), value)),
        }
    }

    /// Sets `key`, as Go's `m[key] = v`.
    pub fn insert(&self, key: String, value: Value) {
        let mut entries = self.write();
        match find(&entries, &key) {
            Ok(i) => entries[i].1 = value,
            Err(i) => entries.insert(i, (key, value)),
        }
    }

    /// Deletes `key`, as Go's `delete(m, key)`.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut entries = self.write();
        find(&entries, key).ok().map(|i| entries.remove(i).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.read().iter().map(|(k, _)| k.clone()).collect()
    }

    /// A copy of the entries, sorted by key (the map itself is not copied deeply).
    pub fn entries(&self) -> BTreeMap<String, Value> {
        self.read().iter().cloned().collect()
    }

    /// A copy of the entries in key order (the map itself is not copied deeply).
    pub fn sorted_entries(&self) -> Vec<(String, Value)> {
        self.read().clone()
    }

    /// The entries, for a reading of the whole map.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<(String, Value)>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if find(&entries, TEMPLATE_KEY).is_ok() || find(&entries, "Subcharts").is_ok() {
            note_template_read();
        }
        entries
    }

    /// The entries, for a reading of `key` only.
    fn read_key(&self, key: &str) -> std::sync::RwLockReadGuard<'_, Vec<(String, Value)>> {
        if key == TEMPLATE_KEY {
            note_template_read();
        }
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<(String, Value)>> {
        // A map made after the last include started is out of reach of every include's data
        // as it was when that include started (it can come within reach only by a write to a
        // map that was, which counts): its writes are not effects.
        let born = self.born;
        update(|b| {
            if born < b.latest_include {
                b.effects += 1;
            }
            if born < b.template_start {
                b.outside_writes += 1;
            }
        });
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Object for GoMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str().and_then(|k| self.get(k))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.get(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.keys().into_iter().map(Value::from).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.is_empty()
    }
}

/// A new Go map value holding `entries`.
pub fn map(entries: BTreeMap<String, Value>) -> Value {
    Value::from_object(GoMap::new(entries))
}

/// The Go map `v` is, if it is one (a [`NamedMap`] included).
pub fn as_map(v: &Value) -> Option<Arc<GoMap>> {
    v.downcast_object::<GoMap>()
        .or_else(|| v.downcast_object_ref::<NamedMap>().map(|n| n.map.clone()))
}

/// A Go map of a named map type: Helm's `chartutil.Values` (`.Values`), the same entries as
/// the map it wraps, with that type's methods (`AsMap`, `YAML`, `Table`, `PathValue`).
#[derive(Debug)]
pub struct NamedMap {
    /// The Go type's name, e.g. `chartutil.Values`.
    pub type_name: &'static str,
    /// The entries (shared with every other view of the map).
    pub map: Arc<GoMap>,
}

/// `map` seen as Helm's `chartutil.Values`.
pub fn chart_values(map: Arc<GoMap>) -> Value {
    Value::from_object(NamedMap {
        type_name: "chartutil.Values",
        map,
    })
}

impl NamedMap {
    /// `Table("a.b")`: the map at that dotted path, as `chartutil.Values`.
    fn table(&self, path: &str) -> Option<Arc<GoMap>> {
        let mut cur = self.map.clone();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            cur = as_map(&cur.get(part)?)?;
        }
        Some(cur)
    }
}

impl Object for NamedMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str().and_then(|k| self.map.get(k))
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.map.get(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.map.keys().into_iter().map(Value::from).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.map.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.map.is_empty()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let arg = |name: &str| -> Result<String, Error> {
            crate::want_args(name, args, 1)?;
            crate::args::string_arg(args, 0).map(str::to_string)
        };
        match method {
            "AsMap" => {
                crate::want_args("AsMap", args, 0)?;
                Ok(Value::from_dyn_object(self.map.clone()))
            }
            "YAML" => {
                crate::want_args("YAML", args, 0)?;
                let text = crate::encoding::to_yaml(&Value::from_dyn_object(self.map.clone()))?;
                Ok(Value::from(format!("{text}\n")))
            }
            "Table" => {
                let path = arg("Table")?;
                Ok(self
                    .table(&path)
                    .map_or_else(|| chart_values(Arc::new(GoMap::default())), chart_values))
            }
            "PathValue" => {
                let path = arg("PathValue")?;
                let (table, key) = path.rsplit_once('.').unwrap_or(("", path.as_str()));
                let found = self.table(table).and_then(|m| m.get(key));
                found.ok_or_else(|| crate::go_error(format!("{path} is not a value")))
            }
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("{} has no method {method}", self.type_name),
            )),
        }
    }
}

/// The elements of `v` if it is a Go slice.
pub fn as_list(v: &Value) -> Option<Vec<Value>> {
    if v.kind() == minijinja::value::ValueKind::Seq {
        v.try_iter().ok().map(Iterator::collect)
    } else {
        None
    }
}

/// A Go slice value.
pub fn list(items: Vec<Value>) -> Value {
    Value::from(items)
}

/// A Go struct with fixed, capitalised field names (`.Release`, `.Chart`, `.Capabilities`,
/// ...). Reading a field it does not have is an error, as in Go.
#[derive(Debug)]
pub struct GoStruct {
    /// The Go type's name, e.g. `chart.Metadata`, for `typeOf` and error messages.
    pub type_name: &'static str,
    /// Fields by their Go names.
    pub fields: BTreeMap<&'static str, Value>,
    /// What printing it shows, for a type with a `String()` method (`KubeVersion`).
    pub display: Option<String>,
    /// How `encoding/json` writes it, in declaration order: Go field, JSON key, `omitempty`.
    /// Empty: every field under its Go name.
    pub json: Vec<(&'static str, &'static str, bool)>,
    /// Its methods that take arguments (`Compare` of a semver version): the result, or `None`
    /// for a name that is no method.
    pub methods: Option<StructMethods>,
}

/// The methods of a [`GoStruct`]: called with the struct, the method's name and arguments.
pub type StructMethods = fn(&GoStruct, &str, &[Value]) -> Option<Result<Value, Error>>;

impl GoStruct {
    /// A struct of type `type_name` with `fields`.
    pub fn new(
        type_name: &'static str,
        fields: impl IntoIterator<Item = (&'static str, Value)>,
    ) -> GoStruct {
        GoStruct {
            type_name,
            fields: fields.into_iter().collect(),
            display: None,
            json: Vec::new(),
            methods: None,
        }
    }

    /// The same struct, with `methods`.
    pub fn with_methods(mut self, methods: StructMethods) -> GoStruct {
        self.methods = Some(methods);
        self
    }

    /// The same struct, marshalled by `encoding/json` as `layout` says (see [`GoStruct::json`]).
    pub fn with_json(mut self, layout: &[(&'static str, &'static str, bool)]) -> GoStruct {
        self.json = layout.to_vec();
        self
    }

    /// The fields `encoding/json` writes, in its order, under its keys (`omitempty` fields
    /// holding their zero value left out).
    pub fn json_fields(&self) -> Vec<(String, Value)> {
        if self.json.is_empty() {
            return self
                .fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
        }
        self.json
            .iter()
            .filter_map(|(field, key, omitempty)| {
                let v = self.fields.get(field)?.clone();
                (!(*omitempty && is_empty_value(&v))).then(|| ((*key).to_string(), v))
            })
            .collect()
    }

    /// The same struct, printing as `display` (a Go `String()` method).
    pub fn with_display(mut self, display: impl Into<String>) -> GoStruct {
        self.display = Some(display.into());
        self
    }
}

impl Object for GoStruct {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str().and_then(|k| self.fields.get(k).cloned())
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.fields.get(key).cloned()
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        self.methods
            .and_then(|m| m(self, method, args))
            .unwrap_or_else(|| Err(Error::new(minijinja::ErrorKind::UnknownMethod, "")))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::fmt::sprint_value(&Value::from_dyn_object(
            self.clone(),
        )))
    }
}

/// Go's kinds, as `reflect.Kind` names them (Sprig's `kindOf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `nil`: "invalid".
    Invalid,
    /// "bool".
    Bool,
    /// "int".
    Int,
    /// "int64".
    Int64,
    /// "float64".
    Float64,
    /// "string".
    String,
    /// "slice".
    Slice,
    /// "map".
    Map,
    /// "struct" (also the built-in objects with methods).
    Struct,
}

impl Kind {
    /// The `reflect.Kind` name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invalid => "invalid",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Int64 => "int64",
            Kind::Float64 => "float64",
            Kind::String => "string",
            Kind::Slice => "slice",
            Kind::Map => "map",
            Kind::Struct => "struct",
        }
    }
}

/// The Go kind of `v`.
pub fn kind(v: &Value) -> Kind {
    use minijinja::value::ValueKind as K;
    if is_nil(v) {
        return Kind::Invalid;
    }
    if let Some(n) = num(v) {
        return match n {
            Num::Int(_) => Kind::Int,
            Num::Int64(_) => Kind::Int64,
            Num::Float(_) => Kind::Float64,
        };
    }
    match v.kind() {
        K::Bool => Kind::Bool,
        K::String => Kind::String,
        K::Seq | K::Iterable => Kind::Slice,
        K::Map => Kind::Map,
        _ => Kind::Struct,
    }
}

/// Sprig's `typeOf`: the Go type as `fmt`'s `%T` prints it.
pub fn type_name(v: &Value) -> String {
    if let Some(s) = v.downcast_object_ref::<GoStruct>() {
        return s.type_name.to_string();
    }
    if let Some(n) = v.downcast_object_ref::<NamedMap>() {
        return n.type_name.to_string();
    }
    match kind(v) {
        Kind::Invalid => "<nil>".into(),
        Kind::Slice => "[]interface {}".into(),
        Kind::Map => "map[string]interface {}".into(),
        k => k.name().into(),
    }
}

/// Go's truth (text/template's `if`): false, 0, nil, and empty strings, slices and maps are
/// false; structs are true.
pub fn truthy(v: &Value) -> bool {
    match kind(v) {
        Kind::Invalid => false,
        Kind::Int | Kind::Int64 | Kind::Float64 => num(v).is_some_and(|n| n.as_f64() != 0.0),
        Kind::Struct => true,
        Kind::Bool => v.is_true(),
        Kind::String => v.as_str().is_some_and(|s| !s.is_empty()),
        Kind::Slice | Kind::Map => v.len().unwrap_or(0) != 0,
    }
}

/// How the numbers of JSON data become Go numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Every number is a `float64`: data read by `encoding/json` or `sigs.k8s.io/yaml` (values
    /// files, `fromJson`, `fromYaml`).
    Float64,
    /// Integers are `int64`, others `float64`: `--set` values.
    Int64,
}

/// Go's `isEmptyValue` (what `omitempty` leaves out): false, 0, "", nil, an empty slice or map.
fn is_empty_value(v: &Value) -> bool {
    match kind(v) {
        Kind::Invalid => true,
        Kind::Bool => !v.is_true(),
        Kind::Int | Kind::Int64 | Kind::Float64 => num(v).is_some_and(|n| n.as_f64() == 0.0),
        Kind::String => v.as_str().is_some_and(str::is_empty),
        Kind::Slice => as_list(v).is_some_and(|l| l.is_empty()),
        Kind::Map => map_entries(v).is_empty(),
        Kind::Struct => false,
    }
}

/// Go data from JSON data: objects become [`GoMap`]s, arrays slices.
pub fn from_json(j: &serde_json::Value, numbers: Numbers) -> Value {
    match j {
        serde_json::Value::Null => nil(),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (numbers, n.as_i64()) {
            (Numbers::Int64, Some(i)) => int64(i),
            _ => float64(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => list(a.iter().map(|x| from_json(x, numbers)).collect()),
        serde_json::Value::Object(o) => from_json_map(o, numbers),
    }
}

/// A Go map from a JSON object (as [`from_json`] of that object, without wrapping it).
pub fn from_json_map(o: &serde_json::Map<String, serde_json::Value>, numbers: Numbers) -> Value {
    Value::from_object(GoMap::from_pairs(
        o.iter()
            .map(|(k, v)| (k.clone(), from_json(v, numbers)))
            .collect(),
    ))
}

/// JSON data from Go data, as `encoding/json` marshals it: maps by sorted keys, structs by
/// their field names; fails on a float that JSON cannot hold (NaN, infinities).
pub fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    Ok(match kind(v) {
        Kind::Invalid => serde_json::Value::Null,
        Kind::Bool => serde_json::Value::Bool(v.is_true()),
        Kind::Int | Kind::Int64 => serde_json::Value::from(num(v).map_or(0, Num::as_i64)),
        Kind::Float64 => {
            let f = num(v).map_or(0.0, Num::as_f64);
            serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| {
                    crate::go_error(format!(
                        "json: unsupported value: {}",
                        crate::fmt::format_float(f, 'g', -1)
                    ))
                })?
        }
        Kind::String => serde_json::Value::String(v.as_str().unwrap_or_default().to_string()),
        Kind::Slice => serde_json::Value::Array(
            as_list(v)
                .unwrap_or_default()
                .iter()
                .map(to_json)
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map => {
            let mut out = serde_json::Map::new();
            for (k, x) in map_entries(v) {
                out.insert(k, to_json(&x)?);
            }
            serde_json::Value::Object(out)
        }
        Kind::Struct => match v.downcast_object_ref::<GoStruct>() {
            Some(s) => {
                let mut out = serde_json::Map::new();
                for (k, x) in s.json_fields() {
                    out.insert(k, to_json(&x)?);
                }
                serde_json::Value::Object(out)
            }
            None => serde_json::Value::String(v.to_string()),
        },
    })
}

/// The entries of a map value (a [`GoMap`] or any minijinja map), sorted by key.
pub fn map_entries(v: &Value) -> Vec<(String, Value)> {
    if let Some(m) = as_map(v) {
        return m.sorted_entries();
    }
    let mut out: Vec<(String, Value)> = match v.try_iter() {
        Ok(keys) => keys
            .map(|k| {
                let val = v.get_item(&k).unwrap_or_default();
                (k.to_string(), val)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A deep copy: maps and slices copied, so changing the copy leaves `v` as it was.
pub fn deep_copy(v: &Value) -> Value {
    match kind(v) {
        Kind::Map => map(map_entries(v)
            .into_iter()
            .map(|(k, x)| (k, deep_copy(&x)))
            .collect()),
        Kind::Slice => list(
            as_list(v)
                .unwrap_or_default()
                .iter()
                .map(deep_copy)
                .collect(),
        ),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_types() {
        assert_eq!(kind(&nil()), Kind::Invalid);
        assert_eq!(kind(&int(1)), Kind::Int);
        assert_eq!(kind(&int64(1)), Kind::Int64);
        assert_eq!(kind(&float64(1.0)), Kind::Float64);
        assert_eq!(type_name(&map(BTreeMap::new())), "map[string]interface {}");
        assert_eq!(type_name(&list(vec![])), "[]interface {}");
    }

    #[test]
    fn maps_are_shared() {
        let m = map(BTreeMap::new());
        let alias = m.clone();
        as_map(&alias).unwrap().insert("a".into(), int(1));
        assert_eq!(as_map(&m).unwrap().get("a"), Some(int(1)));
        assert!(truthy(&m));
    }

    #[test]
    fn maps_keep_their_keys_sorted_and_unique() {
        let m = GoMap::from_pairs(vec![
            ("b".into(), int(1)),
            ("".into(), int(2)),
            ("ab".into(), int(3)),
            ("b".into(), int(4)),
            ("a".into(), int(5)),
            ("B".into(), int(6)),
            ("é".into(), int(7)),
            ("a\u{0}".into(), int(11)),
            ("abcdefgh".into(), int(12)),
            ("abcdefghi".into(), int(13)),
            ("abcdefgg".into(), int(14)),
        ]);
        for k in ["a\u{0}", "abcdefgh", "abcdefghi", "abcdefgg"] {
            assert!(m.remove(k).is_some(), "{k:?}");
        }
        assert_eq!(m.keys(), ["", "B", "a", "ab", "b", "é"]);
        assert_eq!(m.get("b"), Some(int(4)), "the later pair wins");
        assert_eq!(m.get(""), Some(int(2)));
        assert_eq!(m.get("c"), None);
        assert!(!m.contains("aa"));
        m.insert("aa".into(), int(8));
        m.insert("a".into(), int(9));
        m.insert("zz".into(), int(10));
        assert_eq!(m.remove("B"), Some(int(6)));
        assert_eq!(m.remove("B"), None);
        assert_eq!(m.keys(), ["", "a", "aa", "ab", "b", "zz", "é"]);
        assert_eq!(m.get("a"), Some(int(9)));
        assert_eq!(m.len(), 7);
        let all: Vec<String> = m.entries().into_keys().collect();
        assert_eq!(all, m.keys());
        assert_eq!(
            map_entries(&Value::from_object(m))
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
            all
        );
    }

    #[test]
    fn keys_compare_as_strings_do() {
        let keys = [
            "",
            "\u{0}",
            "a",
            "a\u{0}",
            "a\u{0}\u{0}b",
            "ab",
            "abcdefg",
            "abcdefg\u{0}",
            "abcdefgh",
            "abcdefgh\u{0}",
            "abcdefghi",
            "abcdefgi",
            "b",
            "é",
            "éa",
            "zzzzzzzzzz",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(cmp_key(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn truth() {
        for v in [
            nil(),
            int(0),
            float64(0.0),
            Value::from(""),
            list(vec![]),
            Value::from(false),
        ] {
            assert!(!truthy(&v), "{v:?}");
        }
        assert!(truthy(&int64(3)));
    }

    #[test]
    fn values_file_numbers_are_floats() {
        let j = serde_json::json!({"a": 1, "b": [1.5]});
        let v = from_json(&j, Numbers::Float64);
        let a = as_map(&v).unwrap().get("a").unwrap();
        assert_eq!(kind(&a), Kind::Float64);
        let v = from_json(&j, Numbers::Int64);
        assert_eq!(kind(&as_map(&v).unwrap().get("a").unwrap()), Kind::Int64);
    }
}

//! `cargo xtask omitempty [--check]`: writes `crates/capstan-kube/src/omitted/table.rs`, the
//! fields of the Kubernetes API types that the API server leaves out of an object when they hold
//! their zero value, read from the Go source of `k8s.io/api` and `k8s.io/apimachinery` (the
//! versions `deploy/devcluster/go.mod` requires, from the Go module cache).
//!
//! A field is listed when its Go type is not a pointer, its json tag says `omitempty`, and its
//! type (through named types) is a bool, a number, a string, a slice or a map whose type has no
//! JSON methods of its own: `encoding/json` omits such a field when it is `false`, `0`, `""` or
//! empty. Pointer fields are never listed (an absent pointer is nil, not the zero value), nor
//! structs (`omitempty` never omits a struct). Fields of structs embedded inline are listed
//! under the embedding struct, as OpenAPI flattens them. Structs are named as the OpenAPI
//! schema names them (`k8s.io/api/core/v1.PodSpec` is `io.k8s.api.core.v1.PodSpec`), so a
//! json name is always judged within its own struct.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::paths;

/// Where the table lives, from the workspace root.
pub const TABLE: &str = "crates/capstan-kube/src/omitted/table.rs";

/// The apimachinery packages whose types the API types use (their own structs are listed too).
const APIMACHINERY_PACKAGES: &[&str] = &[
    "pkg/apis/meta/v1",
    "pkg/types",
    "pkg/util/intstr",
    "pkg/api/resource",
    "pkg/runtime",
];

/// `cargo xtask omitempty`: regenerates the table, or with `check` fails when it is stale.
pub fn run(check: bool) -> anyhow::Result<()> {
    let modules = Modules::from_devcluster()?;
    modules.fetch()?;
    let generated = generate(&modules)?;
    paths::write_or_check(TABLE, &generated, check, "cargo xtask omitempty")
}

/// The two Go modules' versions and their source directories.
pub struct Modules {
    api_version: String,
    api_dir: PathBuf,
    apimachinery_version: String,
    apimachinery_dir: PathBuf,
}

impl Modules {
    /// The versions `deploy/devcluster/go.mod` requires, in the Go module cache
    /// (`$GOMODCACHE`, else `$GOPATH/pkg/mod`, else `~/go/pkg/mod`).
    pub fn from_devcluster() -> anyhow::Result<Modules> {
        let go_mod = paths::root().join("deploy/devcluster/go.mod");
        let text = std::fs::read_to_string(&go_mod)
            .with_context(|| format!("reading {}", go_mod.display()))?;
        let version = |module: &str| {
            text.lines()
                .find_map(|line| {
                    let mut words = line.split_whitespace();
                    (words.next() == Some(module))
                        .then(|| words.next().map(str::to_string))
                        .flatten()
                })
                .with_context(|| format!("{} requires no {module}", go_mod.display()))
        };
        let cache = module_cache();
        let api_version = version("k8s.io/api")?;
        let apimachinery_version = version("k8s.io/apimachinery")?;
        Ok(Modules {
            api_dir: cache.join(format!("k8s.io/api@{api_version}")),
            apimachinery_dir: cache.join(format!("k8s.io/apimachinery@{apimachinery_version}")),
            api_version,
            apimachinery_version,
        })
    }

    /// Whether both modules' sources are in the cache.
    pub fn present(&self) -> bool {
        self.api_dir.is_dir() && self.apimachinery_dir.is_dir()
    }

    /// Downloads both modules into the cache from the Go module proxy unless they are there.
    pub fn fetch(&self) -> anyhow::Result<()> {
        if self.present() {
            return Ok(());
        }
        let status = std::process::Command::new("go")
            .args(["mod", "download"])
            .arg(format!("k8s.io/api@{}", self.api_version))
            .arg(format!("k8s.io/apimachinery@{}", self.apimachinery_version))
            .current_dir(std::env::temp_dir())
            .env("GOFLAGS", "-mod=mod")
            .status()
            .context("running `go mod download` (is Go installed?)")?;
        if !status.success() || !self.present() {
            bail!(
                "`go mod download` of k8s.io/api@{} and k8s.io/apimachinery@{} failed ({status})",
                self.api_version,
                self.apimachinery_version
            );
        }
        Ok(())
    }
}

fn module_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("GOMODCACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(gopath) = std::env::var_os("GOPATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(gopath).join("pkg/mod");
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join("go/pkg/mod")
}

/// The table's Rust source for `modules`.
pub fn generate(modules: &Modules) -> anyhow::Result<String> {
    if !modules.present() {
        bail!(
            "the Go module sources are not in the module cache ({} and {}): \
             `cargo xtask omitempty` fetches them",
            modules.api_dir.display(),
            modules.apimachinery_dir.display()
        );
    }
    let mut universe = Universe::default();
    for dir in package_dirs(&modules.api_dir)? {
        let relative = dir.strip_prefix(&modules.api_dir)?.to_string_lossy();
        universe.parse_package(&format!("k8s.io/api/{relative}"), &dir)?;
    }
    for package in APIMACHINERY_PACKAGES {
        universe.parse_package(
            &format!("k8s.io/apimachinery/{package}"),
            &modules.apimachinery_dir.join(package),
        )?;
    }
    let table = universe.table();
    let mut out = String::new();
    out.push_str(&format!(
        "//! Generated by `cargo xtask omitempty` from k8s.io/api {} and k8s.io/apimachinery {}: \
         do not edit.\n\n",
        modules.api_version, modules.apimachinery_version
    ));
    out.push_str(
        "use super::Zero::{Bool, List, Map, Number, String as Str};\n\
         use super::{FieldRow, NONE, TypeRow, n};\n\n",
    );
    out.push_str(
        "/// Each built-in apiVersion, sorted, and the prefix of its types' names.\n#[rustfmt::skip]\n\
         pub(super) static API_VERSIONS: &[(&str, &str)] = &[\n",
    );
    for (api_version, prefix) in universe.api_versions() {
        out.push_str(&format!("    (\"{api_version}\", \"{prefix}\"),\n"));
    }
    out.push_str("];\n\n");
    // The names live in one string and the rows hold where each starts and its length: a
    // table of `&str`s is a pointer per name for the loader to relocate at every start of the
    // binary (thousands, in pages then copied), this is one.
    let mut names = Names::default();
    let mut types = String::new();
    let mut fields_out = String::new();
    let mut first_field = 0usize;
    for (name, fields) in &table {
        let name_at = names.at(name);
        types.push_str(&format!(
            "    ({name_at}, {first_field}, {}), // {name}\n",
            fields.len()
        ));
        for (field, entry) in fields {
            let zero = match entry.zero {
                None => "None",
                Some(Zero::Bool) => "Some(Bool)",
                Some(Zero::Number) => "Some(Number)",
                Some(Zero::String) => "Some(Str)",
                Some(Zero::List) => "Some(List)",
                Some(Zero::Map) => "Some(Map)",
            };
            let field_at = names.at(field);
            let ty_at = match entry.ty.as_deref() {
                Some(ty) if !ty.is_empty() => names.at(ty),
                _ => "NONE".to_string(),
            };
            fields_out.push_str(&format!("    ({field_at}, {zero}, {ty_at}),\n"));
        }
        first_field += fields.len();
    }
    out.push_str(
        "/// Every name the tables below hold (types and fields), one after another: a [`Name`](super::Name) is \
         where one starts and its length.\n#[rustfmt::skip]\npub(super) static NAMES: &str = \"",
    );
    out.push_str(&names.text);
    out.push_str("\";\n\n");
    out.push_str(
        "/// Per API type (its OpenAPI schema name), sorted: its name, and where its fields start \
         in [`FIELDS`] and how many it has.\n#[rustfmt::skip]\n\
         pub(super) static TYPES: &[TypeRow] = &[\n",
    );
    out.push_str(&types);
    out.push_str("];\n\n");
    out.push_str(
        "/// Each type's fields, sorted, with the zero value the API server omits each at and the \
         type each holds ([`NONE`] for none).\n#[rustfmt::skip]\n\
         pub(super) static FIELDS: &[FieldRow] = &[\n",
    );
    out.push_str(&fields_out);
    out.push_str("];\n");
    Ok(out)
}

/// The names of the generated table, each once, and where each is.
#[derive(Default)]
struct Names {
    text: String,
    seen: BTreeMap<String, usize>,
}

impl Names {
    /// `n(start, length)` for `name`, added when new.
    fn at(&mut self, name: &str) -> String {
        let start = *self.seen.entry(name.to_string()).or_insert_with(|| {
            let start = self.text.len();
            self.text.push_str(name);
            start
        });
        format!("n({start}, {})", name.len())
    }
}

/// Directories holding Go source under `root` (test data aside), sorted.
fn package_dirs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_go = false;
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "testdata") {
                    stack.push(path);
                }
            } else if is_source(&path) {
                has_go = true;
            }
        }
        if has_go && dir != root {
            found.push(dir);
        }
    }
    found.sort();
    Ok(found)
}

fn is_source(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.ends_with(".go") && !name.ends_with("_test.go")
}

/// The zero value the API server omits, as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    Bool,
    Number,
    String,
    List,
    Map,
}

/// A Go type as written in a field or a type declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GoType {
    Pointer(Box<GoType>),
    Bytes,
    Slice(Box<GoType>),
    Map(Box<GoType>),
    Builtin(Zero),
    /// A named type: its package's import path and its name.
    Named(String, String),
    /// Structs, interfaces, channels, functions: never omitted.
    Other,
}

/// A struct field: its json name (empty for an inline embedding), whether it is omitempty, its type.
#[derive(Debug, Clone)]
struct Field {
    json: String,
    omitempty: bool,
    embedded: bool,
    ty: GoType,
}

#[derive(Debug)]
enum Decl {
    Struct(Vec<Field>),
    Alias(GoType),
}

#[derive(Default)]
struct Universe {
    decls: HashMap<(String, String), Decl>,
    /// Types with a MarshalJSON or UnmarshalJSON method.
    custom: BTreeSet<(String, String)>,
    /// Each API package's group (`const GroupName`).
    groups: BTreeMap<String, String>,
}

impl Universe {
    fn parse_package(&mut self, import_path: &str, dir: &Path) -> anyhow::Result<()> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_source(p))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            self.parse_file(import_path, &strip_comments(&text))
                .with_context(|| format!("parsing {}", file.display()))?;
        }
        Ok(())
    }

    fn parse_file(&mut self, package: &str, text: &str) -> anyhow::Result<()> {
        let imports = imports(text);
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let line = line.trim();
            if let Some(group) = line
                .strip_prefix("const GroupName = \"")
                .and_then(|rest| rest.strip_suffix('"'))
            {
                self.groups.insert(package.to_string(), group.to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("func (") {
                let Some((receiver, after)) = rest.split_once(')') else {
                    continue;
                };
                let method = after.trim_start();
                if method.starts_with("MarshalJSON(") || method.starts_with("UnmarshalJSON(") {
                    let ty = receiver.split_whitespace().last().unwrap_or_default();
                    let ty = ty.trim_start_matches('*');
                    self.custom.insert((package.to_string(), ty.to_string()));
                }
                continue;
            }
            let Some(rest) = line.strip_prefix("type ") else {
                continue;
            };
            let mut words = rest.splitn(2, char::is_whitespace);
            let name = words.next().unwrap_or_default().to_string();
            let definition = words.next().unwrap_or_default().trim();
            if name.is_empty() || name.contains('[') {
                continue;
            }
            let key = (package.to_string(), name);
            if definition.starts_with("struct") {
                if definition.ends_with('}') {
                    self.decls.insert(key, Decl::Struct(Vec::new()));
                    continue;
                }
                let mut fields = Vec::new();
                let mut depth = 1usize;
                for line in lines.by_ref() {
                    let line = line.trim();
                    let opens = line.matches('{').count();
                    let closes = line.matches('}').count();
                    if depth == 1 && opens == 0 && closes == 0 && !line.is_empty() {
                        fields.extend(field(line, package, &imports));
                    }
                    depth = (depth + opens).saturating_sub(closes);
                    if depth == 0 {
                        break;
                    }
                }
                self.decls.insert(key, Decl::Struct(fields));
            } else if !definition.starts_with("interface") {
                let definition = definition.trim_start_matches('=').trim();
                self.decls
                    .insert(key, Decl::Alias(go_type(definition, package, &imports)));
            }
        }
        Ok(())
    }

    /// The zero a field of type `ty` is omitted at, if any.
    fn zero(&self, ty: &GoType, depth: usize) -> Option<Zero> {
        match ty {
            GoType::Pointer(_) | GoType::Other => None,
            GoType::Bytes => Some(Zero::String),
            GoType::Slice(_) => Some(Zero::List),
            GoType::Map(_) => Some(Zero::Map),
            GoType::Builtin(zero) => Some(*zero),
            GoType::Named(package, name) => {
                let key = (package.clone(), name.clone());
                if depth > 8 || self.custom.contains(&key) {
                    return None;
                }
                match self.decls.get(&key)? {
                    Decl::Struct(_) => None,
                    Decl::Alias(underlying) => self.zero(underlying, depth + 1),
                }
            }
        }
    }

    /// The struct type (OpenAPI name) a field of type `ty` holds: directly, through a pointer, or
    /// as the elements of a slice. Not the values of a map: a map's keys are not the value
    /// type's fields, so the walk stops there.
    fn struct_of(&self, ty: &GoType, depth: usize) -> Option<String> {
        match ty {
            GoType::Pointer(inner) | GoType::Slice(inner) if depth < 8 => {
                self.struct_of(inner, depth + 1)
            }
            GoType::Named(package, name) if depth < 8 => {
                let key = (package.clone(), name.clone());
                if self.custom.contains(&key) {
                    return None;
                }
                match self.decls.get(&key)? {
                    Decl::Struct(_) => Some(format!("{}.{name}", openapi_package(package))),
                    Decl::Alias(underlying) => self.struct_of(underlying, depth + 1),
                }
            }
            _ => None,
        }
    }

    /// A struct's fields that matter to the table, inline embeddings flattened (the shallower
    /// field wins): the zero value each is omitted at, and the struct type each holds.
    fn fields(&self, package: &str, name: &str, depth: usize) -> BTreeMap<String, Entry> {
        let mut found = BTreeMap::new();
        let Some(Decl::Struct(fields)) = self.decls.get(&(package.to_string(), name.to_string()))
        else {
            return found;
        };
        let mut direct = BTreeSet::new();
        for f in fields.iter().filter(|f| !f.embedded) {
            direct.insert(f.json.clone());
            let entry = Entry {
                zero: f.omitempty.then(|| self.zero(&f.ty, 0)).flatten(),
                ty: self.struct_of(&f.ty, 0),
            };
            if entry.zero.is_some() || entry.ty.is_some() {
                found.insert(f.json.clone(), entry);
            }
        }
        if depth < 8 {
            for f in fields.iter().filter(|f| f.embedded) {
                if let GoType::Named(p, n) = &f.ty {
                    for (json, entry) in self.fields(p, n, depth + 1) {
                        if !direct.contains(&json) {
                            found.entry(json).or_insert(entry);
                        }
                    }
                }
            }
        }
        found
    }

    fn table(&self) -> BTreeMap<String, BTreeMap<String, Entry>> {
        let mut table = BTreeMap::new();
        for ((package, name), decl) in &self.decls {
            if !matches!(decl, Decl::Struct(_))
                || self.custom.contains(&(package.clone(), name.clone()))
            {
                continue;
            }
            let fields = self.fields(package, name, 0);
            if !fields.is_empty() {
                table.insert(format!("{}.{name}", openapi_package(package)), fields);
            }
        }
        table
    }

    /// Each API group-version (`apps/v1`, core `v1`) and its package's OpenAPI prefix.
    fn api_versions(&self) -> BTreeMap<String, String> {
        self.groups
            .iter()
            .map(|(package, group)| {
                let version = package.rsplit('/').next().unwrap_or_default();
                let api_version = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                (api_version, openapi_package(package))
            })
            .collect()
    }
}

/// What the table says of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The zero value the field is omitted at.
    zero: Option<Zero>,
    /// The struct type the field holds (itself or its elements).
    ty: Option<String>,
}

/// `k8s.io/api/core/v1` as OpenAPI names it: `io.k8s.api.core.v1`.
fn openapi_package(import_path: &str) -> String {
    let (domain, rest) = import_path.split_once('/').unwrap_or((import_path, ""));
    let mut parts: Vec<&str> = domain.split('.').collect();
    parts.reverse();
    let mut name = parts.join(".");
    for part in rest.split('/').filter(|p| !p.is_empty()) {
        name.push('.');
        name.push_str(part);
    }
    name
}

/// One struct field line: `Name Type \`tags\`` or an embedding `Type \`tags\``.
fn field(line: &str, package: &str, imports: &HashMap<String, String>) -> Option<Field> {
    let (declaration, tags) = match line.split_once('`') {
        Some((d, t)) => (d.trim(), t.trim_end_matches('`')),
        None => (line, ""),
    };
    let json = tag(tags, "json");
    let words: Vec<&str> = declaration.split_whitespace().collect();
    let (go_name, ty, embedded) = match words.as_slice() {
        [ty] => (ty.trim_start_matches('*').rsplit('.').next()?, *ty, true),
        [name, ty] => (*name, *ty, false),
        _ => return None,
    };
    let (json_name, options) = match json {
        Some(json) => {
            let (n, o) = json.split_once(',').unwrap_or((json, ""));
            (n.to_string(), o.to_string())
        }
        None => (String::new(), String::new()),
    };
    if json_name == "-" {
        return None;
    }
    let inline = embedded && json_name.is_empty();
    Some(Field {
        json: if inline || !json_name.is_empty() {
            json_name
        } else {
            go_name.to_string()
        },
        omitempty: options.split(',').any(|o| o == "omitempty"),
        embedded: inline,
        ty: go_type(ty, package, imports),
    })
}

/// The value of `key` in a Go struct tag.
fn tag<'a>(tags: &'a str, key: &str) -> Option<&'a str> {
    let start = tags.find(&format!("{key}:\""))? + key.len() + 2;
    let end = tags[start..].find('"')?;
    Some(&tags[start..start + end])
}

fn go_type(text: &str, package: &str, imports: &HashMap<String, String>) -> GoType {
    let text = text.trim();
    if let Some(target) = text.strip_prefix('*') {
        return GoType::Pointer(Box::new(go_type(target, package, imports)));
    }
    if text == "[]byte" {
        return GoType::Bytes;
    }
    if let Some(element) = text.strip_prefix("[]") {
        return GoType::Slice(Box::new(go_type(element, package, imports)));
    }
    if let Some(rest) = text.strip_prefix("map[") {
        // The value type follows the key's closing bracket.
        let mut depth = 1usize;
        for (i, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                return GoType::Map(Box::new(go_type(&rest[i + 1..], package, imports)));
            }
        }
        return GoType::Other;
    }
    match text {
        "bool" => return GoType::Builtin(Zero::Bool),
        "string" => return GoType::Builtin(Zero::String),
        "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32"
        | "uint64" | "float32" | "float64" | "byte" | "rune" => {
            return GoType::Builtin(Zero::Number);
        }
        _ => {}
    }
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    match text.split_once('.') {
        Some((alias, name)) if is_ident(alias) && is_ident(name) => match imports.get(alias) {
            Some(path) => GoType::Named(path.clone(), name.to_string()),
            None => GoType::Other,
        },
        None if is_ident(text) => GoType::Named(package.to_string(), text.to_string()),
        _ => GoType::Other,
    }
}

/// A file's imports: alias (or the path's last element) to import path.
fn imports(text: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut add = |spec: &str| {
        let spec = spec.trim();
        let Some(open) = spec.find('"') else { return };
        let path = spec[open + 1..].trim_end_matches('"').to_string();
        let alias = spec[..open].trim();
        let alias = if alias.is_empty() {
            path.rsplit('/').next().unwrap_or_default().to_string()
        } else {
            alias.to_string()
        };
        found.insert(alias, path);
    };
    let mut in_block = false;
    for line in text.lines() {
        let line = line.trim();
        if in_block {
            if line == ")" {
                in_block = false;
            } else {
                add(line);
            }
        } else if line == "import (" {
            in_block = true;
        } else if let Some(spec) = line.strip_prefix("import ") {
            add(spec);
        }
    }
    found
}

/// Go source without its comments (string and raw-string literals kept as they are).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' | '`' => {
                out.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(d);
                    if c == '"' && d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == c && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            '\'' => {
                out.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == '\'' && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_table_is_what_the_generator_writes() {
        let modules = Modules::from_devcluster().expect("deploy/devcluster/go.mod");
        modules.fetch().expect("the Go module sources");
        let generated = generate(&modules).expect("the table generates");
        let current = std::fs::read_to_string(paths::root().join(TABLE)).expect("the table");
        assert!(
            current == generated,
            "{TABLE} is stale: run `cargo xtask omitempty`"
        );
    }

    #[test]
    fn pointers_and_structs_are_never_omitted_and_inline_fields_flatten() {
        let mut universe = Universe::default();
        let source = r#"package v1
const GroupName = ""
import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)
// Protocol is a string.
type Protocol string
type Handler struct {
	Port int32 `json:"port,omitempty"`
}
type Probe struct {
	Handler `json:",inline"`
	Delay int32 `json:"initialDelaySeconds,omitempty"` // a comment with `ticks`
	Grace *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	Protocol Protocol `json:"protocol,omitempty"`
	Meta metav1.ObjectMeta `json:"metadata,omitempty"`
	Name string `json:"name"`
	Tags []string `json:"tags,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Data []byte `json:"data,omitempty"`
	/* a block
	   comment */
	Host bool `json:"hostNetwork,omitempty"`
}
func (p *Protocol) UnmarshalJSON(b []byte) error { return nil }
"#;
        universe
            .parse_file("k8s.io/api/core/v1", &strip_comments(source))
            .unwrap();
        universe
            .parse_file(
                "k8s.io/apimachinery/pkg/apis/meta/v1",
                "package v1\ntype ObjectMeta struct {\n\tName string `json:\"name,omitempty\"`\n}\n",
            )
            .unwrap();
        let fields = universe.fields("k8s.io/api/core/v1", "Probe", 0);
        assert_eq!(
            fields["metadata"].ty.as_deref(),
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        );
        let fields: Vec<(&str, Zero)> = fields
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.zero?)))
            .collect();
        assert_eq!(
            fields,
            [
                ("data", Zero::String),
                ("hostNetwork", Zero::Bool),
                ("initialDelaySeconds", Zero::Number),
                ("labels", Zero::Map),
                ("port", Zero::Number),
                ("tags", Zero::List),
            ]
        );
        assert_eq!(openapi_package("k8s.io/api/core/v1"), "io.k8s.api.core.v1");
        assert!(universe.table().contains_key("io.k8s.api.core.v1.Probe"));
        assert_eq!(
            universe.api_versions().get("v1").map(String::as_str),
            Some("io.k8s.api.core.v1")
        );
    }
}

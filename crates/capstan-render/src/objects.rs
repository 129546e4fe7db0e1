//! Template objects with methods: `Files`, `Capabilities.APIVersions`, and the render session.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use crate::context::RenderLimits;

/// The name under which the session hides in every context.
pub(crate) const SESSION_KEY: &str = "__capstan_session";

/// Per-render state shared by every template, include and tpl of one render.
#[derive(Debug)]
pub(crate) struct Session {
    pub limits: RenderLimits,
    pub started: Instant,
    pub depth: AtomicUsize,
    pub output: AtomicUsize,
    /// Prints so far (see [`Session::check_time_now_and_then`]).
    pub prints: AtomicUsize,
    pub seed: [u8; 32],
    pub counter: AtomicU64,
    pub now: String,
    /// `lookup`'s answers and the keys asked without one.
    pub lookups: crate::lookup::LookupSession,
    /// Helm's lint mode: `required` and `fail` note their message here and return "".
    pub lint: Option<std::sync::Mutex<Vec<String>>>,
}

impl Object for Session {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

/// Errors for bounds carry this source so they are reported as limits.
#[derive(Debug)]
pub(crate) struct LimitMarker;

impl fmt::Display for LimitMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("render limit")
    }
}
impl std::error::Error for LimitMarker {}

/// `fail`/`required` errors carry this source so their message is reported verbatim.
#[derive(Debug)]
pub(crate) struct FailMarker;

impl fmt::Display for FailMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fail")
    }
}
impl std::error::Error for FailMarker {}

pub(crate) fn limit_error(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg).with_source(LimitMarker)
}

impl Session {
    /// In lint mode, notes `message` (Helm's `[INFO] ...` text) and returns true: the caller
    /// then returns "" instead of failing.
    pub fn linted(&self, message: String) -> bool {
        let Some(lint) = &self.lint else {
            return false;
        };
        lint.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message);
        true
    }

    /// The messages lint mode noted.
    pub fn lint_messages(&self) -> Vec<String> {
        self.lint.as_ref().map_or_else(Vec::new, |lint| {
            std::mem::take(
                &mut *lint
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        })
    }

    pub fn check_time(&self) -> Result<(), Error> {
        if self.started.elapsed() > self.limits.timeout {
            return Err(limit_error(format!(
                "rendering took longer than {:?} (endless loop?)",
                self.limits.timeout
            )));
        }
        Ok(())
    }

    /// [`Session::check_time`] at one call in 64 (a print of a Go template asks at every
    /// print: the clock costs more than the print; includes, `tpl` and fuel bound the rest).
    pub fn check_time_now_and_then(&self) -> Result<(), Error> {
        if self
            .prints
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(64)
        {
            self.check_time()?;
        }
        Ok(())
    }

    /// The output counted so far.
    pub fn output_so_far(&self) -> usize {
        self.output.load(Ordering::Relaxed)
    }

    pub fn add_output(&self, n: usize) -> Result<(), Error> {
        let total = self.output.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.limits.max_output_bytes {
            return Err(limit_error(format!(
                "rendered output exceeds the limit of {} bytes",
                self.limits.max_output_bytes
            )));
        }
        Ok(())
    }

    /// Fails when printing `value` would exceed the output limit (checked without building its
    /// text; strings are counted by [`Session::add_output`]).
    pub fn check_value(&self, value: &Value) -> Result<(), Error> {
        if value.as_str().is_some() {
            return Ok(());
        }
        let used = self.output.load(Ordering::Relaxed);
        crate::funcs::check_size(
            "output",
            value,
            self.limits.max_output_bytes.saturating_sub(used),
        )
    }

    /// A session for the second part of a split render (see `GoChart::render`): the same
    /// limits, start, seed and time, its own include depth, output count and lookups asked
    /// (its caller takes them into this one when it takes the part's outcome).
    pub fn apart(&self) -> Session {
        Session {
            limits: self.limits,
            started: self.started,
            depth: AtomicUsize::new(0),
            output: AtomicUsize::new(0),
            prints: AtomicUsize::new(0),
            seed: self.seed,
            counter: AtomicU64::new(self.counter.load(Ordering::Relaxed)),
            now: self.now.clone(),
            lookups: crate::lookup::LookupSession {
                answers: self.lookups.answers.clone(),
                ..Default::default()
            },
            lint: None,
        }
    }

    /// Enters one include/tpl level (`what` names it, for the error); the guard leaves it.
    pub fn enter(self: &Arc<Self>, what: impl FnOnce() -> String) -> Result<DepthGuard, Error> {
        self.check_time()?;
        let depth = self.depth.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = DepthGuard(self.clone());
        if depth > self.limits.max_include_depth {
            return Err(limit_error(format!(
                "{}: include/tpl nesting deeper than {} (recursive include?)",
                what(),
                self.limits.max_include_depth
            )));
        }
        Ok(guard)
    }

    /// The next pseudo-random 32 bytes of this render (deterministic per release).
    pub fn next_random(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(n.to_le_bytes());
        h.finalize().into()
    }
}

pub(crate) struct DepthGuard(Arc<Session>);

impl Drop for DepthGuard {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Finds the session of the current render.
pub(crate) fn session(state: &State<'_, '_>) -> Result<Arc<Session>, Error> {
    state
        .lookup(SESSION_KEY)
        .and_then(|v| v.downcast_object::<Session>())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "no render session in this context",
            )
        })
}

/// Helm's `.Files`: the chart's non-template files.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub files: Arc<BTreeMap<String, Vec<u8>>>,
}

fn to_yaml_map(m: BTreeMap<String, String>) -> Result<String, Error> {
    if m.is_empty() {
        return Ok(String::new());
    }
    let json: serde_json::Map<String, serde_json::Value> = m
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    Ok(crate::yaml::to_yaml(&serde_json::Value::Object(json)))
}

impl Object for Files {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let data = self.files.get(key.as_str()?)?;
        Some(Value::from(String::from_utf8_lossy(data).into_owned()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.files.keys().map(|k| Value::from(k.as_str())).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let arg = |i: usize| -> Result<String, Error> {
            args.get(i)
                .and_then(|v| v.as_str().map(str::to_string))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::MissingArgument,
                        format!("Files.{method} needs a string argument"),
                    )
                })
        };
        match method {
            "Get" => Ok(Value::from(
                self.files
                    .get(&arg(0)?)
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default(),
            )),
            "GetBytes" => Ok(Value::from_bytes(
                self.files.get(&arg(0)?).cloned().unwrap_or_default(),
            )),
            "Lines" => Ok(Value::from(crate::chartfiles::lines(
                self.files.get(&arg(0)?).map(Vec::as_slice),
            ))),
            "Glob" => {
                let pattern = arg(0)?;
                let files = crate::chartfiles::glob(&self.files, &pattern).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("Files.Glob({pattern:?}): {e}"),
                    )
                })?;
                Ok(Value::from_object(Files {
                    files: Arc::new(files),
                }))
            }
            "AsConfig" => {
                to_yaml_map(crate::chartfiles::config_entries(&self.files, false)).map(Value::from)
            }
            "AsSecrets" => {
                to_yaml_map(crate::chartfiles::config_entries(&self.files, true)).map(Value::from)
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "Files has no method {method} (Get, GetBytes, Glob, Lines, AsConfig, AsSecrets)"
                ),
            )),
        }
    }
}

/// Helm's `.Capabilities.APIVersions`, with `Has`.
#[derive(Debug, Clone)]
pub(crate) struct ApiVersions {
    pub versions: Vec<String>,
}

impl Object for ApiVersions {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.versions
                .iter()
                .map(|v| Value::from(v.as_str()))
                .collect(),
        )
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "Has" => {
                let want = args.first().and_then(Value::as_str).ok_or_else(|| {
                    Error::new(
                        ErrorKind::MissingArgument,
                        "APIVersions.Has needs a string argument",
                    )
                })?;
                Ok(Value::from(self.versions.iter().any(|v| v == want)))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("APIVersions has no method {method} (Has)"),
            )),
        }
    }
}

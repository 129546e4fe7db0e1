//! Size bounds every growing function checks before it allocates (strings, lists, values).

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::values::{strval, to_json};
use crate::context::RenderLimits;
use crate::objects::limit_error;

/// What one function call may build: every function that can make its result much larger
/// than its arguments (`indent`, `printf` widths, `replace`, `repeat`, `join`, `toYaml`, ...)
/// checks the size it is about to build against this before allocating it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Largest string one call may return (bytes).
    pub max_string: usize,
    /// Most items of a list one call may return (`until`, `untilStep`).
    pub max_items: usize,
}

impl Bounds {
    pub(super) fn new(limits: &RenderLimits) -> Bounds {
        Bounds {
            max_string: limits.max_string_bytes,
            max_items: LIST_ITEMS,
        }
    }

    /// Fails when `what` would build a string of `len` bytes, above the limit.
    pub(super) fn string(self, what: &str, len: usize) -> Result<(), Error> {
        if len > self.max_string {
            return Err(limit_error(format!(
                "{what}: the result ({len} bytes) would exceed the limit of {} bytes per string",
                self.max_string
            )));
        }
        Ok(())
    }

    /// Fails when `what` would build a list of `n` items, above the limit.
    pub(super) fn items(self, what: &str, n: u64) -> Result<(), Error> {
        if n > self.max_items as u64 {
            return Err(limit_error(format!(
                "{what}: a list of {n} items would exceed the limit of {} items",
                self.max_items
            )));
        }
        Ok(())
    }

    /// Fails when converting `v` to text or data (toYaml, toJson, merge, ...) would produce
    /// more than the string limit: the value is walked, stopping as soon as it is too large,
    /// so a list holding the same large string many times is caught before it is copied.
    pub(super) fn value(self, what: &str, v: &Value) -> Result<(), Error> {
        let mut size = 0usize;
        value_size(v, self.max_string, &mut size, 0);
        self.string(what, size)
    }
}

/// Bounds for unit tests: strings up to 1 MiB, lists up to 1000 items.
#[cfg(test)]
pub(super) const TEST: Bounds = Bounds {
    max_string: 1 << 20,
    max_items: 1000,
};

/// Most items a list function (`until`, `untilStep`) returns, as minijinja's `range`.
const LIST_ITEMS: usize = 100_000;

/// Adds the approximate serialised size of `v` to `size`, stopping once it passes `limit`.
fn value_size(v: &Value, limit: usize, size: &mut usize, depth: usize) {
    if *size > limit {
        return;
    }
    // Deeper than any serialiser should go; count it as too large rather than recurse further.
    if depth > 256 {
        *size = limit.saturating_add(1);
        return;
    }
    match v.kind() {
        ValueKind::String => *size = size.saturating_add(v.as_str().map_or(0, str::len) + 3),
        ValueKind::Bytes => *size = size.saturating_add(v.as_bytes().map_or(0, <[u8]>::len) + 3),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let is_map = v.kind() == ValueKind::Map;
            let Ok(iter) = v.try_iter() else {
                *size = size.saturating_add(8);
                return;
            };
            for item in iter {
                *size = size.saturating_add(2);
                value_size(&item, limit, size, depth + 1);
                if is_map && let Ok(inner) = v.get_item(&item) {
                    value_size(&inner, limit, size, depth + 1);
                }
                if *size > limit {
                    return;
                }
            }
        }
        _ => *size = size.saturating_add(24),
    }
}

/// Fails when the text form of `v` would be larger than `limit` bytes.
pub(crate) fn check_size(what: &str, v: &Value, limit: usize) -> Result<(), Error> {
    Bounds {
        max_string: limit,
        max_items: LIST_ITEMS,
    }
    .value(what, v)
}

/// Joins strings with `sep`, failing before allocation when the result would be too large.
pub(super) fn bounded_join(
    b: Bounds,
    what: &str,
    parts: &[String],
    sep: &str,
) -> Result<String, Error> {
    let len = parts
        .iter()
        .map(String::len)
        .fold(0usize, |a, l| a.saturating_add(l).saturating_add(sep.len()));
    b.string(what, len)?;
    Ok(parts.join(sep))
}

/// [`strval`] of a value, after checking that its text form is not too large.
pub(super) fn bounded_strval(b: Bounds, what: &str, v: &Value) -> Result<String, Error> {
    if !matches!(
        v.kind(),
        ValueKind::String
            | ValueKind::Number
            | ValueKind::Bool
            | ValueKind::Undefined
            | ValueKind::None
    ) {
        b.value(what, v)?;
    }
    Ok(strval(v))
}

/// The text forms of `args` (nil and undefined left out), failing once their total is too large.
pub(super) fn bounded_strvals(b: Bounds, what: &str, args: &[Value]) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut total = 0usize;
    for v in args.iter().filter(|v| !(v.is_none() || v.is_undefined())) {
        let s = bounded_strval(b, what, v)?;
        total = total.saturating_add(s.len() + 1);
        b.string(what, total)?;
        out.push(s);
    }
    Ok(out)
}

/// [`to_json`] after checking the value's size, for values built by templates.
pub(super) fn bounded_json(b: Bounds, what: &str, v: &Value) -> Result<serde_json::Value, Error> {
    b.value(what, v)?;
    to_json(v)
}

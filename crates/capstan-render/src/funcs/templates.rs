//! Templates calling templates: `include` and `tpl`, each in a context of its own and bounded in depth.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::values::{map_items, op_err};
use crate::objects::{SESSION_KEY, Session, session};

/// Builds the context a named template or `tpl` text renders with: the keys of `ctx` when it is
/// a map, `ctx` itself, and the render session.
pub(super) fn nested_context(state: &State<'_, '_>, ctx: Value) -> Result<Value, Error> {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    if ctx.kind() == ValueKind::Map {
        for (k, v) in map_items(&ctx)? {
            if let Some(k) = k.as_str() {
                m.insert(k.to_string(), v);
            }
        }
    }
    m.insert("ctx".into(), ctx);
    if let Some(sess) = state.lookup(SESSION_KEY) {
        m.insert(SESSION_KEY.into(), sess);
    }
    Ok(Value::from(m))
}

pub(super) fn nested_failure(what: String, e: Error) -> Error {
    Error::new(ErrorKind::InvalidOperation, what).with_source(e)
}

pub(super) fn include(
    state: &State<'_, '_>,
    name: String,
    ctx: Option<Value>,
) -> Result<String, Error> {
    let sess: Arc<Session> = session(state)?;
    let _guard = sess.enter(|| format!("include({name:?})"))?;
    let tmpl = state.env().get_template(&name).map_err(|_| {
        op_err(format!(
            "include: no template named {name:?} (define it with {{% define \"{name}\" %}})"
        ))
    })?;
    let ctx = nested_context(state, ctx.unwrap_or(Value::UNDEFINED))?;
    let out = tmpl
        .render(ctx)
        .map_err(|e| nested_failure(format!("error calling include({name:?})"), e))?;
    sess.add_output(out.len())?;
    Ok(out)
}

pub(super) fn tpl(
    state: &State<'_, '_>,
    text: String,
    ctx: Option<Value>,
) -> Result<String, Error> {
    let sess = session(state)?;
    let _guard = sess.enter(|| "tpl".to_string())?;
    let ctx = nested_context(state, ctx.unwrap_or(Value::UNDEFINED))?;
    let name = format!("{} (tpl)", state.name());
    let out = state
        .env()
        .render_named_str(&name, &text, ctx)
        .map_err(|e| nested_failure("error calling tpl".into(), e))?;
    sess.add_output(out.len())?;
    Ok(out)
}

/// Registers `include` and `tpl`.
pub(super) fn register(env: &mut Environment<'static>) {
    // Templates.
    env.add_function("include", include);
    env.add_function("tpl", tpl);
    env.add_filter("tpl", tpl);
}

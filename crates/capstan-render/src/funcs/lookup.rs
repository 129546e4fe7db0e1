//! `lookup`: answered from what the caller read for the render, never from the cluster.

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{Environment, Error, State};

use crate::objects::session;

/// Registers `lookup`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function(
        "lookup",
        |state: &State<'_, '_>,
         api_version: String,
         kind: String,
         namespace: String,
         name: String|
         -> Result<Value, Error> {
            let found = session(state)?.lookups.resolve(crate::LookupKey {
                api_version,
                kind,
                namespace,
                name,
            });
            Ok(found.map_or_else(
                || Value::from(BTreeMap::<String, Value>::new()),
                |object| Value::from_serialize(&object),
            ))
        },
    );
}

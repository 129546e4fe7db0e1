//! Reading a rendered document for what a manifest needs (`apiVersion`, `kind`, `metadata`),
//! with exactly the errors of reading it whole.
//!
//! Helm reads every rendered document whole (`yaml.Unmarshal`), so a document that does not
//! parse anywhere is an error; capstan reads it with [`capstan_chart::lenient`]. [`read`]
//! walks the same parser events with the same requests to the deserializer (every node read
//! with `deserialize_any`, tags as enum variants, the same expectations), so it accepts and
//! refuses exactly the same documents with the same messages, but keeps only the top-level
//! `apiVersion`, `kind` and `metadata` values: every other top-level value is read and dropped
//! (kept as null), which spares building large values (dashboards, scripts) that nothing reads.

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::{Mapping, Value};

/// What both visitors expect, as [`capstan_chart::lenient`]'s says (errors quote it).
const EXPECTING: &str = "any YAML value";

/// The document with only its top-level `apiVersion`, `kind` and `metadata` values kept;
/// `Err` exactly when [`capstan_chart::lenient::from_str`] fails, with the same error.
pub(crate) fn read(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    serde_yaml_ng::from_str::<Head>(text).map(|h| h.0)
}

/// Whether a top-level key may be one a manifest reads.
fn wanted(key: &Value) -> bool {
    matches!(key.as_str(), Some("apiVersion" | "kind" | "metadata"))
}

/// A whole value, read as [`capstan_chart::lenient`] reads it.
struct Whole;

impl<'de> DeserializeSeed<'de> for Whole {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        capstan_chart::lenient::from_document(d)
    }
}

struct Head(Value);

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HeadVisitor).map(Head)
    }
}

/// The top level: scalars as the lenient reader makes them, a sequence read and dropped (it is
/// no manifest either way), a mapping with only the wanted values kept, a tagged value whole.
struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(EXPECTING)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Number((v as f64).into()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Number((v as f64).into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Head::deserialize(d).map(|h| h.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Value::Sequence(Vec::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some(key) = map.next_key_seed(Whole)? {
            let value = if wanted(&key) {
                map.next_value_seed(Whole)?
            } else {
                map.next_value::<Skip>()?;
                Value::Null
            };
            out.insert(key, value);
        }
        Ok(Value::Mapping(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant): (String, A::Variant) = data.variant()?;
        let value = de::VariantAccess::newtype_variant_seed(variant, Whole)?;
        Ok(Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: serde_yaml_ng::value::Tag::new(tag),
            value,
        })))
    }
}

/// A value read as the lenient reader reads it (the same calls, so the same errors), kept
/// nowhere.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(EXPECTING)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_string<E>(self, _: String) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Skip, A::Error> {
        let (_tag, variant): (String, A::Variant) = data.variant()?;
        de::VariantAccess::newtype_variant::<Skip>(variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields a manifest reads, from a whole reading and from [`read`].
    fn heads(text: &str) -> (Result<String, String>, Result<String, String>) {
        let head = |v: Value| {
            let get = |path: &[&str]| {
                let mut cur = &v;
                for p in path {
                    match cur.get(*p) {
                        Some(next) => cur = next,
                        None => return "-".to_string(),
                    }
                }
                format!("{cur:?}")
            };
            format!(
                "null={} map={} {} {} {} {} {}",
                v.is_null(),
                v.is_mapping(),
                get(&["apiVersion"]),
                get(&["kind"]),
                get(&["metadata", "name"]),
                get(&["metadata", "namespace"]),
                get(&["metadata", "annotations"]),
            )
        };
        let error = |e: serde_yaml_ng::Error| {
            format!("{e} @ {:?}", e.location().map(|l| (l.line(), l.column())))
        };
        (
            capstan_chart::lenient::from_str(text)
                .map(head)
                .map_err(error),
            read(text).map(head).map_err(error),
        )
    }

    #[test]
    fn reads_as_the_whole_reader_reads() {
        let cases = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: n\n  annotations:\n    helm.sh/hook: pre-install\ndata:\n  big: |\n    text\n",
            "kind: A\nkind: B\napiVersion: v1\nmetadata: {name: x}\nmetadata: {name: y}\n",
            "a: [1, 2\n",
            "data: {x: [1, {y: 2}]}\nkind: K\n  bad: indent\n",
            "",
            "~\n",
            "- a\n- b\n",
            "just text\n",
            "!tagged {apiVersion: v1, kind: K, metadata: {name: t}}\n",
            "apiVersion: !custom v1\nkind: K\nmetadata:\n  name: n\nspec: !!binary aGVsbG8=\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: n\nspec: !!int abc\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: n\nspec: !!binary aGVsbG8=\n",
            "apiVersion: v1\nkind: K\nmetadata: &m\n  name: n\nother: *m\nmissing: *nope\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: 12\nbig: 100000000000000000000\n",
            "? [a, b]\n: c\nkind: K\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: n\n\tspec: tab\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: n\nspec:\n  - {a: 1, a: 2}\n  - [[[[x]]]]\n",
        ];
        for text in cases {
            let (whole, head) = heads(text);
            assert_eq!(whole, head, "{text:?}");
        }
        let deep = format!("kind: K\nspec: {}x{}\n", "[".repeat(200), "]".repeat(200));
        let (whole, head) = heads(&deep);
        assert!(whole.is_err());
        assert_eq!(whole, head);
    }
}

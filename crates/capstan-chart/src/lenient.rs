//! Reading YAML as Helm does (go-yaml v2 under sigs.k8s.io/yaml): a key repeated in one mapping
//! keeps its last value instead of being refused, and an integer too large for 64 bits is a
//! float. Rendered manifests are read this way; `xtask` includes this file as
//! is for its conformance comparison.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::{Mapping, Value};

/// A YAML value read with repeated keys allowed (the last one wins).
struct Lenient(Value);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor).map(Lenient)
    }
}

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
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
        Lenient::deserialize(d).map(|l| l.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Lenient(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Sequence(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some((Lenient(k), Lenient(v))) = map.next_entry()? {
            out.insert(k, v);
        }
        Ok(Value::Mapping(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant): (String, A::Variant) = data.variant()?;
        let Lenient(v) = de::VariantAccess::newtype_variant(variant)?;
        Ok(Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: serde_yaml_ng::value::Tag::new(tag),
            value: v,
        })))
    }
}

/// Parses one YAML document; a repeated key keeps its last value.
#[allow(dead_code)] // xtask, which includes this file, reads streams only
pub fn from_str(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    serde_yaml_ng::from_str::<Lenient>(text).map(|l| l.0)
}

/// Reads one document of a stream; a repeated key keeps its last value.
#[allow(dead_code)] // used by xtask's conformance run, which includes this file
pub fn from_document<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Lenient::deserialize(d).map(|l| l.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_keys_keep_the_last_value() {
        let v = super::from_str("a: 1\nb: {c: 1, c: 2}\na: 3\n").unwrap();
        assert_eq!(
            v,
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>("a: 3\nb: {c: 2}\n").unwrap()
        );
        assert!(super::from_str("a: [1\n").is_err());
        let big = super::from_str("e: 100000000000000000000\n").unwrap();
        assert_eq!(big["e"].as_f64(), Some(1e20));
    }
}

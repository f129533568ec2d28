//! The shape of `profiles.toml`, read from the model's own `Deserialize` impls, so the list of
//! known keys can never drift from the structs: unknown keys are found by walking the parsed file
//! against it, and a close known key is offered as "did you mean".
//!
//! [`shape_of`] runs a type's `Deserialize` against a tracing deserializer that answers every
//! struct with all of its fields, every option with `Some`, every list with one element and every
//! enum with its first variant, and records the tables it was asked for.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, Error as TraceError};
use serde::de::{self, Deserialize, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess};

/// What a place in the file may hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shape {
    /// A value whose keys are not checked here (scalars, enums, free-form maps).
    #[default]
    Leaf,
    /// A struct: its known keys, in declaration order.
    Table(Vec<(&'static str, Shape)>),
    /// A list (array of tables, or array of values).
    List(Box<Shape>),
}

impl Shape {
    /// The known key `name` of a table shape.
    pub fn field(&self, name: &str) -> Option<&Shape> {
        match self {
            Self::Table(fields) => fields.iter().find(|(k, _)| *k == name).map(|(_, s)| s),
            _ => None,
        }
    }

    /// The known keys of a table shape (empty for other shapes).
    pub fn keys(&self) -> Vec<&'static str> {
        match self {
            Self::Table(fields) => fields.iter().map(|(k, _)| *k).collect(),
            _ => Vec::new(),
        }
    }
}

/// The shape `T` deserializes from. Fails only for types this tracer cannot answer (tuples,
/// untagged enums); the profile model has none, which a unit test keeps true.
pub fn shape_of<'de, T: Deserialize<'de>>() -> Result<Shape, String> {
    let mut shape = Shape::Leaf;
    T::deserialize(Tracer { out: &mut shape }).map_err(|e| e.to_string())?;
    Ok(shape)
}

/// The closest of `known` to `typed`, if it is close enough to be a likely typo: compared
/// ignoring case and `-` vs `_`, within 1 edit for short names and up to 3 for long ones
/// (a swap of two neighbouring letters counts as one edit).
pub fn suggest<'a>(typed: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    let typed_n = norm(typed);
    let limit = match typed_n.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| (strsim::osa_distance(&typed_n, &norm(k)), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

struct Tracer<'a> {
    out: &'a mut Shape,
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = TraceError;

    fn deserialize_any<V: de::Visitor<'de>>(self, _v: V) -> Result<V::Value, TraceError> {
        Err(de::Error::custom(
            "the profile model has a self-describing field the schema cannot trace",
        ))
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_bool(false)
    }

    fn deserialize_i8<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_i64(0)
    }
    fn deserialize_i16<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_i64(0)
    }
    fn deserialize_i32<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_i64(0)
    }
    fn deserialize_i64<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_i64(0)
    }
    fn deserialize_u8<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_u64(0)
    }
    fn deserialize_u16<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_u64(0)
    }
    fn deserialize_u32<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_u64(0)
    }
    fn deserialize_u64<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_u64(0)
    }
    fn deserialize_f32<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_f64(0.0)
    }
    fn deserialize_f64<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_f64(0.0)
    }
    fn deserialize_char<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_char('x')
    }
    fn deserialize_str<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_borrowed_str("")
    }
    fn deserialize_string<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_borrowed_str("")
    }
    fn deserialize_bytes<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_borrowed_bytes(&[])
    }
    fn deserialize_byte_buf<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_borrowed_bytes(&[])
    }
    fn deserialize_option<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_some(self)
    }
    fn deserialize_unit<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, TraceError> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, TraceError> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        *self.out = Shape::List(Box::new(Shape::Leaf));
        let Shape::List(inner) = self.out else {
            unreachable!("just set to a list")
        };
        v.visit_seq(OneElement {
            out: Some(inner.as_mut()),
        })
    }
    fn deserialize_tuple<V: de::Visitor<'de>>(
        self,
        _len: usize,
        _v: V,
    ) -> Result<V::Value, TraceError> {
        Err(de::Error::custom("tuples are not traced"))
    }
    fn deserialize_tuple_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _v: V,
    ) -> Result<V::Value, TraceError> {
        Err(de::Error::custom("tuple structs are not traced"))
    }
    fn deserialize_map<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        // A free-form map: any key is fine.
        *self.out = Shape::Leaf;
        v.visit_map(de::value::MapDeserializer::<
            std::iter::Empty<(&'de str, &'de str)>,
            TraceError,
        >::new(std::iter::empty()))
    }
    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TraceError> {
        *self.out = Shape::Table(fields.iter().map(|f| (*f, Shape::Leaf)).collect());
        let Shape::Table(slots) = self.out else {
            unreachable!("just set to a table")
        };
        v.visit_map(Fields {
            slots: slots.iter_mut(),
            current: None,
        })
    }
    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, TraceError> {
        let first = variants
            .first()
            .ok_or_else(|| de::Error::custom("an enum without variants"))?;
        v.visit_enum(IntoDeserializer::<TraceError>::into_deserializer(*first))
    }
    fn deserialize_identifier<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_borrowed_str("")
    }
    fn deserialize_ignored_any<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, TraceError> {
        v.visit_unit()
    }
}

struct OneElement<'a> {
    out: Option<&'a mut Shape>,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = TraceError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TraceError> {
        match self.out.take() {
            Some(out) => seed.deserialize(Tracer { out }).map(Some),
            None => Ok(None),
        }
    }
}

struct Fields<'a> {
    slots: std::slice::IterMut<'a, (&'static str, Shape)>,
    current: Option<&'a mut Shape>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = TraceError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TraceError> {
        let Some((name, slot)) = self.slots.next() else {
            return Ok(None);
        };
        self.current = Some(slot);
        seed.deserialize(BorrowedStrDeserializer::<TraceError>::new(name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TraceError> {
        let out = self
            .current
            .take()
            .ok_or_else(|| de::Error::custom("a value without a key"))?;
        seed.deserialize(Tracer { out })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leaf => f.write_str("value"),
            Self::List(inner) => write!(f, "[{inner}]"),
            Self::Table(fields) => {
                f.write_str("{")?;
                for (i, (k, s)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {s}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::Profile;

    #[test]
    fn traces_the_whole_profile_model() {
        let shape = shape_of::<Profile>().unwrap();
        let keys = shape.keys();
        assert!(keys.contains(&"refresh_interval_secs"), "{shape}");
        let pg = shape.field("postgres").unwrap();
        let Shape::List(pg) = pg else {
            panic!("postgres is a list: {shape}")
        };
        assert!(pg.keys().contains(&"primary_dsn"), "{shape}");
        assert_eq!(
            pg.field("password").map(Shape::keys),
            Some(vec!["service", "account"])
        );
        let Some(Shape::List(q)) = shape
            .field("redis")
            .and_then(|r| match r {
                Shape::List(r) => r.field("queues"),
                _ => None,
            })
            .cloned()
        else {
            panic!("redis queues: {shape}")
        };
        assert!(
            q.field("linked_workload")
                .is_some_and(|w| w.keys().contains(&"kind")),
            "{shape}"
        );
        assert!(
            shape
                .field("thresholds")
                .is_some_and(|t| t.keys().contains(&"queue_depth"))
        );
        assert_eq!(shape.field("rabbitmq").map(|r| r.keys().len()), Some(7));
    }

    #[test]
    fn suggestions() {
        let known = ["name", "primary_dsn", "replica_dsns", "password", "url"];
        assert_eq!(suggest("primary_dns", &known), Some("primary_dsn"));
        assert_eq!(suggest("uri", &known), Some("url"));
        assert_eq!(suggest("Primary-DSN", &known), Some("primary_dsn"));
        assert_eq!(suggest("passwd", &known), Some("password"));
        assert_eq!(suggest("colour", &known), None);
        assert_eq!(
            suggest("profiles", &["last_used", "profile"]),
            Some("profile")
        );
    }
}

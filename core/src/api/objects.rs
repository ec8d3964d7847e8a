//! Nested records of request bodies are read from JSON objects only.
//!
//! A derived `Deserialize` also reads a struct from a JSON array, field by field in order
//! (`"retries": [3, 10]` as `{"count": 3, "backoff": 10}`). No client means that, and the OpenAPI
//! document says objects (schemathesis sent `"resources": [null, null]`, which was accepted).
//! The server refuses an array for the whole body before decoding; these `deserialize_with`
//! helpers do the same for the records inside it. They go through the deserializer they are
//! given, so a failure deeper in still names its full path (`config.tasks[0].retries.count`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// `T` from a JSON object only.
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData)).map(MapOnly)
    }
}

/// A record read from a JSON object only.
pub(crate) fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    MapOnly::<T>::deserialize(d).map(|m| m.0)
}

/// An optional record: `null` (or absent, with `#[serde(default)]`) is `None`.
pub(crate) fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<MapOnly<T>>::deserialize(d)?.map(|m| m.0))
}

/// A list of records, each a JSON object.
pub(crate) fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of JSON objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // The hint comes from the client: bounded by the body size anyway, but not trusted.
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(MapOnly(item)) = seq.next_element::<MapOnly<T>>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(ListVisitor(PhantomData))
}

/// A list of records, each a JSON object; `null` is the empty list.
pub(crate) fn objects_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<ObjectList<T>>::deserialize(d)?
        .map(|l| l.0)
        .unwrap_or_default())
}

/// An optional list of records, each a JSON object.
pub(crate) fn optional_objects<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<ObjectList<T>>::deserialize(d)?.map(|l| l.0))
}

struct ObjectList<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        objects(d).map(ObjectList)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Retries {
        count: u64,
        #[serde(default)]
        backoff: Option<u64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Task {
        #[serde(default, deserialize_with = "super::optional_object")]
        retries: Option<Retries>,
        #[serde(default, deserialize_with = "super::objects_or_null")]
        steps: Vec<Retries>,
    }

    fn parse(text: &str) -> Result<Task, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn records_are_read_from_objects_only() {
        assert_eq!(
            parse(r#"{"retries": {"count": 3}, "steps": [{"count": 1, "backoff": 2}]}"#).unwrap(),
            Task {
                retries: Some(Retries {
                    count: 3,
                    backoff: None
                }),
                steps: vec![Retries {
                    count: 1,
                    backoff: Some(2)
                }],
            }
        );
        assert_eq!(
            parse(r#"{"retries": null, "steps": null}"#).unwrap(),
            Task {
                retries: None,
                steps: vec![]
            }
        );
        assert_eq!(
            parse("{}").unwrap(),
            Task {
                retries: None,
                steps: vec![]
            }
        );
        let refused = parse(r#"{"retries": [3, 10]}"#).unwrap_err();
        assert!(
            refused.starts_with("retries: invalid type: sequence, expected a JSON object"),
            "{refused}"
        );
        let refused = parse(r#"{"steps": [[1, 2]]}"#).unwrap_err();
        assert!(
            refused.starts_with("steps[0]: invalid type: sequence, expected a JSON object"),
            "{refused}"
        );
        // Deeper failures keep their full path and the derived messages.
        let refused = parse(r#"{"steps": [{"count": 1}, {"count": "x"}]}"#).unwrap_err();
        assert!(
            refused.starts_with("steps[1].count: invalid type: string"),
            "{refused}"
        );
        let refused = parse(r#"{"retries": {"count": 1, "typo": 2}}"#).unwrap_err();
        assert!(
            refused.starts_with("retries.typo: unknown field `typo`")
                || refused.starts_with("retries: unknown field `typo`"),
            "{refused}"
        );
        let refused = parse(r#"{"retries": {}}"#).unwrap_err();
        assert!(refused.contains("missing field `count`"), "{refused}");
    }
}

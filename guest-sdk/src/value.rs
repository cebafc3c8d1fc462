//! Attribute values and key/value pairs.
//!
//! [`Value`] mirrors the WIT `value` variant (OpenTelemetry's attribute value
//! model): strings, booleans, 64-bit signed integers, 64-bit floats, and
//! homogeneous arrays of those. Most Rust primitives convert into it with
//! [`From`], so you rarely name it: write attributes with [`attrs!`] or
//! [`KeyValue::new`].
//!
//! ```
//! use wasmtrace_sdk::{attrs, KeyValue, Value};
//!
//! let attributes = attrs! {
//!     "http.request.method" => "GET",
//!     "http.response.status_code" => 200,
//!     "cache.hit" => false,
//!     "duration.ms" => 1.5,
//!     "tags" => vec!["a", "b"],
//! };
//! assert_eq!(attributes[1], KeyValue::new("http.response.status_code", 200_i64));
//! assert_eq!(attributes[4].value, Value::StringArray(vec!["a".into(), "b".into()]));
//! ```
//!
//! [`attrs!`]: crate::attrs

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::wit::wasmtrace::telemetry::types as wit;

/// Attributes kept inline up to this many: a typical span or event has a
/// handful, and lowering them then needs no heap allocation.
pub(crate) const INLINE_ATTRIBUTES: usize = 8;

/// An attribute list stored inline when short.
pub(crate) type Attributes = SmallVec<[KeyValue; INLINE_ATTRIBUTES]>;

/// An attribute value: one of OpenTelemetry's primitive types or a
/// homogeneous array of them.
///
/// Integers are signed 64-bit, as in OpenTelemetry. `i8`..`i64`, `u8`..`u64`,
/// `usize`, `f32`, `f64`, `bool`, strings, and vectors, slices and arrays of
/// those convert into a `Value` with [`From`]/[`Into`]; `u64` and `usize`
/// saturate at `i64::MAX`.
///
/// # Example
///
/// ```
/// use wasmtrace_sdk::Value;
///
/// assert_eq!(Value::from("hello"), Value::String("hello".into()));
/// assert_eq!(Value::from(42_u32), Value::I64(42));
/// assert_eq!(Value::from(true), Value::Bool(true));
/// assert_eq!(Value::from(0.5_f32), Value::F64(0.5));
/// assert_eq!(Value::from([1, 2, 3]), Value::I64Array(vec![1, 2, 3]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A UTF-8 string: borrowed for `'static` text (string literals in
    /// [`attrs!`](crate::attrs), [`Value::from_static`]), so that building
    /// the attributes of a span skipped in an unsampled trace allocates
    /// nothing; owned otherwise.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = "GET".into();
    /// assert_eq!(v, Value::String("GET".into()));
    /// ```
    String(Cow<'static, str>),
    /// A boolean.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = true.into();
    /// assert_eq!(v, Value::Bool(true));
    /// ```
    Bool(bool),
    /// A signed 64-bit integer. Unsigned values (lengths, counts) convert
    /// too, saturating at `i64::MAX`: OpenTelemetry has no unsigned type.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = 7_i32.into();
    /// assert_eq!(v, Value::I64(7));
    /// assert_eq!(Value::from("four".len()), Value::I64(4));
    /// assert_eq!(Value::from(u64::MAX), Value::I64(i64::MAX));
    /// ```
    I64(i64),
    /// A 64-bit float.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = 2.5.into();
    /// assert_eq!(v, Value::F64(2.5));
    /// ```
    F64(f64),
    /// An array of strings.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = vec!["a", "b"].into();
    /// assert_eq!(v, Value::StringArray(vec!["a".into(), "b".into()]));
    /// ```
    StringArray(Vec<String>),
    /// An array of booleans.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = [true, false].into();
    /// assert_eq!(v, Value::BoolArray(vec![true, false]));
    /// ```
    BoolArray(Vec<bool>),
    /// An array of signed 64-bit integers.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = vec![1_i64, 2].into();
    /// assert_eq!(v, Value::I64Array(vec![1, 2]));
    /// ```
    I64Array(Vec<i64>),
    /// An array of 64-bit floats.
    ///
    /// ```
    /// # use wasmtrace_sdk::Value;
    /// let v: Value = [0.25, 0.75].as_slice().into();
    /// assert_eq!(v, Value::F64Array(vec![0.25, 0.75]));
    /// ```
    F64Array(Vec<f64>),
}

impl Value {
    /// A string value that borrows `'static` text instead of copying it.
    /// String literals in [`attrs!`](crate::attrs) get this by themselves;
    /// use it for constants.
    ///
    /// ```
    /// # use wasmtrace_sdk::{attrs, Value};
    /// const SYSTEM: &str = "kafka";
    /// let attributes = attrs! { "messaging.system" => Value::from_static(SYSTEM) };
    /// assert_eq!(attributes[0].value, Value::from("kafka"));
    /// ```
    #[must_use]
    pub const fn from_static(text: &'static str) -> Self {
        Value::String(Cow::Borrowed(text))
    }
}

/// How [`attrs!`](crate::attrs) converts a literal value: string literals
/// are borrowed, not copied. Not public API.
#[doc(hidden)]
pub trait LiteralValue {
    /// The literal as a [`Value`].
    fn literal_value(self) -> Value;
}

impl LiteralValue for &'static str {
    #[inline]
    fn literal_value(self) -> Value {
        Value::from_static(self)
    }
}

macro_rules! literal_from {
    ($($ty:ty),*) => {$(
        impl LiteralValue for $ty {
            #[inline]
            fn literal_value(self) -> Value {
                Value::from(self)
            }
        }
    )*};
}

literal_from!(bool, i64, i32, i16, i8, u64, u32, u16, u8, usize, f64, f32);

macro_rules! scalar_from {
    ($($ty:ty => |$v:ident| $variant:ident($conv:expr)),* $(,)?) => {$(
        impl From<$ty> for Value {
            #[inline]
            fn from($v: $ty) -> Self {
                Value::$variant($conv)
            }
        }
    )*};
}

scalar_from! {
    String => |v| String(Cow::Owned(v)),
    &str => |v| String(Cow::Owned(v.to_owned())),
    &String => |v| String(Cow::Owned(v.clone())),
    Cow<'static, str> => |v| String(v),
    bool => |v| Bool(v),
    i64 => |v| I64(v),
    i32 => |v| I64(v.into()),
    i16 => |v| I64(v.into()),
    i8 => |v| I64(v.into()),
    u32 => |v| I64(v.into()),
    u16 => |v| I64(v.into()),
    u8 => |v| I64(v.into()),
    // OpenTelemetry has no unsigned integers: counts and lengths beyond
    // i64::MAX (never seen in practice) saturate rather than wrap.
    u64 => |v| I64(i64::try_from(v).unwrap_or(i64::MAX)),
    usize => |v| I64(i64::try_from(v).unwrap_or(i64::MAX)),
    f64 => |v| F64(v),
    f32 => |v| F64(v.into()),
}

macro_rules! array_from {
    ($($elem:ty => |$v:ident| $variant:ident($conv:expr)),* $(,)?) => {$(
        impl From<Vec<$elem>> for Value {
            #[inline]
            fn from(values: Vec<$elem>) -> Self {
                Value::$variant(values.into_iter().map(|$v| $conv).collect())
            }
        }

        impl From<&[$elem]> for Value {
            #[inline]
            fn from(values: &[$elem]) -> Self {
                Value::$variant(values.iter().map(|$v| { let $v = $v.clone(); $conv }).collect())
            }
        }

        impl<const N: usize> From<[$elem; N]> for Value {
            #[inline]
            fn from(values: [$elem; N]) -> Self {
                Value::$variant(values.into_iter().map(|$v| $conv).collect())
            }
        }
    )*};
}

array_from! {
    String => |v| StringArray(v),
    &str => |v| StringArray(v.to_owned()),
    bool => |v| BoolArray(v),
    i64 => |v| I64Array(v),
    i32 => |v| I64Array(v.into()),
    u32 => |v| I64Array(v.into()),
    u64 => |v| I64Array(i64::try_from(v).unwrap_or(i64::MAX)),
    usize => |v| I64Array(i64::try_from(v).unwrap_or(i64::MAX)),
    f64 => |v| F64Array(v),
}

/// One attribute: a key and a typed [`Value`].
///
/// Keys must be non-empty. Keys starting with `wasmtrace.` or `service.` are
/// reserved for the host, which drops them when a plugin sets them. A key is
/// a `&'static str` (no allocation, as OpenTelemetry's `Key`) or an owned
/// `String`. The [`attrs!`](crate::attrs) macro builds an array of them
/// concisely.
///
/// # Example
///
/// ```
/// use wasmtrace_sdk::{KeyValue, Value};
///
/// let kv = KeyValue::new("retry.count", 3);
/// assert_eq!(kv.key, "retry.count");
/// assert_eq!(kv.value, Value::I64(3));
///
/// // Tuples convert too.
/// let kv: KeyValue = ("cache.hit", true).into();
/// assert_eq!(kv.value, Value::Bool(true));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The attribute's key, e.g. `http.request.method`.
    ///
    /// ```
    /// # use wasmtrace_sdk::KeyValue;
    /// assert_eq!(KeyValue::new("k", 1).key, "k");
    /// ```
    pub key: Cow<'static, str>,
    /// The attribute's value.
    ///
    /// ```
    /// # use wasmtrace_sdk::{KeyValue, Value};
    /// assert_eq!(KeyValue::new("k", "v").value, Value::String("v".into()));
    /// ```
    pub value: Value,
}

impl KeyValue {
    /// Creates an attribute from anything that converts into a key and a
    /// [`Value`].
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::{KeyValue, Value};
    ///
    /// let kv = KeyValue::new("ratio", 0.75);
    /// assert_eq!(kv.value, Value::F64(0.75));
    /// ```
    #[inline]
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> From<(K, V)> for KeyValue {
    #[inline]
    fn from((key, value): (K, V)) -> Self {
        Self::new(key, value)
    }
}

/// The string arrays among some attributes, as the `&str` slices their WIT
/// form borrows: the one part of a lowered attribute list that needs storage
/// of its own (none without string arrays).
pub(crate) struct StrArrays<'a>(Vec<Vec<&'a str>>);

/// A lowered attribute list, inline when short.
pub(crate) type WitAttributes<'a> = SmallVec<[wit::KeyValue<'a>; INLINE_ATTRIBUTES]>;

impl<'a> StrArrays<'a> {
    /// The string arrays of `attributes`, in order.
    pub(crate) fn of(attributes: &'a [KeyValue]) -> Self {
        Self(
            attributes
                .iter()
                .filter_map(|kv| match &kv.value {
                    Value::StringArray(v) => Some(v.iter().map(String::as_str).collect()),
                    _ => None,
                })
                .collect(),
        )
    }

    /// `attributes` (the ones given to [`StrArrays::of`]) in their WIT form,
    /// borrowing every string in place: lowering them copies nothing.
    pub(crate) fn lower(&'a self, attributes: &'a [KeyValue]) -> WitAttributes<'a> {
        let mut arrays = self.0.iter();
        attributes
            .iter()
            .map(|kv| wit::KeyValue {
                key: &kv.key,
                value: match &kv.value {
                    Value::String(v) => wit::Value::String(v),
                    Value::Bool(v) => wit::Value::Bool(*v),
                    Value::I64(v) => wit::Value::S64(*v),
                    Value::F64(v) => wit::Value::F64(*v),
                    // `of` collected one slice per string array, in order.
                    Value::StringArray(_) => {
                        wit::Value::StringArray(arrays.next().map_or(&[], Vec::as_slice))
                    }
                    Value::BoolArray(v) => wit::Value::BoolArray(v),
                    Value::I64Array(v) => wit::Value::S64Array(v),
                    Value::F64Array(v) => wit::Value::F64Array(v),
                },
            })
            .collect()
    }
}

/// Runs `f` with `attributes` in their WIT form (strings borrowed, not
/// copied): what every host call taking a `list<key-value>` goes through.
#[inline]
pub(crate) fn with_wit<R>(
    attributes: impl IntoIterator<Item = KeyValue>,
    f: impl FnOnce(&[wit::KeyValue<'_>]) -> R,
) -> R {
    with_wit_slice(&attributes.into_iter().collect::<Attributes>(), f)
}

/// [`with_wit`] for attributes already in a slice.
#[inline]
pub(crate) fn with_wit_slice<R>(
    attributes: &[KeyValue],
    f: impl FnOnce(&[wit::KeyValue<'_>]) -> R,
) -> R {
    let arrays = StrArrays::of(attributes);
    f(&arrays.lower(attributes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Value::from(String::from("x")), Value::String("x".into()));
        assert_eq!(Value::from(&String::from("x")), Value::String("x".into()));
        assert_eq!(Value::from(Cow::Borrowed("x")), Value::String("x".into()));
        assert!(matches!(
            crate::attrs! { "k" => "literal" }[0].value,
            Value::String(Cow::Borrowed("literal"))
        ));
        let text = String::from("owned");
        assert!(matches!(
            crate::attrs! { "k" => text.as_str(), "n" => 1 }[0].value,
            Value::String(Cow::Owned(_))
        ));
        assert_eq!(Value::from(-3_i8), Value::I64(-3));
        assert_eq!(Value::from(u32::MAX), Value::I64(u32::MAX.into()));
        assert_eq!(
            Value::from(&["a", "b"][..]),
            Value::StringArray(vec!["a".into(), "b".into()])
        );
        assert_eq!(Value::from(vec![1_u32]), Value::I64Array(vec![1]));
        assert_eq!(Value::from([1.0, 2.0]), Value::F64Array(vec![1.0, 2.0]));
    }

    #[test]
    fn lowering_borrows_in_order_with_types() {
        let attributes = crate::attrs! { "a" => 1, "b" => "x", "c" => [true], "d" => ["p", "q"], "e" => 0.5, "f" => ["r"] };
        let arrays = StrArrays::of(&attributes);
        let wit = arrays.lower(&attributes);
        assert_eq!(wit.len(), 6);
        assert_eq!(wit[0].key, "a");
        assert!(matches!(wit[0].value, wit::Value::S64(1)));
        assert!(matches!(wit[1].value, wit::Value::String("x")));
        assert!(matches!(wit[2].value, wit::Value::BoolArray([true])));
        assert!(matches!(wit[3].value, wit::Value::StringArray(["p", "q"])));
        assert!(matches!(wit[4].value, wit::Value::F64(0.5)));
        assert!(matches!(wit[5].value, wit::Value::StringArray(["r"])));
        // The key is the attribute's own string, not a copy.
        assert!(std::ptr::eq(wit[0].key, &*attributes[0].key));
    }
}

//! JavaScript values in and out, checked, with errors that name the argument.
//!
//! Arguments arrive as `JsValue` and are type-checked here rather than by wasm-bindgen's glue:
//! the release glue silently coerces (`undefined` becomes the string "undefined", a string
//! passed for bytes becomes zeros), which would turn a caller's mistake into wrong results
//! instead of an error. Secret inputs are copied into zeroizing buffers.

use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use parchment_core::canonical::{self, Value};
use wasm_bindgen::{JsCast, JsError, JsValue};
use zeroize::Zeroizing;

pub(crate) type Result<T> = std::result::Result<T, JsError>;

/// A JS `Error` with `message`.
pub(crate) fn error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_owned()
    } else if Array::is_array(value) {
        "an array".to_owned()
    } else {
        value.js_typeof().as_string().unwrap_or_default()
    }
}

/// A string argument.
pub(crate) fn string(value: &JsValue, what: &str) -> Result<String> {
    value
        .as_string()
        .ok_or_else(|| error(format!("{what} must be a string, got {}", type_name(value))))
}

/// A positive safe integer argument (a version number).
pub(crate) fn positive_integer(value: &JsValue, what: &str) -> Result<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && (1.0..=MAX_SAFE).contains(&n) => Ok(n as u64),
        // Not `{n}`: Rust's float formatting would add ~20 KB to the module.
        Some(n) => Err(error(format!(
            "{what} must be a positive integer, got {}",
            canonical::number_text(n)
        ))),
        None => Err(error(format!(
            "{what} must be a number, got {}",
            type_name(value)
        ))),
    }
}

/// A string argument holding a secret (recovery key, device secret): zeroized after use.
pub(crate) fn secret_string(value: &JsValue, what: &str) -> Result<Zeroizing<String>> {
    string(value, what).map(Zeroizing::new)
}

fn uint8_array<'a>(value: &'a JsValue, what: &str) -> Result<&'a Uint8Array> {
    value.dyn_ref::<Uint8Array>().ok_or_else(|| {
        error(format!(
            "{what} must be a Uint8Array, got {}",
            type_name(value)
        ))
    })
}

/// A `Uint8Array` argument, copied into wasm memory.
pub(crate) fn bytes(value: &JsValue, what: &str) -> Result<Vec<u8>> {
    Ok(uint8_array(value, what)?.to_vec())
}

/// A `Uint8Array` argument holding secret material (seed, PRF output): zeroized after use.
pub(crate) fn secret_bytes(value: &JsValue, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(uint8_array(value, what)?.to_vec()))
}

/// A new `Uint8Array` holding a copy of `data` (the wasm buffer can then be zeroized or freed).
pub(crate) fn bytes_out(data: &[u8]) -> Uint8Array {
    Uint8Array::from(data)
}

/// Checks that `value` is a plain object (not null, not an array).
pub(crate) fn object<'a>(value: &'a JsValue, what: &str) -> Result<&'a Object> {
    if value.is_object() && !Array::is_array(value) {
        Ok(value.unchecked_ref::<Object>())
    } else {
        Err(error(format!(
            "{what} must be an object, got {}",
            type_name(value)
        )))
    }
}

/// `object[name]`, which must be a string.
pub(crate) fn string_field(object: &Object, name: &str, what: &str) -> Result<String> {
    let value = Reflect::get(object, &JsValue::from_str(name))
        .map_err(|e| error(format!("{what}.{name} cannot be read: {}", describe(&e))))?;
    if value.is_undefined() {
        return Err(error(format!("{what}.{name} is required")));
    }
    string(&value, &format!("{what}.{name}"))
}

/// The message of a thrown JS value.
pub(crate) fn describe(thrown: &JsValue) -> String {
    if let Some(error) = thrown.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else {
        thrown
            .as_string()
            .unwrap_or_else(|| "unknown error".to_owned())
    }
}

/// `JSON.stringify(value)`: how a JS value becomes JSON text (so `undefined` members are
/// dropped, NaN and infinities become `null`, `toJSON` is honoured) before core canonicalizes
/// it with `JSON.parse` semantics.
pub(crate) fn json_text(value: &JsValue, what: &str) -> Result<String> {
    let text = JSON::stringify(value).map_err(|e| {
        error(format!(
            "{what} cannot be serialized to JSON: {}",
            describe(&e)
        ))
    })?;
    text.as_string().ok_or_else(|| {
        error(format!(
            "{what} has no JSON form ({} is not serializable)",
            type_name(value)
        ))
    })
}

/// A JS value as a core JSON value.
pub(crate) fn json_value(value: &JsValue, what: &str) -> Result<Value> {
    canonical::parse(&json_text(value, what)?).map_err(|e| error(format!("{what}: {e}")))
}

/// JSON text (made by core, so valid) as a JS value.
pub(crate) fn parse_json(text: &str) -> Result<JsValue> {
    JSON::parse(text).map_err(|e| error(format!("internal JSON error: {}", describe(&e))))
}

/// Sets `object[name] = value` on a fresh object.
#[cfg_attr(not(feature = "extra"), allow(dead_code))]
pub(crate) fn set(object: &Object, name: &str, value: &JsValue) -> Result<()> {
    Reflect::set(object, &JsValue::from_str(name), value)
        .map(|_| ())
        .map_err(|e| error(format!("cannot set {name}: {}", describe(&e))))
}

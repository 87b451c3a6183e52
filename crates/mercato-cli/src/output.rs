//! Result printing: one JSON object on stdout with `--json`, human text otherwise.

use serde_json::Value;

/// Prints `value` as one line of JSON when `json` is set, else runs `human`.
pub fn emit(json: bool, value: &Value, human: impl FnOnce()) {
    if json {
        println!("{value}");
    } else {
        human();
    }
}

/// A floating-point value for JSON: non-finite numbers become `null` (JSON has no NaN).
pub fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// An `f32` for JSON, written with the shortest decimal that round-trips as `f32` (so
/// `4.7635` does not come out as `4.763532638549805`).
pub fn num32(v: f32) -> Value {
    v.to_string().parse::<f64>().map_or(Value::Null, num)
}

/// An external id as it appears in the data files (strings unquoted).
pub fn id_str(id: &mercato::data::ExternalId) -> String {
    match id {
        mercato::data::ExternalId::Int(v) => v.to_string(),
        mercato::data::ExternalId::UInt(v) => v.to_string(),
        mercato::data::ExternalId::Str(s) => s.clone(),
    }
}

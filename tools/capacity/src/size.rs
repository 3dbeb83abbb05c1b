//! An item's size as DynamoDB counts it for capacity units: "Item sizes and formats",
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>.
//!
//! - a string is its UTF-8 bytes, a binary its raw bytes;
//! - a number is about 1 byte per two significant digits, plus 1 (leading and trailing zeros
//!   are not significant);
//! - a boolean or null is 1 byte;
//! - a list or map is 3 bytes of overhead plus its elements, each element 1 byte more (a map's
//!   elements count their names too);
//! - a set is the sum of its elements;
//! - every attribute also counts the UTF-8 bytes of its name.

use crate::Item;
use base64::Engine;
use serde_json::Value;

/// The size of an item: its attributes' names and values.
pub fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// The size of the named attributes of an item (an index entry's projection).
pub fn attributes_size<'a>(item: &Item, names: impl IntoIterator<Item = &'a str>) -> u64 {
    names
        .into_iter()
        .filter_map(|name| item.get(name).map(|v| name.len() as u64 + value_size(v)))
        .sum()
}

/// The size of one typed value (`{"S": "…"}`), without its name.
pub fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => s.len() as u64,
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => binary_size(b),
        ("BOOL", _) | ("NULL", _) => 1,
        ("SS", Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.len() as u64)
            .sum(),
        ("NS", Value::Array(list)) => list.iter().filter_map(Value::as_str).map(number_size).sum(),
        ("BS", Value::Array(list)) => list.iter().filter_map(Value::as_str).map(binary_size).sum(),
        ("L", Value::Array(list)) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<u64>(),
        ("M", Value::Object(map)) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() as u64 + value_size(v) + 1)
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// 1 byte per two significant digits (rounded up), plus 1.
fn number_size(n: &str) -> u64 {
    let mantissa = n
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len() as u64;
    significant.div_ceil(2) + 1
}

fn binary_size(b64: &str) -> u64 {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|raw| raw.len() as u64)
        .unwrap_or(b64.len() as u64 * 3 / 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    /// "Item sizes and formats": strings are their UTF-8 length, names count.
    #[test]
    fn strings_and_names_count_their_utf8_bytes() {
        // "pk" (2) + "TENANT#a" (8) + "sk" (2) + "MESSAGE" (7) + "é" name (2) + "ü" (2)
        let i = item(json!({"pk": {"S": "TENANT#a"}, "sk": {"S": "MESSAGE"}, "é": {"S": "ü"}}));
        assert_eq!(item_size(&i), 2 + 8 + 2 + 7 + 2 + 2);
    }

    /// "Item sizes and formats": a number is 1 byte per two significant digits plus 1; zeros at
    /// either end are not significant.
    #[test]
    fn numbers_count_significant_digits() {
        assert_eq!(value_size(&json!({"N": "1"})), 2);
        assert_eq!(value_size(&json!({"N": "1732610000"})), 4); // 1,7,3,2,6,1 significant: 3 + 1
        assert_eq!(value_size(&json!({"N": "12345"})), 4); // 5 digits: 3 + 1
        assert_eq!(value_size(&json!({"N": "-0.0125"})), 3); // 125: 2 + 1
    }

    /// "Item sizes and formats": booleans and nulls 1 byte; lists and maps 3 bytes of overhead
    /// and 1 per element; sets the sum of their elements; binaries their raw bytes.
    #[test]
    fn other_types() {
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        assert_eq!(value_size(&json!({"NULL": true})), 1);
        // [ "ab", 1 ] = 3 + (2 + 1) + (2 + 1)
        assert_eq!(value_size(&json!({"L": [{"S": "ab"}, {"N": "1"}]})), 9);
        // {"k": "ab"} = 3 + (1 + 2 + 1)
        assert_eq!(value_size(&json!({"M": {"k": {"S": "ab"}}})), 7);
        assert_eq!(value_size(&json!({"SS": ["ab", "cde"]})), 5);
        assert_eq!(value_size(&json!({"B": "AAEC"})), 3);
    }
}

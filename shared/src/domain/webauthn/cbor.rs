//! The CBOR reads WebAuthn needs (RFC 8949): one item from the front of a byte string, and a
//! map's value by key.

use ciborium::value::{Integer, Value};

use super::error::WebauthnError;

/// Decodes the item at the front of `bytes`: the value and how many bytes it took.
pub fn first_item(bytes: &[u8], what: &'static str) -> Result<(Value, usize), WebauthnError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader(&mut rest).map_err(|_| WebauthnError::Malformed(what))?;
    Ok((value, bytes.len() - rest.len()))
}

/// Decodes `bytes`, which must hold exactly one item.
pub fn only_item(bytes: &[u8], what: &'static str) -> Result<Value, WebauthnError> {
    match first_item(bytes, what)? {
        (value, used) if used == bytes.len() => Ok(value),
        _ => Err(WebauthnError::Malformed(what)),
    }
}

/// The entries of a map.
pub fn map<'v>(value: &'v Value, what: &'static str) -> Result<&'v [(Value, Value)], WebauthnError> {
    value
        .as_map()
        .map(Vec::as_slice)
        .ok_or(WebauthnError::Malformed(what))
}

/// The value under `key` (a map holding the key twice is malformed).
pub fn get<'v>(
    entries: &'v [(Value, Value)],
    key: &Value,
    what: &'static str,
) -> Result<Option<&'v Value>, WebauthnError> {
    let mut found = entries.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        _ => Err(WebauthnError::Malformed(what)),
    }
}

/// The integer under the integer `key`.
pub fn int_at(entries: &[(Value, Value)], key: i64, what: &'static str) -> Result<i64, WebauthnError> {
    get(entries, &Value::Integer(Integer::from(key)), what)?
        .and_then(Value::as_integer)
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(WebauthnError::Malformed(what))
}

/// The byte string under the integer `key`.
pub fn bytes_at<'v>(
    entries: &'v [(Value, Value)],
    key: i64,
    what: &'static str,
) -> Result<&'v [u8], WebauthnError> {
    get(entries, &Value::Integer(Integer::from(key)), what)?
        .and_then(Value::as_bytes)
        .map(Vec::as_slice)
        .ok_or(WebauthnError::Malformed(what))
}

/// The value under the text `key`.
pub fn text_key<'v>(
    entries: &'v [(Value, Value)],
    key: &str,
    what: &'static str,
) -> Result<Option<&'v Value>, WebauthnError> {
    get(entries, &Value::Text(key.to_string()), what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_item_says_how_many_bytes_it_took() {
        // {1: 2} followed by a stray byte.
        let (value, used) = first_item(&[0xa1, 0x01, 0x02, 0xff], "test").unwrap();
        assert_eq!(used, 3);
        assert_eq!(int_at(map(&value, "test").unwrap(), 1, "test"), Ok(2));
    }

    #[test]
    fn only_item_refuses_trailing_bytes() {
        assert!(only_item(&[0xa1, 0x01, 0x02, 0xff], "test").is_err());
        assert!(only_item(&[0xa1, 0x01, 0x02], "test").is_ok());
    }

    #[test]
    fn a_key_given_twice_is_malformed() {
        // {1: 2, 1: 3}
        let value = only_item(&[0xa2, 0x01, 0x02, 0x01, 0x03], "test").unwrap();
        assert_eq!(
            int_at(map(&value, "test").unwrap(), 1, "twice"),
            Err(WebauthnError::Malformed("twice"))
        );
    }

    #[test]
    fn truncated_input_is_malformed() {
        // A byte string that claims 16 bytes and has 1.
        assert!(first_item(&[0x50, 0x00], "test").is_err());
    }
}

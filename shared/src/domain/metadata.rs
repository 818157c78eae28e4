//! `app_metadata`: a JSON object per user that only administrators and hooks set (never the user),
//! for a team's own authorisation data (tenant, plan, roles of its own). It is shown in `/me`
//! and the admin views, and carried by the access token while it is not empty, so it is kept
//! small: at most [`MAX_APP_METADATA_BYTES`] serialized.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{invalid, Invalid};

/// The largest `app_metadata`, serialized as compact JSON. Access tokens travel in a request
/// header, and API Gateway caps a request's headers, so what a token carries must stay small.
pub const MAX_APP_METADATA_BYTES: usize = 2048;

/// A JSON object of at most [`MAX_APP_METADATA_BYTES`] serialized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AppMetadata(Map<String, Value>);

impl AppMetadata {
    /// The metadata `value` holds, or why it cannot be metadata (not an object, or too large).
    pub fn new(value: Value) -> Result<AppMetadata, Invalid> {
        let Value::Object(map) = value else {
            return Err(invalid("app_metadata must be a JSON object"));
        };
        let metadata = AppMetadata(map);
        let size = metadata.to_json().len();
        if size > MAX_APP_METADATA_BYTES {
            return Err(invalid(format!(
                "app_metadata must be at most {MAX_APP_METADATA_BYTES} bytes as JSON (this is {size})"
            )));
        }
        Ok(metadata)
    }

    /// The metadata a store holds as JSON text: empty for none (`None` or `""`, as accounts made
    /// before metadata existed have), else what [`AppMetadata::new`] accepts.
    pub fn from_stored(text: Option<&str>) -> Result<AppMetadata, Invalid> {
        match text {
            None | Some("") => Ok(AppMetadata::default()),
            Some(text) => {
                let value: Value = serde_json::from_str(text)
                    .map_err(|e| invalid(format!("stored app_metadata is not JSON: {e}")))?;
                AppMetadata::new(value)
            }
        }
    }

    /// Compact JSON, as stored and as measured.
    pub fn to_json(&self) -> String {
        // A map of JSON values always serializes.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_json_object_is_metadata() {
        for other in [json!(null), json!([]), json!("plan"), json!(1), json!(true)] {
            assert!(AppMetadata::new(other.clone()).is_err(), "{other}");
        }
        let metadata = AppMetadata::new(json!({"plan": "pro", "tenants": [1, 2]})).expect("an object");
        assert_eq!(metadata.to_json(), r#"{"plan":"pro","tenants":[1,2]}"#);
        assert!(!metadata.is_empty());
    }

    #[test]
    fn metadata_of_exactly_the_limit_is_kept_and_one_byte_more_is_refused() {
        // {"k":"..."} is 8 bytes around the value.
        let at_limit = json!({"k": "x".repeat(MAX_APP_METADATA_BYTES - 8)});
        assert_eq!(
            serde_json::to_string(&at_limit).unwrap().len(),
            MAX_APP_METADATA_BYTES
        );
        assert!(AppMetadata::new(at_limit).is_ok());
        let over = json!({"k": "x".repeat(MAX_APP_METADATA_BYTES - 7)});
        let Invalid(reason) = AppMetadata::new(over).unwrap_err();
        assert!(reason.contains("at most 2048 bytes"), "{reason}");
    }

    #[test]
    fn nothing_stored_is_empty_metadata_and_stored_metadata_reads_back() {
        assert!(AppMetadata::from_stored(None).unwrap().is_empty());
        assert!(AppMetadata::from_stored(Some("")).unwrap().is_empty());
        let stored = AppMetadata::from_stored(Some(r#"{"plan":"pro"}"#)).unwrap();
        assert_eq!(stored.as_map()["plan"], "pro");
        assert!(AppMetadata::from_stored(Some("[1]")).is_err());
        assert!(AppMetadata::from_stored(Some("{")).is_err());
    }
}

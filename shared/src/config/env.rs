//! The environment as configuration reads it: typed values, empty meaning unset.

use std::collections::HashMap;
use std::time::Duration;

use super::error::ConfigError;

/// Reads typed values out of a map of variables (the process environment, or a test's map).
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The variable's value, treating an empty string as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn parse<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)
            .map(|v| {
                v.parse::<T>().map_err(|e| ConfigError::Invalid {
                    name,
                    reason: format!("{e} (got {v:?})"),
                })
            })
            .transpose()
    }

    pub(super) fn secs(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .parse::<u64>(name)?
            .map(Duration::from_secs)
            .unwrap_or(default))
    }

    pub(super) fn on_off(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["on", "true", "1", "yes"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["off", "false", "0", "no"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                reason: format!("expected on or off, got {v:?}"),
            }),
        }
    }
}

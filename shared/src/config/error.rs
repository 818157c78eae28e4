//! What can be wrong with the environment: a value that is malformed, or one a backend needs
//! that is missing. Either stops the function at start, naming the variable.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("environment variable {name} is required: {reason}")]
    Missing { name: &'static str, reason: String },
}

//! Connection profiles: what to watch and how, saved as TOML in the config dir.
//!
//! - [`model`]: the profile data (endpoints, thresholds, keyring references).
//! - [`validate`]: problems in plain words, including refusing passwords embedded in DSNs/URLs.
//! - [`paths`]: where the config and data directories are.
//! - [`store`]: `profiles.toml`, loaded strictly (a profile with problems is refused, the others
//!   load) and edited in place, keeping the user's comments and formatting.
//! - [`schema`]: the known keys of a profile, traced from the model, for "did you mean".
//! - [`secrets`]: passwords and tokens in the OS keyring, or in memory for this run, and where an
//!   endpoint's secret is found (environment variable, keyring, credentials file).
//! - [`credentials_file`]: `credentials.toml` (mode 0600) for machines without a keyring.
//! - [`temp_files`]: temp files of atomic writes left by a killed process, removed at start.
//!
//! No egui here: the UI reads and edits these types, the engine uses them to connect.

pub mod credentials_file;
pub mod model;
pub mod paths;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod temp_files;
pub mod validate;

pub use credentials_file::{CredentialsError, CredentialsFile};
pub use model::{
    ComposeEndpoint, EndpointKind, HealthEndpoint, KubernetesEndpoint, MysqlEndpoint,
    NginxEndpoint, PatroniEndpoint, PgbouncerEndpoint, PostgresEndpoint, Profile, PromPreset,
    PromQuery, PrometheusEndpoint, RabbitMqEndpoint, RedisEndpoint, SecretRef, TEAM_DEFAULT_SCHEMA,
    TeamStoreSettings, Thresholds, UpstreamAddressing, UpstreamLink,
};
pub use paths::{AppDirs, DirEnv, PathsError};
pub use secrets::{
    EndpointSecret, Found, KeyringBackend, KeyringStatus, Resolver, SecretBackend, SecretError,
    SecretSource, Secrets, SessionSecrets,
};
pub use store::{
    Issue, LoadIssues, MAX_FILE_BYTES, ProfileFileError, ProfileStore, RejectedProfile, StoreError,
};
pub use validate::{PathPart, Problem, validate_profile, validate_set};

//! Where Scaleboard keeps its configuration (profiles) and data (audit log).
//!
//! Config dir: `--config-dir` argument > `SCALEBOARD_CONFIG_DIR` > the platform's config dir.
//! Data dir: `SCALEBOARD_DATA_DIR` > `<config_dir>/data` when the config dir was overridden (so a
//! test or a portable install stays self-contained) > the platform's data dir.

use std::ffi::OsString;
use std::path::PathBuf;

/// Environment variable that overrides the config dir.
pub const CONFIG_DIR_ENV: &str = "SCALEBOARD_CONFIG_DIR";
/// Environment variable that overrides the data dir.
pub const DATA_DIR_ENV: &str = "SCALEBOARD_DATA_DIR";

/// The two directories the app writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

/// The environment values that steer [`AppDirs::resolve`], passed in so tests never touch the
/// process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirEnv {
    /// Value of `SCALEBOARD_CONFIG_DIR`, if set.
    pub config_dir: Option<OsString>,
    /// Value of `SCALEBOARD_DATA_DIR`, if set.
    pub data_dir: Option<OsString>,
}

impl DirEnv {
    /// Reads the real process environment.
    pub fn from_process() -> Self {
        Self {
            config_dir: std::env::var_os(CONFIG_DIR_ENV),
            data_dir: std::env::var_os(DATA_DIR_ENV),
        }
    }
}

/// Why the directories could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathsError {
    #[error(
        "could not find a home directory to keep settings in; \
         pass --config-dir or set {CONFIG_DIR_ENV}"
    )]
    NoHomeDirectory,
}

fn non_empty(v: Option<OsString>) -> Option<PathBuf> {
    v.filter(|s| !s.is_empty()).map(PathBuf::from)
}

impl AppDirs {
    /// Works out the directories from the `--config-dir` argument and the given environment
    /// values. Empty values count as unset. Only when neither the config dir nor the data dir is
    /// overridden does it ask the platform (`directories::ProjectDirs`).
    pub fn resolve(cli_config_dir: Option<PathBuf>, env: DirEnv) -> Result<Self, PathsError> {
        let cli = cli_config_dir.filter(|p| !p.as_os_str().is_empty());
        let overridden_config = cli.or_else(|| non_empty(env.config_dir));
        let env_data = non_empty(env.data_dir);

        let platform = || {
            directories::ProjectDirs::from("dev", "scaleboard", "scaleboard")
                .ok_or(PathsError::NoHomeDirectory)
        };

        let config_dir = match &overridden_config {
            Some(dir) => dir.clone(),
            None => platform()?.config_dir().to_path_buf(),
        };
        let data_dir = match (env_data, overridden_config) {
            (Some(dir), _) => dir,
            (None, Some(config)) => config.join("data"),
            (None, None) => platform()?.data_dir().to_path_buf(),
        };
        Ok(Self {
            config_dir,
            data_dir,
        })
    }

    /// [`AppDirs::resolve`] with the real process environment.
    pub fn from_env(cli_config_dir: Option<PathBuf>) -> Result<Self, PathsError> {
        Self::resolve(cli_config_dir, DirEnv::from_process())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(config: Option<&str>, data: Option<&str>) -> DirEnv {
        DirEnv {
            config_dir: config.map(OsString::from),
            data_dir: data.map(OsString::from),
        }
    }

    #[test]
    fn cli_beats_env() {
        let d = AppDirs::resolve(Some("/cli".into()), env(Some("/env"), None)).unwrap();
        assert_eq!(d.config_dir, PathBuf::from("/cli"));
        assert_eq!(d.data_dir, PathBuf::from("/cli/data"));
    }

    #[test]
    fn env_config_and_data() {
        let d = AppDirs::resolve(None, env(Some("/env"), None)).unwrap();
        assert_eq!(d.config_dir, PathBuf::from("/env"));
        assert_eq!(d.data_dir, PathBuf::from("/env/data"));

        let d = AppDirs::resolve(Some("/cli".into()), env(None, Some("/data"))).unwrap();
        assert_eq!(d.data_dir, PathBuf::from("/data"));
    }

    #[test]
    fn empty_values_are_unset_and_platform_is_the_fallback() {
        // May fail only on a machine with no home directory; then the error is the typed one.
        match AppDirs::resolve(Some(PathBuf::new()), env(Some(""), Some(""))) {
            Ok(d) => {
                assert!(d.config_dir.ends_with("scaleboard"), "{d:?}");
                assert_ne!(d.config_dir.join("data"), d.data_dir);
            }
            Err(e) => assert_eq!(e, PathsError::NoHomeDirectory),
        }
        let d = AppDirs::resolve(None, env(None, Some("/data")));
        if let Ok(d) = d {
            assert_eq!(d.data_dir, PathBuf::from("/data"));
        }
    }
}

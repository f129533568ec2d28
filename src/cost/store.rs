//! Saved cost models: `cost-models.toml` in the config dir, next to `profiles.toml`, with one
//! `[[model]]` table per model.
//!
//! Same rules as the profile store: loading never fails hard; a damaged file (bad TOML, wrong
//! types, not UTF-8) is reported with line and column through [`CostModelStore::damaged`] and
//! every save is then refused, so the file stays byte for byte as it was. Writes are atomic
//! (temp file, fsync, rename). Built-in models (the seeds' template) are always listed; a saved
//! model with the same name replaces one.
//!
//! This does blocking file I/O: call it off the UI thread.

use super::model::CostModel;
use super::template::built_in_models;
use crate::profiles::ProfileFileError;
use crate::profiles::store::{read_toml, write_atomic};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// File name of the cost model store inside the config dir.
pub const COST_MODELS_FILE: &str = "cost-models.toml";

const HEADER: &str = "# Scaleboard cost models. Prices are decimals in major units (\"0.0416\" \
dollars);\n# units: per_month, per_instance_hour, per_gb_month, per_replica_month.\n# \
live_pricing.node is what one more cluster node costs (for scale ups that do not fit); \
node_overrides\n# price a cluster's nodes on their own (cluster = Kubernetes context or Docker \
engine).\n\n";

/// Why a change to the saved models was not made.
#[derive(Debug, thiserror::Error)]
pub enum CostStoreError {
    #[error(
        "the cost model file is damaged, so nothing was saved and it was left untouched \
         (fix it or move it aside, then reopen): {0}"
    )]
    Damaged(ProfileFileError),
    #[error("the model was not saved: {0}")]
    Invalid(String),
    #[error("there is no cost model named \"{0}\"")]
    NotFound(String),
    #[error("a cost model named \"{0}\" already exists")]
    AlreadyExists(String),
    #[error("\"{0}\" is built in: duplicate it to make a copy you can rename or delete")]
    BuiltIn(String),
    #[error("could not write the cost model file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("could not write the cost models as TOML: {0}")]
    Serialize(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(default, rename = "model")]
    models: Vec<CostModel>,
}

#[derive(Debug)]
pub struct CostModelStore {
    path: PathBuf,
    saved: Vec<CostModel>,
    damaged: Option<ProfileFileError>,
}

impl CostModelStore {
    /// Reads `<config_dir>/cost-models.toml`. Never fails: see [`CostModelStore::damaged`].
    pub fn load(config_dir: &Path) -> Self {
        let path = config_dir.join(COST_MODELS_FILE);
        let (saved, damaged) = match read_file(&path) {
            Ok(models) => (models, None),
            Err(e) => {
                log::warn!("cost model file damaged: {e}");
                (Vec::new(), Some(e))
            }
        };
        Self {
            path,
            saved,
            damaged,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn damaged(&self) -> Option<&ProfileFileError> {
        self.damaged.as_ref()
    }

    /// The models in the file, in file order.
    pub fn saved(&self) -> &[CostModel] {
        &self.saved
    }

    /// Saved models, then the built-in ones no saved model replaces.
    pub fn all(&self) -> Vec<CostModel> {
        all_models(&self.saved)
    }

    /// The model with this name: a saved one, else a built-in one.
    pub fn get(&self, name: &str) -> Option<CostModel> {
        self.all().into_iter().find(|m| m.name == name)
    }

    pub fn is_built_in_only(&self, name: &str) -> bool {
        !self.saved.iter().any(|m| m.name == name)
            && built_in_models().iter().any(|m| m.name == name)
    }

    /// Saves the model, replacing the saved one of the same name; `previous_name` renames it.
    pub fn upsert(
        &mut self,
        model: CostModel,
        previous_name: Option<&str>,
    ) -> Result<(), CostStoreError> {
        let mut models = self.saved.clone();
        let renaming = previous_name.filter(|old| *old != model.name);
        if let Some(old) = renaming {
            if self.get(&model.name).is_some() {
                return Err(CostStoreError::AlreadyExists(model.name));
            }
            models.retain(|m| m.name != old);
        }
        match models.iter_mut().find(|m| m.name == model.name) {
            Some(existing) => *existing = model,
            None => models.push(model),
        }
        self.commit(models)
    }

    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), CostStoreError> {
        if self.is_built_in_only(old) {
            return Err(CostStoreError::BuiltIn(old.to_owned()));
        }
        let Some(mut model) = self.saved.iter().find(|m| m.name == old).cloned() else {
            return Err(CostStoreError::NotFound(old.to_owned()));
        };
        new.clone_into(&mut model.name);
        self.upsert(model, Some(old))
    }

    /// Saves a copy of `name` (saved or built-in) as `new_name`.
    pub fn duplicate(&mut self, name: &str, new_name: &str) -> Result<(), CostStoreError> {
        if self.get(new_name).is_some() {
            return Err(CostStoreError::AlreadyExists(new_name.to_owned()));
        }
        let Some(mut copy) = self.get(name) else {
            return Err(CostStoreError::NotFound(name.to_owned()));
        };
        new_name.clone_into(&mut copy.name);
        let mut models = self.saved.clone();
        let at = models
            .iter()
            .position(|m| m.name == name)
            .map_or(models.len(), |i| i + 1);
        models.insert(at, copy);
        self.commit(models)
    }

    /// Deletes a saved model (a built-in one it replaced comes back).
    pub fn delete(&mut self, name: &str) -> Result<(), CostStoreError> {
        if self.is_built_in_only(name) {
            return Err(CostStoreError::BuiltIn(name.to_owned()));
        }
        if !self.saved.iter().any(|m| m.name == name) {
            return Err(CostStoreError::NotFound(name.to_owned()));
        }
        let models = self
            .saved
            .iter()
            .filter(|m| m.name != name)
            .cloned()
            .collect();
        self.commit(models)
    }

    fn commit(&mut self, models: Vec<CostModel>) -> Result<(), CostStoreError> {
        if let Some(d) = &self.damaged {
            return Err(CostStoreError::Damaged(d.clone()));
        }
        for m in &models {
            let problems = m.problems();
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(CostStoreError::Invalid(format!(
                    "\"{}\": {}",
                    m.name,
                    list.join("; ")
                )));
            }
        }
        let mut names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(CostStoreError::AlreadyExists(w[0].to_owned()));
        }
        let file = ModelFile { models };
        let body = toml::to_string(&file).map_err(|e| CostStoreError::Serialize(e.to_string()))?;
        write_atomic(&self.path, format!("{HEADER}{body}").as_bytes()).map_err(|source| {
            CostStoreError::Io {
                path: self.path.clone(),
                source,
            }
        })?;
        self.saved = file.models;
        Ok(())
    }
}

/// Saved models, then the built-in ones no saved model replaces.
/// The model the advisor prices proposals with, in the window and in `scaleboard advise` alike:
/// the saved model the Cost panel last used, else the first saved one, else the seeds'
/// template — never an unsaved draft (a half-typed price would cost every proposal).
pub fn advisor_model(saved: &[CostModel], last_used: Option<&str>) -> CostModel {
    last_used
        .and_then(|name| saved.iter().find(|m| m.name == name))
        .or_else(|| saved.first())
        .cloned()
        .unwrap_or_else(super::seed_template)
}

pub fn all_models(saved: &[CostModel]) -> Vec<CostModel> {
    let mut out = saved.to_vec();
    out.extend(
        built_in_models()
            .into_iter()
            .filter(|b| !saved.iter().any(|m| m.name == b.name)),
    );
    out
}

fn read_file(path: &Path) -> Result<Vec<CostModel>, ProfileFileError> {
    Ok(read_toml::<ModelFile>(path)?
        .map(|f| f.models)
        .unwrap_or_default())
}

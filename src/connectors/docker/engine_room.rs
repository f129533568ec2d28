//! Reading the engine's room for the fit check: its size (cached, it changes with the host,
//! not between polls), and for a Swarm its nodes and what their running tasks reserve.

use super::parse::Container;
use super::{DockerConnector, LIST_TIMEOUT, SIZE_TTL, capacity};
use std::collections::HashMap;
use std::time::Instant;

impl DockerConnector {
    /// The engine's size, read again when older than [`SIZE_TTL`].
    async fn engine_size(&self) -> Result<capacity::EngineSize, String> {
        let cached = *self
            .size
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, size)) = cached
            && at.elapsed() < SIZE_TTL
        {
            return Ok(size);
        }
        let ran = self
            .docker(&["info", "--format", "{{json .}}"], LIST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let size = capacity::engine_size(&ran.stdout)?;
        *self
            .size
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), size));
        Ok(size)
    }

    /// Swarm nodes with what their running tasks reserve; only asked when services exist.
    async fn swarm_nodes(
        &self,
        specs: &HashMap<String, capacity::SwarmSpec>,
    ) -> Result<Vec<crate::model::capacity::NodeRoom>, String> {
        let ids = self
            .docker(&["node", "ls", "-q"], LIST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
        let mut inspect = vec!["node", "inspect"];
        inspect.extend(&ids);
        let ran = self
            .docker(&inspect, LIST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let mut nodes = capacity::swarm_nodes(&ran.stdout)?;
        let mut ps = vec![
            "node",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Name}} {{.Node}}",
        ];
        ps.extend(&ids);
        let ran = self
            .docker(&ps, LIST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        capacity::add_tasks(&mut nodes, &capacity::node_tasks(&ran.stdout), specs);
        Ok(nodes)
    }

    /// The capacity view from every container of the engine (running ones hold room whatever
    /// project they belong to) and the Swarm services' specs.
    pub(super) async fn capacity(
        &self,
        all: &[Container],
        specs: HashMap<String, capacity::SwarmSpec>,
    ) -> crate::model::capacity::CapacityView {
        let size = self.engine_size().await;
        let swarm = if specs.is_empty() {
            None
        } else {
            Some((self.swarm_nodes(&specs).await, specs))
        };
        let name = self.engine_name();
        capacity::view(&self.info.id, &name, size, all, swarm)
    }
}

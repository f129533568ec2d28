//! Redis as a cache (Cache panel) and as a job-queue store (Queues panel).
//!
//! One endpoint gives up to two connectors, a cache one and, when the profile lists queues, a
//! queue one. Both read from one [`RedisPoller`], which sends each server **one pipeline per
//! poll**: `INFO`, plus the commands for every queue key that server holds, plus `CLUSTER INFO`
//! and `CLUSTER NODES` every [`CLUSTER_EVERY`]th poll of a cluster's seed. When both connectors
//! poll within [`SHARE_WITHIN`] of each other, the second one is served from the first one's round
//! trip. Only the first poll spends extra round trips: finding out whether the server is a
//! cluster, and the type of custom queue keys.

mod cluster;
mod connection;
pub use connection::{REDISCLI_AUTH, convention_password};
pub mod info;
pub mod queues;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::clock::BoxFuture;
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{CacheNode, Queue, Sample, Snapshot, WorkloadRef};
use crate::profiles::model::{QueuePreset, RedisEndpoint, RedisQueue};
use crate::profiles::{SecretError, SecretRef};
use cluster::ClusterNode;
use connection::{PipelineResult, classify, run_pipeline, unreachable_node};
use info::Info;
use queues::{Counters, KeyCmd, KeyType};
use redis::aio::MultiplexedConnection;
use redis::{ConnectionInfo, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Reads a keyring entry (blocking: called on the blocking pool).
pub type SecretLookup = Arc<dyn Fn(&SecretRef) -> Result<String, SecretError> + Send + Sync>;

/// Poll a cluster's topology every this many polls.
pub const CLUSTER_EVERY: u64 = 10;
/// A round trip younger than this serves the other connector of the same endpoint.
pub const SHARE_WITHIN: Duration = Duration::from_millis(700);
/// Time limit for connecting and for each reply.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The endpoint id of the queue connector of a Redis endpoint.
pub fn queues_id(endpoint: &str) -> String {
    format!("{endpoint}:queues")
}

/// The connectors of one Redis endpoint: the cache one, and the queue one when queues are set.
pub fn connectors(
    endpoint: RedisEndpoint,
    lookup: Option<SecretLookup>,
) -> (Arc<RedisConnector>, Option<Arc<RedisConnector>>) {
    let poller = Arc::new(RedisPoller::new(endpoint, lookup));
    let cache = Arc::new(RedisConnector::new(Arc::clone(&poller), Role::Cache));
    let queues = (!poller.endpoint.queues.is_empty())
        .then(|| Arc::new(RedisConnector::new(poller, Role::Queues)));
    (cache, queues)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Cache = 0,
    Queues = 1,
}

pub struct RedisConnector {
    info: EndpointInfo,
    poller: Arc<RedisPoller>,
    role: Role,
}

impl RedisConnector {
    fn new(poller: Arc<RedisPoller>, role: Role) -> Self {
        let name = &poller.endpoint.name;
        let info = match role {
            Role::Cache => EndpointInfo {
                id: name.clone(),
                label: format!("Redis {name}"),
                area: Area::Cache,
                demo: false,
            },
            Role::Queues => EndpointInfo {
                id: queues_id(name),
                label: format!("Redis queues {name}"),
                area: Area::Queues,
                demo: false,
            },
        };
        Self { info, poller, role }
    }

    /// Round trips sent to the servers so far (pipelines, one per server per poll).
    pub fn round_trips(&self) -> u64 {
        self.poller.round_trips.load(Ordering::Relaxed)
    }
}

impl Connector for RedisConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(async move {
            let reading = self.poller.reading(self.role).await?;
            let id = &self.info.id;
            Ok(match self.role {
                Role::Cache => {
                    let queue_store = !self.poller.endpoint.queues.is_empty();
                    cache_output(id, &reading.nodes, queue_store)
                }
                Role::Queues => queue_output(id, &reading.queues),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let action = run.action;
        Box::pin(async move {
            Err(ConnectorError::Unsupported(format!(
                "Redis endpoint \"{}\" has no actions ({} is carried out by the workload's endpoint)",
                self.poller.endpoint.name,
                action.kind()
            )))
        })
    }
}

fn cache_output(id: &str, nodes: &[CacheNode], queue_store: bool) -> PollOutput {
    let mut samples = Vec::new();
    for n in nodes.iter().filter(|n| n.error.is_none()) {
        let target = format!("{id}/{}", n.name);
        if let Some(h) = n.hit_ratio {
            samples.push(Sample::new(&target, "hit_ratio", h));
        }
        if let Some(m) = n.memory_percent() {
            samples.push(Sample::new(&target, "memory_percent", m));
        }
        samples.push(Sample::new(&target, "ops_per_sec", n.ops_per_sec));
        samples.push(Sample::new(
            &target,
            "evictions_per_sec",
            n.evictions_per_sec,
        ));
    }
    let mut nodes = nodes.to_vec();
    for n in &mut nodes {
        n.queue_store = queue_store;
    }
    PollOutput {
        snapshot: Snapshot::Cache(nodes),
        samples,
        notices: Vec::new(),
    }
}

/// Queue samples shared by the Redis and RabbitMQ connectors: unknown values are left out (a gap).
pub fn queue_output(id: &str, list: &[Queue]) -> PollOutput {
    let mut samples = Vec::new();
    for q in list.iter().filter(|q| q.error.is_none()) {
        let target = format!("{id}/{}", q.name);
        samples.push(Sample::new(&target, "depth", q.depth as f64));
        if let Some(c) = q.consumers {
            samples.push(Sample::new(&target, "consumers", f64::from(c)));
        }
        if let Some(v) = q.in_per_sec {
            samples.push(Sample::new(&target, "in_per_sec", v));
        }
        if let Some(v) = q.out_per_sec {
            samples.push(Sample::new(&target, "out_per_sec", v));
        }
    }
    PollOutput {
        snapshot: Snapshot::Queues(list.to_vec()),
        samples,
        notices: Vec::new(),
    }
}

/// What one round trip saw, shared by the two connectors.
pub struct Reading {
    pub nodes: Vec<CacheNode>,
    pub queues: Vec<Queue>,
}

pub struct RedisPoller {
    endpoint: RedisEndpoint,
    lookup: Option<SecretLookup>,
    state: tokio::sync::Mutex<State>,
    round_trips: AtomicU64,
}

#[derive(Default)]
struct State {
    /// `None`: not read from the keyring yet.
    password: Option<Option<String>>,
    conns: HashMap<String, MultiplexedConnection>,
    /// Whether the seed is a cluster node (`None`: not known yet).
    cluster_mode: Option<bool>,
    cluster_nodes: Vec<ClusterNode>,
    cluster_info: String,
    polls: u64,
    prev_info: HashMap<String, (Info, Instant)>,
    key_types: HashMap<String, KeyType>,
    prev_queues: HashMap<String, (Counters, Instant)>,
    last: Option<(Instant, u64, Arc<Reading>)>,
    consumed: [u64; 2],
}

/// One server's share of a poll: its address and the queue commands routed to it, as
/// (queue index, command).
struct NodeJob {
    address: String,
    cluster_cmds: bool,
    keys: Vec<(usize, KeyCmd)>,
}

impl RedisPoller {
    fn new(endpoint: RedisEndpoint, lookup: Option<SecretLookup>) -> Self {
        Self {
            endpoint,
            lookup,
            state: tokio::sync::Mutex::new(State::default()),
            round_trips: AtomicU64::new(0),
        }
    }

    /// The latest reading for `role`: shared with the other connector when it is fresh and this
    /// role has not seen it yet, otherwise a new round trip.
    async fn reading(&self, role: Role) -> Result<Arc<Reading>, ConnectorError> {
        let mut state = self.state.lock().await;
        if let Some((at, generation, reading)) = &state.last
            && state.consumed[role as usize] < *generation
            && at.elapsed() < SHARE_WITHIN
        {
            let (generation, reading) = (*generation, Arc::clone(reading));
            state.consumed[role as usize] = generation;
            return Ok(reading);
        }
        let result = self.round_trip(&mut state).await;
        let generation = state.last.as_ref().map_or(0, |l| l.1) + 1;
        match result {
            Ok(reading) => {
                let reading = Arc::new(reading);
                state.last = Some((Instant::now(), generation, Arc::clone(&reading)));
                state.consumed[role as usize] = generation;
                Ok(reading)
            }
            Err(e) => {
                state.last = None;
                // A refused login (or any failure) looks the password up again next time: a
                // secret changed while the window runs is picked up without a reconnect.
                state.password = None;
                Err(e)
            }
        }
    }

    async fn round_trip(&self, state: &mut State) -> Result<Reading, ConnectorError> {
        let base = self.base_info()?;
        if state.password.is_none() {
            state.password = Some(self.read_password().await?);
        }
        let base = match state.password.clone().flatten() {
            Some(pw) => {
                let settings = base.redis_settings().clone().set_password(pw);
                base.set_redis_settings(settings)
            }
            None => base,
        };
        let seed = base.addr().to_string();
        state.polls += 1;

        // First poll only: is the seed a cluster node?
        if state.cluster_mode.is_none() {
            let replies = self
                .pipeline(
                    state,
                    &base,
                    &seed,
                    vec![redis::cmd("INFO").arg("cluster").clone()],
                )
                .await?;
            let text = replies.into_iter().next().and_then(Result::ok);
            let enabled = text.is_some_and(|v| info::parse(&value_text(&v)).cluster_enabled);
            state.cluster_mode = Some(enabled);
            if enabled {
                self.refresh_cluster(state, &base, &seed).await?;
            }
        }
        let cluster = state.cluster_mode == Some(true);

        // First poll only (and when a key changed type): the type of custom keys.
        let unknown: Vec<String> = self
            .endpoint
            .queues
            .iter()
            .filter(|q| q.preset == QueuePreset::Custom)
            .map(|q| queues::custom_key(q).to_owned())
            .filter(|k| !state.key_types.contains_key(k))
            .collect();
        for key in unknown {
            let node = self.node_for(state, &seed, &key);
            let replies = self
                .pipeline(
                    state,
                    &base,
                    &node,
                    vec![redis::cmd("TYPE").arg(&key).clone()],
                )
                .await?;
            if let Some(Ok(v)) = replies.into_iter().next() {
                state
                    .key_types
                    .insert(key, KeyType::from_reply(&value_text(&v)));
            }
        }

        // The poll proper: one pipeline per server.
        let sidekiq_count = self
            .endpoint
            .queues
            .iter()
            .filter(|q| q.preset == QueuePreset::Sidekiq)
            .count();
        let mut jobs: Vec<NodeJob> = if cluster {
            state
                .cluster_nodes
                .iter()
                .map(|n| NodeJob {
                    address: n.address.clone(),
                    cluster_cmds: false,
                    keys: Vec::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        if !jobs.iter().any(|j| j.address == seed) {
            jobs.insert(
                0,
                NodeJob {
                    address: seed.clone(),
                    cluster_cmds: false,
                    keys: Vec::new(),
                },
            );
        }
        if cluster && state.polls.is_multiple_of(CLUSTER_EVERY) {
            jobs.iter_mut()
                .filter(|j| j.address == seed)
                .for_each(|j| j.cluster_cmds = true);
        }
        for (i, q) in self.endpoint.queues.iter().enumerate() {
            let key_type = state.key_types.get(queues::custom_key(q));
            for cmd in queues::commands(q, key_type, sidekiq_count == 1) {
                let node = self.node_for(state, &seed, &cmd.key);
                match jobs.iter_mut().find(|j| j.address == node) {
                    Some(j) => j.keys.push((i, cmd)),
                    None => jobs.push(NodeJob {
                        address: node,
                        cluster_cmds: false,
                        keys: vec![(i, cmd)],
                    }),
                }
            }
        }

        let mut tasks = tokio::task::JoinSet::new();
        for (index, job) in jobs.iter().enumerate() {
            let mut cmds = vec![redis::cmd("INFO")];
            if job.cluster_cmds {
                cmds.push(redis::cmd("CLUSTER").arg("INFO").clone());
                cmds.push(redis::cmd("CLUSTER").arg("NODES").clone());
            }
            cmds.extend(job.keys.iter().map(|(_, c)| c.cmd()));
            let conn = self.connection(state, &base, &job.address).await;
            let round_trips = &self.round_trips;
            if conn.is_ok() {
                round_trips.fetch_add(1, Ordering::Relaxed);
            }
            tasks.spawn(async move {
                let result = match conn {
                    Ok(mut conn) => run_pipeline(&mut conn, cmds).await,
                    Err(e) => Err(e),
                };
                (index, result)
            });
        }
        let mut results: Vec<Option<PipelineResult>> = (0..jobs.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            if let Ok((index, result)) = done {
                results[index] = Some(result);
            }
        }

        let now = Instant::now();
        let mut nodes = Vec::new();
        let mut per_queue: Vec<Vec<(KeyCmd, Result<Value, String>)>> =
            self.endpoint.queues.iter().map(|_| Vec::new()).collect();
        let mut seed_error = None;
        for (job, result) in jobs.into_iter().zip(results) {
            let result = result.unwrap_or_else(|| Err("the poll task failed".into()));
            match result {
                Ok(replies) => {
                    let mut replies = replies.into_iter();
                    let info_text = match replies.next() {
                        Some(Ok(v)) => value_text(&v),
                        Some(Err(e)) => {
                            nodes.push(unreachable_node(&job.address, e.clone()));
                            if job.address == seed {
                                seed_error = Some(e);
                            }
                            continue;
                        }
                        None => String::new(),
                    };
                    if job.cluster_cmds {
                        let ci = replies.next().and_then(Result::ok);
                        let cn = replies.next().and_then(Result::ok);
                        if let (Some(ci), Some(cn)) = (ci, cn) {
                            state.cluster_info = value_text(&ci);
                            state.cluster_nodes = cluster::parse_nodes(&value_text(&cn));
                        }
                    }
                    let parsed = info::parse(&info_text);
                    let prev = state.prev_info.get(&job.address);
                    let secs = prev.map_or(0.0, |(_, at)| now.duration_since(*at).as_secs_f64());
                    let mut node = info::node(&job.address, &parsed, prev.map(|(i, _)| i), secs);
                    if cluster && job.address == seed {
                        node.cluster =
                            Some(cluster::summary(&state.cluster_info, &state.cluster_nodes));
                    }
                    nodes.push(node);
                    state.prev_info.insert(job.address.clone(), (parsed, now));
                    for ((i, cmd), reply) in job.keys.into_iter().zip(replies) {
                        per_queue[i].push((cmd, reply));
                    }
                }
                Err(e) => {
                    state.conns.remove(&job.address);
                    if job.address == seed {
                        seed_error = Some(e.clone());
                    }
                    for (i, cmd) in job.keys {
                        per_queue[i].push((cmd, Err(format!("server unreachable: {e}"))));
                    }
                    nodes.push(unreachable_node(&job.address, e));
                }
            }
        }
        if let Some(e) = seed_error
            && (!cluster || nodes.iter().all(|n| n.error.is_some()))
        {
            return Err(classify(&self.endpoint.name, &seed, &e));
        }

        let mut list = Vec::new();
        for (q, replies) in self.endpoint.queues.iter().zip(per_queue) {
            let (cmds, replies): (Vec<KeyCmd>, Vec<Result<Value, String>>) =
                replies.into_iter().unzip();
            let reading = queues::read(&cmds, replies);
            if q.preset == QueuePreset::Custom
                && let Some(t) = &reading.key_type
            {
                state
                    .key_types
                    .insert(queues::custom_key(q).to_owned(), t.clone());
            }
            let prev = state.prev_queues.get(&q.name);
            let secs = prev.map_or(0.0, |(_, at)| now.duration_since(*at).as_secs_f64());
            let rates = if reading.error.is_some() {
                [None, None, None]
            } else {
                queues::rates(&reading, prev.map(|(c, _)| c), secs)
            };
            if reading.error.is_none() {
                state
                    .prev_queues
                    .insert(q.name.clone(), (Counters::of(&reading), now));
            }
            let source = format!(
                "{} on Redis {}",
                queues::preset_label(q.preset),
                self.endpoint.name
            );
            let mut queue = queues::queue(&q.name, &source, reading, rates);
            queue.linked_workload = link(q);
            queue.jobs_per_worker_per_sec = q.jobs_per_worker_per_sec;
            list.push(queue);
        }
        Ok(Reading {
            nodes,
            queues: list,
        })
    }

    /// The server holding `key`: the seed, or in a cluster the master serving its slot.
    fn node_for(&self, state: &State, seed: &str, key: &str) -> String {
        if state.cluster_mode == Some(true) {
            cluster::owner(&state.cluster_nodes, cluster::key_slot(key))
                .unwrap_or(seed)
                .to_owned()
        } else {
            seed.to_owned()
        }
    }

    async fn refresh_cluster(
        &self,
        state: &mut State,
        base: &ConnectionInfo,
        seed: &str,
    ) -> Result<(), ConnectorError> {
        let replies = self
            .pipeline(
                state,
                base,
                seed,
                vec![
                    redis::cmd("CLUSTER").arg("INFO").clone(),
                    redis::cmd("CLUSTER").arg("NODES").clone(),
                ],
            )
            .await?;
        let mut replies = replies.into_iter();
        if let (Some(Ok(ci)), Some(Ok(cn))) = (replies.next(), replies.next()) {
            state.cluster_info = value_text(&ci);
            state.cluster_nodes = cluster::parse_nodes(&value_text(&cn));
        }
        Ok(())
    }
}

fn link(q: &RedisQueue) -> Option<WorkloadRef> {
    q.linked_workload
        .as_ref()
        .map(crate::profiles::model::QueueWorkload::workload_ref)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

//! Which connector serves which profile endpoint. Each connector module adds its kind here; kinds
//! without a connector yet are reported once, in words, instead of being polled.

use super::Connector;
use super::demo::DemoWorld;
use super::http_probe::HealthConnector;
use super::kubernetes::KubernetesConnector;
use super::prometheus::PrometheusConnector;
use crate::model::clock::Clock;
use crate::profiles::{EndpointKind, EndpointSecret, Profile, Resolver};
use std::sync::Arc;

pub struct Built {
    pub connectors: Vec<Arc<dyn Connector>>,
    /// Endpoints that cannot be polled (no connector for their kind yet), as (kind, name).
    pub unsupported: Vec<(EndpointKind, String)>,
}

/// The connectors for every endpoint of a profile.
pub fn build(profile: &Profile, clock: &Arc<dyn Clock>, demo_seed: u64) -> Built {
    if profile.demo {
        return Built {
            connectors: DemoWorld::new(demo_seed, Arc::clone(clock)).connectors(),
            unsupported: Vec::new(),
        };
    }
    let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
    let mut unsupported = Vec::new();
    let mut health_built = false;
    for (kind, name) in profile.endpoint_names() {
        if kind == EndpointKind::Health {
            // One connector probes all of the profile's health checks concurrently.
            if !health_built {
                health_built = true;
                connectors.push(Arc::new(HealthConnector::new(
                    &profile.health,
                    Arc::clone(clock),
                )));
            }
            continue;
        }
        match build_endpoint(profile, kind, &name, clock) {
            Some(c) => connectors.push(c),
            None => unsupported.push((kind, name.clone())),
        }
        // A Redis endpoint with queues also feeds the Queues panel (same round trip per poll).
        if kind == EndpointKind::Redis
            && let Some(e) = profile.redis.iter().find(|e| e.name == name)
            && let (_, Some(queues)) =
                super::redis::connectors(e.clone(), secret_lookup(profile, kind, &name))
        {
            let queues: Arc<dyn Connector> = queues;
            connectors.push(queues);
        }
    }
    Built {
        connectors,
        unsupported,
    }
}

/// The connector for one endpoint of a profile, or None when its kind has no connector yet.
pub fn build_endpoint(
    profile: &Profile,
    kind: EndpointKind,
    name: &str,
    clock: &Arc<dyn Clock>,
) -> Option<Arc<dyn Connector>> {
    match kind {
        EndpointKind::Compose => {
            let endpoint = profile.compose.iter().find(|e| e.name == name)?;
            Some(Arc::new(super::docker::DockerConnector::new(endpoint)))
        }
        EndpointKind::Postgres => {
            let endpoint = profile.postgres.iter().find(|e| e.name == name)?.clone();
            Some(Arc::new(super::postgres::PostgresConnector::new(
                endpoint,
                secret_lookup(profile, kind, name),
            )))
        }
        EndpointKind::Mysql => {
            let endpoint = profile.mysql.iter().find(|e| e.name == name)?.clone();
            Some(Arc::new(super::mysql::MysqlConnector::new(
                endpoint,
                secret_lookup(profile, kind, name),
            )))
        }
        EndpointKind::Health => {
            // Alone (a "test connection" of one check): the same connector with just that check.
            let check = profile.health.iter().find(|h| h.name == name)?;
            Some(Arc::new(HealthConnector::new(
                std::slice::from_ref(check),
                Arc::clone(clock),
            )))
        }
        EndpointKind::Prometheus => {
            let p = profile.prometheus.as_ref().filter(|p| p.name == name)?;
            Some(Arc::new(
                PrometheusConnector::new(p, Arc::clone(clock))
                    .with_secret_lookup(secret_lookup(profile, kind, name)),
            ))
        }
        EndpointKind::Redis => {
            let e = profile.redis.iter().find(|e| e.name == name)?;
            let (cache, _) =
                super::redis::connectors(e.clone(), secret_lookup(profile, kind, name));
            let cache: Arc<dyn Connector> = cache;
            Some(cache)
        }
        EndpointKind::RabbitMq => {
            let e = profile.rabbitmq.as_ref().filter(|e| e.name == name)?;
            Some(Arc::new(super::rabbitmq::RabbitMqConnector::new(
                e.clone(),
                secret_lookup(profile, kind, name),
            )))
        }
        EndpointKind::Kubernetes => {
            let endpoint = profile.kubernetes.iter().find(|e| e.name == name)?;
            Some(Arc::new(KubernetesConnector::new(endpoint.clone())))
        }
        EndpointKind::Pgbouncer => {
            let e = profile.pgbouncer.iter().find(|e| e.name == name)?;
            Some(Arc::new(super::pgbouncer::PgbouncerConnector::new(
                e.clone(),
                secret_lookup(profile, kind, name),
            )))
        }
        EndpointKind::Patroni => {
            let e = profile.patroni.iter().find(|e| e.name == name)?;
            let pg = e
                .discover_from
                .as_deref()
                .and_then(|d| profile.postgres.iter().find(|p| p.name == d));
            let logins = profile
                .postgres
                .iter()
                .map(|p| super::patroni::sql::Login {
                    endpoint: p.clone(),
                    lookup: secret_lookup(profile, EndpointKind::Postgres, &p.name),
                })
                .collect();
            Some(Arc::new(
                super::patroni::PatroniConnector::new(
                    e.clone(),
                    super::patroni::endpoint_urls(e, pg),
                    secret_lookup(profile, kind, name),
                )
                .with_sql_logins(logins),
            ))
        }
    }
}

/// The endpoint's password or token from its environment variable, the keyring or the
/// credentials file (`profiles::Resolver`; blocking: connectors call it on the blocking pool).
/// The connector then tries its ecosystem's convention (PGPASSWORD, REDISCLI_AUTH) itself.
fn secret_lookup(
    profile: &Profile,
    kind: EndpointKind,
    name: &str,
) -> Option<super::redis::SecretLookup> {
    let secret = EndpointSecret::for_endpoint(profile, kind, name)?;
    Some(Arc::new(move |_: &crate::profiles::SecretRef| {
        Resolver::process().lookup(&secret)
    }))
}

/// Which issue brings the connector for a kind, for honest "not built yet" messages.
pub fn pending_issue(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::Kubernetes => "#4",
        EndpointKind::Compose => "#5",
        EndpointKind::Postgres => "#3",
        EndpointKind::Redis | EndpointKind::RabbitMq => "#6",
        EndpointKind::Health | EndpointKind::Prometheus => "#7",
        EndpointKind::Pgbouncer => "#14",
        EndpointKind::Mysql => "#14",
        EndpointKind::Patroni => "#14",
    }
}

//! Prometheus over its HTTP API. The first successful poll of each query runs a range query
//! over the profile's `history_secs`, so the plot opens with history (samples keep Prometheus's
//! timestamps); every later poll runs one instant query per query and extends the plot live —
//! the range is never downloaded again.
//!
//! A server that cannot be reached fails the poll (the engine marks the endpoint stale, then
//! down); a query that Prometheus rejects keeps the others plotting and carries Prometheus's own
//! error text in the snapshot.

use super::http::{self, TlsOptions};
use super::{Connector, ConnectorError, PollOutput};
use crate::model::clock::{BoxFuture, Clock};
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{PromQueryResult, PromSeries, PromSnapshot, Sample, Snapshot, TimeMs};
use crate::profiles::{PromQuery, PrometheusEndpoint, SecretBackend, SecretError, SecretRef};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinSet;

/// The endpoint id of the Prometheus connector (a profile has at most one Prometheus): series
/// targets are `prometheus/<query name>/<labels>`, metric `value`.
pub const PROMETHEUS_ENDPOINT_ID: &str = "prometheus";
/// The metric name of every Prometheus series in the store.
pub const VALUE_METRIC: &str = "value";
/// Series kept per query, so a query that matches thousands of series cannot flood the store.
pub const MAX_SERIES_PER_QUERY: usize = 50;
/// Points a history range query asks for at most (the step grows with the history).
const RANGE_POINTS: u32 = 300;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

/// The query plotted when a profile names none: one line per scrape target.
pub fn default_query() -> PromQuery {
    PromQuery {
        name: "targets up".into(),
        expr: "up".into(),
        unit: "up".into(),
    }
}

#[derive(Debug, Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum ApiData {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar((f64, String)),
    String((f64, String)),
}

#[derive(Debug, Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Debug, Deserialize)]
struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// The label set as PromQL writes it: `name{a="x", b="y"}`, `{}` for none.
pub fn format_labels(metric: &BTreeMap<String, String>) -> String {
    let name = metric.get("__name__").map_or("", String::as_str);
    let labels: Vec<String> = metric
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", labels.join(", "))
}

/// Prometheus's own value text ("1.5", "NaN", "+Inf") as a number.
fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().unwrap_or(f64::NAN),
    }
}

fn to_ms(ts_s: f64) -> TimeMs {
    (ts_s * 1000.0).round() as TimeMs
}

/// Why one query could not run: the server is unreachable (fails the poll), or the query failed.
enum QueryError {
    Unreachable(String),
    Query(String),
}

/// A query's series: labels and (timestamp s, value text) points.
type SeriesPoints = Vec<(BTreeMap<String, String>, Vec<(f64, String)>)>;

struct QueryOutcome {
    index: usize,
    ranged: bool,
    result: Result<SeriesPoints, QueryError>,
}

pub struct PrometheusConnector {
    info: EndpointInfo,
    base_url: String,
    queries: Vec<PromQuery>,
    history_secs: u32,
    token: Option<SecretRef>,
    /// Reads the token (variable, keyring, credentials file); None: the keyring entry only.
    lookup: Option<TokenLookup>,
    client: Result<reqwest::Client, String>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Queries whose history was loaded by a range query.
    filled: HashSet<usize>,
    /// The bearer token, once read.
    token: Option<String>,
    /// No token was found for an endpoint that names none: sent without one.
    no_token: bool,
}

/// Reads the bearer token (blocking: called on the blocking pool).
pub type TokenLookup = Arc<dyn Fn(&SecretRef) -> Result<String, SecretError> + Send + Sync>;

impl PrometheusConnector {
    pub fn new(endpoint: &PrometheusEndpoint, clock: Arc<dyn Clock>) -> Self {
        let mut queries = endpoint.all_queries();
        if queries.is_empty() {
            queries.push(default_query());
        }
        Self {
            info: EndpointInfo {
                id: PROMETHEUS_ENDPOINT_ID.into(),
                label: format!("Prometheus {}", endpoint.name),
                area: Area::Health,
                demo: false,
            },
            base_url: endpoint.url.trim().trim_end_matches('/').to_owned(),
            queries,
            history_secs: endpoint.history_secs.max(1),
            token: endpoint.token.clone(),
            lookup: None,
            client: http::client(REQUEST_TIMEOUT, &TlsOptions::default()),
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the token through `lookup` (the endpoint's variable, keyring entry or
    /// credentials-file entry) instead of the keyring entry alone.
    #[must_use]
    pub fn with_secret_lookup(mut self, lookup: Option<TokenLookup>) -> Self {
        self.lookup = lookup;
        self
    }

    /// The bearer token, read off the async threads, kept until the server refuses it. Found nowhere is an error only when
    /// the profile names a token.
    async fn token(&self) -> Result<Option<String>, ConnectorError> {
        if self.token.is_none() && self.lookup.is_none() {
            return Ok(None);
        }
        {
            let state = self.lock();
            if let Some(t) = state.token.clone() {
                return Ok(Some(t));
            }
            if state.no_token {
                return Ok(None);
            }
        }
        let r = self.token.clone().unwrap_or_default();
        let lookup = self.lookup.clone();
        let got = tokio::task::spawn_blocking(move || match lookup {
            Some(lookup) => lookup(&r),
            None => crate::profiles::Secrets::shared().get(&r),
        })
        .await
        .map_err(|e| ConnectorError::Failed(format!("token lookup stopped: {e}")))?;
        match got {
            Ok(t) => {
                self.lock().token = Some(t.clone());
                Ok(Some(t))
            }
            Err(SecretError::Missing(_) | SecretError::NotFound) if self.token.is_none() => {
                self.lock().no_token = true;
                Ok(None)
            }
            Err(e @ (SecretError::Missing(_) | SecretError::Credentials(_))) => {
                Err(ConnectorError::Failed(format!("Prometheus: {e}")))
            }
            Err(e) => Err(ConnectorError::Failed(format!(
                "cannot read the Prometheus token: {e}"
            ))),
        }
    }

    async fn poll_inner(&self) -> Result<PollOutput, ConnectorError> {
        let client = self.client.clone().map_err(ConnectorError::Failed)?;
        let token = self.token().await?;
        let now = self.clock.now_ms();
        let filled = self.lock().filled.clone();
        let mut tasks = JoinSet::new();
        for (index, q) in self.queries.iter().enumerate() {
            let request = Request {
                client: client.clone(),
                base_url: self.base_url.clone(),
                token: token.clone(),
                expr: q.expr.clone(),
            };
            let history = (!filled.contains(&index)).then_some(self.history_secs);
            tasks.spawn(async move {
                let result = match history {
                    Some(secs) => request.range(now, secs).await,
                    None => request.instant(now).await,
                };
                QueryOutcome {
                    index,
                    ranged: history.is_some(),
                    result,
                }
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(o) = joined {
                outcomes.push(o);
            }
        }
        outcomes.sort_by_key(|o| o.index);
        if let Some(reason) = outcomes.iter().find_map(|o| match &o.result {
            Err(QueryError::Unreachable(r)) => Some(r.clone()),
            _ => None,
        }) {
            return Err(ConnectorError::Unreachable {
                endpoint: self.base_url.clone(),
                reason,
            });
        }
        let mut samples = Vec::new();
        let mut results = Vec::new();
        let mut state = self.lock();
        // A refused token is looked up again next poll (a token changed while the window runs).
        if outcomes.iter().any(
            |o| matches!(&o.result, Err(QueryError::Query(e)) if e.contains("401 Unauthorized")),
        ) {
            state.token = None;
            state.no_token = false;
        }
        for o in outcomes {
            let q = &self.queries[o.index];
            let mut r = PromQueryResult {
                name: q.name.clone(),
                expr: q.expr.clone(),
                unit: q.unit.clone(),
                error: None,
                series: Vec::new(),
            };
            match o.result {
                Ok(series) => {
                    if o.ranged {
                        state.filled.insert(o.index);
                    }
                    for (metric, points) in series.into_iter().take(MAX_SERIES_PER_QUERY) {
                        let labels = format_labels(&metric);
                        let target = format!("{PROMETHEUS_ENDPOINT_ID}/{}/{labels}", q.name);
                        for (ts, v) in &points {
                            samples.push(Sample::at(
                                &target,
                                VALUE_METRIC,
                                parse_value(v),
                                to_ms(*ts),
                            ));
                        }
                        let last = points.last();
                        r.series.push(PromSeries {
                            labels,
                            target,
                            value: last.map(|(_, v)| parse_value(v)),
                            at: last.map(|(ts, _)| to_ms(*ts)),
                        });
                    }
                }
                Err(QueryError::Query(e)) | Err(QueryError::Unreachable(e)) => r.error = Some(e),
            }
            results.push(r);
        }
        Ok(PollOutput {
            snapshot: Snapshot::Prometheus(PromSnapshot {
                url: self.base_url.clone(),
                queries: results,
            }),
            samples,
            notices: Vec::new(),
        })
    }
}

struct Request {
    client: reqwest::Client,
    base_url: String,
    token: Option<String>,
    expr: String,
}

impl Request {
    async fn instant(&self, now: TimeMs) -> Result<SeriesPoints, QueryError> {
        let time = format!("{:.3}", now as f64 / 1000.0);
        self.get("query", &[("query", self.expr.as_str()), ("time", &time)])
            .await
    }

    async fn range(&self, now: TimeMs, history_secs: u32) -> Result<SeriesPoints, QueryError> {
        let step = history_secs.div_ceil(RANGE_POINTS).max(1);
        let end = now as f64 / 1000.0;
        let start = format!("{:.3}", end - f64::from(history_secs));
        let end = format!("{end:.3}");
        let step = step.to_string();
        self.get(
            "query_range",
            &[
                ("query", self.expr.as_str()),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        )
        .await
    }

    async fn get(&self, api: &str, params: &[(&str, &str)]) -> Result<SeriesPoints, QueryError> {
        let url = format!("{}/api/v1/{api}", self.base_url);
        let mut request = self.client.get(&url).query(params);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let response = request
            .send()
            .await
            .map_err(|e| QueryError::Unreachable(http::plain_error(&e)))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| QueryError::Unreachable(http::plain_error(&e)))?;
        let parsed: ApiResponse = match serde_json::from_str(&body) {
            Ok(p) => p,
            Err(_) => {
                let snippet: String = body.trim().chars().take(200).collect();
                return Err(QueryError::Query(format!(
                    "Prometheus answered {status} without its JSON reply: {snippet}"
                )));
            }
        };
        if parsed.status != "success" {
            let kind = parsed.error_type.unwrap_or_else(|| "error".into());
            let text = parsed.error.unwrap_or_else(|| format!("status {status}"));
            return Err(QueryError::Query(format!("{kind}: {text}")));
        }
        Ok(match parsed.data {
            Some(ApiData::Vector(items)) => items
                .into_iter()
                .map(|i| (i.metric, vec![i.value]))
                .collect(),
            Some(ApiData::Matrix(items)) => {
                items.into_iter().map(|i| (i.metric, i.values)).collect()
            }
            Some(ApiData::Scalar(p) | ApiData::String(p)) => vec![(BTreeMap::new(), vec![p])],
            None => Vec::new(),
        })
    }
}

impl Connector for PrometheusConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        Box::pin(self.poll_inner())
    }

    fn execute<'a>(
        &'a self,
        _: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(async {
            Err(ConnectorError::Unsupported(
                "Prometheus only answers queries; it has no actions".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_replies_parse() {
        let v: ApiResponse = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"p","instance":"a:1"},"value":[1700000000.5,"1"]}]}}"#,
        )
        .unwrap();
        let Some(ApiData::Vector(items)) = v.data else {
            panic!("not a vector")
        };
        assert_eq!(
            format_labels(&items[0].metric),
            r#"up{instance="a:1", job="p"}"#
        );
        assert_eq!(to_ms(items[0].value.0), 1_700_000_000_500);
        let e: ApiResponse = serde_json::from_str(
            r#"{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected"}"#,
        )
        .unwrap();
        assert_eq!(e.error.as_deref(), Some("1:4: parse error: unexpected"));
        assert!(parse_value("NaN").is_nan());
        assert_eq!(parse_value("+Inf"), f64::INFINITY);
    }
}

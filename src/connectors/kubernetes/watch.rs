//! One context's watchers: reflectors per resource and namespace scope, the first sync, the
//! metrics refresh, and the snapshot read from the watch caches.

use super::*;

pub(super) async fn start(config: &KubernetesEndpoint) -> Result<Vec<ContextWatch>, String> {
    let kubeconfig = match &config.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?,
        None => Kubeconfig::read().map_err(|e| format!("cannot read kubeconfig: {e}"))?,
    };
    let contexts = if config.contexts.is_empty() {
        vec![
            kubeconfig
                .current_context
                .clone()
                .ok_or("the kubeconfig names no current context; choose contexts in the profile")?,
        ]
    } else {
        config.contexts.clone()
    };
    let mut out = Vec::new();
    for context in contexts {
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
            .await
            .map_err(|e| format!("context {context}: {e}"))?;
        let client = Client::try_from(cfg)
            .map_err(|e| format!("context {context}: cannot build a client: {e}"))?;
        out.push(ContextWatch::start(context, &client, &config.namespaces));
    }
    Ok(out)
}

/// Whether every store of one resource has its initial list (without waiting).
fn ready<K>(stores: &[Store<K>]) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    use futures::FutureExt;
    stores.iter().all(|s| {
        s.wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok())
    })
}

/// One reflector: list then watch, with backoff on errors, managed fields stripped.
/// One reflector: list then watch, with backoff on errors, managed fields stripped.
fn spawn_reflector<K>(
    api: Api<K>,
    name: &'static str,
    errors: &Arc<Mutex<HashMap<&'static str, String>>>,
    strip: fn(&mut K),
) -> (Store<K>, JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let errors = Arc::clone(errors);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(move |obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            strip(obj);
        })
        .reflect(writer);
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(mut errors) = errors.lock() {
                match event {
                    Ok(_) => {
                        errors.remove(name);
                    }
                    Err(e) => {
                        log::warn!("watch {name}: {e}");
                        errors.insert(name, e.to_string());
                    }
                }
            }
        }
    });
    (reader, task)
}

impl ContextWatch {
    pub(super) fn start(context: String, client: &Client, namespaces: &[String]) -> Self {
        let errors = Arc::new(Mutex::new(HashMap::new()));
        let mut cw = Self {
            context,
            client: client.clone(),
            permissions: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
            deployments: Vec::new(),
            statefulsets: Vec::new(),
            hpas: Vec::new(),
            pods: Vec::new(),
            replicasets: Vec::new(),
            namespaces: namespaces.to_vec(),
            sync_attempted: std::sync::atomic::AtomicBool::new(false),
            metrics: tokio::sync::Mutex::new(MetricsState::default()),
            errors: Arc::clone(&errors),
            tasks: Vec::new(),
        };
        // Empty = all namespaces: one cluster-wide watch per resource.
        let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
            vec![None]
        } else {
            namespaces.iter().map(|n| Some(n.as_str())).collect()
        };
        for ns in scopes {
            let (store, task) = spawn_reflector(
                api_for::<Deployment>(client, ns),
                "deployments",
                &errors,
                |d| {
                    // Keep status numbers and conditions; the pod template is not needed.
                    if let Some(spec) = d.spec.as_mut() {
                        spec.template = Default::default();
                    }
                },
            );
            cw.deployments.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<StatefulSet>(client, ns),
                "statefulsets",
                &errors,
                |s| {
                    if let Some(spec) = s.spec.as_mut() {
                        spec.template = Default::default();
                        spec.volume_claim_templates = None;
                    }
                },
            );
            cw.statefulsets.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<HorizontalPodAutoscaler>(client, ns),
                "horizontalpodautoscalers",
                &errors,
                |_| {},
            );
            cw.hpas.push(store);
            cw.tasks.push(task);
            let (store, task) =
                spawn_reflector(api_for::<Pod>(client, ns), "pods", &errors, pods::strip_pod);
            cw.pods.push(store);
            cw.tasks.push(task);
            let (store, task) = spawn_reflector(
                api_for::<ReplicaSet>(client, ns),
                "replicasets",
                &errors,
                pods::strip_replicaset,
            );
            cw.replicasets.push(store);
            cw.tasks.push(task);
        }
        cw
    }

    /// Refresh pod usage when due; a notice when metrics.k8s.io is not there (said once by the
    /// poll loop, asked again after [`METRICS_RETRY`]).
    pub(super) async fn refresh_metrics(&self, notices: &mut Vec<String>) {
        let mut state = self.metrics.lock().await;
        let now = tokio::time::Instant::now();
        if state.next.is_some_and(|next| now < next) {
            return;
        }
        let fetched = tokio::time::timeout(
            METRICS_TIMEOUT,
            pods::pod_usage(&self.client, &self.namespaces),
        )
        .await;
        match fetched {
            Ok(Ok(usage)) => {
                state.usage = usage;
                state.next = Some(now + METRICS_EVERY);
            }
            Ok(Err(MetricsError::NotServed(why))) => {
                state.usage.clear();
                state.next = Some(now + METRICS_RETRY);
                notices.push(format!(
                    "context {}: metrics-server not installed ({why}); CPU and memory stay empty",
                    self.context
                ));
            }
            Ok(Err(MetricsError::Other(why))) => {
                state.next = Some(now + METRICS_EVERY);
                log::warn!("pod metrics in {}: {why}", self.context);
            }
            Err(_) => {
                state.next = Some(now + METRICS_EVERY);
                log::warn!("pod metrics in {}: no answer in time", self.context);
            }
        }
    }

    /// Wait for the initial lists of Deployments and StatefulSets (without them there is nothing
    /// to show). Pods, ReplicaSets and HPAs only add detail: one that cannot be listed (RBAC
    /// often forbids pods cluster-wide) is named in the returned notices instead of failing the
    /// context. A core watch that keeps failing is reported after a second instead of holding
    /// the poll for the whole [`FIRST_SYNC`]; once synced, a context never waits again.
    pub(super) async fn synced(&self) -> Result<Vec<String>, String> {
        let started = tokio::time::Instant::now();
        // Only the first poll waits for a context; later ones report what is there at once, so
        // a context that is down costs the other contexts' polls no time.
        let first = !self
            .sync_attempted
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        loop {
            let errors = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
            let core_ready = ready(&self.deployments) && ready(&self.statefulsets);
            let optional = [
                ("pods", ready(&self.pods)),
                ("replicasets", ready(&self.replicasets)),
                ("horizontalpodautoscalers", ready(&self.hpas)),
            ];
            let waited = started.elapsed();
            let optional_settled = optional
                .iter()
                .all(|(name, ok)| *ok || errors.contains_key(name));
            if core_ready && (optional_settled || waited > FIRST_SYNC) {
                let notices = optional
                    .iter()
                    .filter(|(_, ok)| !ok)
                    .map(|(name, _)| {
                        let why = errors
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| "no answer to the initial list".into());
                        format!(
                            "context {}: cannot watch {name} ({why}); {}",
                            self.context,
                            match *name {
                                "horizontalpodautoscalers" => "autoscalers are not shown",
                                _ => "stuck pods and CPU/memory are not shown",
                            }
                        )
                    })
                    .collect();
                return Ok(notices);
            }
            let core_errors: Vec<String> = ["deployments", "statefulsets"]
                .iter()
                .filter_map(|r| errors.get(r).map(|e| format!("{r}: {e}")))
                .collect();
            if !first
                || (!core_errors.is_empty() && waited > Duration::from_secs(1))
                || waited > FIRST_SYNC
            {
                return Err(if core_errors.is_empty() {
                    "still loading the initial lists".into()
                } else {
                    core_errors.join("; ")
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(super) fn collect(&self, endpoint: &str, usage: &Usage, out: &mut Vec<Workload>) {
        let pods: Vec<Arc<Pod>> = self.pods.iter().flat_map(Store::state).collect();
        let replicasets: Vec<Arc<ReplicaSet>> =
            self.replicasets.iter().flat_map(Store::state).collect();
        let totals = pods::fold(&pods, &replicasets, usage);
        let of = |ns: &str, kind: WorkloadKind, name: &str| {
            totals.get(&(ns, kind, name)).cloned().unwrap_or_default()
        };
        // Indexed by target once per poll: a lookup per workload, not a scan of every HPA.
        let mut hpas: HashMap<(String, String, String), Arc<HorizontalPodAutoscaler>> =
            HashMap::new();
        for h in self.hpas.iter().flat_map(Store::state) {
            if let Some(spec) = h.spec.as_ref() {
                let key = (
                    h.namespace().unwrap_or_default(),
                    spec.scale_target_ref.kind.clone(),
                    spec.scale_target_ref.name.clone(),
                );
                hpas.entry(key).or_insert(h);
            }
        }
        let make_ref = |ns: &str, name: &str| WorkloadRef {
            endpoint: endpoint.to_string(),
            scope: format!("{}/{ns}", self.context),
            name: name.to_string(),
        };
        let autoscaler_for = |ns: &str, kind: &str, name: &str| {
            hpas.get(&(ns.to_string(), kind.to_string(), name.to_string()))
                .map(|h| autoscaler(h))
        };
        // [desired, ready, available, updated] from the object; the rest from pods and HPAs.
        let build = |kind: WorkloadKind, ns: &str, name: &str, counts: [i32; 4], condition| {
            let [desired, ready, available, updated] = counts.map(count);
            let pods = of(ns, kind, name);
            Workload {
                id: make_ref(ns, name),
                kind,
                desired,
                ready,
                available,
                updated,
                cpu_percent: pods.cpu_percent(),
                memory_percent: pods.memory_percent(),
                autoscaler: autoscaler_for(ns, kind_name(kind), name),
                fixed_host_port: None,
                pending_reason: stuck(&pods, ready, desired).or(condition),
                docker: None,
                scale_denied: None,
                autoscale_denied: None,
            }
        };
        for d in self.deployments.iter().flat_map(Store::state) {
            let status = d.status.clone().unwrap_or_default();
            let condition = status.conditions.as_ref().and_then(|cs| {
                cs.iter()
                    .find(|c| {
                        (c.type_ == "ReplicaFailure" && c.status == "True")
                            || (c.type_ == "Progressing" && c.status == "False")
                    })
                    .and_then(|c| c.message.clone())
            });
            let counts = [
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                status.ready_replicas.unwrap_or(0),
                status.available_replicas.unwrap_or(0),
                status.updated_replicas.unwrap_or(0),
            ];
            let ns = d.namespace().unwrap_or_default();
            out.push(build(
                WorkloadKind::Deployment,
                &ns,
                &d.name_any(),
                counts,
                condition,
            ));
        }
        for s in self.statefulsets.iter().flat_map(Store::state) {
            let status = s.status.clone().unwrap_or_default();
            let counts = [
                s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                status.ready_replicas.unwrap_or(0),
                status.available_replicas.unwrap_or(0),
                status.updated_replicas.unwrap_or(0),
            ];
            let ns = s.namespace().unwrap_or_default();
            out.push(build(
                WorkloadKind::StatefulSet,
                &ns,
                &s.name_any(),
                counts,
                None,
            ));
        }
    }

    pub(super) fn kind_of(&self, ns: &str, name: &str) -> Option<WorkloadKind> {
        let is = |o: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            o.namespace.as_deref() == Some(ns) && o.name.as_deref() == Some(name)
        };
        if self
            .deployments
            .iter()
            .any(|s| s.state().iter().any(|d| is(d.meta())))
        {
            Some(WorkloadKind::Deployment)
        } else if self
            .statefulsets
            .iter()
            .any(|s| s.state().iter().any(|d| is(d.meta())))
        {
            Some(WorkloadKind::StatefulSet)
        } else {
            None
        }
    }

    /// The HPA (from the watch cache) whose scale target is this workload: name and version.
    pub(super) fn hpa_for(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<(String, Option<String>)> {
        let kind = kind_name(kind);
        self.hpas.iter().flat_map(Store::state).find_map(|h| {
            let spec = h.spec.as_ref()?;
            (h.namespace().as_deref() == Some(ns)
                && spec.scale_target_ref.kind == kind
                && spec.scale_target_ref.name == name)
                .then(|| (h.name_any(), h.resource_version()))
        })
    }

    /// The resourceVersion of a workload as the watch cache (and so the operator's plan) saw it.
    pub(super) fn cached_version(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<String> {
        let is = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.namespace.as_deref() == Some(ns) && m.name.as_deref() == Some(name)
        };
        match kind {
            WorkloadKind::StatefulSet => self
                .statefulsets
                .iter()
                .flat_map(Store::state)
                .find(|o| is(o.meta()))
                .and_then(|o| o.resource_version()),
            _ => self
                .deployments
                .iter()
                .flat_map(Store::state)
                .find(|o| is(o.meta()))
                .and_then(|o| o.resource_version()),
        }
    }
}

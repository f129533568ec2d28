//! One context's watchers: a compact watch cache per resource and namespace scope, the first
//! sync, the metrics refresh, and the snapshot read from the caches.

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
fn ready<T>(stores: &[cache::CompactStore<T>]) -> bool {
    stores.iter().all(cache::CompactStore::is_ready)
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
            let (store, task) = cache::spawn_compact(
                api_for::<Deployment>(client, ns),
                "deployments",
                &errors,
                cache::deployment,
            );
            cw.deployments.push(store);
            cw.tasks.push(task);
            let (store, task) = cache::spawn_compact(
                api_for::<StatefulSet>(client, ns),
                "statefulsets",
                &errors,
                cache::statefulset,
            );
            cw.statefulsets.push(store);
            cw.tasks.push(task);
            let (store, task) = cache::spawn_compact(
                api_for::<HorizontalPodAutoscaler>(client, ns),
                "horizontalpodautoscalers",
                &errors,
                cache::hpa,
            );
            cw.hpas.push(store);
            cw.tasks.push(task);
            let (store, task) =
                cache::spawn_compact(api_for::<Pod>(client, ns), "pods", &errors, cache::pod);
            cw.pods.push(store);
            cw.tasks.push(task);
            let (store, task) = cache::spawn_compact(
                api_for::<ReplicaSet>(client, ns),
                "replicasets",
                &errors,
                cache::replicaset,
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
        // Read guards are held for this synchronous pass only; the watch tasks wait briefly.
        let pods: Vec<_> = self.pods.iter().map(cache::CompactStore::read).collect();
        let replicasets: Vec<_> = self
            .replicasets
            .iter()
            .map(cache::CompactStore::read)
            .collect();
        let mut rs_owner: HashMap<(&str, &str), &str> = HashMap::new();
        for ((ns, name), owner) in replicasets.iter().flat_map(|g| g.iter()) {
            if let Some(deployment) = owner {
                rs_owner.insert((ns.as_str(), name.as_str()), deployment.as_str());
            }
        }
        let totals = pods::fold(pods.iter().flat_map(|g| g.iter()), &rs_owner, usage);
        let of = |ns: &str, kind: WorkloadKind, name: &str| {
            totals.get(&(ns, kind, name)).cloned().unwrap_or_default()
        };
        // Indexed by target once per poll: a lookup per workload, not a scan of every HPA. Two
        // HPAs on one target (a mistake the HPA controller reports): the first by name, as the
        // fresh read picks it.
        let hpa_guards: Vec<_> = self.hpas.iter().map(cache::CompactStore::read).collect();
        let mut hpas: HashMap<(&str, &str, &str), (&str, &Autoscaler)> = HashMap::new();
        for ((ns, hpa_name), h) in hpa_guards.iter().flat_map(|g| g.iter()) {
            let key = (ns.as_str(), h.target_kind.as_str(), h.target_name.as_str());
            match hpas.get(&key) {
                Some((seen, _)) if *seen <= hpa_name.as_str() => {}
                _ => {
                    hpas.insert(key, (hpa_name.as_str(), &h.autoscaler));
                }
            }
        }
        let build = |kind: WorkloadKind, ns: &str, name: &str, w: &cache::WorkloadObj| {
            let autoscaler = hpas
                .get(&(ns, kind_name(kind), name))
                .map(|(_, a)| (*a).clone());
            row(
                endpoint,
                &self.context,
                kind,
                ns,
                name,
                w,
                &of(ns, kind, name),
                autoscaler,
            )
        };
        for (kind, stores) in [
            (WorkloadKind::Deployment, &self.deployments),
            (WorkloadKind::StatefulSet, &self.statefulsets),
        ] {
            for guard in stores.iter().map(cache::CompactStore::read) {
                for ((ns, name), w) in guard.iter() {
                    out.push(build(kind, ns, name, w));
                }
            }
        }
    }

    /// The resourceVersion of a workload as the watch cache saw it (a write without a fresh
    /// read, e.g. a dry run, uses it).
    pub(super) fn cached_version(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<String> {
        let key = (ns.to_string(), name.to_string());
        let stores = match kind {
            WorkloadKind::StatefulSet => &self.statefulsets,
            _ => &self.deployments,
        };
        stores
            .iter()
            .find_map(|store| store.read().get(&key).and_then(|w| w.version.clone()))
    }

    /// The HPA (from the watch cache) whose scale target is this workload: name and version.
    pub(super) fn hpa_for(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<(String, Option<String>)> {
        let kind = kind_name(kind);
        self.hpas
            .iter()
            .filter_map(|store| {
                store
                    .read()
                    .iter()
                    .filter(|((hpa_ns, _), h)| {
                        hpa_ns == ns && h.target_kind == kind && h.target_name == name
                    })
                    .map(|((_, hpa_name), h)| (hpa_name.clone(), h.version.clone()))
                    .min()
            })
            .min()
    }
}

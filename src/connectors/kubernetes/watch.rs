//! One context's watchers: a compact watch cache per resource and namespace scope, the first
//! sync, the metrics refresh, and the snapshot read from the caches.

use super::*;

/// The watched contexts, and those that could not be started (named, with why): a context
/// missing from the kubeconfig does not take the others down.
pub(super) struct Started {
    pub watches: Vec<ContextWatch>,
    pub broken: Vec<Broken>,
}

/// A context that is not watched at all, and why.
pub(super) struct Broken {
    pub context: String,
    pub why: String,
    /// Not in the kubeconfig (rather than there but unusable).
    pub missing: bool,
}

/// Exec credential plugins (`aws eks get-token`, `kubelogin`…) run as child processes that
/// would inherit the whole environment, Scaleboard's own secret variables included.
fn without_secret_env(mut kubeconfig: Kubeconfig) -> Kubeconfig {
    let secrets = crate::profiles::secrets::secret_env_names();
    if secrets.is_empty() {
        return kubeconfig;
    }
    for named in &mut kubeconfig.auth_infos {
        if let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            exec.drop_env
                .get_or_insert_with(Vec::new)
                .extend(secrets.iter().cloned());
        }
    }
    kubeconfig
}

/// How the start of a context's words begin when the kubeconfig does not have it.
const NOT_IN_KUBECONFIG: &str = "no context of this name in";

pub(super) async fn start(config: &KubernetesEndpoint) -> Result<Started, String> {
    let (kubeconfig, source) = match &config.kubeconfig {
        Some(path) => (
            Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            Kubeconfig::read().map_err(|e| format!("cannot read kubeconfig: {e}"))?,
            "the kubeconfig (KUBECONFIG or ~/.kube/config)".to_string(),
        ),
    };
    let kubeconfig = without_secret_env(kubeconfig);
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
    let known: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    // Clients are built concurrently: an exec credential plugin may take seconds per context.
    let built = futures::future::join_all(contexts.iter().map(|context| {
        let kubeconfig = kubeconfig.clone();
        let known = &known;
        let source = &source;
        async move {
            if !known.contains(&context.as_str()) {
                return Err(format!(
                    "{NOT_IN_KUBECONFIG} {source} (it has: {}); check the profile's contexts",
                    known.join(", ")
                ));
            }
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..KubeConfigOptions::default()
            };
            let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("its kubeconfig entry cannot be used: {e}"))?;
            Client::try_from(cfg)
                .map_err(|e| format!("cannot build a client for it: {}", words::kube_words(&e)))
        }
    }))
    .await;
    let mut out = Started {
        watches: Vec::new(),
        broken: Vec::new(),
    };
    for (context, client) in contexts.into_iter().zip(built) {
        match client {
            Ok(client) => {
                out.watches
                    .push(ContextWatch::start(context, &client, &config.namespaces));
            }
            Err(why) => {
                let missing = why.starts_with(NOT_IN_KUBECONFIG);
                log::warn!(
                    "context {context}: {}: {why}",
                    if missing { "missing" } else { "not watched" }
                );
                out.broken.push(Broken {
                    context,
                    why,
                    missing,
                });
            }
        }
    }
    Ok(out)
}

/// How one context answers, as one poll sees it.
pub(super) enum ContextView {
    /// Its lists are in and its API server answers; notices name what is not visible.
    Live(Notes),
    /// The initial lists are still arriving: the rows so far are shown, with a count.
    Loading(Notes),
    /// It answered before and does not now: the watch caches hold the last view.
    Stale {
        since: std::time::SystemTime,
        why: String,
    },
    /// Nothing to show: never listed, and failing.
    Down(String),
}

/// What a context that answers says besides its rows.
#[derive(Default)]
pub(super) struct Notes {
    pub notices: Vec<String>,
    /// Lists or watches that fail or are refused, in words, and whether every one of them is a
    /// refusal (RBAC, credentials): the context is degraded.
    pub problems: Vec<String>,
    pub all_refused: bool,
    /// Resources this user may list only in the context's namespace, in short words.
    pub fallback: Option<String>,
}

/// How long a poll that finds the API server answering again waits for the core lists to be
/// read again, so the view is live at this poll, not one (backed-off) poll later.
const RECOVERY_WAIT: Duration = Duration::from_secs(2);

/// Once the workloads are in, how long the first poll waits for pods and capacity (alongside
/// its first access reviews) before it answers without them ("pod details loading").
const DETAILS_GRACE: Duration = Duration::from_millis(300);

/// A short workload's reason while its context's pods are still being read.
pub(super) const PODS_LOADING_REASON: &str =
    "pod details loading (why it is short shows when its pods are in)";

/// The resources a context watches, as the API names them.
const RESOURCES: [&str; 5] = [
    "deployments",
    "statefulsets",
    "horizontalpodautoscalers",
    "pods",
    "replicasets",
];

impl ContextWatch {
    pub(super) fn start(context: String, client: &Client, namespaces: &[String]) -> Self {
        let shared = Arc::new(cache::WatchShared::new(context.clone()));
        let home = client.default_namespace().to_string();
        let fallback = vec![home.clone()];
        let plan = |resource| cache::WatchPlan {
            client,
            resource,
            namespaces,
            fallback: &fallback,
            shared: &shared,
        };
        let (deployments, t1) = cache::spawn_compact(&plan("deployments"), cache::deployment);
        let (statefulsets, t2) = cache::spawn_compact(&plan("statefulsets"), cache::statefulset);
        let (hpas, t3) = cache::spawn_compact(&plan("horizontalpodautoscalers"), cache::hpa);
        let (pods, t4) = cache::spawn_compact(&plan("pods"), cache::lite_pod);
        let (replicasets, t5) = cache::spawn_compact(&plan("replicasets"), cache::replicaset);
        // Capacity for the fit check: nodes cluster-wide (a refusal only disables the check),
        // quotas and LimitRanges where the workloads are watched.
        let (nodes, t6) = cache::spawn_cluster(client, "nodes", &shared, capacity::node);
        let (quotas, t7) = cache::spawn_compact(&plan("resourcequotas"), capacity::quota);
        let (limit_ranges, t8) = cache::spawn_compact(&plan("limitranges"), capacity::limit_range);
        Self {
            context,
            client: client.clone(),
            permissions: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
            deployments,
            statefulsets,
            hpas,
            pods,
            replicasets,
            nodes,
            quotas,
            limit_ranges,
            home_namespace: home,
            polled: std::sync::atomic::AtomicBool::new(false),
            loaded: std::sync::atomic::AtomicBool::new(false),
            details_grace: Mutex::new(None),
            liveness: Mutex::new(Liveness::default()),
            shared,
            metrics: tokio::sync::Mutex::new(MetricsState::default()),
            autoscaler_status: Mutex::new(capacity::StatusCheck::default()),
            tasks: vec![t1, t2, t3, t4, t5, t6, t7, t8],
        }
    }

    pub(super) fn states(&self) -> [(&'static str, cache::ResourceState); 5] {
        [
            self.deployments.state(),
            self.statefulsets.state(),
            self.hpas.state(),
            self.pods.state(),
            self.replicasets.state(),
        ]
        .map({
            let mut names = RESOURCES.into_iter();
            move |s| (names.next().unwrap_or_default(), s)
        })
    }

    /// The namespaces pods are watched in (empty = all): metrics are read there too.
    fn pod_namespaces(&self) -> Vec<String> {
        self.pods.state().scopes.into_keys().flatten().collect()
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
            pods::pod_usage(&self.client, &self.pod_namespaces()),
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
                self.log_once("metrics", Some(format!("pod metrics: {why}")));
            }
            Err(_) => {
                state.next = Some(now + METRICS_EVERY);
                self.log_once("metrics", Some("pod metrics: no answer in time".into()));
            }
        }
    }

    /// Log a problem of this context once per change (None: it went away).
    fn log_once(&self, key: &'static str, problem: Option<String>) {
        let Ok(mut live) = self.liveness.lock() else {
            return;
        };
        let before = live.logged.get(key).cloned();
        if before == problem {
            return;
        }
        match &problem {
            Some(p) => log::warn!("context {}: {p}", self.context),
            None => log::info!("context {}: {key} works again", self.context),
        }
        match problem {
            Some(p) => live.logged.insert(key, p),
            None => live.logged.remove(key),
        };
    }

    /// A cheap question the API server answers whatever the user's rights: `GET /version`
    /// with a short time-out. Any HTTP answer counts as answering.
    async fn probe(&self) -> Result<(), String> {
        let mut result = self.ask_version().await;
        if result.as_ref().is_err_and(|e| e.client_fault) {
            // The client's own request queue failed, not the server: asked once more. (No
            // timer here: during a runtime shutdown a new sleep would panic.)
            tokio::task::yield_now().await;
            result = self.ask_version().await;
        }
        let result = result.map_err(|e| e.words);
        let result = result.map_err(|why| match self.liveness.lock() {
            Ok(mut live) => live.away_why.get_or_insert(why).clone(),
            Err(_) => why,
        });
        if result.is_ok() {
            if let Ok(mut live) = self.liveness.lock() {
                live.last_contact = Some(std::time::SystemTime::now());
                live.away_why = None;
            }
            // Watches waiting out a backoff after losing the server try again now.
            if self.lost_the_server(false) {
                self.shared.ring();
            }
        }
        result
    }

    /// `GET /version`: any HTTP answer counts as answering.
    async fn ask_version(&self) -> Result<(), words::Unanswered> {
        let answer = tokio::time::timeout(PROBE_TIMEOUT, self.client.apiserver_version()).await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e @ (kube::Error::HyperError(_) | kube::Error::Service(_)))) => {
                Err(words::unanswered(&e))
            }
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(words::Unanswered {
                words: format!(
                    "no answer from the API server within {} s",
                    PROBE_TIMEOUT.as_secs()
                ),
                client_fault: false,
            }),
        }
    }

    /// Some watch lost the API server (it failed without an HTTP answer); `core` only: of
    /// Deployments or StatefulSets, what the view's freshness rests on.
    fn lost_the_server(&self, core: bool) -> bool {
        let states = self.states();
        let states = if core { &states[..2] } else { &states[..] };
        states.iter().any(|(_, s)| {
            s.scopes
                .values()
                .any(|sc| sc.error.as_ref().is_some_and(|e| e.code.is_none()))
        })
    }

    /// The capacity caches count too (a refusal settles them): the first plan has its nodes.
    fn settled(&self) -> bool {
        self.states().iter().all(|(_, s)| s.settled())
            && self.nodes.state().settled()
            && self.quotas.state().settled()
            && self.limit_ranges.state().settled()
    }

    /// The lists the first view is built from: the workloads with their status (desired,
    /// ready, updated, available) and their autoscalers. Pods, ReplicaSets and capacity follow.
    fn workloads_settled(&self) -> bool {
        self.states()[..3].iter().all(|(_, s)| s.settled())
    }

    /// How this context answers now. The first poll waits (up to [`FIRST_SYNC`]) for the
    /// workload lists; its rows then wait at most [`DETAILS_GRACE`] for the rest (a small
    /// cluster's pods come with its workloads: one view, not two); a large cluster's pods
    /// follow in later polls, which never wait, so a slow or dead context costs the others
    /// nothing.
    /// Contexts are assessed concurrently by the caller.
    pub(super) async fn assess(&self) -> ContextView {
        let first = !self.polled.swap(true, std::sync::atomic::Ordering::Relaxed);
        let probe = self.probe().await;
        if first && probe.is_ok() {
            let deadline = tokio::time::Instant::now() + FIRST_SYNC;
            while !self.workloads_settled() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let until = deadline.min(tokio::time::Instant::now() + DETAILS_GRACE);
            if let Ok(mut grace) = self.details_grace.lock() {
                *grace = Some(until);
            }
        } else if probe.is_ok() && self.lost_the_server(true) {
            // Back after an outage: the probe rang the watches; their relist takes a moment.
            let deadline = tokio::time::Instant::now() + RECOVERY_WAIT;
            while self.lost_the_server(true) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.classify(probe)
    }

    fn classify(&self, probe: Result<(), String>) -> ContextView {
        let states = self.states();
        let core = &states[..2];
        let core_listed = core.iter().all(|(_, s)| s.listed());
        if core_listed {
            self.loaded
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let loaded = self.loaded.load(std::sync::atomic::Ordering::Relaxed);
        if let Err(why) = probe {
            let since = self
                .liveness
                .lock()
                .ok()
                .and_then(|l| l.last_contact)
                .unwrap_or_else(std::time::SystemTime::now);
            return if loaded {
                ContextView::Stale { since, why }
            } else {
                ContextView::Down(why)
            };
        }
        // A core watch failing for longer than a reconnect takes: the cache is behind.
        let failing = core
            .iter()
            .flat_map(|(_, s)| s.scopes.values())
            .filter_map(|sc| sc.error.as_ref())
            .filter(|e| !e.refused() && e.since.elapsed().unwrap_or_default() >= WATCH_GRACE)
            .min_by_key(|e| e.since);
        if let Some(e) = failing {
            // The probe just had an answer: a failure from before it is history. Saying it
            // would put an older error back on screen while the server already answers.
            let answered = self.liveness.lock().ok().and_then(|l| l.last_contact);
            let why = if e.code.is_none() && answered.is_some_and(|t| t >= e.last) {
                format!(
                    "the API server answers again; its lists are being read again (they failed \
                     with: {})",
                    e.words
                )
            } else {
                e.words.clone()
            };
            return if loaded {
                ContextView::Stale {
                    since: e.since,
                    why,
                }
            } else {
                ContextView::Down(why)
            };
        }
        let all_refused = core
            .iter()
            .flat_map(|(_, s)| s.scopes.values())
            .all(|sc| sc.error.as_ref().is_some_and(cache::ScopeError::refused));
        if all_refused && let Some(e) = core[0].1.scopes.values().find_map(|s| s.error.clone()) {
            return ContextView::Down(format!("{}; {}", e.words, words::advice(e.code)));
        }
        let mut notes = Notes {
            all_refused: true,
            ..Notes::default()
        };
        let notices = &mut notes.notices;
        if let Some((n, short)) = self.fallback_notice(&states) {
            notices.push(n);
            notes.fallback = Some(short);
        }
        let answered = self.liveness.lock().ok().and_then(|l| l.last_contact);
        for (resource, state) in &states {
            let core_resource = matches!(*resource, "deployments" | "statefulsets");
            for sc in state.scopes.values() {
                // Core watches that fail are the context's staleness (above); refusals and
                // lasting failures of the others are named. A failure to reach the server
                // from before the probe's answer is history: that list is being read again
                // (pods take longer than workloads at scale), its last view still shown.
                let shown = sc.error.as_ref().filter(|e| {
                    let history = e.code.is_none() && answered.is_some_and(|t| t >= e.last);
                    e.refused()
                        || (!core_resource
                            && !history
                            && e.since.elapsed().unwrap_or_default() >= WATCH_GRACE)
                });
                if let Some(e) = shown {
                    let missing = match *resource {
                        "deployments" | "statefulsets" => "its workloads there are not shown",
                        "horizontalpodautoscalers" => "autoscalers are not shown",
                        _ => "stuck pods and CPU/memory are not shown",
                    };
                    notices.push(format!(
                        "context {}: cannot {}; {missing} ({})",
                        self.context,
                        e.words,
                        words::advice(e.code)
                    ));
                    notes.problems.push(format!("cannot {}", e.words));
                    notes.all_refused &= e.refused();
                }
            }
        }
        if core_listed {
            ContextView::Live(notes)
        } else {
            let lists: Vec<bool> = states
                .iter()
                .flat_map(|(_, s)| s.scopes.values().map(|sc| sc.listed))
                .collect();
            notes.notices.push(format!(
                "loading context {}: {} of {} lists complete; rows show as they arrive",
                self.context,
                lists.iter().filter(|l| **l).count(),
                lists.len()
            ));
            ContextView::Loading(notes)
        }
    }

    /// One notice for every resource that may not be listed in all namespaces and is watched
    /// in the context's namespace instead: what is not visible, why, and what to do. Said
    /// once every resource has settled, so its text does not change from poll to poll.
    /// With it, the same in a few words for the context's state and the log.
    fn fallback_notice(
        &self,
        states: &[(&'static str, cache::ResourceState)],
    ) -> Option<(String, String)> {
        if !states.iter().all(|(_, s)| s.settled()) {
            return None;
        }
        let fell: Vec<(&str, &String)> = states
            .iter()
            .filter_map(|(r, s)| s.fell_back.as_ref().map(|why| (*r, why)))
            .collect();
        let (_, example) = fell.first()?;
        let names: Vec<&str> = fell.iter().map(|(r, _)| *r).collect();
        let others = if fell.len() == 1 {
            String::new()
        } else {
            format!(" (the same for {})", names[1..].join(", "))
        };
        let short = format!(
            "may not list {} in all namespaces; showing namespace {} only",
            names.join(", "),
            self.home_namespace
        );
        let long = format!(
            "context {}: your credentials may not list {} in all namespaces ({example}{others}); \
             showing namespace {} only (the context's namespace): {} in other namespaces are \
             not visible. To see them, ask for list and watch on these resources cluster-wide, \
             or name the namespaces you may read in the profile.",
            self.context,
            names.join(", "),
            self.home_namespace,
            if names.contains(&"deployments") || names.contains(&"statefulsets") {
                "workloads".to_string()
            } else {
                names.join(" and ")
            },
        );
        Some((long, short))
    }

    /// This context's rows. A live context refreshes metrics and asks about permissions in
    /// namespaces not seen before; a stale one shows its caches' last view with the
    /// permissions last known.
    pub(super) async fn rows(
        &self,
        endpoint: &str,
        live: bool,
    ) -> Result<
        (
            Vec<Workload>,
            Vec<String>,
            crate::model::workloads::Progress,
        ),
        ConnectorError,
    > {
        let mut notices = Vec::new();
        let namespaces = self.workload_namespaces();
        let grace = self.details_grace.lock().ok().and_then(|mut g| g.take());
        // The first poll's short wait for the pods runs alongside its first access reviews.
        let details = async {
            if let Some(until) = grace {
                while !self.settled() && tokio::time::Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let allowed = if live {
            let reads = async {
                self.refresh_metrics(&mut notices).await;
                self.refresh_autoscaler_status().await;
                self.permissions_for(&namespaces).await
            };
            futures::join!(reads, details).0
        } else {
            let mut known = HashMap::new();
            for ns in namespaces {
                if let Some(p) = self.cached_permissions(&ns).await {
                    known.insert(ns, p);
                }
            }
            known
        };
        // Progress first: a part it calls loaded is in the caches the rows are read from.
        let progress = self.progress();
        let mut rows = Vec::new();
        {
            let metrics = self.metrics.lock().await;
            self.collect(endpoint, &metrics.usage, &mut rows);
        }
        for w in &mut rows {
            if let Some(p) = split_scope(&w.id.scope)
                .ok()
                .and_then(|(_, ns)| allowed.get(ns))
            {
                p.apply(w);
            }
        }
        Ok((rows, notices, progress))
    }

    /// The namespaces this context's workloads are in, sorted.
    fn workload_namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = [&self.deployments, &self.statefulsets]
            .iter()
            .flat_map(|store| {
                store
                    .read()
                    .keys()
                    .map(|(ns, _)| ns.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        namespaces
    }

    pub(super) fn collect(&self, endpoint: &str, usage: &Usage, out: &mut Vec<Workload>) {
        let first_row = out.len();
        // Read guards are held for this synchronous pass only; the watch tasks wait briefly.
        let pods = self.pods.read();
        let replicasets = self.replicasets.read();
        let mut rs_owner: cache::FastMap<(&str, &str), &str> = cache::FastMap::default();
        for ((ns, name), owner) in replicasets.iter() {
            if let Some(deployment) = owner {
                rs_owner.insert((ns, name), deployment.as_str());
            }
        }
        let totals = pods::fold(pods.iter(), &rs_owner, usage);
        let of = |ns: &str, kind: WorkloadKind, name: &str| {
            totals.get(&(ns, kind, name)).cloned().unwrap_or_default()
        };
        // Indexed by target once per poll: a lookup per workload, not a scan of every HPA. Two
        // HPAs on one target (a mistake the HPA controller reports): the first by name, as the
        // fresh read picks it.
        let hpa_guard = self.hpas.read();
        let mut hpas: cache::FastMap<(&str, &str, &str), (&str, &Autoscaler)> =
            cache::FastMap::default();
        for ((ns, hpa_name), h) in hpa_guard.iter() {
            let key = (&**ns, h.target_kind.as_str(), h.target_name.as_str());
            match hpas.get(&key) {
                Some((seen, _)) if *seen <= &**hpa_name => {}
                _ => {
                    hpas.insert(key, (hpa_name, &h.autoscaler));
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
            for ((ns, name), w) in stores.read().iter() {
                out.push(build(kind, ns, name, w));
            }
        }
        // Before the pods are in, a short workload's reason is not "none": it is not known yet.
        if !(self.pods.state().listed() && self.replicasets.state().listed()) {
            for w in out[first_row..].iter_mut().filter(|w| {
                w.pending_reason.is_none() && (w.ready < w.desired || w.updated < w.desired)
            }) {
                w.pending_reason = Some(PODS_LOADING_REASON.to_string());
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
        let key = cache::key(ns, name);
        let stores = match kind {
            WorkloadKind::StatefulSet => &self.statefulsets,
            _ => &self.deployments,
        };
        stores.read().get(&key).and_then(|w| w.version.clone())
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
            .read()
            .iter()
            .filter(|((hpa_ns, _), h)| {
                &**hpa_ns == ns && h.target_kind == kind && h.target_name == name
            })
            .map(|((_, hpa_name), h)| (hpa_name.to_string(), h.version.clone()))
            .min()
    }
}

//! What this user may do, from SelfSubjectAccessReviews: actions RBAC denies are shown
//! disabled with the reason instead of failing with a 403 after confirmation.
//!
//! A namespace seen for the first time is reviewed in a background task (all new namespaces at
//! once, a bounded number in flight); the poll waits for it at most [`REVIEW_WAIT`], so a
//! cluster with hundreds of namespaces shows its rows at once, its actions disabled as "checking
//! access" until the answers arrive. A stale answer is used while a background task asks again,
//! so the five-minute recheck never holds up a poll either.

use super::*;

/// Reviews in flight at once (three per namespace).
const CONCURRENT_NAMESPACES: usize = 8;
/// How long a poll waits for the reviews of namespaces it shows for the first time.
const REVIEW_WAIT: Duration = Duration::from_millis(1_000);

pub(super) type PermissionCache =
    Arc<tokio::sync::Mutex<HashMap<String, (tokio::time::Instant, Permissions)>>>;

impl ContextWatch {
    /// What the last review of a namespace said, without asking again (fresh reads use it, so
    /// a fresh row carries the same refusals as the polled one).
    pub(super) async fn cached_permissions(&self, ns: &str) -> Option<Permissions> {
        self.permissions
            .lock()
            .await
            .get(ns)
            .map(|(_, p)| p.clone())
    }

    /// Permissions for every namespace in `namespaces` (deduplicated by the caller).
    pub(super) async fn permissions_for(
        &self,
        namespaces: &[String],
    ) -> HashMap<String, Permissions> {
        let now = tokio::time::Instant::now();
        let (fresh, missing, stale) = {
            let cache = self.permissions.lock().await;
            let mut fresh = HashMap::new();
            let mut missing = Vec::new();
            let mut stale = Vec::new();
            for ns in namespaces {
                match cache.get(ns) {
                    Some((at, p)) => {
                        if now.duration_since(*at) >= RBAC_RECHECK {
                            stale.push(ns.clone());
                        }
                        fresh.insert(ns.clone(), p.clone());
                    }
                    None => missing.push(ns.clone()),
                }
            }
            (fresh, missing, stale)
        };
        let mut out = fresh;
        {
            let mut cache = self.permissions.lock().await;
            // Until its review answers, a new namespace's actions are "checking access": the
            // placeholder also keeps the next polls from starting the same reviews again.
            for ns in &missing {
                cache.insert(ns.clone(), (now, Permissions::checking()));
            }
            // Mark stale entries as being rechecked, so the next polls do not start another.
            for ns in &stale {
                if let Some(entry) = cache.get_mut(ns) {
                    entry.0 = now;
                }
            }
        }
        if !missing.is_empty() {
            let client = self.client.clone();
            let context = self.context.clone();
            let cache = Arc::clone(&self.permissions);
            let list = missing.clone();
            let task = tokio::spawn(async move {
                let reviewed = review_all(&client, &context, list).await;
                let now = tokio::time::Instant::now();
                let mut cache = cache.lock().await;
                for (ns, p) in reviewed {
                    cache.insert(ns, (now, p));
                }
            });
            let _ = tokio::time::timeout(REVIEW_WAIT, task).await;
            let cache = self.permissions.lock().await;
            for ns in &missing {
                if let Some((_, p)) = cache.get(ns) {
                    out.insert(ns.clone(), p.clone());
                }
            }
        }
        if !stale.is_empty() {
            let client = self.client.clone();
            let context = self.context.clone();
            let cache = Arc::clone(&self.permissions);
            tokio::spawn(async move {
                let reviewed = review_all(&client, &context, stale).await;
                let now = tokio::time::Instant::now();
                let mut cache = cache.lock().await;
                for (ns, p) in reviewed {
                    cache.insert(ns, (now, p));
                }
            });
        }
        out
    }
}

async fn review_all(
    client: &Client,
    context: &str,
    namespaces: Vec<String>,
) -> Vec<(String, Permissions)> {
    futures::stream::iter(namespaces)
        .map(|ns| async move {
            let (scale_deployments, scale_statefulsets, autoscalers) = futures::join!(
                denied(
                    client,
                    context,
                    &ns,
                    "patch",
                    "apps",
                    "deployments",
                    "scale"
                ),
                denied(
                    client,
                    context,
                    &ns,
                    "patch",
                    "apps",
                    "statefulsets",
                    "scale"
                ),
                denied(
                    client,
                    context,
                    &ns,
                    "patch",
                    "autoscaling",
                    "horizontalpodautoscalers",
                    ""
                ),
            );
            let p = Permissions {
                scale_deployments,
                scale_statefulsets,
                autoscalers,
            };
            (ns, p)
        })
        .buffer_unordered(CONCURRENT_NAMESPACES)
        .collect()
        .await
}

/// Ask the API server whether this user may do `verb` on the resource; Some(reason) when
/// not. When the review itself fails, the action is left enabled: the server will still
/// refuse it with a 403, and that reason reaches the audit record.
async fn denied(
    client: &Client,
    context: &str,
    ns: &str,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: &str,
) -> Option<String> {
    let review = SelfSubjectAccessReview {
        metadata: Default::default(),
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.to_string()),
                verb: Some(verb.to_string()),
                group: Some(group.to_string()),
                resource: Some(resource.to_string()),
                subresource: (!subresource.is_empty()).then(|| subresource.to_string()),
                ..ResourceAttributes::default()
            }),
            non_resource_attributes: None,
        },
        status: None,
    };
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let answer = match api.create(&PostParams::default(), &review).await {
        Ok(a) => a,
        Err(e) => {
            // Once per namespace and recheck (every few minutes at most), in words.
            log::warn!(
                "context {context}: cannot ask whether you may {verb} {resource} in namespace {ns}: {}; the action stays enabled and the API server will decide",
                words::kube_words(&e)
            );
            return None;
        }
    };
    let status = answer.status.unwrap_or_default();
    if status.allowed {
        return None;
    }
    let what = if subresource.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{subresource}")
    };
    let why = status
        .reason
        .filter(|r| !r.is_empty())
        .map_or(String::new(), |r| format!(" ({r})"));
    Some(format!(
        "Your credentials in context {context} may not {verb} {what} in namespace {ns}{why}."
    ))
}

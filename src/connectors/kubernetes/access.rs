//! What this user may do, from SelfSubjectAccessReviews: actions RBAC denies are shown
//! disabled with the reason instead of failing with a 403 after confirmation.

use super::*;

impl ContextWatch {
    pub(super) async fn permissions(&self, ns: &str) -> Permissions {
        let mut cache = self.permissions.lock().await;
        let now = tokio::time::Instant::now();
        if let Some((at, p)) = cache.get(ns)
            && now.duration_since(*at) < RBAC_RECHECK
        {
            return p.clone();
        }
        let p = Permissions {
            scale_deployments: self
                .denied(ns, "patch", "apps", "deployments", "scale")
                .await,
            scale_statefulsets: self
                .denied(ns, "patch", "apps", "statefulsets", "scale")
                .await,
            autoscalers: self
                .denied(ns, "patch", "autoscaling", "horizontalpodautoscalers", "")
                .await,
        };
        cache.insert(ns.to_string(), (now, p.clone()));
        p
    }

    /// Ask the API server whether this user may do `verb` on the resource; Some(reason) when
    /// not. When the review itself fails, the action is left enabled: the server will still
    /// refuse it with a 403, and that reason reaches the audit record.
    pub(super) async fn denied(
        &self,
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
        let api = Api::<SelfSubjectAccessReview>::all(self.client.clone());
        let answer = match api.create(&PostParams::default(), &review).await {
            Ok(a) => a,
            Err(e) => {
                log::warn!("access review in {}/{ns}: {e}", self.context);
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
            "Your credentials in context {} may not {verb} {what} in namespace {ns}{why}.",
            self.context
        ))
    }
}

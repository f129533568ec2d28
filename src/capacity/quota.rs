//! The namespace's admission rules that new pods meet before any scheduler sees them: a
//! LimitRange fills in requests the template leaves out, a ResourceQuota rejects pods that
//! would take it over its hard limits (the API server refuses them, so a plan must refuse too).

use crate::model::capacity::{LimitRangeDefaults, QuotaRoom, ReplicaNeeds, format_cpu_milli};
use crate::model::units::format_bytes;

/// Requests with the LimitRange's defaults where the template sets none, as the LimitRanger
/// admission plugin does (`defaultRequest`, else `default`), and a note for each one filled in.
pub fn apply_limit_range(
    mut needs: ReplicaNeeds,
    range: Option<&LimitRangeDefaults>,
) -> (ReplicaNeeds, Vec<String>) {
    let mut notes = Vec::new();
    let Some(lr) = range else {
        return (needs, notes);
    };
    if needs.cpu_milli.is_none()
        && let Some(c) = lr.default_request_cpu_milli.or(lr.default_limit_cpu_milli)
    {
        needs.cpu_milli = Some(c);
        notes.push(format!(
            "cpu request {} from LimitRange {}",
            format_cpu_milli(c),
            lr.name
        ));
    }
    if needs.memory_bytes.is_none()
        && let Some(m) = lr
            .default_request_memory_bytes
            .or(lr.default_limit_memory_bytes)
    {
        needs.memory_bytes = Some(m);
        notes.push(format!(
            "memory request {} from LimitRange {}",
            format_bytes(m),
            lr.name
        ));
    }
    (needs, notes)
}

/// Why the API server would reject `new` more pods under this quota, or `None`.
pub fn quota_refusal(quota: &QuotaRoom, needs: &ReplicaNeeds, new: u64) -> Option<String> {
    let mut over = Vec::new();
    if let Some(hard) = quota.hard_pods {
        let after = quota.used_pods + new;
        if after > hard {
            over.push(format!(
                "pods would be {after} of {hard} (used {})",
                quota.used_pods
            ));
        }
    }
    if let Some(hard) = quota.hard_requests_cpu_milli {
        match needs.cpu_milli {
            None => over
                .push("it limits requests.cpu, and pods without a cpu request are rejected".into()),
            Some(c) => {
                let after = quota.used_requests_cpu_milli + c * new;
                if after > hard {
                    over.push(format!(
                        "requests.cpu would be {} of {} (used {})",
                        format_cpu_milli(after),
                        format_cpu_milli(hard),
                        format_cpu_milli(quota.used_requests_cpu_milli)
                    ));
                }
            }
        }
    }
    if let Some(hard) = quota.hard_requests_memory_bytes {
        match needs.memory_bytes {
            None => over.push(
                "it limits requests.memory, and pods without a memory request are rejected".into(),
            ),
            Some(m) => {
                let after = quota.used_requests_memory_bytes + m * new;
                if after > hard {
                    over.push(format!(
                        "requests.memory would be {} of {} (used {})",
                        format_bytes(after),
                        format_bytes(hard),
                        format_bytes(quota.used_requests_memory_bytes)
                    ));
                }
            }
        }
    }
    (!over.is_empty()).then(|| {
        format!(
            "ResourceQuota {} would be exceeded: {}; the API server would reject the new pods",
            quota.name,
            over.join(", ")
        )
    })
}

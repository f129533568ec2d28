//! A node's requested room from the pods bound to it: the sum over its non-terminated pods
//! (phase not Succeeded/Failed), as `kubectl describe node` and the scheduler count it.

use crate::model::capacity::NodeRoom;
use std::collections::HashMap;

/// The little of a pod that placement reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundPod<'a> {
    pub node: &'a str,
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    /// Phase Succeeded or Failed: it holds no room any more.
    pub finished: bool,
}

/// Set every node's requested cpu, memory and pod count from the pods bound to it. Pods on a
/// node that is not in the list (deleted meanwhile) are ignored.
pub fn sum_bound_pods<'a>(nodes: &mut [NodeRoom], pods: impl IntoIterator<Item = BoundPod<'a>>) {
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    for n in nodes.iter_mut() {
        n.requested_cpu_milli = 0;
        n.requested_memory_bytes = 0;
        n.pods = 0;
    }
    for pod in pods {
        if pod.finished {
            continue;
        }
        if let Some(&i) = index.get(pod.node) {
            let n = &mut nodes[i];
            n.requested_cpu_milli += pod.cpu_milli;
            n.requested_memory_bytes += pod.memory_bytes;
            n.pods += 1;
        }
    }
}

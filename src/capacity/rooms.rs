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
    // Per node: (cpu, memory, pods), indexed by the node's name. Runs on every poll over every
    // pod (150,000 at the envelope): no String per node, a fast hasher.
    let mut sums = vec![(0u64, 0u64, 0u64); nodes.len()];
    {
        let index: HashMap<&str, usize, foldhash::fast::RandomState> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        for pod in pods {
            if pod.finished {
                continue;
            }
            if let Some(&i) = index.get(pod.node) {
                let s = &mut sums[i];
                s.0 += pod.cpu_milli;
                s.1 += pod.memory_bytes;
                s.2 += 1;
            }
        }
    }
    for (n, (cpu, memory, count)) in nodes.iter_mut().zip(sums) {
        n.requested_cpu_milli = cpu;
        n.requested_memory_bytes = memory;
        n.pods = count;
    }
}

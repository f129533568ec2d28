//! Capacity over time: per Kubernetes context its requested, allocatable and used CPU and
//! memory as samples for the metric store (bounded like every series), plotted by the Clusters
//! panel. A context without usage (no metrics-server) sends no "used" sample, so its line has
//! gaps rather than a false zero.

use crate::model::capacity::CapacityView;
use crate::model::snapshot::Sample;

pub const CPU_REQUESTED: &str = "cpu_requested_cores";
pub const CPU_ALLOCATABLE: &str = "cpu_allocatable_cores";
pub const CPU_USED: &str = "cpu_used_cores";
pub const MEMORY_REQUESTED: &str = "memory_requested_gib";
pub const MEMORY_ALLOCATABLE: &str = "memory_allocatable_gib";
pub const MEMORY_USED: &str = "memory_used_gib";

const GIB: f64 = (1_u64 << 30) as f64;

/// The series target of one context's capacity: `"{endpoint}/capacity/{context}"`.
pub fn capacity_target(endpoint: &str, context: &str) -> String {
    format!("{endpoint}/capacity/{context}")
}

/// Samples of the contexts `live` accepts (a stale context's last view is not current).
pub fn capacity_samples(
    endpoint: &str,
    view: &CapacityView,
    live: &dyn Fn(&str) -> bool,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for (context, ctx) in view.contexts.iter().filter(|(c, _)| live(c)) {
        let Ok(nodes) = &ctx.nodes else { continue };
        let target = capacity_target(endpoint, context);
        let (mut req_cpu, mut alloc_cpu, mut req_mem, mut alloc_mem) = (0_u64, 0_u64, 0_u64, 0_u64);
        let (mut used_cpu, mut used_mem, mut with_usage) = (0_u64, 0_u64, 0_usize);
        for n in nodes {
            req_cpu += n.room.requested_cpu_milli;
            alloc_cpu += n.room.allocatable_cpu_milli;
            req_mem += n.room.requested_memory_bytes;
            alloc_mem += n.room.allocatable_memory_bytes;
            if let Some(u) = n.used {
                used_cpu += u.cpu_milli;
                used_mem += u.memory_bytes;
                with_usage += 1;
            }
        }
        let cores = |m: u64| m as f64 / 1000.0;
        let gib = |b: u64| b as f64 / GIB;
        out.push(Sample::new(target.clone(), CPU_REQUESTED, cores(req_cpu)));
        out.push(Sample::new(
            target.clone(),
            CPU_ALLOCATABLE,
            cores(alloc_cpu),
        ));
        out.push(Sample::new(target.clone(), MEMORY_REQUESTED, gib(req_mem)));
        out.push(Sample::new(
            target.clone(),
            MEMORY_ALLOCATABLE,
            gib(alloc_mem),
        ));
        if with_usage > 0 {
            out.push(Sample::new(target.clone(), CPU_USED, cores(used_cpu)));
            out.push(Sample::new(target, MEMORY_USED, gib(used_mem)));
        }
    }
    out
}

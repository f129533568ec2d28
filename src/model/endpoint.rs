//! What the engine and the UI know of an endpoint before it answers.

/// What kind of system an endpoint is: decides which panel shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Workloads,
    Databases,
    Cache,
    Queues,
    Health,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EndpointInfo {
    /// Unique within a profile; also the first segment of every series target it produces.
    pub id: String,
    pub label: String,
    pub area: Area,
    pub demo: bool,
}

/// What a kubeconfig offers: its context names (sorted) and its current context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeconfigContexts {
    pub names: Vec<String>,
    pub current: Option<String>,
}

//! What reaches stderr. Library records (kube, hyper, rustls…) carry raw debug structures and
//! repeat on every retry, so by default only our own lines get through: warnings, and one line in
//! words per Kubernetes context state change (connected again / lost / forbidden). `RUST_LOG`
//! replaces this filter whole, for whoever wants the libraries' records.

/// The log filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "off,scaleboard=warn,scaleboard::connectors::kubernetes=info";

/// The logger every entry point (the window and each command) starts with; tests add a target.
pub fn builder() -> env_logger::Builder {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_FILTER))
}

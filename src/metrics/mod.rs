//! Bounded time series (placeholder, being written).

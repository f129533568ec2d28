//! Connection profiles (placeholder, being written).

/// Identifies one series: a metric of one target (an endpoint, a deployment, a node...).
///
/// Hashed in the store; ordered by target first where a list of keys is shown or compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub target: String,
    pub metric: String,
}

impl SeriesKey {
    pub fn new(target: impl Into<String>, metric: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            metric: metric.into(),
        }
    }

    /// Heap bytes held by the two strings (their capacity, not their length).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.target.capacity() + self.metric.capacity()
    }
}

//! Navigation and view settings: which panel, which time range, which theme.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelId {
    Overview,
    Workloads,
    Databases,
    Cache,
    Queues,
    Health,
    Cost,
    Audit,
    Profiles,
    Alerts,
    Clusters,
}

impl PanelId {
    /// In navigation order; Ctrl+1…9 then Ctrl+0 follow it.
    pub const ALL: [PanelId; 10] = [
        Self::Overview,
        Self::Workloads,
        Self::Databases,
        Self::Cache,
        Self::Queues,
        Self::Health,
        Self::Cost,
        Self::Audit,
        Self::Profiles,
        Self::Alerts,
    ];

    /// In the navigation: Clusters next to Workloads (its shortcut is Ctrl+K, the digits are
    /// all taken).
    pub const NAV: [PanelId; 11] = [
        Self::Overview,
        Self::Workloads,
        Self::Clusters,
        Self::Databases,
        Self::Cache,
        Self::Queues,
        Self::Health,
        Self::Cost,
        Self::Audit,
        Self::Profiles,
        Self::Alerts,
    ];

    /// The keys that open the panel, for the navigation's hover text.
    pub fn shortcut(self) -> String {
        match Self::ALL.iter().position(|p| *p == self) {
            Some(i) => format!("Ctrl+{}", (i + 1) % 10),
            None => "Ctrl+K".into(),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Workloads => "Workloads",
            Self::Databases => "Databases",
            Self::Cache => "Cache",
            Self::Queues => "Queues",
            Self::Health => "Health",
            Self::Cost => "Cost",
            Self::Audit => "Audit",
            Self::Profiles => "Profiles",
            Self::Alerts => "Alerts",
            Self::Clusters => "Clusters",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeRange {
    FiveMinutes,
    OneHour,
    OneDay,
}

impl TimeRange {
    pub const ALL: [TimeRange; 3] = [Self::FiveMinutes, Self::OneHour, Self::OneDay];

    pub fn millis(self) -> i64 {
        match self {
            Self::FiveMinutes => 5 * 60_000,
            Self::OneHour => 3_600_000,
            Self::OneDay => 86_400_000,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::FiveMinutes => "5 min",
            Self::OneHour => "1 h",
            Self::OneDay => "24 h",
        }
    }
}

pub struct ViewState {
    pub panel: PanelId,
    pub range: TimeRange,
    pub dark: bool,
    pub show_shortcuts: bool,
    pub show_notifications: bool,
    /// Last title sent to the window, so it is only sent when it changes.
    pub window_title: String,
    /// Rows of the Workloads table that fit its height: one Page Up/Down step.
    pub workload_page_rows: usize,
    /// Workloads the operator pinned to the Overview's plots.
    pub pinned: std::collections::BTreeSet<crate::model::snapshot::WorkloadRef>,
    /// What the Overview ranks workloads by.
    pub overview_rank: super::overview::Rank,
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            panel: PanelId::Overview,
            range: TimeRange::FiveMinutes,
            dark: true,
            show_shortcuts: false,
            show_notifications: false,
            window_title: String::new(),
            workload_page_rows: 1,
            pinned: std::collections::BTreeSet::new(),
            overview_rank: Default::default(),
        }
    }
}

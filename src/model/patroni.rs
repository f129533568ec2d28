//! What one read of a Patroni cluster's REST API saw: `/cluster` (members, roles, lag, tags,
//! scheduled switchover, pause), `/history` (timeline switches) and `/config` (the failover
//! limits Patroni itself applies).

use super::units::format_bytes;

/// A member's role as `/cluster` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum PatroniRole {
    Leader,
    #[default]
    Replica,
    SyncStandby,
    /// A member of the synchronous quorum (`synchronous_mode: quorum`, Patroni 4).
    QuorumStandby,
    /// The leader of a standby cluster (replicates from another cluster).
    StandbyLeader,
    /// Anything this version does not know, in Patroni's words.
    Other(String),
}

impl PatroniRole {
    pub fn parse(text: &str) -> Self {
        match text {
            "leader" | "master" | "primary" => Self::Leader,
            "replica" => Self::Replica,
            "sync_standby" => Self::SyncStandby,
            "quorum_standby" => Self::QuorumStandby,
            "standby_leader" => Self::StandbyLeader,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Self::Leader => "leader",
            Self::Replica => "replica",
            Self::SyncStandby => "sync_standby",
            Self::QuorumStandby => "quorum_standby",
            Self::StandbyLeader => "standby_leader",
            Self::Other(s) => s,
        }
    }

    /// Holds the leader lock (of a primary or of a standby cluster).
    pub fn is_leader(&self) -> bool {
        matches!(self, Self::Leader | Self::StandbyLeader)
    }

    /// A standby Patroni may switch over to while synchronous_mode is on (or quorum).
    pub fn is_synchronous(&self) -> bool {
        matches!(self, Self::SyncStandby | Self::QuorumStandby)
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PatroniMember {
    pub name: String,
    pub role: PatroniRole,
    /// `running`, `streaming`, `stopped`, `starting`, `crashed`, `start failed`, …
    pub state: String,
    /// The member's REST API (`…/patroni`).
    pub api_url: Option<String>,
    pub host: String,
    pub port: u16,
    pub timeline: Option<u32>,
    /// Replicas: bytes behind the leader; `None` when Patroni says "unknown" or for the leader.
    pub lag_bytes: Option<u64>,
    pub nofailover: bool,
    pub noloadbalance: bool,
    /// Other tags, as `key=value`.
    pub other_tags: Vec<String>,
    pub pending_restart: bool,
}

impl PatroniMember {
    /// `running` (and `streaming`, which newer Patroni reports for replicas) count as up.
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }

    /// `host:port` of its PostgreSQL.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Tags in words, e.g. "nofailover, noloadbalance, clonefrom=true".
    pub fn tags_text(&self) -> String {
        let mut tags = Vec::new();
        if self.nofailover {
            tags.push("nofailover".to_string());
        }
        if self.noloadbalance {
            tags.push("noloadbalance".to_string());
        }
        tags.extend(self.other_tags.iter().cloned());
        tags.join(", ")
    }
}

/// One line of `/history`: the cluster left `timeline` at `lsn`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PatroniHistoryEntry {
    pub timeline: u32,
    pub lsn: u64,
    pub reason: String,
    pub timestamp: Option<String>,
    pub new_leader: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ScheduledSwitchover {
    pub at: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl ScheduledSwitchover {
    /// `m1 -> m2` (`m1 -> Patroni's pick` without a candidate).
    pub fn describe(&self) -> String {
        format!(
            "{} -> {}",
            self.from.as_deref().unwrap_or("the leader"),
            self.to.as_deref().unwrap_or("Patroni's pick")
        )
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PatroniSnapshot {
    /// Patroni's `scope`.
    pub cluster: String,
    pub members: Vec<PatroniMember>,
    /// Newest last, at most [`PatroniSnapshot::HISTORY_KEPT`] entries.
    pub history: Vec<PatroniHistoryEntry>,
    pub scheduled_switchover: Option<ScheduledSwitchover>,
    /// Maintenance mode: Patroni does not fail over by itself.
    pub paused: bool,
    /// From `/config`; Patroni's default is 1 MiB.
    pub maximum_lag_on_failover: Option<u64>,
    /// On for `true`, `on` and `quorum`.
    pub synchronous_mode: bool,
    /// `synchronous_mode: quorum`: any quorum_standby may take over.
    pub quorum_mode: bool,
    /// `/config` did not answer: `maximum_lag_on_failover` and `synchronous_mode` are unknown,
    /// and the checks run on Patroni's defaults (1 MiB, off) as assumptions, not facts.
    pub config_unread: bool,
    /// The REST API base URL that answered this read.
    pub answered_by: String,
    /// URLs that did not answer, with why (the cluster is still read through another).
    pub unanswered: Vec<String>,
    /// Members whose Patroni stopped answering (hung, killed, dropped out of `/cluster` after
    /// the TTL), profile URLs that do not answer, and PostgreSQL servers of the linked endpoint
    /// that are not in `/cluster` but accept writes: what the connector remembers and
    /// `/cluster` alone no longer says.
    pub silent: Vec<SilentMember>,
    /// The `patronictl -c` file shown in equivalent commands, when the profile names one.
    pub patronictl_config: Option<String>,
    /// The REST API basic-auth user, for the `curl -u` equivalent command.
    pub api_user: Option<String>,
    /// The cluster's timeline when this connector last asked for a switchover or failover:
    /// Patroni shows the candidate as leader before its promotion is done, so verification
    /// waits for a leader above it.
    pub switched_from_timeline: Option<u32>,
}

/// Whether a silent member's PostgreSQL still takes writes (`pg_is_in_recovery()`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum WriteCheck {
    /// Not asked: Patroni still lists the member, so its role is Patroni's.
    #[default]
    NotNeeded,
    AcceptsWrites,
    ReadOnly,
    /// Could not be checked, and why (no SQL login for it, it does not answer, …).
    Unknown(String),
}

/// Something of the cluster that stopped answering: a member's REST API (the member may still
/// be in `/cluster` until its TTL passes, or have dropped out), or a profile URL that matches
/// no member.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SilentMember {
    /// The member's name; a profile URL or a PostgreSQL address when no member is known for it.
    pub name: String,
    /// The REST API base URL asked.
    pub api_url: Option<String>,
    /// `host:port` of its PostgreSQL, as `/cluster` last said (or the linked endpoint's DSN).
    pub address: Option<String>,
    /// Its role when `/cluster` last listed it.
    pub last_role: Option<PatroniRole>,
    /// `/cluster` still lists it (its TTL has not passed, or its Patroni hangs while the
    /// leader key is kept).
    pub listed: bool,
    /// Unix ms of the first poll it did not answer.
    pub since_ms: i64,
    /// Why, in words: "connection refused", "no answer within 3 s", "not in /cluster".
    pub reason: String,
    pub writes: WriteCheck,
    /// A PostgreSQL server of the linked endpoint, not a Patroni member at all.
    pub not_a_member: bool,
    /// For a server that accepts writes: the timeline it writes on, when read.
    pub write_timeline: Option<u32>,
    /// A linked server outside /cluster proven not to be the leader (its postmaster started at
    /// another instant than the leader's): a second writer whatever its address.
    pub other_than_leader: bool,
}

impl SilentMember {
    /// A writer on an older timeline than the running leader's: an old leader for certain,
    /// whatever address it was reached by (a promotion always starts a new timeline).
    fn behind_the_leader(&self, cluster_timeline: Option<u32>) -> bool {
        match (self.write_timeline, cluster_timeline) {
            (Some(own), Some(current)) => own < current,
            _ => false,
        }
    }

    /// `m2: Patroni REST API not answering since 06:10:03 UTC (no answer within 3 s)`.
    pub fn describe(&self) -> String {
        let since = chrono::DateTime::from_timestamp_millis(self.since_ms)
            .filter(|_| self.since_ms > 0)
            .map_or_else(String::new, |t| {
                format!(" since {}", t.format("%H:%M:%S UTC"))
            });
        let url = self
            .api_url
            .as_deref()
            .filter(|u| *u != self.name)
            .map_or_else(String::new, |u| format!("{u}: "));
        let mut text = if self.not_a_member {
            format!(
                "{}: a PostgreSQL server of the linked endpoint that Patroni's /cluster does not list",
                self.name
            )
        } else {
            format!(
                "{}: Patroni REST API not answering{since} ({url}{})",
                self.name, self.reason
            )
        };
        if !self.listed && !self.not_a_member && self.last_role.is_some() {
            text.push_str(&format!(
                "; dropped out of /cluster (last seen as {})",
                self.last_role.as_ref().map_or("", PatroniRole::label)
            ));
        }
        let at = self
            .address
            .as_deref()
            .map_or_else(String::new, |a| format!(" ({a})"));
        match &self.writes {
            WriteCheck::NotNeeded => {}
            WriteCheck::AcceptsWrites if self.not_a_member => {
                let tl = self
                    .write_timeline
                    .map_or_else(String::new, |t| format!(" on timeline {t}"));
                text.push_str(&format!(
                    "; it{at} accepts writes{tl} — on the leader's timeline it is the leader \
                     under another address (a DNS name, a VIP, a proxy), on an older one an old \
                     leader: compare before you fence anything"
                ));
            }
            WriteCheck::AcceptsWrites => {
                text.push_str(&format!("; its PostgreSQL{at} ACCEPTS WRITES"));
            }
            WriteCheck::ReadOnly => {
                text.push_str(&format!("; its PostgreSQL{at} is read-only (in recovery)"));
            }
            WriteCheck::Unknown(why) => text.push_str(&format!(
                "; whether its PostgreSQL{at} still accepts writes could not be checked: {why}"
            )),
        }
        text
    }
}

impl PatroniSnapshot {
    pub const HISTORY_KEPT: usize = 50;

    /// Silent members (that Patroni knew, outside its control now) whose PostgreSQL accepts
    /// writes, the leader itself left out. A server of the linked endpoint that /cluster never
    /// listed is not counted: its address may name the leader differently (a DNS name, a VIP,
    /// a proxy's write port), and calling the leader a second writer would advise fencing it.
    pub fn silent_writers(&self) -> Vec<&SilentMember> {
        let leader = self.leader();
        self.silent
            .iter()
            .filter(|s| s.writes == WriteCheck::AcceptsWrites)
            .filter(|s| {
                !s.not_a_member
                    || s.other_than_leader
                    || s.behind_the_leader(self.current_timeline())
            })
            .filter(|s| {
                leader
                    .is_none_or(|l| s.name != l.name && s.address.as_deref() != Some(&l.address()))
            })
            .collect()
    }

    /// Two servers accept writes: the running leader and a silent one (the old leader's
    /// PostgreSQL after its Patroni died, once another member took the leader lock), or two
    /// silent ones.
    pub fn split_brain(&self) -> bool {
        let leader = usize::from(self.leader().is_some_and(PatroniMember::is_running));
        leader + self.silent_writers().len() >= 2
    }

    /// Every member name this view knows, sorted: the members plus the silent ones that
    /// dropped out. A member keeps its place (and its plot colour) while another drops out.
    pub fn known_member_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .members
            .iter()
            .map(|m| m.name.as_str())
            .chain(
                self.silent
                    .iter()
                    .filter(|s| s.last_role.is_some())
                    .map(|s| s.name.as_str()),
            )
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The timeline the cluster writes on: the leader's, or one past the last switch of
    /// `/history` (each entry is a timeline the cluster left), whichever is higher.
    pub fn current_timeline(&self) -> Option<u32> {
        let leader = self.leader().and_then(|l| l.timeline);
        let history = self.history.iter().map(|h| h.timeline + 1).max();
        leader.max(history)
    }

    pub fn leader(&self) -> Option<&PatroniMember> {
        self.members.iter().find(|m| m.role.is_leader())
    }

    pub fn member(&self, name: &str) -> Option<&PatroniMember> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The limit Patroni applies, or its default of 1 MiB.
    pub fn lag_limit(&self) -> u64 {
        self.maximum_lag_on_failover.unwrap_or(1024 * 1024)
    }

    /// `maximum_lag_on_failover 1 MiB; synchronous_mode on`, or that they are unknown.
    pub fn config_text(&self) -> String {
        if self.config_unread {
            return "maximum_lag_on_failover and synchronous_mode unknown (/config could not be \
                    read; Patroni's defaults would be 1 MiB and off)"
                .to_string();
        }
        format!(
            "maximum_lag_on_failover {}; synchronous_mode {}",
            format_bytes(self.lag_limit()),
            if self.quorum_mode {
                "quorum"
            } else if self.synchronous_mode {
                "on"
            } else {
                "off"
            }
        )
    }

    /// The limit in words: `1 MiB`, or `1 MiB (Patroni's default; /config not read)`.
    pub fn lag_limit_text(&self) -> String {
        if self.config_unread {
            format!(
                "{}, Patroni's default, assumed: /config not read",
                format_bytes(self.lag_limit())
            )
        } else {
            format_bytes(self.lag_limit())
        }
    }

    /// The highest timeline any member reports.
    pub fn timeline(&self) -> Option<u32> {
        self.members.iter().filter_map(|m| m.timeline).max()
    }

    /// The cluster on one line: `leader m1 (tl 2) -> m2 running lag 0 B, m3 stopped`.
    pub fn topology_line(&self) -> String {
        let leader = match self.leader() {
            Some(l) => format!(
                "leader {} {} (tl {})",
                l.name,
                l.state,
                l.timeline.map_or("?".into(), |t| t.to_string())
            ),
            None => "no leader".to_string(),
        };
        let others: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.role.is_leader())
            .map(|m| {
                let mut t = format!("{} {} {}", m.name, m.role.label(), m.state);
                if let Some(lag) = m.lag_bytes {
                    t.push_str(&format!(" lag {}", format_bytes(lag)));
                }
                if m.nofailover {
                    t.push_str(" [nofailover]");
                }
                if m.pending_restart {
                    t.push_str(" [pending restart]");
                }
                t
            })
            .collect();
        let mut line = if others.is_empty() {
            leader
        } else {
            format!("{leader} -> {}", others.join(", "))
        };
        if self.paused {
            line.push_str(" (paused)");
        }
        if let Some(s) = &self.scheduled_switchover {
            line.push_str(&format!(" (switchover scheduled at {})", s.at));
        }
        line
    }
}

/// An address compared with a member's: case-insensitive, `localhost` and `[::1]` as
/// 127.0.0.1 (Patroni reports what its `connect_address` says, profiles what the user typed).
pub fn norm_address(a: &str) -> String {
    let a = a.trim().to_ascii_lowercase();
    let (host, port) = a.rsplit_once(':').unwrap_or((a.as_str(), ""));
    let host = host.trim_end_matches('.');
    let host = match host {
        "localhost" | "[::1]" | "::1" | "localhost.localdomain" => "127.0.0.1",
        h => h,
    };
    format!("{host}:{port}")
}

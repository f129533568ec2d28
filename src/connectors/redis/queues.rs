//! Job queues kept in Redis keys: which commands read each preset (BullMQ, Sidekiq, Laravel,
//! Celery, a custom key), and how their replies become a [`Queue`]. The commands of every queue
//! of a server go into that server's one pipeline per poll.

use crate::model::snapshot::{Queue, QueuePart, StreamGroup};
use crate::profiles::model::{QueuePreset, RedisQueue};
use redis::Value;

/// The type of a custom key, learnt with `TYPE` once and kept until a command says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyType {
    List,
    Zset,
    Stream,
    /// The key does not exist (yet): reads as empty, `TYPE` is asked again each poll.
    Missing,
    /// A type no queue is kept in (string, hash, set...).
    Other(String),
}

impl KeyType {
    pub fn from_reply(t: &str) -> Self {
        match t {
            "list" => Self::List,
            "zset" => Self::Zset,
            "stream" => Self::Stream,
            "none" => Self::Missing,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// What one command's reply means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Waiting jobs: part of `depth`.
    Waiting(&'static str),
    /// Other jobs of the queue (active, delayed, failed...): shown, not part of `depth`.
    /// `backlog` says whether they count as work still to be done.
    Other {
        label: &'static str,
        backlog: bool,
    },
    /// A counter of jobs ever added.
    Added,
    /// A counter of jobs ever processed.
    Processed,
    /// `TYPE` of a custom key.
    Type,
    StreamInfo,
    StreamGroups,
}

/// One command of a queue's share of the pipeline.
#[derive(Clone, Debug)]
pub struct KeyCmd {
    pub key: String,
    pub args: Vec<String>,
    pub field: Field,
    /// The type the command needs, for the message when the key holds something else.
    pub expects: &'static str,
}

impl KeyCmd {
    fn new(args: &[&str], key: &str, field: Field, expects: &'static str) -> Self {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.push(key.to_owned());
        Self {
            key: key.to_owned(),
            args: all,
            field,
            expects,
        }
    }

    pub fn cmd(&self) -> redis::Cmd {
        let mut c = redis::cmd(&self.args[0]);
        for a in &self.args[1..] {
            c.arg(a);
        }
        c
    }
}

fn llen(key: &str, field: Field) -> KeyCmd {
    KeyCmd::new(&["LLEN"], key, field, "a list")
}

fn zcard(key: &str, field: Field) -> KeyCmd {
    KeyCmd::new(&["ZCARD"], key, field, "a sorted set")
}

fn counter(key: &str, field: Field) -> KeyCmd {
    KeyCmd::new(&["GET"], key, field, "a counter")
}

fn other(label: &'static str, backlog: bool) -> Field {
    Field::Other { label, backlog }
}

/// The key a custom queue reads (its `key`, or its name).
pub fn custom_key(q: &RedisQueue) -> &str {
    q.key.as_deref().unwrap_or(&q.name)
}

/// "BullMQ", "Sidekiq"...
pub fn preset_label(p: QueuePreset) -> &'static str {
    match p {
        QueuePreset::Bullmq => "BullMQ",
        QueuePreset::Sidekiq => "Sidekiq",
        QueuePreset::Laravel => "Laravel",
        QueuePreset::Celery => "Celery",
        QueuePreset::Custom => "Redis key",
    }
}

/// The commands that read one queue. `key_type` is what is known about a custom key;
/// `sidekiq_alone`: this is the only Sidekiq queue of the server, so the global processed counter
/// is its own.
pub fn commands(q: &RedisQueue, key_type: Option<&KeyType>, sidekiq_alone: bool) -> Vec<KeyCmd> {
    let name = q.name.as_str();
    match q.preset {
        QueuePreset::Bullmq => {
            let p = format!("{}:{name}", q.key.as_deref().unwrap_or("bull"));
            vec![
                llen(&format!("{p}:wait"), Field::Waiting("waiting")),
                llen(&format!("{p}:paused"), Field::Waiting("paused")),
                zcard(&format!("{p}:prioritized"), Field::Waiting("prioritized")),
                llen(&format!("{p}:active"), other("active", true)),
                zcard(&format!("{p}:delayed"), other("delayed", true)),
                zcard(&format!("{p}:failed"), other("failed", false)),
                zcard(&format!("{p}:completed"), other("completed", false)),
                counter(&format!("{p}:id"), Field::Added),
            ]
        }
        QueuePreset::Sidekiq => {
            let ns = q
                .key
                .as_deref()
                .map(|n| format!("{n}:"))
                .unwrap_or_default();
            let mut v = vec![
                llen(&format!("{ns}queue:{name}"), Field::Waiting("enqueued")),
                zcard(&format!("{ns}retry"), other("retry (all queues)", false)),
                zcard(
                    &format!("{ns}schedule"),
                    other("scheduled (all queues)", false),
                ),
                zcard(&format!("{ns}dead"), other("dead (all queues)", false)),
            ];
            if sidekiq_alone {
                v.push(counter(&format!("{ns}stat:processed"), Field::Processed));
            }
            v
        }
        QueuePreset::Laravel => {
            let p = format!("{}:{name}", q.key.as_deref().unwrap_or("queues"));
            vec![
                llen(&p, Field::Waiting("pending")),
                zcard(&format!("{p}:delayed"), other("delayed", true)),
                zcard(&format!("{p}:reserved"), other("reserved", true)),
            ]
        }
        QueuePreset::Celery => vec![llen(name, Field::Waiting("pending"))],
        QueuePreset::Custom => {
            let key = custom_key(q);
            match key_type {
                Some(KeyType::List) => vec![llen(key, Field::Waiting("length"))],
                Some(KeyType::Zset) => vec![zcard(key, Field::Waiting("members"))],
                Some(KeyType::Stream) => vec![
                    KeyCmd::new(&["XINFO", "STREAM"], key, Field::StreamInfo, "a stream"),
                    KeyCmd::new(&["XINFO", "GROUPS"], key, Field::StreamGroups, "a stream"),
                ],
                // Missing or of a type no queue uses: ask again every poll, it may change.
                Some(KeyType::Missing | KeyType::Other(_)) | None => {
                    vec![KeyCmd::new(&["TYPE"], key, Field::Type, "any")]
                }
            }
        }
    }
}

/// What one poll read about one queue, before rates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub depth: u64,
    /// Depth plus the other jobs still to be done (active, delayed).
    pub backlog: u64,
    pub parts: Vec<QueuePart>,
    pub groups: Vec<StreamGroup>,
    pub consumers: Option<u32>,
    pub added: Option<u64>,
    pub finished: Option<u64>,
    pub error: Option<String>,
    /// A custom key's type learnt (or found changed) in this poll.
    pub key_type: Option<KeyType>,
}

/// Turns the replies of one queue's commands (in the order of `cmds`) into a reading.
pub fn read(cmds: &[KeyCmd], replies: Vec<Result<Value, String>>) -> Reading {
    let mut r = Reading::default();
    let mut errors = Vec::new();
    for (cmd, reply) in cmds.iter().zip(replies) {
        let value = match reply {
            Ok(v) => v,
            Err(e) => {
                if e.contains("WRONGTYPE") {
                    errors.push(format!(
                        "key \"{}\" holds the wrong kind of value (expected {})",
                        cmd.key, cmd.expects
                    ));
                    // A custom key changed type: ask `TYPE` again next poll.
                    r.key_type = Some(KeyType::Missing);
                } else {
                    errors.push(format!("reading \"{}\": {e}", cmd.key));
                }
                continue;
            }
        };
        match cmd.field {
            Field::Waiting(label) => {
                let n = int(&value);
                r.depth += n;
                r.backlog += n;
                if n > 0 || (label != "paused" && label != "prioritized") {
                    r.parts.push(QueuePart { label, count: n });
                }
            }
            Field::Other { label, backlog } => {
                let n = int(&value);
                if backlog {
                    r.backlog += n;
                }
                r.parts.push(QueuePart { label, count: n });
            }
            Field::Added => r.added = Some(int(&value)),
            Field::Processed => r.finished = Some(int(&value)),
            Field::Type => {
                let t = KeyType::from_reply(&text(&value));
                if let KeyType::Other(kind) = &t {
                    errors.push(format!(
                        "key \"{}\" is a {kind}, not a list, sorted set or stream",
                        cmd.key
                    ));
                }
                r.key_type = Some(t);
            }
            Field::StreamInfo => {
                let info = pairs(&value);
                let length = info
                    .iter()
                    .find(|(k, _)| k == "length")
                    .map(|(_, v)| int(v));
                r.added = info
                    .iter()
                    .find(|(k, _)| k == "entries-added")
                    .map(|(_, v)| int(v));
                let length = length.unwrap_or(0);
                r.parts.push(QueuePart {
                    label: "stream length",
                    count: length,
                });
                r.depth = length;
                r.backlog = length;
            }
            Field::StreamGroups => stream_groups(&mut r, &value),
        }
    }
    if !errors.is_empty() {
        r.error = Some(errors.join("; "));
    }
    r
}

/// Consumer groups: the group furthest behind decides depth (undelivered + unacknowledged),
/// consumers and finished jobs (entries read minus pending).
fn stream_groups(r: &mut Reading, value: &Value) {
    let Value::Array(groups) = value else {
        return;
    };
    let mut worst: Option<(u64, u32, Option<u64>)> = None;
    for g in groups {
        let f = pairs(g);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let pending = get("pending").map_or(0, int);
        let lag = get("lag").and_then(|v| (!matches!(v, Value::Nil)).then(|| int(v)));
        let consumers = u32::try_from(get("consumers").map_or(0, int)).unwrap_or(u32::MAX);
        let read = get("entries-read").and_then(|v| (!matches!(v, Value::Nil)).then(|| int(v)));
        let backlog = lag.unwrap_or(0) + pending;
        if worst.is_none_or(|(b, _, _)| backlog > b) {
            worst = Some((backlog, consumers, read.map(|n| n.saturating_sub(pending))));
        }
        r.groups.push(StreamGroup {
            name: get("name").map(text).unwrap_or_default(),
            consumers,
            pending,
            lag,
        });
    }
    if let Some((backlog, consumers, finished)) = worst {
        r.depth = backlog;
        r.backlog = backlog;
        r.consumers = Some(consumers);
        r.finished = finished;
    }
}

/// Counters kept from the previous poll of a queue, for rates.
#[derive(Clone, Debug, PartialEq)]
pub struct Counters {
    pub depth: u64,
    pub backlog: u64,
    pub added: Option<u64>,
    pub finished: Option<u64>,
}

impl Counters {
    pub fn of(r: &Reading) -> Self {
        Self {
            depth: r.depth,
            backlog: r.backlog,
            added: r.added,
            finished: r.finished,
        }
    }
}

/// Rates over `secs` since `prev`: growth from the depth, in from an added-counter, out from a
/// processed-counter, and the missing one of in/out from the backlog's change when the other is
/// known. Negative deltas (a counter reset) give no rate.
pub fn rates(now: &Reading, prev: Option<&Counters>, secs: f64) -> [Option<f64>; 3] {
    let Some(p) = prev.filter(|_| secs > 0.0) else {
        return [None, None, None];
    };
    let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if a >= b => Some((a - b) as f64 / secs),
        _ => None,
    };
    let growth = (now.depth as f64 - p.depth as f64) / secs;
    let backlog_growth = (now.backlog as f64 - p.backlog as f64) / secs;
    let mut inp = delta(now.added, p.added);
    let mut out = delta(now.finished, p.finished);
    match (inp, out) {
        (Some(i), None) => out = Some((i - backlog_growth).max(0.0)),
        (None, Some(o)) => inp = Some((o + backlog_growth).max(0.0)),
        _ => {}
    }
    [inp, out, Some(growth)]
}

/// The queue as shown.
pub fn queue(name: &str, source: &str, r: Reading, rates: [Option<f64>; 3]) -> Queue {
    let [in_per_sec, out_per_sec, growth_per_sec] = rates;
    Queue {
        consumers: r.consumers,
        in_per_sec,
        out_per_sec,
        growth_per_sec,
        parts: r.parts,
        groups: r.groups,
        error: r.error,
        ..Queue::new(name, source, r.depth)
    }
}

fn int(v: &Value) -> u64 {
    match v {
        Value::Int(n) => u64::try_from(*n).unwrap_or(0),
        Value::Nil => 0,
        other => text(other).parse().unwrap_or(0),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        Value::Okay => "OK".into(),
        Value::VerbatimString { text, .. } => text.clone(),
        _ => String::new(),
    }
}

/// A RESP2 flat key/value array or a RESP3 map, as (key, value) pairs.
fn pairs(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((text(k), v.clone())),
                _ => None,
            })
            .collect(),
        Value::Map(items) => items.iter().map(|(k, v)| (text(k), v.clone())).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(preset: QueuePreset, name: &str) -> RedisQueue {
        RedisQueue {
            preset,
            name: name.into(),
            ..RedisQueue::default()
        }
    }

    #[test]
    fn preset_keys() {
        let keys = |c: Vec<KeyCmd>| c.into_iter().map(|c| c.args.join(" ")).collect::<Vec<_>>();
        assert_eq!(
            keys(commands(&q(QueuePreset::Bullmq, "mail"), None, false))[..4],
            [
                "LLEN bull:mail:wait",
                "LLEN bull:mail:paused",
                "ZCARD bull:mail:prioritized",
                "LLEN bull:mail:active"
            ]
        );
        assert_eq!(
            keys(commands(&q(QueuePreset::Laravel, "default"), None, false)),
            [
                "LLEN queues:default",
                "ZCARD queues:default:delayed",
                "ZCARD queues:default:reserved"
            ]
        );
        assert_eq!(
            keys(commands(&q(QueuePreset::Custom, "s"), None, false)),
            ["TYPE s"]
        );
        assert_eq!(
            keys(commands(
                &q(QueuePreset::Custom, "s"),
                Some(&KeyType::Stream),
                false
            )),
            ["XINFO STREAM s", "XINFO GROUPS s"]
        );
    }

    #[test]
    fn rates_from_counters_and_backlog() {
        let prev = Counters {
            depth: 100,
            backlog: 110,
            added: Some(1000),
            finished: None,
        };
        let now = Reading {
            depth: 90,
            backlog: 100,
            added: Some(1020),
            ..Reading::default()
        };
        // 10 s: 2/s added, backlog −1/s → 3/s finished; depth −1/s.
        assert_eq!(
            rates(&now, Some(&prev), 10.0),
            [Some(2.0), Some(3.0), Some(-1.0)]
        );
        assert_eq!(rates(&now, None, 10.0), [None, None, None]);
    }

    #[test]
    fn wrong_type_is_a_queue_error() {
        let cmds = commands(&q(QueuePreset::Celery, "celery"), None, false);
        let r = read(
            &cmds,
            vec![Err(
                "WRONGTYPE: Operation against a key holding the wrong kind of value".into(),
            )],
        );
        assert_eq!(
            r.error.as_deref(),
            Some("key \"celery\" holds the wrong kind of value (expected a list)")
        );
    }
}

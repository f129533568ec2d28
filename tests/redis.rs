//! The Redis connector against real `redis-server`s (tests/support/redis.rs starts them).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::connectors::redis::{RedisConnector, SecretLookup, connectors};
use scaleboard::connectors::{Connector, ConnectorError};
use scaleboard::model::snapshot::{CacheNode, Queue, Snapshot};
use scaleboard::profiles::model::{QueuePreset, RedisEndpoint, RedisQueue};
use scaleboard::profiles::{SecretError, SecretRef};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::redis::RedisServer;

fn endpoint(url: &str, queues: Vec<RedisQueue>) -> RedisEndpoint {
    RedisEndpoint {
        name: "cache".into(),
        url: url.into(),
        password: None,
        queues,
    }
}

fn queue(preset: QueuePreset, name: &str) -> RedisQueue {
    RedisQueue {
        preset,
        name: name.into(),
        ..RedisQueue::default()
    }
}

async fn nodes(c: &RedisConnector) -> Vec<CacheNode> {
    match c.poll().await.unwrap().snapshot {
        Snapshot::Cache(n) => n,
        other => panic!("not a cache snapshot: {other:?}"),
    }
}

async fn queues(c: &RedisConnector) -> Vec<Queue> {
    match c.poll().await.unwrap().snapshot {
        Snapshot::Queues(q) => q,
        other => panic!("not a queue snapshot: {other:?}"),
    }
}

fn find<'a>(list: &'a [Queue], name: &str) -> &'a Queue {
    list.iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no queue {name} in {list:?}"))
}

fn part(q: &Queue, label: &str) -> u64 {
    q.parts
        .iter()
        .find(|p| p.label == label)
        .map(|p| p.count)
        .unwrap_or_else(|| panic!("no part {label} in {q:?}"))
}

fn password(pw: &'static str) -> Option<SecretLookup> {
    Some(Arc::new(
        move |_: &SecretRef| -> Result<String, SecretError> { Ok(pw.to_owned()) },
    ))
}

#[tokio::test]
async fn hit_ratio_and_ops_from_real_traffic() {
    let server = RedisServer::start(&[]);
    let (cache, _) = connectors(endpoint(&server.url(), vec![]), None);
    let first = nodes(&cache).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].role, "master");
    assert_eq!(first[0].name, server.address());
    // 30 hits and 10 misses, 41 commands.
    let mut traffic = String::from("SET present 1\n");
    traffic.push_str(&"GET present\n".repeat(30));
    traffic.push_str(&"GET absent\n".repeat(10));
    let started = Instant::now();
    server.pipe(&traffic);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = nodes(&cache).await.remove(0);
    let elapsed = started.elapsed().as_secs_f64();
    assert!((n.hit_ratio.unwrap() - 0.75).abs() < 1e-9, "{n:?}");
    // 41 commands plus our INFO, over at most `elapsed` seconds.
    assert!(n.ops_per_sec >= 41.0 / (elapsed + 1.0), "{n:?}");
    assert_eq!(n.keys_per_db, vec![(0, 1)]);
    assert!(n.connected_clients >= 1);
    // Idle: no lookups, so no hit ratio rather than a made-up one.
    let idle = nodes(&cache).await.remove(0);
    assert_eq!(idle.hit_ratio, None);
}

#[tokio::test]
async fn memory_near_maxmemory_flags_evictions() {
    let server = RedisServer::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let (cache, _) = connectors(endpoint(&server.url(), vec![]), None);
    let before = nodes(&cache).await.remove(0);
    assert_eq!(before.max_memory_bytes, 4 * 1024 * 1024);
    assert_eq!(before.eviction_policy, "allkeys-lru");
    let value = "x".repeat(2000);
    let fill: String = (0..6000).map(|i| format!("SET k{i} {value}\n")).collect();
    server.pipe(&fill);
    let after = nodes(&cache).await.remove(0);
    assert!(after.evictions_per_sec > 0.0, "{after:?}");
    let pct = after.memory_percent().unwrap();
    assert!(pct > 80.0, "memory at {pct:.0} %");
    let out = cache.poll().await.unwrap();
    assert!(
        out.samples
            .iter()
            .any(|s| s.metric == "memory_percent" && s.value > 80.0)
    );
}

#[tokio::test]
async fn queue_presets_read_like_their_libraries_write() {
    let server = RedisServer::start(&[]);
    // BullMQ: job ids from `bull:Q:id`, waiting/active lists, delayed/failed/completed zsets.
    server.pipe(
        "INCRBY bull:mail:id 6\n\
         HSET bull:mail:6 name send data {}\n\
         LPUSH bull:mail:wait 4 5 6\n\
         LPUSH bull:mail:active 3\n\
         ZADD bull:mail:delayed 1700000000000 7\n\
         ZADD bull:mail:failed 1700000000000 2\n\
         ZADD bull:mail:completed 1700000000000 1\n\
         SADD queues default\n\
         LPUSH queue:default '{\"class\":\"HardWorker\",\"jid\":\"a\"}' '{\"class\":\"HardWorker\",\"jid\":\"b\"}'\n\
         ZADD retry 1700000000 '{\"jid\":\"c\"}'\n\
         ZADD schedule 1700000000 '{\"jid\":\"d\"}'\n\
         ZADD dead 1700000000 '{\"jid\":\"e\"}'\n\
         INCRBY stat:processed 10\n\
         RPUSH queues:reports '{\"job\":\"App\\\\Jobs\\\\Report\"}'\n\
         ZADD queues:reports:delayed 1700000000 '{\"job\":\"x\"}'\n\
         ZADD queues:reports:reserved 1700000000 '{\"job\":\"y\"}'\n\
         LPUSH celery '{\"body\":\"1\"}' '{\"body\":\"2\"}' '{\"body\":\"3\"}' '{\"body\":\"4\"}'\n\
         RPUSH plain a b c d e\n\
         ZADD ranked 1 a 2 b\n",
    );
    let list = vec![
        queue(QueuePreset::Bullmq, "mail"),
        queue(QueuePreset::Sidekiq, "default"),
        queue(QueuePreset::Laravel, "reports"),
        queue(QueuePreset::Celery, "celery"),
        queue(QueuePreset::Custom, "plain"),
        queue(QueuePreset::Custom, "ranked"),
        queue(QueuePreset::Custom, "not-yet"),
    ];
    let (_, q) = connectors(endpoint(&server.url(), list), None);
    let q = q.unwrap();
    assert_eq!(q.info().id, "cache:queues");
    let first = queues(&q).await;
    for x in &first {
        assert_eq!(x.error, None, "{x:?}");
    }
    let mail = find(&first, "mail");
    assert_eq!(mail.depth, 3);
    assert_eq!(part(mail, "active"), 1);
    assert_eq!(part(mail, "delayed"), 1);
    assert_eq!(part(mail, "failed"), 1);
    assert_eq!(part(mail, "completed"), 1);
    assert_eq!(mail.source, "BullMQ on Redis cache");
    let sidekiq = find(&first, "default");
    assert_eq!(sidekiq.depth, 2);
    assert_eq!(part(sidekiq, "retry (all queues)"), 1);
    assert_eq!(part(sidekiq, "scheduled (all queues)"), 1);
    assert_eq!(part(sidekiq, "dead (all queues)"), 1);
    let laravel = find(&first, "reports");
    assert_eq!(laravel.depth, 1);
    assert_eq!(part(laravel, "delayed"), 1);
    assert_eq!(part(laravel, "reserved"), 1);
    assert_eq!(find(&first, "celery").depth, 4);
    assert_eq!(find(&first, "plain").depth, 5);
    assert_eq!(find(&first, "ranked").depth, 2);
    assert_eq!(find(&first, "not-yet").depth, 0);

    // BullMQ: 4 jobs added, 3 waiting ones finished; Sidekiq processed 2 and got 1 more.
    server.pipe(
        "INCRBY bull:mail:id 4\n\
         LPUSH bull:mail:wait 7 8 9 10\n\
         RPOP bull:mail:wait 3\n\
         RPOP queue:default\n\
         RPOP queue:default\n\
         LPUSH queue:default '{\"jid\":\"f\"}'\n\
         INCRBY stat:processed 2\n\
         RPUSH not-yet a b\n",
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = queues(&q).await;
    let mail = find(&second, "mail");
    assert_eq!(mail.depth, 4);
    let (i, o) = (mail.in_per_sec.unwrap(), mail.out_per_sec.unwrap());
    assert!((o / i - 0.75).abs() < 1e-6, "in {i} out {o}");
    let sidekiq = find(&second, "default");
    let (i, o) = (sidekiq.in_per_sec.unwrap(), sidekiq.out_per_sec.unwrap());
    assert!((o / i - 2.0).abs() < 1e-6, "in {i} out {o}");
    assert!(find(&second, "celery").growth_per_sec == Some(0.0));
    // The missing key appeared: its type is learnt, then it is read as a list.
    assert_eq!(find(&second, "not-yet").depth, 0);
    assert_eq!(find(&queues(&q).await, "not-yet").depth, 2);
}

#[tokio::test]
async fn stream_consumer_group_lag_and_pending() {
    let server = RedisServer::start(&[]);
    let adds: String = (0..10).map(|i| format!("XADD events * n {i}\n")).collect();
    server.pipe(&adds);
    server
        .cli(&["XGROUP", "CREATE", "events", "workers", "0"])
        .unwrap();
    let read = server
        .cli(&[
            "XREADGROUP",
            "GROUP",
            "workers",
            "c1",
            "COUNT",
            "4",
            "STREAMS",
            "events",
            ">",
        ])
        .unwrap();
    let ids: Vec<&str> = read
        .lines()
        .filter(|l| l.contains('-') && l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(ids.len(), 4, "{read}");
    server
        .cli(&["XACK", "events", "workers", ids[0], ids[1]])
        .unwrap();
    let (_, q) = connectors(
        endpoint(&server.url(), vec![queue(QueuePreset::Custom, "events")]),
        None,
    );
    let q = q.unwrap();
    let first = queues(&q).await;
    let events = find(&first, "events");
    assert_eq!(events.error, None);
    assert_eq!(events.groups.len(), 1);
    let g = &events.groups[0];
    assert_eq!(
        (g.name.as_str(), g.consumers, g.pending, g.lag),
        ("workers", 1, 2, Some(6))
    );
    assert_eq!(events.depth, 8, "undelivered + unacknowledged");
    assert_eq!(events.consumers, Some(1));
    assert_eq!(part(events, "stream length"), 10);
    // Two more acked, five more added.
    server
        .cli(&["XACK", "events", "workers", ids[2], ids[3]])
        .unwrap();
    server.pipe(
        &(0..5)
            .map(|i| format!("XADD events * m {i}\n"))
            .collect::<String>(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = queues(&q).await;
    let events = find(&second, "events");
    assert_eq!(events.depth, 11);
    let (i, o) = (events.in_per_sec.unwrap(), events.out_per_sec.unwrap());
    assert!((i / o - 2.5).abs() < 1e-6, "in {i} out {o}");
}

#[tokio::test]
async fn wrong_password_and_acl_user() {
    let server = RedisServer::start(&["--requirepass", "right"]);
    let mut e = endpoint(&server.url(), vec![]);
    e.password = Some(SecretRef::new("test/redis/cache"));
    let (cache, _) = connectors(e.clone(), password("wrong"));
    let started = Instant::now();
    let err = cache.poll().await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&err, ConnectorError::Failed(m) if m.contains("refused the login")),
        "{err}"
    );
    let (cache, _) = connectors(e.clone(), password("right"));
    assert_eq!(nodes(&cache).await[0].role, "master");
    // An ACL user named in the URL, its password from the keyring.
    server
        .cli_auth(
            Some(("default", "right")),
            &["ACL", "SETUSER", "watcher", "on", ">seen", "~*", "+@all"],
        )
        .unwrap();
    e.url = format!("redis://watcher@{}", server.address());
    let (cache, _) = connectors(e.clone(), password("seen"));
    assert_eq!(nodes(&cache).await.len(), 1);
    let (cache, _) = connectors(e, password("right"));
    assert!(cache.poll().await.is_err());
}

/// `scaleboard secret set` while the window runs: the same connector (no reconnect) uses the new
/// password at the next poll after the server refused the old one.
#[tokio::test]
async fn a_secret_changed_while_running_is_used_after_the_refusal() {
    let server = RedisServer::start(&["--requirepass", "right"]);
    let mut e = endpoint(&server.url(), vec![]);
    e.password = Some(SecretRef::new("test/redis/cache"));
    let stored = Arc::new(std::sync::Mutex::new("wrong".to_owned()));
    let lookups = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (store, count) = (Arc::clone(&stored), Arc::clone(&lookups));
    let lookup: SecretLookup = Arc::new(move |_: &SecretRef| -> Result<String, SecretError> {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(store.lock().unwrap().clone())
    });
    let (cache, _) = connectors(e, Some(lookup));
    let err = cache
        .poll()
        .await
        .err()
        .expect("the old password is refused");
    assert!(err.to_string().contains("refused the login"), "{err}");
    *stored.lock().unwrap() = "right".to_owned();
    assert_eq!(nodes(&cache).await[0].role, "master");
    let after_fix = lookups.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after_fix, 2, "looked up once per refusal, then kept");
    nodes(&cache).await;
    assert_eq!(
        lookups.load(std::sync::atomic::Ordering::SeqCst),
        after_fix,
        "a working password is not looked up on every poll"
    );
}

#[tokio::test]
async fn server_stopped_mid_poll_is_reported_quickly_and_recovers() {
    let mut server = RedisServer::start(&[]);
    let port = server.port;
    let (cache, q) = connectors(
        endpoint(&server.url(), vec![queue(QueuePreset::Celery, "celery")]),
        None,
    );
    let q = q.unwrap();
    nodes(&cache).await;
    queues(&q).await;
    server.kill();
    for c in [&cache, &q] {
        let started = Instant::now();
        let err = c.poll().await.err().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
        assert!(matches!(&err, ConnectorError::Unreachable { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }
    // A new server on the same port: the next poll reconnects.
    let _again = RedisServer::start_on(port, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(out) = q.poll().await
            && matches!(out.snapshot, Snapshot::Queues(_))
        {
            break;
        }
        assert!(Instant::now() < deadline, "did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn unexpected_key_type_is_a_queue_error_not_a_failed_poll() {
    let server = RedisServer::start(&[]);
    server.pipe("SET bull:mail:wait oops\nHSET jobs a 1\nLPUSH celery x\n");
    let list = vec![
        queue(QueuePreset::Bullmq, "mail"),
        queue(QueuePreset::Custom, "jobs"),
        queue(QueuePreset::Celery, "celery"),
    ];
    let (_, q) = connectors(endpoint(&server.url(), list), None);
    let list = queues(&q.unwrap()).await;
    assert_eq!(
        find(&list, "mail").error.as_deref(),
        Some("key \"bull:mail:wait\" holds the wrong kind of value (expected a list)")
    );
    assert_eq!(
        find(&list, "jobs").error.as_deref(),
        Some("key \"jobs\" is a hash, not a list, sorted set or stream")
    );
    let celery = find(&list, "celery");
    assert_eq!((celery.depth, celery.error.as_deref()), (1, None));
}

#[tokio::test]
async fn one_round_trip_per_server_per_poll() {
    let server = RedisServer::start(&[]);
    server.pipe("LPUSH celery a\nXADD events * a 1\nLPUSH bull:mail:wait 1\n");
    let list = vec![
        queue(QueuePreset::Bullmq, "mail"),
        queue(QueuePreset::Celery, "celery"),
        queue(QueuePreset::Custom, "events"),
    ];
    let (cache, q) = connectors(endpoint(&server.url(), list), None);
    let q = q.unwrap();
    // Warm-up: the first poll also finds out whether this is a cluster and the key types.
    nodes(&cache).await;
    queues(&q).await;
    server.cli(&["CONFIG", "RESETSTAT"]).unwrap();
    let trips = cache.round_trips();
    const POLLS: u64 = 5;
    for _ in 0..POLLS {
        // The engine polls both connectors of the endpoint at the same moment.
        let (a, b) = tokio::join!(cache.poll(), q.poll());
        a.unwrap();
        b.unwrap();
        tokio::time::sleep(Duration::from_millis(SLEEP_BETWEEN_MS)).await;
    }
    assert_eq!(cache.round_trips() - trips, POLLS, "pipelines sent");
    assert_eq!(server.command_calls("info"), POLLS);
    // BullMQ: 3 LLEN (wait, paused, active), Celery: 1.
    assert_eq!(server.command_calls("llen"), 4 * POLLS);
    assert_eq!(server.command_calls("xinfo|groups"), POLLS);
    assert_eq!(server.command_calls("type"), 0, "types are learnt once");
}

const SLEEP_BETWEEN_MS: u64 = 800;

#[tokio::test]
async fn replica_offsets_and_lag() {
    let master = RedisServer::start(&[]);
    let replica = RedisServer::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    master.pipe(
        &(0..100)
            .map(|i| format!("SET k{i} v\n"))
            .collect::<String>(),
    );
    let (m, _) = connectors(endpoint(&master.url(), vec![]), None);
    let (r, _) = connectors(endpoint(&replica.url(), vec![]), None);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let node = nodes(&m).await.remove(0);
        let rep = node.replication.clone().unwrap();
        if let Some(first) = rep.replicas.first()
            && first.state == "online"
            && first.lag_bytes == 0
        {
            assert_eq!(first.address, format!("127.0.0.1:{}", replica.port));
            assert_eq!(first.offset, rep.offset);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replica never caught up: {node:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let node = nodes(&r).await.remove(0);
    assert_eq!(node.role, "replica");
    let rep = node.replication.unwrap();
    assert_eq!(rep.master.unwrap(), master.address());
    assert_eq!(rep.master_link_up, Some(true));
}

#[tokio::test]
async fn three_master_cluster_slots_routing_and_a_failing_node() {
    let args = [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "1000",
    ];
    let mut servers: Vec<RedisServer> = (0..3).map(|_| RedisServer::start(&args)).collect();
    let addresses: Vec<String> = servers.iter().map(RedisServer::address).collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addresses.iter().map(String::as_str));
    create.push("--cluster-yes");
    servers[0].cli(&create).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !servers.iter().all(|s| {
        s.cli(&["CLUSTER", "INFO"])
            .is_ok_and(|t| t.contains("cluster_state:ok"))
    }) {
        assert!(Instant::now() < deadline, "cluster never became ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    servers[0]
        .cli(&["-c", "LPUSH", "celery", "a", "b"])
        .unwrap();
    servers[0].cli(&["-c", "LPUSH", "{other}", "a"]).unwrap();
    let (cache, q) = connectors(
        endpoint(
            &servers[0].url(),
            vec![
                queue(QueuePreset::Celery, "celery"),
                queue(QueuePreset::Celery, "{other}"),
            ],
        ),
        None,
    );
    let q = q.unwrap();
    let list = nodes(&cache).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let seed = list.iter().find(|n| n.name == addresses[0]).unwrap();
    let c = seed.cluster.as_ref().unwrap();
    assert!(c.state_ok);
    assert_eq!((c.slots_ok, c.known_nodes), (16384, 3));
    let qs = queues(&q).await;
    assert_eq!(find(&qs, "celery").depth, 2, "{qs:?}");
    assert_eq!(find(&qs, "{other}").depth, 1, "{qs:?}");
    // A master dies: its row says so, the others go on, and the seed reports it failing.
    let dead = addresses[2].clone();
    servers[2].kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = nodes(&cache).await;
        let down = list.iter().find(|n| n.name == dead).unwrap();
        assert!(down.error.is_some());
        let seed = list.iter().find(|n| n.name == addresses[0]).unwrap();
        assert_eq!(seed.error, None);
        if seed
            .cluster
            .as_ref()
            .is_some_and(|c| c.failing_nodes.contains(&dead) && !c.state_ok)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "failure never reported: {seed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn rediss_url_against_a_plain_server_names_the_tls_mismatch_within_2_s() {
    // The TLS client is built (one rustls provider, installed on first use). A plain-text Redis
    // reads the ClientHello as an inline command: it answers an error line when the hello's
    // random bytes happen to hold a newline, and otherwise waits for one. Either way the
    // operator is told what is wrong, within 2 s; several fresh connections try both cases.
    let server = RedisServer::start(&[]);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    for attempt in 0..6 {
        let (cache, _) = connectors(endpoint(&url, vec![]), None);
        let started = Instant::now();
        let err = cache.poll().await.err().unwrap().to_string();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "attempt {attempt}: {took:?} before: {err}"
        );
        for words in [
            "TLS handshake failed",
            &format!("the server at {} does not speak TLS", server.address()),
            "plain-text Redis",
            "use redis://",
        ] {
            assert!(err.contains(words), "attempt {attempt}: {err}");
        }
    }
    // The server itself is fine, and a redis:// URL reads it.
    let (cache, _) = connectors(endpoint(&server.url(), vec![]), None);
    assert!(!nodes(&cache).await.is_empty());
}

#[tokio::test]
async fn rediss_url_against_a_tls_server_is_not_called_plain_text() {
    // A real TLS Redis whose certificate the client does not trust: the handshake gets as far
    // as the certificate, and the error says so within 2 s, never the plain-text mismatch.
    let server = RedisServer::start_tls();
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let (cache, _) = connectors(endpoint(&url, vec![]), None);
    let started = Instant::now();
    let err = cache.poll().await.err().unwrap().to_string();
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(!err.contains("does not speak TLS"), "{err}");
    assert!(err.contains("certificate"), "{err}");
}

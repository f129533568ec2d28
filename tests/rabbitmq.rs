//! The RabbitMQ connector against one real broker per test binary (tests/support/rabbitmq.rs),
//! with messages published through the management API and consumed by a real AMQP consumer.
//!
//! The broker takes 15–40 s to start, and nextest runs every test function in a process of its
//! own, so all checks run in one test function, one after the other, against one broker.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::connectors::queue_advice::{
    Advice, AdviceInput, drain_estimate, net_drain_per_sec, worker_advice,
};
use scaleboard::connectors::rabbitmq::RabbitMqConnector;
use scaleboard::connectors::redis::SecretLookup;
use scaleboard::connectors::{Connector, ConnectorError};
use scaleboard::model::snapshot::{Queue, Snapshot};
use scaleboard::profiles::RabbitMqEndpoint;
use scaleboard::profiles::model::{QueueLink, QueueWorkload};
use scaleboard::profiles::{SecretError, SecretRef};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::rabbitmq::{Api, Consumer, rabbit};

fn endpoint(password: Option<&'static str>) -> (RabbitMqEndpoint, Option<SecretLookup>) {
    let e = RabbitMqEndpoint {
        name: "mq".into(),
        management_url: rabbit().management_url(),
        user: "guest".into(),
        password: password.map(|_| SecretRef::new("test/rabbitmq/mq")),
        vhost: Some("/".into()),
        ..RabbitMqEndpoint::default()
    };
    let lookup: Option<SecretLookup> = password.map(|pw| {
        let f: SecretLookup =
            Arc::new(move |_: &SecretRef| -> Result<String, SecretError> { Ok(pw.to_owned()) });
        f
    });
    (e, lookup)
}

fn connector(e: RabbitMqEndpoint, lookup: Option<SecretLookup>) -> RabbitMqConnector {
    RabbitMqConnector::new(e, lookup)
}

async fn list(c: &RabbitMqConnector) -> Vec<Queue> {
    match c.poll().await.unwrap().snapshot {
        Snapshot::Queues(q) => q,
        other => panic!("not queues: {other:?}"),
    }
}

/// Polls until `cond` holds for the queue `name` (the broker's statistics lag by up to 0.5 s
/// here, 5 s by default).
async fn poll_until(
    c: &RabbitMqConnector,
    name: &str,
    what: &str,
    cond: impl Fn(&Queue) -> bool,
) -> Queue {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = list(c).await.into_iter().find(|q| q.name == name);
        if let Some(q) = &found
            && cond(q)
        {
            return q.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn part(q: &Queue, label: &str) -> u64 {
    q.parts.iter().find(|p| p.label == label).unwrap().count
}

async fn depth_consumers_rates_and_drain_estimate_from_a_real_consumer() {
    let api = Api::new(rabbit());
    api.declare("jobs").await;
    let (mut e, lookup) = endpoint(Some("guest"));
    e.links = vec![QueueLink {
        queue: "jobs".into(),
        workload: QueueWorkload {
            endpoint: "k8s".into(),
            scope: "prod".into(),
            name: "worker".into(),
            kind: None,
        },
        jobs_per_worker_per_sec: None,
    }];
    let c = connector(e, lookup);
    api.publish("jobs", 60).await;
    let q = poll_until(&c, "jobs", "60 ready", |q| q.depth == 60).await;
    assert_eq!(q.consumers, Some(0));
    assert_eq!(part(&q, "ready"), 60);
    assert_eq!(q.linked_workload.as_ref().unwrap().name, "worker");
    assert!(q.source.contains("vhost /"), "{}", q.source);
    let broker = api.queue("jobs").await;
    assert_eq!(broker["messages"], 60);
    // Publishing while polling shows a publish rate.
    let publisher = api.clone();
    let publishing = tokio::spawn(async move {
        for _ in 0..20 {
            publisher.publish("jobs", 1).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    poll_until(&c, "jobs", "a publish rate", |q| q.in_per_sec > Some(0.5)).await;
    publishing.await.unwrap();

    // One real consumer that takes 150 ms per message.
    let _consumer = Consumer::start(rabbit(), "jobs", 0.15);
    let q = poll_until(&c, "jobs", "consuming", |q| {
        q.consumers == Some(1) && q.out_per_sec.is_some_and(|o| o > 1.0) && q.depth > 5
    })
    .await;
    assert!(q.depth < 80);
    let out = q.out_per_sec.unwrap();
    assert!(
        out < 25.0,
        "one consumer sleeping 150 ms per message: {out}/s"
    );
    let estimate = drain_estimate(&q);
    let net = net_drain_per_sec(&q).unwrap();
    assert!(net > 0.0, "{q:?}");
    assert!(
        estimate.starts_with("at the current consume rate the backlog drains in "),
        "{estimate}"
    );
    // The same figures drive the worker advice: drain what is left in 1 s → more workers.
    let advice = worker_advice(&AdviceInput::from_queue(&q, 1, 1.0));
    match advice {
        Advice::Scale {
            from,
            to,
            per_worker_per_sec,
            ..
        } => {
            assert_eq!(from, 1);
            assert!((per_worker_per_sec - out).abs() < 1e-9);
            let expected = ((q.in_per_sec.unwrap() + q.depth as f64) / out).ceil() as u32;
            assert_eq!(to, expected);
        }
        other => panic!("expected a scale proposal, got {other:?}"),
    }
    // It drains to empty.
    poll_until(&c, "jobs", "drained", |q| q.depth == 0).await;
}

async fn paging_vhost_filter_and_queue_filter() {
    let api = Api::new(rabbit());
    for i in 0..7 {
        api.declare(&format!("page-{i}")).await;
    }
    let (e, lookup) = endpoint(Some("guest"));
    let c = connector(e.clone(), lookup.clone()).with_page_size(2);
    let names: Vec<String> = list(&c).await.into_iter().map(|q| q.name).collect();
    for i in 0..7 {
        assert!(names.contains(&format!("page-{i}")), "{names:?}");
    }
    let mut only = e.clone();
    only.queues = vec!["page-3".into()];
    let names: Vec<String> = list(&connector(only, lookup.clone()))
        .await
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, ["page-3"]);
    // Another vhost: hidden by the "/" filter, shown as "vhost/queue" without one.
    let client = reqwest::Client::new();
    let base = rabbit().management_url();
    for (path, body) in [
        ("/api/vhosts/other", serde_json::json!({})),
        (
            "/api/permissions/other/guest",
            serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}),
        ),
        (
            "/api/queues/other/elsewhere",
            serde_json::json!({"durable": false}),
        ),
    ] {
        let r = client
            .put(format!("{base}{path}"))
            .basic_auth("guest", Some("guest"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let names: Vec<String> = list(&c).await.into_iter().map(|q| q.name).collect();
    assert!(!names.iter().any(|n| n.contains("elsewhere")), "{names:?}");
    let mut all = e;
    all.vhost = None;
    let names: Vec<String> = list(&connector(all, lookup))
        .await
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert!(names.contains(&"other/elsewhere".to_owned()), "{names:?}");
}

async fn wrong_password_and_unreachable_are_clear_and_quick() {
    let (e, lookup) = endpoint(Some("not-guest"));
    let started = Instant::now();
    let err = connector(e.clone(), lookup).poll().await.err().unwrap();
    assert!(
        matches!(&err, ConnectorError::Failed(m) if m.contains("refused the login of user \"guest\"")),
        "{err}"
    );
    let mut down = e;
    down.management_url = format!("http://127.0.0.1:{}", support::redis::free_port());
    let err = connector(down, None).poll().await.err().unwrap();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn rabbitmq_connector_against_a_real_broker() {
    rabbit();
    eprintln!("== depth, consumers, rates and drain estimate");
    depth_consumers_rates_and_drain_estimate_from_a_real_consumer().await;
    eprintln!("== paging and filters");
    paging_vhost_filter_and_queue_filter().await;
    eprintln!("== wrong password, unreachable");
    wrong_password_and_unreachable_are_clear_and_quick().await;
}

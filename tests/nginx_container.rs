//! nginx running in a container on the private Docker daemon (Debian's nginx binary and its
//! libraries in an image built `FROM scratch`, in the host's network namespace: see
//! `support::nginx::CtrNginx`) in front of a Compose service, scaled through the engine
//! pipeline: the upstream file is read, written and put back inside the container
//! (`docker cp`), tested and reloaded with `docker exec`, nginx's master and workers seen with
//! `docker top`.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use scaleboard::actions::Action;
use scaleboard::actions::audit::AuditOutcome;
use scaleboard::connectors::nginx::parse::file_facts;
use scaleboard::connectors::nginx::replicas::running;
use scaleboard::connectors::nginx::status::docker_target;
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use scaleboard::profiles::model::QueueWorkload;
use scaleboard::profiles::{Profile, UpstreamAddressing, UpstreamLink};
use support::docker::{Project, Rig, profile};
use support::nginx::{CTR_UPSTREAMS, CtrNginx, HOSTNAME_API};

const HEAD: &str = "# api replicas, kept in the container\n";
const TAIL: &str = "\n# not ours\nupstream other { server 127.0.0.1:9; }\n";

struct Setup {
    lb: CtrNginx,
    profile: Profile,
    original: String,
    project: Project,
}

fn link(project: &Project) -> UpstreamLink {
    UpstreamLink {
        upstream: "nexus_api".into(),
        workload: QueueWorkload {
            endpoint: "docker".into(),
            scope: project.name.clone(),
            name: "api".into(),
            kind: None,
        },
        port: 8080,
        addressing: UpstreamAddressing::ContainerIp,
        network: None,
        host: None,
    }
}

fn addresses(p: &Profile, l: &UpstreamLink) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(running(&docker_target(p, "docker").unwrap(), l))
        .unwrap()
        .iter()
        .map(|r| r.address(l).unwrap())
        .collect()
}

fn setup(n: u32) -> Setup {
    let project = Project::up(HOSTNAME_API);
    project.compose(&["up", "-d", "--scale", &format!("api={n}")]);
    let mut p = profile(&[&project.name], &project.daemon().host);
    let l = link(&project);
    let servers: String = addresses(&p, &l)
        .iter()
        .map(|a| format!("    server {a} max_fails=3;\n"))
        .collect();
    let original = format!("{HEAD}upstream nexus_api {{\n{servers}}}\n{TAIL}");
    let lb = CtrNginx::start(project.image.daemon.clone(), &original);
    p.nginx.push(lb.endpoint(vec![l]));
    Setup {
        lb,
        profile: p,
        original,
        project,
    }
}

fn id(project: &Project) -> WorkloadRef {
    WorkloadRef {
        endpoint: "docker".into(),
        scope: project.name.clone(),
        name: "api".into(),
        kind: WorkloadKind::ComposeService,
    }
}

fn scale(project: &Project, replicas: u32) -> Action {
    Action::ScaleWorkload {
        workload: id(project),
        replicas,
    }
}

fn servers(text: &str) -> Vec<String> {
    let f = file_facts(text).unwrap();
    let up = f.upstreams.iter().find(|u| u.name == "nexus_api").unwrap();
    up.servers
        .iter()
        .filter(|s| !s.down)
        .map(|s| s.address.clone())
        .collect()
}

#[test]
fn scale_up_writes_the_upstream_inside_the_container() {
    let s = setup(2);
    let mut rig = Rig::start(s.profile.clone(), Duration::ZERO);
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 2);
    let workers = s.lb.workers();
    let (_, record) = rig.run(scale(&s.project, 3));
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{}", record.detail);
    assert!(
        record
            .detail
            .contains("upstream nexus_api lists 3 server(s)"),
        "{}",
        record.detail
    );
    let text = s.lb.read(CTR_UPSTREAMS);
    assert_eq!(
        BTreeSet::from_iter(servers(&text)),
        BTreeSet::from_iter(addresses(&s.profile, &link(&s.project))),
        "{text}"
    );
    assert_eq!(servers(&text).len(), 3);
    assert!(text.starts_with(&format!("{HEAD}upstream nexus_api {{\n")));
    assert!(text.ends_with(&format!("}}\n{TAIL}")), "{text}");
    assert_ne!(s.lb.workers(), workers, "reloaded inside the container");
    let hosts: BTreeSet<String> = (0..30).map(|_| s.lb.get().unwrap()).collect();
    assert_eq!(hosts.len(), 3, "30 requests reach every replica: {hosts:?}");

    // The write step's record names the command lines that ran, through the container.
    let audit = rig.audit();
    let write = audit
        .iter()
        .find(|r| {
            r.action == "lb-step"
                && r.id.starts_with(&format!("{}/", record.id))
                && r.id.ends_with("write-upstream")
                && r.outcome == AuditOutcome::Succeeded
        })
        .unwrap();
    let host = &s.lb.daemon.host;
    let name = &s.lb.name;
    assert!(
        write.command.contains(&format!(
            "`docker -H {host} cp -a - {name}:/etc/nginx/conf.d`"
        )) && write
            .command
            .contains(&format!("docker -H {host} exec {name} nginx -t"))
            && write
                .command
                .contains(&format!("docker -H {host} exec {name} nginx -s reload")),
        "{}",
        write.command
    );
}

/// The include is planted during the grace period: planted before the confirm, `nginx -T`
/// (how a container's configuration is read) already fails and the action is refused before
/// anything is written.
#[test]
fn a_failing_nginx_test_puts_the_old_file_back_inside_the_container() {
    let s = setup(3);
    let mut rig = Rig::start(s.profile.clone(), Duration::from_secs(3));
    rig.workload_until(&id(&s.project), "api listed", |w| w.ready == 3);
    let workers = s.lb.workers();
    let plan = rig.plan(scale(&s.project, 2));
    let action = rig.send(plan, false);
    std::thread::sleep(Duration::from_millis(800));
    s.lb.plant("/etc/nginx/extra/broken.conf", "no_such_directive on;\n");
    let record = rig.finished(action);
    assert_eq!(record.outcome, AuditOutcome::Failed, "{}", record.detail);
    assert!(
        record.detail.contains(&format!(
            "nginx -t failed, so the previous {CTR_UPSTREAMS} was put back and nginx was not \
             reloaded"
        )) && record.detail.contains("no_such_directive"),
        "{}",
        record.detail
    );
    assert_eq!(s.lb.read(CTR_UPSTREAMS), s.original);
    assert_eq!(s.lb.workers(), workers, "no reload");
    assert_eq!(s.project.running("api"), 3, "nothing stopped");
}

/// The plan of `scaleboard scale` names the container, the re-check's reads and the write.
#[test]
fn the_plan_shows_the_container_commands() {
    let s = setup(2);
    let plan = scaleboard::cli::lb::preview(&s.profile, &scale(&s.project, 3)).unwrap();
    let text = plan.join("\n");
    let (host, name) = (&s.lb.daemon.host, &s.lb.name);
    assert!(
        text.contains(&format!(
            "upstream nexus_api in {CTR_UPSTREAMS} in container {name} (digest "
        )),
        "{text}"
    );
    assert!(
        !text.contains("master pid unknown"),
        "the master pid is read with docker top: {text}"
    );
    assert!(
        text.contains(&format!(
            "re-check: `docker -H {host} cp {name}:{CTR_UPSTREAMS} -` and the master pid from \
             `docker -H {host} top {name} -o pid,ppid,args`; write: `docker -H {host} cp -a - \
             {name}:/etc/nginx/conf.d`"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("`docker -H {host} exec {name} nginx -t`")),
        "{text}"
    );
    assert!(text.contains("+     server <replica 3>:8080"), "{text}");
}

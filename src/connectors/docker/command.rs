//! The command lines Scaleboard runs against a Docker engine. Pure: the plan shows exactly the
//! line that the connector later runs, because both come from these functions.

pub use crate::model::exec::{CommandLine, quote};
use crate::model::snapshot::{ComposeCli, ComposeProject, DockerTarget};

/// `docker [--context C] ARGS…`, with `DOCKER_HOST` set when the endpoint names one.
pub fn docker(target: &DockerTarget, args: &[&str]) -> CommandLine {
    let mut argv = vec!["docker".to_string()];
    if let Some(context) = &target.context {
        argv.push("--context".into());
        argv.push(context.clone());
    }
    argv.extend(args.iter().map(ToString::to_string));
    CommandLine {
        argv,
        env: host_env(target),
        cwd: None,
    }
}

fn host_env(target: &DockerTarget) -> Vec<(String, String)> {
    match (&target.context, &target.host) {
        (None, Some(host)) => vec![("DOCKER_HOST".into(), host.clone())],
        _ => Vec::new(),
    }
}

/// The compose invocation up to the subcommand: `docker compose` or `docker-compose`, the
/// context, the project and its files.
fn compose_base(
    target: &DockerTarget,
    cli: ComposeCli,
    project: &str,
    files: &[String],
) -> Vec<String> {
    let mut argv = Vec::new();
    match cli {
        ComposeCli::V2 => {
            argv.push("docker".to_string());
            if let Some(context) = &target.context {
                argv.extend(["--context".to_string(), context.clone()]);
            }
            argv.push("compose".into());
        }
        ComposeCli::V1 => {
            argv.push("docker-compose".to_string());
            if let Some(context) = &target.context {
                argv.extend(["--context".to_string(), context.clone()]);
            }
        }
    }
    argv.extend(["-p".to_string(), project.to_string()]);
    for file in files {
        argv.extend(["-f".to_string(), file.clone()]);
    }
    argv
}

/// `docker compose -p P -f F… up -d --no-recreate --scale S=N… S…`, run in the project's
/// working dir. Without an installed compose the v2 spelling is shown (the plan refuses).
pub fn compose_scale(
    target: &DockerTarget,
    project: &str,
    compose: &ComposeProject,
    scales: &[(String, u32)],
) -> CommandLine {
    let cli = compose.cli.unwrap_or(ComposeCli::V2);
    let mut argv = compose_base(target, cli, project, &compose.config_files);
    argv.extend(["up", "-d", "--no-recreate"].map(String::from));
    for (service, n) in scales {
        argv.push("--scale".into());
        argv.push(format!("{service}={n}"));
    }
    argv.extend(scales.iter().map(|(s, _)| s.clone()));
    CommandLine {
        argv,
        env: host_env(target),
        cwd: (!compose.working_dir.is_empty()).then(|| compose.working_dir.clone()),
    }
}

/// `docker service scale --detach NAME=N`: returns once the new count is recorded; the
/// pipeline's verify step then waits for the running tasks.
pub fn swarm_scale(target: &DockerTarget, service: &str, replicas: u32) -> CommandLine {
    docker(
        target,
        &[
            "service",
            "scale",
            "--detach",
            &format!("{service}={replicas}"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(cli: Option<ComposeCli>) -> ComposeProject {
        ComposeProject {
            config_files: vec![
                "/srv/app/docker-compose.yml".into(),
                "/srv/app/prod.yml".into(),
            ],
            working_dir: "/srv/my app".into(),
            cli,
            file_warnings: Vec::new(),
        }
    }

    #[test]
    fn compose_v2_line_names_files_and_every_scale() {
        let line = compose_scale(
            &DockerTarget::default(),
            "shop",
            &project(Some(ComposeCli::V2)),
            &[("api".into(), 2), ("writer".into(), 3)],
        );
        assert_eq!(
            line.display(),
            "cd '/srv/my app' && docker compose -p shop -f /srv/app/docker-compose.yml \
             -f /srv/app/prod.yml up -d --no-recreate --scale api=2 --scale writer=3 api writer"
        );
    }

    #[test]
    fn compose_v1_with_host_and_context() {
        let host = DockerTarget {
            host: Some("ssh://ops@build-1".into()),
            context: None,
        };
        let line = compose_scale(
            &host,
            "p",
            &project(Some(ComposeCli::V1)),
            &[("w".into(), 1)],
        );
        assert_eq!(
            line.env,
            vec![("DOCKER_HOST".into(), "ssh://ops@build-1".into())]
        );
        assert!(
            line.display()
                .contains("DOCKER_HOST=ssh://ops@build-1 docker-compose -p p")
        );
        let ctx = DockerTarget {
            host: Some("tcp://x:2376".into()),
            context: Some("prod".into()),
        };
        let line = compose_scale(
            &ctx,
            "p",
            &project(Some(ComposeCli::V1)),
            &[("w".into(), 1)],
        );
        assert!(line.env.is_empty());
        assert_eq!(&line.argv[..3], ["docker-compose", "--context", "prod"]);
    }

    #[test]
    fn swarm_line() {
        assert_eq!(
            swarm_scale(&DockerTarget::default(), "web", 3).display(),
            "docker service scale --detach web=3"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a=b,c"), "a=b,c");
    }
}

//! nginx as a load balancer in front of test containers: Debian's nginx on a free loopback port
//! in a temp dir (its own prefix, pid file, temp paths and error log), the upstreams in an
//! `include`d file of their own, `stub_status`, and the test and reload command lines a profile
//! names. Stopped with its guard, even when a test fails.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::web::{Guarded, free_port, http_get, require};
use scaleboard::profiles::{NginxEndpoint, UpstreamLink};

pub struct LbNginx {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub upstreams: PathBuf,
    pub pid_file: PathBuf,
    pub binary: PathBuf,
    _server: Guarded,
}

/// The hosts file nginx's upstream starts with: `upstreams` is the text of `upstreams.conf`.
impl LbNginx {
    pub fn start(upstreams: &str) -> LbNginx {
        let binary = require("nginx", &["/usr/sbin/nginx"], "nginx-light");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let conf = d.join("nginx.conf");
        let up = d.join("upstreams.conf");
        std::fs::write(&up, upstreams).unwrap();
        std::fs::create_dir(d.join("extra")).unwrap();
        std::fs::write(
            &conf,
            format!(
                "# test front door\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 512; }}\nhttp {{\n    access_log off;\n    \
                 client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
                 fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
                 scgi_temp_path {d}/scgi;\n    include upstreams.conf;\n    include extra/*.conf;\n    server {{\n        \
                 listen 127.0.0.1:{port};\n        location = /nginx_status {{ stub_status; }}\n        \
                 location / {{ proxy_pass http://nexus_api; proxy_connect_timeout 2s; proxy_next_upstream off; }}\n    }}\n}}\n",
                d = d.display()
            ),
        )
        .unwrap();
        let server = Guarded::spawn(
            &binary,
            &[
                "-p".into(),
                d.display().to_string(),
                "-e".into(),
                d.join("error.log").display().to_string(),
                "-c".into(),
                conf.display().to_string(),
                "-g".into(),
                "daemon off;".into(),
            ],
            &d.join("stdout.log"),
        );
        let lb = LbNginx {
            port,
            conf,
            upstreams: up,
            pid_file: d.join("nginx.pid"),
            binary,
            dir,
            _server: server,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_get(port, "/nginx_status").is_none_or(|(s, _)| s != 200) {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(lb.dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lb
    }

    fn command(&self, args: &str) -> String {
        format!(
            "{} {args} -p {} -c {}",
            self.binary.display(),
            self.dir.path().display(),
            self.conf.display()
        )
    }

    /// A profile section for this nginx with `links`.
    pub fn endpoint(&self, links: Vec<UpstreamLink>) -> NginxEndpoint {
        NginxEndpoint {
            name: "front".into(),
            config: Some(self.conf.clone()),
            pid_file: Some(self.pid_file.clone()),
            test_command: Some(self.command("-t")),
            reload_command: Some(self.command("-s reload")),
            stub_status_url: Some(format!("http://127.0.0.1:{}/nginx_status", self.port)),
            drain_timeout_secs: 20,
            links,
            ..NginxEndpoint::default()
        }
    }

    /// Reload by hand (what an operator would run), and wait until it took.
    pub fn reload(&self) {
        let master = std::fs::read_to_string(&self.pid_file).unwrap();
        let before = children(master.trim());
        let out = std::process::Command::new("sh")
            .args(["-c", &self.command("-s reload")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while children(master.trim()) == before {
            assert!(Instant::now() < deadline, "nginx did not reload");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// nginx's current worker pids (a reload replaces them).
    pub fn workers(&self) -> Vec<u32> {
        children(std::fs::read_to_string(&self.pid_file).unwrap().trim())
    }

    /// GET / through nginx: the body (the replica's hostname) or the status when not 200.
    pub fn get(&self) -> Result<String, String> {
        match http_get(self.port, "/") {
            Some((200, body)) => Ok(body.trim().to_string()),
            Some((status, body)) => Err(format!("{status}: {body}")),
            None => Err("no answer".into()),
        }
    }
}

fn children(master: &str) -> Vec<u32> {
    scaleboard::connectors::nginx::guarded::workers(master.parse().unwrap())
}

/// A Compose file whose `api` replicas answer `GET /` with their hostname on port 8080.
pub const HOSTNAME_API: &str = "version: \"3.8\"\nservices:\n  api:\n    image: IMAGE\n    \
    stop_signal: SIGKILL\n    command: [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /www && \
    /bin/busybox hostname > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www\"]\n";

/// nginx in a container on the private Docker daemon, in the host's network namespace.
///
/// There is no registry here and a busybox image has no nginx, so the image is built offline
/// `FROM scratch` with Debian's own `/usr/sbin/nginx` and the libraries `ldd` names for it, an
/// `/etc/passwd` for its workers' user, and a configuration whose upstreams are in
/// `/etc/nginx/conf.d/upstreams.conf` (copied in before the container starts). nginx is started
/// as the container's main process (`daemon off`), so `docker top` shows its master and workers.
///
/// Why `--network host`: on these machines the host's firewall drops traffic forwarded between
/// containers (the machine's own engine sets the FORWARD policy to DROP, and the private daemon
/// adds no rules: `--iptables=false`), so an nginx container on the project's bridge times out
/// connecting to the replicas ("upstream timed out (110: Connection timed out) while connecting
/// to upstream"); from the host's namespace it reaches them as the host does.
pub struct CtrNginx {
    pub name: String,
    /// Where nginx listens, on 127.0.0.1.
    pub port: u16,
    pub daemon: std::sync::Arc<super::docker::Daemon>,
    tag: String,
}

/// The file the upstreams live in, inside the container.
pub const CTR_UPSTREAMS: &str = "/etc/nginx/conf.d/upstreams.conf";

fn ctr_conf(port: u16) -> String {
    format!(
        "# front door in a container\nworker_processes 1;\npid /run/nginx.pid;\n\
         user nobody nogroup;\nevents {{ worker_connections 512; }}\nhttp {{\n    access_log off;\n    \
         client_body_temp_path /tmp/body;\n    proxy_temp_path /tmp/proxy;\n    \
         fastcgi_temp_path /tmp/fastcgi;\n    uwsgi_temp_path /tmp/uwsgi;\n    \
         scgi_temp_path /tmp/scgi;\n    include /etc/nginx/conf.d/*.conf;\n    \
         include /etc/nginx/extra/*.conf;\n    server {{\n        listen 127.0.0.1:{port};\n        \
         location = /nginx_status {{ stub_status; }}\n        location / {{ proxy_pass http://nexus_api; \
         proxy_connect_timeout 2s; proxy_next_upstream off; }}\n    }}\n}}\n"
    )
}
/// The nginx binary and every library it loads, from `ldd`.
fn nginx_files() -> Vec<PathBuf> {
    let binary = require("nginx", &["/usr/sbin/nginx"], "nginx-light");
    let out = std::process::Command::new("ldd")
        .arg(&binary)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ldd (libc-bin): {e}"));
    assert!(out.status.success(), "ldd {}: {out:?}", binary.display());
    let mut files = vec![binary];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let path = line
            .split("=>")
            .last()
            .and_then(|r| r.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        if let Some(p) = path {
            files.push(PathBuf::from(p));
        }
    }
    files
}

impl CtrNginx {
    /// Start nginx in a container, its upstreams file holding `upstreams`.
    pub fn start(daemon: std::sync::Arc<super::docker::Daemon>, upstreams: &str) -> CtrNginx {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        for f in nginx_files() {
            let to = root.join(f.strip_prefix("/").unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            // Copy what a symlink points to: the image has no other copy.
            std::fs::copy(&f, &to).unwrap_or_else(|e| panic!("copy {}: {e}", f.display()));
        }
        for d in [
            "etc/nginx/conf.d",
            "etc/nginx/extra",
            "tmp",
            "run",
            "var/log/nginx",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/:/nonexistent\nnobody:x:65534:65534::/:/nonexistent\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        std::fs::write(root.join("etc/nginx/nginx.conf"), ctr_conf(port)).unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nSTOPSIGNAL SIGQUIT\n\
             CMD [\"/usr/sbin/nginx\", \"-e\", \"stderr\", \"-g\", \"daemon off;\"]\n",
        )
        .unwrap();
        let tag = format!("{}:test", super::docker::unique("sb-nginx-"));
        daemon.sh(
            &["docker", "build", "-q", "-t", &tag, "."],
            Some(dir.path()),
        );
        let name = super::docker::unique("sblb");
        let lb = CtrNginx {
            name: name.clone(),
            port,
            daemon,
            tag,
        };
        lb.daemon.sh(
            &[
                "docker",
                "create",
                "--name",
                &name,
                "--network",
                "host",
                &lb.tag,
            ],
            None,
        );
        let up = dir.path().join("upstreams.conf");
        std::fs::write(&up, upstreams).unwrap();
        lb.daemon.sh(
            &[
                "docker",
                "cp",
                &up.display().to_string(),
                &format!("{name}:{CTR_UPSTREAMS}"),
            ],
            None,
        );
        lb.daemon.sh(&["docker", "start", &name], None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_get(port, "/nginx_status").is_none_or(|(s, _)| s != 200) {
            assert!(
                Instant::now() < deadline,
                "nginx in {name} did not start: {}",
                lb.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lb
    }

    pub fn logs(&self) -> String {
        let out = self
            .daemon
            .cmd("docker")
            .args(["logs", &self.name])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// A profile section for this nginx with `links`: the container, nothing else to say.
    pub fn endpoint(&self, links: Vec<UpstreamLink>) -> NginxEndpoint {
        NginxEndpoint {
            name: "front".into(),
            container: Some(self.name.clone()),
            docker_host: Some(self.daemon.host.clone()),
            stub_status_url: Some(format!("http://127.0.0.1:{}/nginx_status", self.port)),
            drain_timeout_secs: 20,
            links,
            ..NginxEndpoint::default()
        }
    }

    /// A file's text inside the container (what `docker exec … cat` would print; the image
    /// has no `cat`, so `docker cp` to a temp dir).
    pub fn read(&self, path: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("f");
        self.daemon.sh(
            &[
                "docker",
                "cp",
                &format!("{}:{path}", self.name),
                &to.display().to_string(),
            ],
            None,
        );
        std::fs::read_to_string(to).unwrap()
    }

    /// Put a file into the container.
    pub fn plant(&self, path: &str, text: &str) {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("f");
        std::fs::write(&from, text).unwrap();
        self.daemon.sh(
            &[
                "docker",
                "cp",
                &from.display().to_string(),
                &format!("{}:{path}", self.name),
            ],
            None,
        );
    }

    /// nginx's worker pids as `docker top` shows them (a reload replaces them).
    pub fn workers(&self) -> Vec<u32> {
        let top = self
            .daemon
            .sh(&["docker", "top", &self.name, "-o", "pid,ppid,args"], None);
        scaleboard::connectors::nginx::container::parse_top(&top).workers
    }

    /// GET / through nginx: the body (the replica's hostname) or the status when not 200.
    pub fn get(&self) -> Result<String, String> {
        match http_get(self.port, "/") {
            Some((200, body)) => Ok(body.trim().to_string()),
            Some((status, body)) => Err(format!("{status}: {body}")),
            None => Err("no answer".into()),
        }
    }
}

impl Drop for CtrNginx {
    fn drop(&mut self) {
        self.daemon.quiet(&["docker", "rm", "-f", &self.name], None);
        self.daemon.quiet(&["docker", "rmi", "-f", &self.tag], None);
    }
}

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

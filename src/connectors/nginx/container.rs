//! nginx in a container, reached only through the Docker engine: a file read with
//! `docker cp C:FILE -` and written with `docker cp -a - C:DIR` (the Docker API's archive
//! download and upload, a one-file tar on the pipe), nginx's processes seen with `docker top`.
//!
//! Why the archive API rather than `docker exec -i C sh -c 'cat > F.tmp && mv F.tmp F'`: it
//! needs nothing in the container but nginx (no shell, no `cat`: distroless and `FROM scratch`
//! images work), the new file keeps the owner and mode of the old one (its tar header is copied
//! from the one downloaded), and no path is quoted into a shell string. The price: the engine
//! replaces the file by unlink + create, not by rename, so for a moment the file is absent —
//! harmless here, because nothing reads it before the `nginx -t` Scaleboard runs next. A file
//! bind-mounted on its own into the container can be replaced by neither method (the engine's
//! unlink and a rename both get "device or resource busy"): the write fails and the file is
//! left as it was; mount its directory instead, or name the host file as `config`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::model::exec::CommandLine;

const DOCKER_TIMEOUT: Duration = Duration::from_secs(20);
const BLOCK: usize = 512;

/// A container that runs nginx, on an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// `DOCKER_HOST` form; `None`: the environment's engine.
    pub docker_host: Option<String>,
}

/// nginx's processes in a container, with the engine's (host) pids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processes {
    pub master: Option<u32>,
    pub workers: Vec<u32>,
}

impl Container {
    /// `docker [-H HOST] ARGS…`: the host in the argv, so the line a plan shows is the line
    /// that runs, and a user can type it.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["docker".to_string()];
        if let Some(h) = &self.docker_host {
            argv.extend(["-H".to_string(), h.clone()]);
        }
        argv.extend(args.iter().map(ToString::to_string));
        argv
    }

    fn line(&self, args: &[&str]) -> CommandLine {
        CommandLine {
            argv: self.argv(args),
            env: Vec::new(),
            cwd: None,
        }
    }

    /// `docker cp C:FILE -`, shown in plans as the re-check's read.
    pub fn read_line(&self, path: &Path) -> CommandLine {
        self.line(&["cp", &format!("{}:{}", self.name, path.display()), "-"])
    }

    /// `docker cp -a - C:DIR`, shown in plans as the write.
    pub fn write_line(&self, path: &Path) -> CommandLine {
        let dir = path.parent().unwrap_or(Path::new("/"));
        self.line(&["cp", "-a", "-", &format!("{}:{}", self.name, dir.display())])
    }

    /// The tar header of `path` and its text.
    async fn download(&self, path: &Path) -> Result<(Vec<u8>, String), String> {
        let line = self.read_line(path);
        let out = run_bytes(&line, None).await?;
        let (header, body) =
            tar_file(&out).map_err(|e| format!("`{}` printed no file: {e}", line.display()))?;
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| format!("{}:{} is not UTF-8 text", self.name, path.display()))?;
        Ok((header.to_vec(), text))
    }

    /// The file's text as the container has it.
    pub async fn read(&self, path: &Path) -> Result<String, String> {
        self.download(path).await.map(|(_, text)| text)
    }

    /// Replace the file with `text`, keeping its owner and mode.
    pub async fn write(&self, path: &Path, text: &str) -> Result<(), String> {
        let (header, _) = self.download(path).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let archive = tar_one(
            &header,
            &name,
            text.as_bytes(),
            chrono::Utc::now().timestamp(),
        )?;
        run_bytes(&self.write_line(path), Some(archive))
            .await
            .map(|_| ())
    }

    /// nginx's master and workers, from `docker top C -o pid,ppid,args`.
    pub async fn processes(&self) -> Result<Processes, String> {
        let line = self.line(&["top", &self.name, "-o", "pid,ppid,args"]);
        let out = run_bytes(&line, None).await?;
        Ok(parse_top(&String::from_utf8_lossy(&out)))
    }
}

/// `docker top … -o pid,ppid,args` → nginx's master and its workers.
pub fn parse_top(text: &str) -> Processes {
    let rows: Vec<(u32, u32, &str)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let pid = it.next()?.parse().ok()?;
            let ppid = it.next()?.parse().ok()?;
            let rest = l.trim_start();
            // The args: what follows the two number columns.
            let args = rest
                .split_once(char::is_whitespace)
                .map(|(_, r)| r.trim_start())
                .and_then(|r| r.split_once(char::is_whitespace))
                .map_or("", |(_, r)| r.trim_start());
            Some((pid, ppid, args))
        })
        .collect();
    let master = rows
        .iter()
        .find(|(_, _, a)| a.starts_with("nginx: master process"))
        .map(|(p, _, _)| *p);
    let mut workers: Vec<u32> = rows
        .iter()
        .filter(|(_, ppid, a)| Some(*ppid) == master && a.starts_with("nginx: worker process"))
        .map(|(p, _, _)| *p)
        .collect();
    workers.sort_unstable();
    Processes { master, workers }
}

/// Run a docker command line, `input` on its stdin; Ok(stdout bytes) when it exits 0.
async fn run_bytes(line: &CommandLine, input: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut command = crate::connectors::docker::process::command(line);
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let program = line.argv.first().cloned().unwrap_or_default();
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    let work = async {
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(&data)
                .await
                .map_err(|e| format!("`{}`: could not write its input: {e}", line.display()))?;
            drop(stdin);
        }
        child
            .wait_with_output()
            .await
            .map_err(|e| format!("`{}`: {e}", line.display()))
    };
    let out = tokio::time::timeout(DOCKER_TIMEOUT, work)
        .await
        .map_err(|_| {
            format!(
                "`{}` did not finish within {} s and was stopped",
                line.display(),
                DOCKER_TIMEOUT.as_secs()
            )
        })??;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`{}` failed: {}",
            line.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn octal(field: &[u8]) -> Result<u64, String> {
    let s: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| format!("bad number {s:?} in a tar header"))
}

/// The first regular file of a tar stream: its header block and its bytes. Extended headers
/// (PAX `x`/`g`, GNU long names `L`/`K`) are stepped over.
pub fn tar_file(tar: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut at = 0;
    while at + BLOCK <= tar.len() {
        let header = &tar[at..at + BLOCK];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let size = usize::try_from(octal(&header[124..136])?).map_err(|e| e.to_string())?;
        let start = at + BLOCK;
        let end = start
            .checked_add(size)
            .filter(|e| *e <= tar.len())
            .ok_or("the tar stream ends inside a file")?;
        match header[156] {
            b'0' | 0 => return Ok((header, &tar[start..end])),
            b'x' | b'g' | b'L' | b'K' => at = start + size.div_ceil(BLOCK) * BLOCK,
            t => return Err(format!("not a regular file (tar type {:?})", char::from(t))),
        }
    }
    Err("no file in the tar stream".into())
}

fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let s = format!("{value:0width$o}");
    field[..width].copy_from_slice(&s.as_bytes()[s.len() - width..]);
    field[width] = 0;
}

/// A tar stream of one file `name` with `data`: mode, owner and owner names from `template`
/// (the header the file had), the size and time new.
pub fn tar_one(template: &[u8], name: &str, data: &[u8], mtime: i64) -> Result<Vec<u8>, String> {
    if name.len() > 100 || name.is_empty() {
        return Err(format!("the file name {name:?} does not fit a tar header"));
    }
    let mut h = [0u8; BLOCK];
    if template.len() == BLOCK {
        // mode, uid, gid; the magic, version, user and group names.
        h[100..124].copy_from_slice(&template[100..124]);
        h[257..329].copy_from_slice(&template[257..329]);
    } else {
        put_octal(&mut h[100..108], 0o644);
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
    }
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(
        &mut h[124..136],
        u64::try_from(data.len()).unwrap_or(u64::MAX),
    );
    put_octal(&mut h[136..148], u64::try_from(mtime).unwrap_or(0));
    h[156] = b'0';
    // The checksum is summed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(BLOCK) * BLOCK + 2 * BLOCK, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_round_trip_keeps_mode_and_owner() {
        let mut template = [0u8; BLOCK];
        put_octal(&mut template[100..108], 0o640);
        put_octal(&mut template[108..116], 101);
        put_octal(&mut template[116..124], 102);
        template[257..263].copy_from_slice(b"ustar\0");
        template[265..270].copy_from_slice(b"nginx");
        let tar = tar_one(&template, "up.conf", b"upstream a { server b:1; }\n", 1000).unwrap();
        assert_eq!(tar.len() % BLOCK, 0);
        let (h, body) = tar_file(&tar).unwrap();
        assert_eq!(body, b"upstream a { server b:1; }\n");
        assert_eq!(octal(&h[100..108]).unwrap(), 0o640);
        assert_eq!(octal(&h[108..116]).unwrap(), 101);
        assert_eq!(&h[265..270], b"nginx");
        assert_eq!(&h[..8], b"up.conf\0");
        // The checksum is what tar computes.
        let mut check = h.to_vec();
        check[148..156].copy_from_slice(b"        ");
        let sum: u64 = check.iter().map(|b| u64::from(*b)).sum();
        assert_eq!(octal(&h[148..156]).unwrap(), sum);
    }

    #[test]
    fn extended_headers_are_stepped_over() {
        let mut pax = [0u8; BLOCK];
        pax[..4].copy_from_slice(b"PaxH");
        put_octal(&mut pax[124..136], 20);
        pax[156] = b'x';
        let mut tar = pax.to_vec();
        tar.extend_from_slice(&[b'a'; BLOCK]);
        tar.extend(tar_one(&[], "f", b"text", 0).unwrap());
        let (_, body) = tar_file(&tar).unwrap();
        assert_eq!(body, b"text");
        assert!(tar_file(&[0; 1024]).is_err());
        assert!(tar_file(&tar[..BLOCK + 10]).is_err());
    }

    #[test]
    fn reads_nginx_processes_from_docker_top() {
        let top = "PID                 PPID                COMMAND\n\
            15067               15045               nginx: master process /usr/sbin/nginx -g daemon off;\n\
            15131               15067               nginx: worker process\n\
            15132               15067               nginx: worker process is shutting down\n\
            15200               15045               sh -c sleep 1\n";
        let p = parse_top(top);
        assert_eq!(p.master, Some(15067));
        assert_eq!(p.workers, [15131, 15132]);
        let c = Container {
            name: "lb".into(),
            docker_host: Some("unix:///d.sock".into()),
        };
        assert_eq!(
            c.write_line(Path::new("/etc/nginx/conf.d/up.conf"))
                .display(),
            "docker -H unix:///d.sock cp -a - lb:/etc/nginx/conf.d"
        );
        assert_eq!(
            c.read_line(Path::new("/etc/nginx/conf.d/up.conf"))
                .display(),
            "docker -H unix:///d.sock cp lb:/etc/nginx/conf.d/up.conf -"
        );
    }
}

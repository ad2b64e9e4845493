//! Starting one `prism proxy` per official document.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::Document;

/// How long Prism may take to load a document and listen (six start at once on two cores).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A Prism, and how to start it again when its port was taken.
pub(crate) struct Prism {
    launch: Launch,
    running: Running,
}

/// One start of Prism. It lives as long as the process: when the process ends, for any
/// reason, the pipe held in `_stdin` closes and the wrapper shell kills Prism.
struct Running {
    port: u16,
    child: Child,
    _stdin: ChildStdin,
}

/// The file Prism loads for a document, written into `work` when it differs from the official
/// one.
///
/// Custom Channels: `customChannels.v3.json` lists "list channels" and "create channel" under
/// `/conversations/custom-channels/v3`, while its every other operation, HubSpot's Postman
/// collection for v3 (`customChannels.v3.postman_collection.json`: `GET`/`POST
/// {{baseUrl}}/conversations/v3/custom-channels/`) and HubSpot's guide (`POST
/// https://api.hubapi.com/conversations/v3/custom-channels?hapikey=…&appId=…`) use
/// `/conversations/v3/custom-channels`. The bridge uses the Postman/guide path, so the check
/// loads the v3 document with that one path key renamed to the Postman path; the operations,
/// parameters and schemas are the v3 document's, untouched.
pub(crate) fn prepare_document(
    document: Document,
    specs: &Path,
    work: &Path,
) -> io::Result<PathBuf> {
    let official = specs.join(document.file());
    if !official.is_file() {
        return Err(io::Error::other(format!(
            "the official document {} is missing (set HITL_SPECS_DIR to the folder holding hubspot/ and botpress/)",
            official.display()
        )));
    }
    if document != Document::CustomChannels {
        return Ok(official);
    }
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&official)?)?;
    let paths = spec
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| io::Error::other("customChannels.v3.json has no paths"))?;
    let operations = paths
        .remove("/conversations/custom-channels/v3")
        .ok_or_else(|| {
            io::Error::other("customChannels.v3.json no longer lists /conversations/custom-channels/v3: revisit prepare_document")
        })?;
    paths.insert("/conversations/v3/custom-channels".to_string(), operations);
    let prepared = work.join("customChannels.v3.postman-paths.json");
    std::fs::write(&prepared, serde_json::to_vec(&spec)?)?;
    Ok(prepared)
}

/// How many times Prism is started again when another process took its port first.
const PORT_ATTEMPTS: usize = 5;

/// What starts one Prism, kept so that it can be started again on another port.
struct Launch {
    prism: PathBuf,
    spec: PathBuf,
    upstream: String,
    log: PathBuf,
}

/// Starts `prism proxy SPEC UPSTREAM` on a free port of 127.0.0.1 (not waiting for it).
pub(crate) fn spawn(prism: &Path, spec: &Path, upstream: &str, log: PathBuf) -> io::Result<Prism> {
    let launch = Launch {
        prism: prism.to_path_buf(),
        spec: spec.to_path_buf(),
        upstream: upstream.to_string(),
        log,
    };
    let running = launch.start()?;
    Ok(Prism { launch, running })
}

impl Launch {
    fn start(&self) -> io::Result<Running> {
        let port = crate::ports::port_for_a_child()?;
        let output = std::fs::File::create(&self.log)?;
        // Prism in the background; a second child waits for our end of the pipe (kept as fd 3,
        // since a background job's stdin is /dev/null) to close, which happens when this
        // process ends, and then stops Prism; the shell itself ends when Prism does.
        let script = r#"exec 3<&0
"$0" proxy "$1" "$2" --host 127.0.0.1 --port "$3" 3<&- & prism=$!
(cat > /dev/null <&3; kill "$prism" 2> /dev/null) &
exec 3<&-
wait "$prism""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&self.prism)
            .arg(&self.spec)
            .arg(&self.upstream)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .map_err(|error| {
                io::Error::other(format!("cannot start {}: {error}", self.prism.display()))
            })?;
        let stdin = child.stdin.take().expect("stdin is piped");
        Ok(Running {
            port,
            child,
            _stdin: stdin,
        })
    }
}

impl Prism {
    /// Waits until Prism says it listens on its port, starting it again on another port when
    /// another process bound that port first. Its own word, not a connection that succeeds: a
    /// connection could reach another process listening on the same port.
    pub(crate) fn wait_ready(&mut self) -> io::Result<()> {
        let started = Instant::now();
        let mut attempts = 1;
        loop {
            let address = SocketAddr::from(([127, 0, 0, 1], self.port()));
            if let Some(status) = self.running.child.try_wait()? {
                let log = tail(&self.launch.log);
                if crate::ports::is_address_in_use(&log) && attempts < PORT_ATTEMPTS {
                    tracing::warn!(
                        port = self.port(),
                        "Prism's port was taken; starting it on another"
                    );
                    attempts += 1;
                    self.running = self.launch.start()?;
                    continue;
                }
                return Err(io::Error::other(format!(
                    "Prism exited ({status}) before listening: {log}"
                )));
            }
            if says_it_listens(&self.launch.log, address) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(io::Error::other(format!(
                    "Prism did not listen on {address} within {START_TIMEOUT:?}: {}",
                    tail(&self.launch.log)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port Prism listens on (its latest start's).
    pub(crate) fn port(&self) -> u16 {
        self.running.port
    }
}

/// Whether Prism's log (written afresh by each start) has its "listening" line for `address`:
/// `[CLI] ▶  start     Prism is listening on http://127.0.0.1:PORT`.
fn says_it_listens(log: &Path, address: SocketAddr) -> bool {
    let line = format!("Prism is listening on http://{address}");
    std::fs::read_to_string(log).is_ok_and(|text| {
        text.lines()
            .any(|logged| logged.trim_end().ends_with(line.as_str()))
    })
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    format!("{} (log {})", lines[start..].join("\n"), log.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for `prism` called as `prism proxy SPEC UPSTREAM --host H --port P`: the first
    /// run fails as Node does when its port is taken, every later run listens on P.
    fn fake_prism(work: &Path) -> PathBuf {
        let script = work.join("prism");
        let marker = work.join("failed-once");
        std::fs::write(
            &script,
            format!(
                r#"#!/bin/sh
if [ ! -e '{marker}' ]; then
  touch '{marker}'
  echo "Error: listen EADDRINUSE: address already in use 127.0.0.1:$7" >&2
  exit 1
fi
exec python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("[CLI] \u25b6  start     Prism is listening on http://127.0.0.1:" + sys.argv[1], flush=True)
time.sleep(60)' "$7"
"#,
                marker = marker.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn work_dir(name: &str) -> PathBuf {
        let work = std::env::temp_dir().join(format!(
            "hitl-prism-test-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&work).unwrap();
        work
    }

    #[test]
    fn a_prism_whose_port_was_taken_is_started_again_on_another() {
        let work = work_dir("retry");
        let prism = fake_prism(&work);
        let mut started = spawn(&prism, &work, "http://127.0.0.1:9", work.join("log")).unwrap();
        started.wait_ready().expect("ready on the second try");
        assert!(work.join("failed-once").exists(), "the first start failed");
        TcpStream::connect(("127.0.0.1", started.port())).expect("it listens");
        drop(started);
        let _ = std::fs::remove_dir_all(work);
    }

    #[test]
    fn ready_only_when_the_log_says_it_listens_on_this_port() {
        let work = work_dir("listening");
        let log = work.join("log");
        let address = SocketAddr::from(([127, 0, 0, 1], 4010));
        std::fs::write(&log, "[7:13:01 AM] › [CLI] …  awaiting  Starting Prism…\n").unwrap();
        assert!(!says_it_listens(&log, address), "still starting");
        std::fs::write(
            &log,
            "[7:13:02 AM] › [CLI] ▶  start     Prism is listening on http://127.0.0.1:40100\n",
        )
        .unwrap();
        assert!(!says_it_listens(&log, address), "another port");
        std::fs::write(
            &log,
            "[7:13:02 AM] › [CLI] ▶  start     Prism is listening on http://127.0.0.1:4010\n",
        )
        .unwrap();
        assert!(says_it_listens(&log, address));
        assert!(!says_it_listens(&work.join("no log"), address));
        let _ = std::fs::remove_dir_all(work);
    }

    #[test]
    fn a_prism_that_fails_for_another_reason_is_reported_with_its_log() {
        let work = work_dir("fails");
        let prism = work.join("prism");
        std::fs::write(
            &prism,
            "#!/bin/sh\necho 'cannot parse the document' >&2\nexit 2\n",
        )
        .unwrap();
        std::fs::set_permissions(&prism, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut started = spawn(&prism, &work, "http://127.0.0.1:9", work.join("log")).unwrap();
        let error = started.wait_ready().unwrap_err().to_string();
        assert!(error.contains("before listening"), "{error}");
        assert!(error.contains("cannot parse the document"), "{error}");
        let _ = std::fs::remove_dir_all(work);
    }
}

//! Starting one `prism proxy` per official document.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::Document;

/// How long Prism may take to load a document and listen (six start at once on two cores).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A running Prism. It lives as long as the process: when the process ends, for any reason,
/// the pipe held in `_stdin` closes and the wrapper shell kills Prism.
pub(crate) struct Prism {
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
    _child: Child,
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

/// Starts `prism proxy SPEC UPSTREAM` on a free port of 127.0.0.1 (not waiting for it).
pub(crate) fn spawn(prism: &Path, spec: &Path, upstream: &str, log: PathBuf) -> io::Result<Prism> {
    let port = free_port()?;
    let output = std::fs::File::create(&log)?;
    // Prism in the background; a second child waits for our end of the pipe (kept as fd 3,
    // since a background job's stdin is /dev/null) to close, which happens when this process
    // ends, and then stops Prism; the shell itself ends when Prism does.
    let script = r#"exec 3<&0
"$0" proxy "$1" "$2" --host 127.0.0.1 --port "$3" 3<&- & prism=$!
(cat > /dev/null <&3; kill "$prism" 2> /dev/null) &
exec 3<&-
wait "$prism""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(prism)
        .arg(spec)
        .arg(upstream)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .map_err(|error| io::Error::other(format!("cannot start {}: {error}", prism.display())))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    Ok(Prism {
        port,
        log,
        _child: child,
        _stdin: stdin,
    })
}

impl Prism {
    /// Waits until Prism accepts connections.
    pub(crate) fn wait_ready(&mut self) -> io::Result<()> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if let Some(status) = self._child.try_wait()? {
                return Err(io::Error::other(format!(
                    "Prism exited ({status}) before listening: {}",
                    tail(&self.log)
                )));
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(io::Error::other(format!(
                    "Prism did not listen on {address} within {START_TIMEOUT:?}: {}",
                    tail(&self.log)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    format!("{} (log {})", lines[start..].join("\n"), log.display())
}

//! One Lambda function: its `bootstrap` process, started with the environment Lambda gives it,
//! and a Runtime API only it talks to. Invocations run one at a time, as on one Lambda
//! execution environment; the process is killed when the function is dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

pub use super::runtime_api::InvokeOutcome;
use super::runtime_api::{Invocation, RuntimeState, router};

/// What to run, and with which environment (on top of what Lambda itself sets).
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    /// The function's timeout: an invocation not answered by then fails.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("function {0} timed out")]
    Timeout(String),
    #[error("function {name} failed to start: {reason}")]
    InitFailed { name: String, reason: String },
    #[error("function {0} stopped before answering")]
    Stopped(String),
}

pub struct LambdaFunction {
    spec: FunctionSpec,
    runtime_api: std::net::SocketAddr,
    state: RuntimeState,
    queue: mpsc::Sender<Invocation>,
    /// One invocation at a time, like one execution environment.
    busy: tokio::sync::Mutex<()>,
    child: Mutex<Option<Child>>,
    logs: Arc<Mutex<Vec<String>>>,
    /// When the current process was started (`crash_and_restart` starts another).
    started_at: Mutex<Instant>,
}

impl LambdaFunction {
    /// Starts the Runtime API on a free loopback port and the function process against it.
    pub async fn start(spec: FunctionSpec) -> std::io::Result<Self> {
        let (queue, receiver) = mpsc::channel(64);
        let state = RuntimeState::new(receiver, &spec.name);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?;
        let app = router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let started_at = Instant::now();
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let child = spawn_process(&spec, runtime_api, &logs)?;
        Ok(Self {
            spec,
            runtime_api,
            state,
            queue,
            busy: tokio::sync::Mutex::new(()),
            child: Mutex::new(Some(child)),
            logs,
            started_at: Mutex::new(started_at),
        })
    }

    /// The execution environment dies (a crash, an out-of-memory kill, a timeout) and Lambda
    /// starts a fresh one: the process is killed, the invocation it was running fails, and
    /// a new process starts polling for the next event.
    pub async fn crash_and_restart(&self) -> std::io::Result<()> {
        let old = self.child.lock().expect("child lock").take();
        if let Some(mut old) = old {
            let _ = old.kill().await;
        }
        self.state.fail_in_flight();
        self.state.forget_first_poll();
        *self.started_at.lock().expect("started_at lock") = Instant::now();
        let fresh = spawn_process(&self.spec, self.runtime_api, &self.logs)?;
        *self.child.lock().expect("child lock") = Some(fresh);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Everything the process printed (its logs), line by line.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs lock").clone()
    }

    /// When the current process was started: the origin of cold-start timings.
    pub fn started_at(&self) -> Instant {
        *self.started_at.lock().expect("started_at lock")
    }

    /// When the current process first polled the Runtime API for an event (its init done),
    /// if it has yet.
    pub fn first_poll_at(&self) -> Option<Instant> {
        self.state.first_poll()
    }

    /// Lambda's `Duration` of every invocation answered so far, in order: from the event
    /// handed to the process to its answer.
    pub fn durations(&self) -> Vec<Duration> {
        self.state.durations()
    }

    /// The current process's id (for reading its memory use), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .lock()
            .expect("child lock")
            .as_ref()
            .and_then(Child::id)
    }

    /// Invokes the function with `event` and waits for its answer.
    pub async fn invoke(&self, event: &[u8]) -> Result<InvokeOutcome, InvokeError> {
        let _turn = self.busy.lock().await;
        if let Some(reason) = self.state.init_error() {
            return Err(InvokeError::InitFailed {
                name: self.spec.name.clone(),
                reason,
            });
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let (answer, outcome) = oneshot::channel();
        self.state.expect(&request_id, answer);
        let deadline_ms = chrono::Utc::now().timestamp_millis()
            + i64::try_from(self.spec.timeout.as_millis()).unwrap_or(i64::MAX / 2);
        let invocation = Invocation {
            request_id: request_id.clone(),
            event: event.to_vec(),
            deadline_ms,
        };
        if self.queue.send(invocation).await.is_err() {
            return Err(InvokeError::Stopped(self.spec.name.clone()));
        }
        match tokio::time::timeout(self.spec.timeout, self.wait(outcome)).await {
            Ok(result) => result,
            Err(_) => {
                self.state.forget(&request_id);
                Err(InvokeError::Timeout(self.spec.name.clone()))
            }
        }
    }

    /// Waits for the answer, noticing a process that died or reported an init error.
    async fn wait(
        &self,
        mut outcome: oneshot::Receiver<InvokeOutcome>,
    ) -> Result<InvokeOutcome, InvokeError> {
        loop {
            match tokio::time::timeout(Duration::from_millis(50), &mut outcome).await {
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(_)) => return Err(InvokeError::Stopped(self.spec.name.clone())),
                Err(_) => {}
            }
            if let Some(reason) = self.state.init_error() {
                return Err(InvokeError::InitFailed {
                    name: self.spec.name.clone(),
                    reason,
                });
            }
            let exited = self
                .child
                .lock()
                .expect("child lock")
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(InvokeError::InitFailed {
                    name: self.spec.name.clone(),
                    reason: format!(
                        "the process exited ({status}); its output:\n{}",
                        self.logs().join("\n")
                    ),
                });
            }
        }
    }
}

/// Starts the function's process with the environment Lambda gives it.
fn spawn_process(
    spec: &FunctionSpec,
    runtime_api: std::net::SocketAddr,
    logs: &Arc<Mutex<Vec<String>>>,
) -> std::io::Result<Child> {
    let mut command = Command::new(&spec.binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "sandbox")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        // template.yaml's `LoggingConfig: LogFormat: JSON`, which Lambda passes on this way.
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("cannot start {}: {error}", spec.binary.display()),
        )
    })?;
    if let Some(stdout) = child.stdout.take() {
        collect_lines(stdout, Arc::clone(logs));
    }
    if let Some(stderr) = child.stderr.take() {
        collect_lines(stderr, Arc::clone(logs));
    }
    Ok(child)
}

fn collect_lines(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    logs: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.lock().expect("logs lock").push(line);
        }
    });
}

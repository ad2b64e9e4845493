//! One Lambda function: its execution environments, each a `bootstrap` process started with
//! the environment Lambda gives it and a Runtime API only it talks to. An environment runs one
//! invocation at a time; as on Lambda, an invocation that finds every environment busy gets a
//! new one (a cold start), up to the function's concurrency, so two deliveries at once run in
//! two processes that share only DynamoDB and Secrets Manager. Processes are killed when the
//! function is dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

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
    /// At most this many execution environments at once (Lambda's concurrency); an
    /// invocation that finds them all busy waits for the first (AWS would throttle it).
    pub concurrency: usize,
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
    /// In the order they were started; the first is the one invocations made one at a time
    /// always use.
    environments: tokio::sync::Mutex<Vec<Arc<Environment>>>,
    first: Arc<Environment>,
    /// Every environment's output, line by line, in the order printed.
    logs: Arc<Mutex<Vec<String>>>,
}

impl LambdaFunction {
    /// Starts the function's first execution environment.
    pub async fn start(spec: FunctionSpec) -> std::io::Result<Self> {
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let first = Arc::new(Environment::start(&spec, &logs).await?);
        Ok(Self {
            environments: tokio::sync::Mutex::new(vec![Arc::clone(&first)]),
            first,
            spec,
            logs,
        })
    }

    /// The first execution environment dies (a crash, an out-of-memory kill, a timeout) and
    /// Lambda starts a fresh one: the process is killed, the invocation it was running fails,
    /// and a new process starts polling for the next event.
    pub async fn crash_and_restart(&self) -> std::io::Result<()> {
        self.first.crash_and_restart(&self.spec).await
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Everything the function's processes printed (its logs), line by line.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs lock").clone()
    }

    /// How many execution environments have been started (not counting restarts).
    pub async fn environments(&self) -> usize {
        self.environments.lock().await.len()
    }

    /// When the first environment's current process was started: the origin of cold-start
    /// timings.
    pub fn started_at(&self) -> Instant {
        *self.first.started_at.lock().expect("started_at lock")
    }

    /// When the first environment's current process first polled the Runtime API for an
    /// event (its init done), if it has yet.
    pub fn first_poll_at(&self) -> Option<Instant> {
        self.first.state.first_poll()
    }

    /// Lambda's `Duration` of every invocation the first environment answered so far, in
    /// order: from the event handed to the process to its answer.
    pub fn durations(&self) -> Vec<Duration> {
        self.first.state.durations()
    }

    /// The first environment's current process id (for reading its memory use), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.first
            .child
            .lock()
            .expect("child lock")
            .as_ref()
            .and_then(Child::id)
    }

    /// Invokes the function with `event` and waits for its answer: in the first idle
    /// environment, else in a new one while the concurrency allows, else queued behind the
    /// first environment (where AWS would throttle with a 429 at the concurrency limit; the
    /// tests stay under theirs).
    pub async fn invoke(&self, event: &[u8]) -> Result<InvokeOutcome, InvokeError> {
        let (environment, turn) = self.idle_environment().await?;
        environment.invoke(&self.spec, event, turn).await
    }

    async fn idle_environment(
        &self,
    ) -> Result<(Arc<Environment>, OwnedMutexGuard<()>), InvokeError> {
        let environment = {
            let mut environments = self.environments.lock().await;
            let idle = environments.iter().find_map(|environment| {
                let turn = Arc::clone(&environment.busy).try_lock_owned().ok()?;
                Some((Arc::clone(environment), turn))
            });
            if let Some(idle) = idle {
                return Ok(idle);
            }
            if environments.len() < self.spec.concurrency.max(1) {
                let started =
                    Environment::start(&self.spec, &self.logs)
                        .await
                        .map_err(|error| InvokeError::InitFailed {
                            name: self.spec.name.clone(),
                            reason: error.to_string(),
                        })?;
                let started = Arc::new(started);
                // Taken before it is listed, so no other invocation takes it first.
                let turn = Arc::clone(&started.busy)
                    .try_lock_owned()
                    .expect("a new environment is idle");
                environments.push(Arc::clone(&started));
                return Ok((started, turn));
            }
            Arc::clone(&self.first)
        };
        let turn = Arc::clone(&environment.busy).lock_owned().await;
        Ok((environment, turn))
    }
}

/// One execution environment: a process, and the Runtime API it polls.
struct Environment {
    runtime_api: std::net::SocketAddr,
    state: RuntimeState,
    queue: mpsc::Sender<Invocation>,
    /// One invocation at a time.
    busy: Arc<tokio::sync::Mutex<()>>,
    child: Mutex<Option<Child>>,
    /// When the current process was started (`crash_and_restart` starts another).
    started_at: Mutex<Instant>,
    /// The function's logs, which this environment's processes print into.
    logs: Arc<Mutex<Vec<String>>>,
}

impl Environment {
    /// Starts a Runtime API on a free loopback port and the function's process against it.
    async fn start(spec: &FunctionSpec, logs: &Arc<Mutex<Vec<String>>>) -> std::io::Result<Self> {
        let (queue, receiver) = mpsc::channel(64);
        let state = RuntimeState::new(receiver, &spec.name);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?;
        let app = router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let started_at = Instant::now();
        let child = spawn_process(spec, runtime_api, logs)?;
        Ok(Self {
            runtime_api,
            state,
            queue,
            busy: Arc::new(tokio::sync::Mutex::new(())),
            child: Mutex::new(Some(child)),
            started_at: Mutex::new(started_at),
            logs: Arc::clone(logs),
        })
    }

    async fn crash_and_restart(&self, spec: &FunctionSpec) -> std::io::Result<()> {
        let old = self.child.lock().expect("child lock").take();
        if let Some(mut old) = old {
            let _ = old.kill().await;
        }
        self.state.fail_in_flight();
        self.state.forget_first_poll();
        *self.started_at.lock().expect("started_at lock") = Instant::now();
        let fresh = spawn_process(spec, self.runtime_api, &self.logs)?;
        *self.child.lock().expect("child lock") = Some(fresh);
        Ok(())
    }

    /// Hands `event` to the process and waits for its answer; `_turn` keeps others out.
    async fn invoke(
        &self,
        spec: &FunctionSpec,
        event: &[u8],
        _turn: OwnedMutexGuard<()>,
    ) -> Result<InvokeOutcome, InvokeError> {
        if let Some(reason) = self.state.init_error() {
            return Err(InvokeError::InitFailed {
                name: spec.name.clone(),
                reason,
            });
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let (answer, outcome) = oneshot::channel();
        self.state.expect(&request_id, answer);
        let deadline_ms = chrono::Utc::now().timestamp_millis()
            + i64::try_from(spec.timeout.as_millis()).unwrap_or(i64::MAX / 2);
        let invocation = Invocation {
            request_id: request_id.clone(),
            event: event.to_vec(),
            deadline_ms,
        };
        if self.queue.send(invocation).await.is_err() {
            return Err(InvokeError::Stopped(spec.name.clone()));
        }
        match tokio::time::timeout(spec.timeout, self.wait(spec, outcome)).await {
            Ok(result) => result,
            Err(_) => {
                self.state.forget(&request_id);
                // Lambda ends an execution environment whose invocation timed out: the next
                // invocation here gets a fresh process, not one still busy with this one.
                if let Err(error) = self.crash_and_restart(spec).await {
                    tracing::error!(%error, function = spec.name, "the timed-out environment's new process did not start");
                }
                Err(InvokeError::Timeout(spec.name.clone()))
            }
        }
    }

    /// Waits for the answer, noticing a process that died or reported an init error.
    async fn wait(
        &self,
        spec: &FunctionSpec,
        mut outcome: oneshot::Receiver<InvokeOutcome>,
    ) -> Result<InvokeOutcome, InvokeError> {
        loop {
            match tokio::time::timeout(Duration::from_millis(50), &mut outcome).await {
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(_)) => return Err(InvokeError::Stopped(spec.name.clone())),
                Err(_) => {}
            }
            if let Some(reason) = self.state.init_error() {
                return Err(InvokeError::InitFailed {
                    name: spec.name.clone(),
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
                    name: spec.name.clone(),
                    reason: format!(
                        "the process exited ({status}); its output:\n{}",
                        self.logs.lock().expect("logs lock").join("\n")
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

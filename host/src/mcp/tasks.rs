//! The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) at the
//! MCP door: a `tools/call` that goes on after its request is answered.
//!
//! Task creation is the group's decision, at run time: an operation calls
//! `host.run-as-task` (SDK `ctx.run_as_task()`) when the work ahead is
//! long. For a client that declared the extension, the host then keeps a
//! record in the [`TaskStore`], answers the request with it
//! (`resultType: "task"`), and lets the run go on in the background; what
//! the run returns becomes the task's result. A run that finishes without
//! asking answers as usual, so a fast call costs no task.
//!
//! Questions keep the re-run design of [`super::rounds`]: one asked before
//! the task began is an ordinary `input_required` round; one asked in a
//! task parks it (`status: "input_required"` with the questions), the run
//! ends, and once `tasks/update` has answered every question the operation
//! runs again from the start with all the answers, in the background, as
//! the same task. Nothing but the record and the answers is held while a
//! person reads a form.
//!
//! A task's runs keep the call's limits (fuel, memory, wall clock): the
//! extension changes how long the *client* waits, not what the sandbox
//! allows. A run stopped by `tasks/cancel` ends the task as `cancelled`; a
//! trap or limit ends it as `failed` (a protocol-level error); the tool's
//! own error completes it with `isError: true`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CreateTaskResult, DetailedTask, InputResponses, JsonObject, Task, TaskPayload, TaskStatus,
};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::client::PeerClient;
use super::convert::{to_call_result, to_mcp_error};
use super::rounds::{Answers, Asking, Finished, MAX_STATE};
use crate::caller::{Caller, RequestId};
use crate::catalog::Tool;
use crate::config::TasksConfig;
use crate::service::{CallOutcome, CallService, Who};
use crate::tasks::{Change, Embedded, Limits, Record, Status, StoreError, TaskStore, timestamp};

/// The tasks of this host: their records, and the runs of those begun in
/// this process.
pub struct Tasks {
    store: Arc<dyn TaskStore>,
    poll_interval: Duration,
    /// The tasks begun here that are running or parked.
    jobs: Mutex<HashMap<String, Job>>,
}

/// What this process holds of one task it runs.
struct Job {
    /// The call, to run again once the client has answered.
    run: Arc<Run>,
    /// Stops the current run.
    stop: CancellationToken,
    /// Every answer so far, by question key (set when the task parks).
    answers: BTreeMap<String, Value>,
    /// The questions the parked task waits on (key → `{method, params}`).
    pending: BTreeMap<String, Value>,
    /// When the task's record expires: a task parked on questions nobody
    /// answers is forgotten then.
    expires: SystemTime,
}

/// Everything one run of a tool call needs, owned, so that it can go on
/// after the request that started it.
pub struct Run {
    pub service: CallService,
    pub tool: Arc<Tool>,
    pub arguments: JsonObject,
    pub caller: Option<Caller>,
    pub request_id: Option<RequestId>,
    pub traceparent: Option<String>,
    pub client: PeerClient,
    /// The request's `clientCapabilities`.
    pub capabilities: Option<Value>,
}

/// How a run ended, for a caller that waits for it: `None` when it became
/// a task (its end is the task's, recorded in the store).
pub type Ended = Option<(CallOutcome, Finished)>;

impl Run {
    /// Runs the call once with `answers`; the run may become the task
    /// `link` names, or already be it.
    pub async fn go(
        self: Arc<Self>,
        answers: Answers,
        link: Arc<TaskLink>,
        stop: CancellationToken,
    ) -> Ended {
        let who = Who {
            caller: self.caller.as_ref(),
            request_id: self.request_id.as_ref(),
            traceparent: self.traceparent.as_deref(),
        };
        let capabilities = self.capabilities.as_ref().map(std::borrow::Cow::Borrowed);
        let asking = Asking::new(&self.client, Some(answers), capabilities, stop.clone())
            .in_task(link.clone());
        let outcome = self
            .service
            .call(who, &self.tool, self.arguments.clone(), &asking, stop)
            .await;
        let finished = asking.finish();
        match link.id() {
            None => Some((outcome, finished)),
            Some(id) => {
                let id = id.to_owned();
                link.tasks.settle(&id, &self, outcome, finished).await;
                None
            }
        }
    }
}

/// A run's way to its task: the task it belongs to, or the means to
/// begin one and tell the waiting request.
pub struct TaskLink {
    tasks: Arc<Tasks>,
    owner: Option<String>,
    /// The call, kept with the task for the runs after questions.
    run: Arc<Run>,
    stop: CancellationToken,
    id: OnceLock<String>,
    /// The request waiting for the task to begin (first run only).
    began: Mutex<Option<oneshot::Sender<Record>>>,
}

impl TaskLink {
    /// The task the run belongs to, once it began.
    pub fn id(&self) -> Option<&str> {
        self.id.get().map(String::as_str)
    }

    /// `host.run-as-task`: keeps a record (before anyone can hear of it),
    /// registers the run, and tells the waiting request.
    pub async fn begin(&self) -> Result<(), String> {
        if self.id.get().is_some() {
            return Ok(());
        }
        let record = self
            .tasks
            .store
            .create(self.owner.as_deref())
            .await
            .map_err(|e| match e {
                StoreError::Full(why) => {
                    format!("{why}; the call goes on without a task")
                }
                StoreError::Unavailable(why) => {
                    format!("the task store failed ({why}); the call goes on without a task")
                }
            })?;
        let job = Job {
            run: self.run.clone(),
            stop: self.stop.clone(),
            answers: BTreeMap::new(),
            pending: BTreeMap::new(),
            expires: record.created + record.ttl,
        };
        {
            let mut jobs = self.tasks.jobs();
            // Parked tasks whose records expired are gone for good.
            let now = SystemTime::now();
            jobs.retain(|_, job| job.expires > now);
            jobs.insert(record.id.clone(), job);
        }
        let _ = self.id.set(record.id.clone());
        let waiting = self.began.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waiting) = waiting {
            let _ = waiting.send(record);
        }
        Ok(())
    }

    /// A task's progress, as its status message.
    pub fn progress(
        &self,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let shown = match (message, total) {
            (Some(m), Some(t)) => format!("{m} ({done}/{t})"),
            (Some(m), None) => m,
            (None, Some(t)) => format!("{done}/{t}"),
            (None, None) => format!("{done}"),
        };
        async move {
            if let Some(id) = self.id() {
                let _ = self.tasks.store.update(id, Change::Message(shown)).await;
            }
        }
    }
}

impl Tasks {
    /// Tasks kept in this process's memory, within `config`.
    pub fn embedded(config: &TasksConfig) -> Arc<Tasks> {
        Self::new(Arc::new(Embedded::new(Limits::from(config))), config)
    }

    pub fn new(store: Arc<dyn TaskStore>, config: &TasksConfig) -> Arc<Tasks> {
        Arc::new(Tasks {
            store,
            poll_interval: config.poll_interval.0,
            jobs: Mutex::default(),
        })
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first run of a call from a client that takes tasks: answers
    /// with its outcome when it ends as a call, or with the task when it
    /// becomes one. `cancelled` is the request's own end (the client went
    /// away), which stops the run until it becomes a task.
    pub async fn first_run(
        self: &Arc<Self>,
        run: Run,
        answers: Answers,
        cancelled: CancellationToken,
    ) -> Result<Result<(CallOutcome, Finished), CreateTaskResult>, McpError> {
        let (began, mut task) = oneshot::channel();
        let stop = CancellationToken::new();
        let run = Arc::new(run);
        let link = Arc::new(TaskLink {
            tasks: self.clone(),
            owner: run.caller.as_ref().map(|c| c.subject.clone()),
            run: run.clone(),
            stop: stop.clone(),
            id: OnceLock::new(),
            began: Mutex::new(Some(began)),
        });
        let mut running = tokio::spawn(run.go(answers, link, stop.clone()));
        tokio::select! {
            biased;
            Ok(record) = &mut task => Ok(Err(self.created(&record))),
            ended = &mut running => match ended {
                Ok(Some(ended)) => Ok(Ok(ended)),
                // It became a task and ended already.
                Ok(None) => match task.await {
                    Ok(record) => Ok(Err(self.created(&record))),
                    Err(_) => Err(McpError::internal_error("the task was lost", None)),
                },
                Err(panic) => Err(McpError::internal_error(
                    format!("the call's run failed: {panic}"),
                    None,
                )),
            },
            () = cancelled.cancelled() => {
                stop.cancel();
                Err(McpError::internal_error("the request was cancelled", None))
            }
        }
    }

    fn created(&self, record: &Record) -> CreateTaskResult {
        CreateTaskResult::new(self.task(record))
    }

    fn task(&self, record: &Record) -> Task {
        let mut task = Task::new(
            &record.id,
            TaskStatus::Working,
            timestamp(record.created),
            timestamp(record.updated),
        )
        .with_ttl_ms(u64::try_from(record.ttl.as_millis()).unwrap_or(u64::MAX))
        .with_poll_interval_ms(
            u64::try_from(self.poll_interval.as_millis())
                .unwrap_or(1)
                .max(1),
        );
        task.status_message = record.message.clone();
        task
    }

    /// Records how a run of task `id` ended: parked on questions,
    /// completed, or failed.
    async fn settle(&self, id: &str, run: &Run, outcome: CallOutcome, finished: Finished) {
        let status = if !finished.questions.is_empty() {
            let mut jobs = self.jobs();
            match jobs.get_mut(id) {
                // Cancelled meanwhile.
                None => return,
                Some(job) => {
                    job.answers = finished.answers.into_map();
                    job.pending = finished.questions.into_iter().collect();
                    Status::InputRequired(job.pending.clone())
                }
            }
        } else {
            self.jobs().remove(id);
            let missing = match &outcome {
                CallOutcome::PluginError(error) => finished.missing_capability(&error.message),
                _ => None,
            };
            match (missing, outcome) {
                (Some(error), _) => Status::Failed(error_object(&error)),
                (None, CallOutcome::Fault(fault)) => Status::Failed(error_object(
                    &McpError::internal_error(fault.to_string(), None),
                )),
                (None, outcome) => {
                    let result = to_call_result(&run.tool, outcome);
                    match serde_json::to_value(result) {
                        Ok(Value::Object(result)) => Status::Completed(result),
                        _ => Status::Failed(error_object(&McpError::internal_error(
                            "the call's result could not be kept",
                            None,
                        ))),
                    }
                }
            }
        };
        if let Err(e) = self.store.update(id, Change::Status(status)).await {
            tracing::warn!(task = id, "could not record how a task ended: {e}");
        }
    }

    /// `tasks/get`.
    pub async fn get(&self, id: &str, owner: Option<&str>) -> Result<DetailedTask, McpError> {
        let record = self.find(id, owner).await?;
        let task = self.task(&record);
        let payload = match record.status {
            Status::Working => TaskPayload::Working,
            Status::Cancelled => TaskPayload::Cancelled,
            Status::InputRequired(requests) => TaskPayload::InputRequired {
                input_requests: requests
                    .into_iter()
                    .filter_map(|(key, request)| Some((key, serde_json::from_value(request).ok()?)))
                    .collect(),
            },
            Status::Completed(result) => TaskPayload::Completed { result },
            Status::Failed(error) => TaskPayload::Failed { error },
        };
        Ok(DetailedTask::new(task, payload))
    }

    /// `tasks/update`: the client's answers to a parked task's questions.
    /// Answers to questions it does not wait on are ignored; once every
    /// question is answered, the operation runs again with all answers.
    ///
    /// The run again is a call like any other: its tool is looked up anew
    /// for `who`, through the call service's authorization (the caller's
    /// scopes now, the group's version now).
    pub async fn update(
        self: &Arc<Self>,
        id: &str,
        who: Who<'_>,
        responses: InputResponses,
    ) -> Result<(), McpError> {
        let owner = who.caller.map(|c| c.subject.as_str());
        self.find(id, owner).await?;
        let Some(parked) = self.jobs().get(id).map(|job| job.run.clone()) else {
            return Ok(());
        };
        let tool = parked
            .service
            .find_tool(who, &parked.tool.name)
            .await
            .map_err(to_mcp_error)?;
        let (status, again) = {
            let mut jobs = self.jobs();
            let Some(job) = jobs.get_mut(id) else {
                return Ok(());
            };
            if job.pending.is_empty() {
                return Ok(());
            }
            // The answers a task keeps are bounded as a requestState is.
            let mut size: usize = job.answers.values().map(json_size).sum();
            for (key, answer) in responses {
                if !job.pending.contains_key(&key) {
                    continue;
                }
                size += json_size(&answer);
                if size > MAX_STATE {
                    return Err(McpError::invalid_params(
                        format!(
                            "the answers to this task's questions exceed {MAX_STATE} bytes \
                             together; answer with less"
                        ),
                        None,
                    ));
                }
                job.pending.remove(&key);
                job.answers.insert(key, answer);
            }
            if job.pending.is_empty() {
                job.run = Arc::new(Run {
                    service: parked.service.clone(),
                    tool,
                    arguments: parked.arguments.clone(),
                    caller: who.caller.cloned(),
                    request_id: who.request_id.cloned(),
                    traceparent: who.traceparent.map(str::to_owned),
                    client: parked.client.clone(),
                    capabilities: parked.capabilities.clone(),
                });
                job.stop = CancellationToken::new();
                let again = (job.run.clone(), job.stop.clone(), job.answers.clone());
                (Status::Working, Some(again))
            } else {
                (Status::InputRequired(job.pending.clone()), None)
            }
        };
        self.store
            .update(id, Change::Status(status))
            .await
            .map_err(|e| McpError::internal_error(format!("the task store failed: {e}"), None))?;
        if let Some((run, stop, answers)) = again {
            let link = Arc::new(TaskLink {
                tasks: self.clone(),
                owner: owner.map(str::to_owned),
                run: run.clone(),
                stop: stop.clone(),
                id: OnceLock::from(id.to_owned()),
                began: Mutex::new(None),
            });
            tokio::spawn(run.go(Answers::from_map(answers), link, stop));
        }
        Ok(())
    }

    /// `tasks/cancel`: stops the task's run and ends it as cancelled; a
    /// task that is over already stays as it ended.
    pub async fn cancel(&self, id: &str, owner: Option<&str>) -> Result<(), McpError> {
        let record = self.find(id, owner).await?;
        if record.status.is_terminal() {
            return Ok(());
        }
        if let Some(job) = self.jobs().remove(id) {
            job.stop.cancel();
        }
        self.store
            .update(id, Change::Status(Status::Cancelled))
            .await
            .map_err(|e| McpError::internal_error(format!("the task store failed: {e}"), None))?;
        Ok(())
    }

    async fn find(&self, id: &str, owner: Option<&str>) -> Result<Record, McpError> {
        match self.store.get(id, owner).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(McpError::invalid_params(
                format!(
                    "no task `{}` is known to this server for this caller: the id is \
                     wrong, the task expired, or it belongs to another caller",
                    crate::service::shown(id)
                ),
                Some(json!({ "taskId": crate::service::shown(id) })),
            )),
            Err(e) => Err(McpError::internal_error(
                format!("the task store failed: {e}"),
                None,
            )),
        }
    }
}

/// The length of `value` as JSON text.
fn json_size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |text| text.len())
}

/// A JSON-RPC error as the object a failed task carries.
fn error_object(error: &McpError) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("code".into(), json!(error.code.0));
    object.insert("message".into(), json!(error.message));
    if let Some(data) = &error.data {
        object.insert("data".into(), data.clone());
    }
    object
}

/// Whether the `extensions` of a client's capabilities declare the tasks
/// extension.
pub fn declared(extensions: Option<&Value>) -> bool {
    extensions
        .and_then(|e| e.get(rmcp::model::TASKS_EXTENSION_ID))
        .is_some()
}

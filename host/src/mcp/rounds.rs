//! Multi round-trip requests (SEP-2322, MCP 2026-07-28): how a group asks
//! a 2026 client for sampling or elicitation.
//!
//! A 2026-07-28 server never sends a request to the client during a call.
//! When a group asks something, the host ends the call and answers
//! `resultType: "input_required"` with the question in `inputRequests` and
//! a sealed `requestState`; the client answers the question and sends the
//! same request again with `inputResponses` and the state. The host then
//! **runs the operation again from the start**, and each question the
//! group asks is answered from what the client sent, in order, until it
//! asks one that has no answer yet (another round) or finishes.
//!
//! Re-running, rather than keeping the instance suspended between rounds,
//! keeps the host stateless between requests: no instance, memory or slot
//! is held while a person reads a form, a retry may reach another replica
//! that shares the key, and a client that never comes back costs nothing.
//! The price is that an operation that asks must ask the same questions in
//! the same order given the same arguments and answers (work done before
//! a question is done again on each round); the README says so.
//!
//! `requestState` is attacker-controlled input. It is sealed with
//! HMAC-SHA256 (rmcp's `RequestStateCodec`) under the host's key, bound to
//! the caller, the tool and its arguments (a state issued for one request
//! opens for no other), expires after [`STATE_TTL`], and is refused past
//! [`MAX_STATE`] bytes or [`MAX_ANSWERS`] answers. What it carries is only
//! the client's own earlier answers, keyed by question.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    InputRequiredResult, InputResponses, RequestStateCodec, SealOptions, TASKS_EXTENSION_ID,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::client::{
    elicitation_answer, elicitation_params, elicitation_url_params, sampling_answer,
    sampling_params,
};
use super::tasks::TaskLink;
use crate::published::UriMap;
use crate::service::Client;
use crate::source::{
    ClientAnswer, ElicitAction, ElicitResponse, ElicitationForm, Level, Question, Root,
    SamplingRequest, SamplingResponse,
};

/// How long a client may take to answer one round.
pub const STATE_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest `requestState` accepted.
pub const MAX_STATE: usize = 256 * 1024;

/// The most questions one request may have answered: a group that keeps
/// asking gets an error instead of endless rounds.
pub const MAX_ANSWERS: usize = 32;

/// Seals and opens `requestState` with the host's key.
pub struct Rounds {
    codec: RequestStateCodec,
}

/// What a request's `requestState` carries.
#[derive(Serialize, Deserialize, Default)]
struct State {
    /// Answers of earlier rounds, by question key.
    answers: BTreeMap<String, Value>,
    /// The questions of the last round, which the retry answers.
    asked: Vec<String>,
}

/// The answers a run of the operation may use, by question key.
#[derive(Default, Debug)]
pub struct Answers(BTreeMap<String, Value>);

impl Answers {
    /// The answers, by question key, owned.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.0
    }

    /// Answers the client gave through other means (a task's updates).
    pub fn from_map(answers: BTreeMap<String, Value>) -> Self {
        Answers(answers)
    }
}

impl Rounds {
    /// Seals with `key` (at least 32 bytes), or with a random key when
    /// none is configured: then a state survives neither a restart nor a
    /// trip to another replica.
    pub fn new(key: Option<&[u8]>) -> anyhow::Result<Rounds> {
        let Some(key) = key else {
            return Ok(Rounds::random());
        };
        let codec = RequestStateCodec::try_new(key.to_vec()).map_err(|e| {
            anyhow::anyhow!("server.request_state_key: {e}; use 32 or more random bytes")
        })?;
        Ok(Rounds { codec })
    }

    /// Seals with a random key of this process.
    pub fn random() -> Rounds {
        let mut key = vec![0; 32];
        getrandom::fill(&mut key).expect("the OS random source works");
        Rounds {
            codec: RequestStateCodec::new(key),
        }
    }

    /// The answers a retry brings: those sealed in `state`, then the
    /// client's `responses` for any other question (the client's own
    /// answers either way; one it sends early, or without the state, is
    /// used when the question comes). Fails with a message for the client
    /// when the state is forged, expired, too large or issued for another
    /// request.
    pub fn resume(
        &self,
        binding: &[u8],
        state: Option<&str>,
        responses: Option<&InputResponses>,
    ) -> Result<Answers, String> {
        let mut answers = match state {
            None => BTreeMap::new(),
            Some(state) => self.open(binding, state)?.answers,
        };
        for (key, answer) in responses.into_iter().flatten() {
            if answers.len() >= MAX_ANSWERS {
                break;
            }
            answers.entry(key.clone()).or_insert_with(|| answer.clone());
        }
        Ok(Answers(answers))
    }

    fn open(&self, binding: &[u8], state: &str) -> Result<State, String> {
        if state.len() > MAX_STATE {
            return Err(format!(
                "requestState is longer than {MAX_STATE} bytes; send the request again without it"
            ));
        }
        let opened = self.codec.open_with(state, binding).map_err(|e| {
            format!(
                "requestState failed verification ({e}): it was altered, has expired, or was \
                 issued for another request; send the request again without requestState \
                 and inputResponses"
            )
        })?;
        serde_json::from_slice(&opened)
            .map_err(|e| format!("requestState does not hold what this host sealed: {e}"))
    }

    /// The result that asks `questions` (each a key and the request as
    /// `{method, params}`), with the answers so far sealed for the retry.
    pub fn input_required(
        &self,
        binding: &[u8],
        answers: Answers,
        questions: Vec<(String, Value)>,
    ) -> Result<InputRequiredResult, String> {
        let state = State {
            answers: answers.0,
            asked: questions.iter().map(|(key, _)| key.clone()).collect(),
        };
        let payload = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
        let sealed = self.codec.seal_with(
            &payload,
            &SealOptions::new().associated_data(binding).ttl(STATE_TTL),
        );
        let requests: Map<String, Value> = questions.into_iter().collect();
        serde_json::from_value(json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": sealed,
        }))
        .map_err(|e| format!("the group's question is not a valid MCP request: {e}"))
    }
}

/// What a state is bound to: who asked, which tool, which arguments (in a
/// canonical form, so that a client reordering keys still matches).
pub fn binding(subject: Option<&str>, tool: &str, arguments: &Map<String, Value>) -> Vec<u8> {
    fn object(map: &Map<String, Value>, out: &mut String) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        out.push('{');
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key).unwrap_or_default());
            out.push(':');
            canonical(&map[key], out);
        }
        out.push('}');
    }
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => object(map, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    out.push_str(subject.unwrap_or(""));
    out.push('\0');
    out.push_str(tool);
    out.push('\0');
    object(arguments, &mut out);
    out.into_bytes()
}

/// The client of one run of an operation in a 2026-07-28 request: log and
/// progress go to `inner`; a question is answered from [`Answers`], or,
/// the first time some have no answer, they are recorded and the run
/// stopped (through `stop`) so that the caller answers `input_required`.
pub struct Asking<'a> {
    inner: &'a dyn Client,
    /// `None`: not a 2026-07-28 request; questions go to `inner`.
    answers: Option<Answers>,
    /// The client's `clientCapabilities`.
    capabilities: Option<Cow<'a, Value>>,
    /// Questions asked without a key of the group's (numbered).
    asked: AtomicU32,
    questions: Mutex<Vec<(String, Value)>>,
    /// A capability a question needed that the client did not declare.
    refused: Mutex<Option<&'static str>>,
    stop: CancellationToken,
    /// The task this run may become or belongs to; `None`: the client
    /// takes no tasks.
    task: Option<Arc<TaskLink>>,
}

/// What `mutex` held, poisoned or not.
fn take<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// How a run that could ask questions ended.
pub struct Finished {
    /// The questions that stopped it (key, `{method, params}`); empty when
    /// none did.
    pub questions: Vec<(String, Value)>,
    /// The answers it had, to seal for the next round.
    pub answers: Answers,
    /// A capability one of its questions needed that the client did not
    /// declare (`sampling`, `elicitation`, `roots`, or the tasks extension
    /// by its id).
    pub refused: Option<&'static str>,
}

impl Finished {
    /// The JSON-RPC error MCP names for a request that needed `refused`
    /// (-32021, with `requiredCapabilities`), when the source failed after
    /// hearing the client lacks it: it could not do without. `failure` is
    /// the source's own message.
    pub fn missing_capability(&self, failure: &str) -> Option<McpError> {
        let capability = self.refused?;
        let required = match capability {
            TASKS_EXTENSION_ID => json!({ "extensions": { capability: {} } }),
            URL_ELICITATION => json!({ "elicitation": { "url": {} } }),
            _ => json!({ capability: {} }),
        };
        let mut error = McpError::missing_required_client_capability(
            serde_json::from_value(required).unwrap_or_default(),
        );
        error.message = format!(
            "Missing required client capability: this request needs `{capability}`, which \
             the client did not declare in its clientCapabilities ({failure})"
        )
        .into();
        Some(error)
    }
}

/// What kind of question, as MCP names its capability and its request.
fn kind_of(question: &Question) -> (&'static str, &'static str) {
    match question {
        Question::Sampling(_) => ("sampling", "sampling/createMessage"),
        Question::Elicitation(_) => ("elicitation", "elicitation/create"),
        Question::Roots => ("roots", "roots/list"),
    }
}

/// The params of the request that asks `question`.
fn params_of(question: Question, uris: &UriMap) -> Result<Value, String> {
    match question {
        Question::Sampling(request) => sampling_params(request, uris),
        Question::Elicitation(form) => elicitation_params(form.message, &form.requested_schema),
        Question::Roots => Ok(json!({})),
    }
}

/// Whether `value` is the result MCP defines for a question of `kind`.
fn well_formed(kind: &str, value: &Value) -> bool {
    use rmcp::model::{CreateMessageResult, ElicitResult, ListRootsResult};
    match kind {
        "sampling" => CreateMessageResult::deserialize(value).is_ok(),
        "elicitation" => ElicitResult::deserialize(value).is_ok(),
        _ => ListRootsResult::deserialize(value).is_ok(),
    }
}

/// The client's answer (a result as JSON) to a question of `kind`.
fn answer_of(kind: &str, value: &Value) -> Result<ClientAnswer, String> {
    match kind {
        "sampling" => sampling_answer(value).map(ClientAnswer::Sampling),
        "elicitation" => Ok(ClientAnswer::Elicitation(elicitation_answer(value))),
        _ => roots_answer(value).map(ClientAnswer::Roots),
    }
}

impl<'a> Asking<'a> {
    /// `capabilities` is the request's
    /// `io.modelcontextprotocol/clientCapabilities`; `stop` ends the run.
    /// Without `answers`, questions go to `inner` as they are.
    pub fn new(
        inner: &'a dyn Client,
        answers: Option<Answers>,
        capabilities: Option<Cow<'a, Value>>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            inner,
            answers,
            capabilities,
            asked: AtomicU32::new(0),
            questions: Mutex::new(Vec::new()),
            refused: Mutex::new(None),
            stop,
            task: None,
        }
    }

    /// The same, for a client that takes tasks: the run may become the
    /// task `link` names (or already is it).
    pub fn in_task(self, link: Arc<TaskLink>) -> Self {
        Self {
            task: Some(link),
            ..self
        }
    }

    /// The task this run became, if it did.
    fn task_id(&self) -> Option<&str> {
        self.task.as_deref().and_then(TaskLink::id)
    }

    /// How the run ended, as far as questions go.
    pub fn finish(self) -> Finished {
        Finished {
            questions: take(self.questions),
            answers: self.answers.unwrap_or_default(),
            refused: take(self.refused),
        }
    }

    /// Whether the client declared `capability` (a dotted path, as
    /// `elicitation.url`).
    fn declares(&self, capability: &str) -> bool {
        let mut at = self.capabilities.as_deref();
        for part in capability.split('.') {
            at = at.and_then(|c| c.get(part));
        }
        at.is_some()
    }

    /// Answers `questions` (keyed) from the answers so far; when some have
    /// none, records them for the client and stops the run.
    fn rounds<'b>(
        &'b self,
        answers: &'b Answers,
        questions: Vec<(String, Question)>,
        uris: &'b UriMap,
    ) -> BoxFuture<'b, Vec<Result<ClientAnswer, String>>> {
        let pending = questions
            .into_iter()
            .map(|(key, question)| {
                let (kind, method) = kind_of(&question);
                let pending = Pending {
                    capability: kind,
                    kind,
                    method,
                    params: params_of(question, uris),
                };
                (key, pending)
            })
            .collect();
        self.round(answers, pending)
    }

    /// [`Self::rounds`] for questions made into requests.
    fn round<'b>(
        &'b self,
        answers: &'b Answers,
        questions: Vec<(String, Pending)>,
    ) -> BoxFuture<'b, Vec<Result<ClientAnswer, String>>> {
        let mut out = Vec::with_capacity(questions.len());
        let mut unanswered = Vec::new();
        for (key, question) in questions {
            let Pending {
                capability,
                kind,
                method,
                params,
            } = question;
            if !self.declares(capability) {
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(capability);
                out.push(Err(self.unavailable(capability)));
                continue;
            }
            // An answer that is not the result its request calls for is
            // no answer: the question goes out again.
            if let Some(value) = answers.0.get(&key).filter(|v| well_formed(kind, v)) {
                out.push(answer_of(kind, value));
                continue;
            }
            match params {
                Ok(params) => {
                    out.push(Err(String::new()));
                    unanswered.push((key, json!({ "method": method, "params": params })));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        if unanswered.is_empty() {
            return Box::pin(async move { out });
        }
        if answers.0.len() + unanswered.len() > MAX_ANSWERS {
            let refusal = format!(
                "the operation asked more than {MAX_ANSWERS} questions in one request; \
                 the host stops it there"
            );
            return Box::pin(
                async move { out.into_iter().map(|_| Err(refusal.clone())).collect() },
            );
        }
        take_into(&self.questions, unanswered);
        self.stop.cancel();
        // The run ends here: the questions go to the client instead.
        Box::pin(futures::future::pending())
    }

    /// One question asked without a key: numbered by kind and order, as
    /// `elicitation:1`. The colon keeps these apart from the keys a group
    /// chooses, which `host.ask` limits to `[A-Za-z0-9_.-]`.
    fn one<'b>(
        &'b self,
        question: Question,
        uris: &'b UriMap,
    ) -> BoxFuture<'b, Result<ClientAnswer, String>> {
        let (kind, _) = kind_of(&question);
        let asked = self.ask(vec![(self.numbered(kind), question)], uris);
        Box::pin(async move { asked.await.pop().unwrap_or_else(|| Err("no answer".into())) })
    }

    /// The key of the next question of `kind` asked without one.
    fn numbered(&self, kind: &str) -> String {
        let n = self.asked.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{kind}:{n}")
    }
}

/// One question as the request the client gets.
struct Pending {
    /// What the client must have declared (a dotted path).
    capability: &'static str,
    /// The kind of result that answers it: `sampling`, `elicitation`,
    /// `roots`.
    kind: &'static str,
    method: &'static str,
    params: Result<Value, String>,
}

/// The capability a URL elicitation needs.
const URL_ELICITATION: &str = "elicitation.url";

/// Adds `items` to what `mutex` holds.
fn take_into<T>(mutex: &Mutex<Vec<T>>, items: Vec<T>) {
    mutex
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(items);
}

/// The client's `ListRootsResult` (JSON), in the group's terms.
fn roots_answer(value: &Value) -> Result<Vec<Root>, String> {
    let roots = value["roots"]
        .as_array()
        .ok_or("the client's answer to roots/list has no `roots` list")?;
    Ok(roots
        .iter()
        .map(|root| Root {
            uri: root["uri"].as_str().unwrap_or_default().to_owned(),
            name: root["name"].as_str().map(str::to_owned),
        })
        .collect())
}

impl Client for Asking<'_> {
    fn log(&self, level: Level, message: String) -> BoxFuture<'_, ()> {
        // A task's request has been answered: nobody hears its log lines.
        if self.task_id().is_some() {
            return Box::pin(async {});
        }
        self.inner.log(level, message)
    }

    fn progress(
        &self,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        // A task's progress becomes its status message.
        if let Some(link) = self.task.as_deref().filter(|link| link.id().is_some()) {
            return Box::pin(link.progress(done, total, message));
        }
        self.inner.progress(done, total, message)
    }

    fn run_as_task(&self) -> BoxFuture<'_, Result<(), String>> {
        match &self.task {
            Some(link) => Box::pin(link.begin()),
            None => {
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(TASKS_EXTENSION_ID);
                self.inner.run_as_task()
            }
        }
    }

    fn sample<'b>(
        &'b self,
        request: SamplingRequest,
        uris: &'b UriMap,
    ) -> BoxFuture<'b, Result<SamplingResponse, String>> {
        if self.answers.is_none() {
            return self.inner.sample(request, uris);
        }
        let answer = self.one(Question::Sampling(request), uris);
        Box::pin(async move {
            match answer.await? {
                ClientAnswer::Sampling(response) => Ok(response),
                _ => Err("the client answered another question".into()),
            }
        })
    }

    fn elicit(
        &self,
        message: String,
        requested_schema: String,
    ) -> BoxFuture<'_, Result<ElicitResponse, String>> {
        if self.answers.is_none() {
            return self.inner.elicit(message, requested_schema);
        }
        let form = ElicitationForm {
            message,
            requested_schema,
        };
        // The form's URIs need no publishing.
        static NO_URIS: std::sync::LazyLock<UriMap> = std::sync::LazyLock::new(UriMap::default);
        let answer = self.one(Question::Elicitation(form), &NO_URIS);
        Box::pin(async move {
            match answer.await? {
                ClientAnswer::Elicitation(response) => Ok(response),
                _ => Err("the client answered another question".into()),
            }
        })
    }

    fn ask<'b>(
        &'b self,
        questions: Vec<(String, Question)>,
        uris: &'b UriMap,
    ) -> BoxFuture<'b, Vec<Result<ClientAnswer, String>>> {
        match &self.answers {
            None => self.inner.ask(questions, uris),
            Some(answers) => self.rounds(answers, questions, uris),
        }
    }

    fn roots(&self) -> BoxFuture<'_, Result<Vec<Root>, String>> {
        self.inner.roots()
    }

    fn elicit_url(
        &self,
        message: String,
        url: String,
    ) -> BoxFuture<'_, Result<ElicitAction, String>> {
        let Some(answers) = &self.answers else {
            return self.inner.elicit_url(message, url);
        };
        let pending = Pending {
            capability: URL_ELICITATION,
            kind: "elicitation",
            method: "elicitation/create",
            params: Ok(elicitation_url_params(message, url)),
        };
        let asked = self.round(answers, vec![(self.numbered("elicitation"), pending)]);
        Box::pin(async move {
            match asked.await.pop() {
                Some(Ok(ClientAnswer::Elicitation(response))) => Ok(response.action),
                Some(Ok(_)) => Err("the client answered another question".into()),
                Some(Err(e)) => Err(e),
                None => Err("no answer".into()),
            }
        })
    }

    fn unavailable(&self, what: &str) -> String {
        if self.answers.is_none() {
            return self.inner.unavailable(what);
        }
        format!(
            "{what} is not available: the MCP client does not offer it (no `{what}` in \
             its clientCapabilities); the operation must work without it"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds() -> Rounds {
        Rounds::new(Some(&[7; 32])).unwrap()
    }

    fn question() -> (String, Value) {
        let params = elicitation_params("Name?".into(), r#"{"type":"object","properties":{}}"#);
        let request = json!({ "method": "elicitation/create", "params": params.unwrap() });
        ("elicitation:1".into(), request)
    }

    fn state_of(result: &InputRequiredResult) -> String {
        result.request_state.clone().unwrap()
    }

    #[test]
    fn a_state_opens_only_for_its_own_request() {
        let rounds = rounds();
        let args = Map::from_iter([("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))]);
        let bound = binding(Some("alice"), "t", &args);
        let result = rounds
            .input_required(&bound, Answers::default(), vec![question()])
            .unwrap();
        let state = state_of(&result);
        let responses =
            InputResponses::from([("elicitation:1".to_owned(), json!({ "action": "accept" }))]);
        let answers = rounds
            .resume(&bound, Some(&state), Some(&responses))
            .unwrap();
        assert_eq!(answers.0.len(), 1);

        // Same arguments in another order: the same request.
        let reordered = Map::from_iter([("b".to_owned(), json!(2)), ("a".to_owned(), json!(1))]);
        assert!(
            rounds
                .resume(&binding(Some("alice"), "t", &reordered), Some(&state), None)
                .is_ok()
        );
        // Another caller, tool or arguments; a tampered or foreign state.
        for other in [
            binding(Some("bob"), "t", &args),
            binding(Some("alice"), "u", &args),
            binding(Some("alice"), "t", &Map::new()),
        ] {
            assert!(rounds.resume(&other, Some(&state), None).is_err());
        }
        let tampered = format!("{state}-TAMPERED");
        let err = rounds.resume(&bound, Some(&tampered), None).unwrap_err();
        assert!(err.contains("failed verification"), "{err}");
        let foreign = Rounds::new(Some(&[8; 32])).unwrap();
        assert!(foreign.resume(&bound, Some(&state), None).is_err());
        assert!(
            rounds
                .resume(&bound, Some(&"x".repeat(MAX_STATE + 1)), None)
                .is_err()
        );
    }

    #[test]
    fn responses_add_to_the_sealed_answers_without_replacing_them() {
        let rounds = rounds();
        let bound = binding(None, "t", &Map::new());
        let first = rounds.input_required(&bound, Answers::default(), vec![question()]);
        let state = state_of(&first.unwrap());
        let declined = json!({ "action": "decline" });
        let responses = InputResponses::from([("elicitation:1".to_owned(), declined)]);
        let answers = rounds.resume(&bound, Some(&state), Some(&responses));
        let (_, request) = question();
        let second = ("elicitation:2".to_owned(), request);
        let next = rounds.input_required(&bound, answers.unwrap(), vec![second]);
        let state = state_of(&next.unwrap());
        // A later response for a sealed question does not replace it.
        let accepted = json!({ "action": "accept" });
        let responses = InputResponses::from([
            ("elicitation:1".to_owned(), accepted.clone()),
            ("elicitation:2".to_owned(), accepted),
        ]);
        let answers = rounds
            .resume(&bound, Some(&state), Some(&responses))
            .unwrap();
        assert_eq!(answers.0["elicitation:1"]["action"], "decline");
        assert_eq!(answers.0["elicitation:2"]["action"], "accept");
        // Without a state, responses are the client's answers all the same.
        let answers = rounds.resume(&bound, None, Some(&responses)).unwrap();
        assert_eq!(answers.0.len(), 2);
    }

    #[test]
    fn a_short_key_is_refused_with_the_setting_named() {
        let err = Rounds::new(Some(b"short")).err().unwrap().to_string();
        assert!(err.contains("server.request_state_key"), "{err}");
    }
}

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

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::{InputRequiredResult, InputResponses, RequestStateCodec, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::client::{elicitation_answer, elicitation_params, sampling_answer, sampling_params};
use crate::published::UriMap;
use crate::service::Client;
use crate::source::{ElicitResponse, Level, SamplingRequest, SamplingResponse};

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

    /// The result that asks `question` (key, then the request as
    /// `{method, params}`), with the answers so far sealed for the retry.
    pub fn input_required(
        &self,
        binding: &[u8],
        answers: Answers,
        question: (String, Value),
    ) -> Result<InputRequiredResult, String> {
        let (key, request) = question;
        let state = State {
            answers: answers.0,
            asked: vec![key.clone()],
        };
        let payload = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
        let sealed = self.codec.seal_with(
            &payload,
            &SealOptions::new().associated_data(binding).ttl(STATE_TTL),
        );
        serde_json::from_value(json!({
            "resultType": "input_required",
            "inputRequests": { key: request },
            "requestState": sealed,
        }))
        .map_err(|e| format!("the group's question is not a valid MCP request: {e}"))
    }
}

/// What a state is bound to: who asked, which tool, which arguments (in a
/// canonical form, so that a client reordering keys still matches).
pub fn binding(subject: Option<&str>, tool: &str, arguments: &Map<String, Value>) -> Vec<u8> {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
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
    canonical(&Value::Object(arguments.clone()), &mut out);
    out.into_bytes()
}

/// The client of one run of an operation in a 2026-07-28 request: log and
/// progress go to `inner`; a question is answered from [`Answers`], or, the
/// first time one has no answer, recorded and the run stopped (through
/// `stop`) so that the caller answers `input_required`.
pub struct Asking<'a> {
    inner: &'a dyn Client,
    /// `None`: not a 2026-07-28 request; questions go to `inner`.
    answers: Option<Answers>,
    /// What the client declared it can answer.
    sampling: bool,
    elicitation: bool,
    asked: AtomicU32,
    question: Mutex<Option<(String, Value)>>,
    /// A capability a question needed that the client did not declare.
    refused: Mutex<Option<&'static str>>,
    stop: CancellationToken,
}

/// What `mutex` held, poisoned or not.
fn take<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// How a run that could ask questions ended.
pub struct Finished {
    /// The question that stopped it (key, `{method, params}`).
    pub question: Option<(String, Value)>,
    /// The answers it had, to seal for the next round.
    pub answers: Answers,
    /// A capability one of its questions needed that the client did not
    /// declare (`sampling`, `elicitation`).
    pub refused: Option<&'static str>,
}

impl Finished {
    /// The JSON-RPC error MCP names for a request that needed `refused`
    /// (-32021, with `requiredCapabilities`), when the source failed after
    /// hearing the client lacks it: it could not do without. `failure` is
    /// the source's own message.
    pub fn missing_capability(&self, failure: &str) -> Option<McpError> {
        let capability = self.refused?;
        let mut error = McpError::missing_required_client_capability(
            serde_json::from_value(json!({ capability: {} })).unwrap_or_default(),
        );
        error.message = format!(
            "Missing required client capability: this request needs `{capability}`, which \
             the client did not declare in its clientCapabilities ({failure})"
        )
        .into();
        Some(error)
    }
}

impl<'a> Asking<'a> {
    /// `capabilities` is the request's
    /// `io.modelcontextprotocol/clientCapabilities`; `stop` ends the run.
    /// Without `answers`, questions go to `inner` as they are.
    pub fn new(
        inner: &'a dyn Client,
        answers: Option<Answers>,
        capabilities: Option<&Value>,
        stop: CancellationToken,
    ) -> Self {
        let declares = |name: &str| capabilities.and_then(|c| c.get(name)).is_some();
        Self {
            inner,
            answers,
            sampling: declares("sampling"),
            elicitation: declares("elicitation"),
            asked: AtomicU32::new(0),
            question: Mutex::new(None),
            refused: Mutex::new(None),
            stop,
        }
    }

    /// How the run ended, as far as questions go.
    pub fn finish(self) -> Finished {
        Finished {
            question: take(self.question),
            answers: self.answers.unwrap_or_default(),
            refused: take(self.refused),
        }
    }

    /// The refusal of a question needing `capability`, which the client
    /// did not declare.
    fn refuse<T: Send + 'static>(
        &self,
        capability: &'static str,
    ) -> BoxFuture<'static, Result<T, String>> {
        *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(capability);
        let refusal = self.unavailable(capability);
        Box::pin(async move { Err(refusal) })
    }

    /// The answer to the next question, of `kind`, or: stop the run and
    /// keep `request` (its params) as the question for the client.
    fn next<T: Send + 'static>(
        &self,
        kind: &str,
        method: &str,
        params: Result<Value, String>,
        answer: impl FnOnce(&Value) -> Result<T, String>,
    ) -> BoxFuture<'static, Result<T, String>> {
        let answers = self.answers.as_ref().map(|a| &a.0);
        let n = self.asked.fetch_add(1, Ordering::Relaxed) + 1;
        let key = format!("{kind}-{n}");
        if let Some(value) = answers.and_then(|a| a.get(&key)) {
            let answer = answer(value);
            return Box::pin(async move { answer });
        }
        if answers.is_some_and(|a| a.len() >= MAX_ANSWERS) {
            let refusal = format!(
                "the operation asked more than {MAX_ANSWERS} questions in one request; \
                 the host stops it there"
            );
            return Box::pin(async move { Err(refusal) });
        }
        let params = match params {
            Ok(params) => params,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        *self.question.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((key, json!({ "method": method, "params": params })));
        self.stop.cancel();
        // The run ends here: the question goes to the client instead.
        Box::pin(futures::future::pending())
    }
}

impl Client for Asking<'_> {
    fn log(&self, level: Level, message: String) -> BoxFuture<'_, ()> {
        self.inner.log(level, message)
    }

    fn progress(
        &self,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        self.inner.progress(done, total, message)
    }

    fn sample<'b>(
        &'b self,
        request: SamplingRequest,
        uris: &'b UriMap,
    ) -> BoxFuture<'b, Result<SamplingResponse, String>> {
        if self.answers.is_none() {
            return self.inner.sample(request, uris);
        }
        if !self.sampling {
            return self.refuse("sampling");
        }
        let params = sampling_params(request, uris);
        self.next(
            "sampling",
            "sampling/createMessage",
            params,
            sampling_answer,
        )
    }

    fn elicit(
        &self,
        message: String,
        requested_schema: String,
    ) -> BoxFuture<'_, Result<ElicitResponse, String>> {
        if self.answers.is_none() {
            return self.inner.elicit(message, requested_schema);
        }
        if !self.elicitation {
            return self.refuse("elicitation");
        }
        let params = elicitation_params(message, &requested_schema);
        self.next("elicitation", "elicitation/create", params, |value| {
            Ok(elicitation_answer(value))
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
        ("elicitation-1".into(), request)
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
            .input_required(&bound, Answers::default(), question())
            .unwrap();
        let state = state_of(&result);
        let responses =
            InputResponses::from([("elicitation-1".to_owned(), json!({ "action": "accept" }))]);
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
        let first = rounds.input_required(&bound, Answers::default(), question());
        let state = state_of(&first.unwrap());
        let declined = json!({ "action": "decline" });
        let responses = InputResponses::from([("elicitation-1".to_owned(), declined)]);
        let answers = rounds.resume(&bound, Some(&state), Some(&responses));
        let (_, request) = question();
        let second = ("elicitation-2".to_owned(), request);
        let next = rounds.input_required(&bound, answers.unwrap(), second);
        let state = state_of(&next.unwrap());
        // A later response for a sealed question does not replace it.
        let accepted = json!({ "action": "accept" });
        let responses = InputResponses::from([
            ("elicitation-1".to_owned(), accepted.clone()),
            ("elicitation-2".to_owned(), accepted),
        ]);
        let answers = rounds.resume(&bound, Some(&state), Some(&responses)).unwrap();
        assert_eq!(answers.0["elicitation-1"]["action"], "decline");
        assert_eq!(answers.0["elicitation-2"]["action"], "accept");
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

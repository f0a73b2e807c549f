//! A request's conversation with its client while a source runs: log and
//! progress messages out, sampling and elicitation requests out and their
//! answers back. The door supplies a [`Client`]; the service pumps the
//! source's events to it and handles the ones that concern every client
//! (resource updates) itself.

use std::future::Future;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::published::UriMap;
use crate::source::{
    Answer, ClientAnswer, ElicitAction, ElicitResponse, Fault, Level, PluginEvent, Question, Root,
    SamplingRequest, SamplingResponse, Source,
};

/// The client on the other end of one request, as its door reaches it.
///
/// Only `log` must be written: a client that hears no progress and can
/// answer no request keeps the defaults, which refuse with
/// [`Client::unavailable`].
pub trait Client: Send + Sync {
    /// A log line of the source, at `level`.
    fn log(&self, level: Level, message: String) -> BoxFuture<'_, ()>;

    /// Progress of the request.
    fn progress(
        &self,
        _done: f64,
        _total: Option<f64>,
        _message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Asks the client's model for a completion. `uris` publishes the
    /// source's URIs in the request's content.
    fn sample<'a>(
        &'a self,
        _request: SamplingRequest,
        _uris: &'a UriMap,
    ) -> BoxFuture<'a, Result<SamplingResponse, String>> {
        let refusal = self.unavailable("sampling");
        Box::pin(async move { Err(refusal) })
    }

    /// Asks the client's user to fill in a form described by a JSON
    /// Schema.
    fn elicit(
        &self,
        _message: String,
        _requested_schema: String,
    ) -> BoxFuture<'_, Result<ElicitResponse, String>> {
        let refusal = self.unavailable("elicitation");
        Box::pin(async move { Err(refusal) })
    }

    /// Sends the user to `url` (URL-mode elicitation); the user's choice.
    fn elicit_url(
        &self,
        _message: String,
        _url: String,
    ) -> BoxFuture<'_, Result<ElicitAction, String>> {
        let refusal = self.unavailable("URL elicitation");
        Box::pin(async move { Err(refusal) })
    }

    /// The roots (directories, files) the client works in.
    fn roots(&self) -> BoxFuture<'_, Result<Vec<Root>, String>> {
        let refusal = self.unavailable("roots");
        Box::pin(async move { Err(refusal) })
    }

    /// Asks several questions at once, each under the source's key; one
    /// answer per question, in order. By default they are asked one after
    /// the other through [`Self::sample`], [`Self::elicit`] and
    /// [`Self::roots`].
    fn ask<'a>(
        &'a self,
        questions: Vec<(String, Question)>,
        uris: &'a UriMap,
    ) -> BoxFuture<'a, Vec<Result<ClientAnswer, String>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(questions.len());
            for (_, question) in questions {
                answers.push(match question {
                    Question::Sampling(request) => {
                        self.sample(request, uris).await.map(ClientAnswer::Sampling)
                    }
                    Question::Elicitation(form) => self
                        .elicit(form.message, form.requested_schema)
                        .await
                        .map(ClientAnswer::Elicitation),
                    Question::Roots => self.roots().await.map(ClientAnswer::Roots),
                });
            }
            answers
        })
    }

    /// The source asks to go on as a task, answered by then with a task
    /// its client polls; `Ok` when the call now runs as one. By default a
    /// client takes no tasks, and the call goes on as it was.
    fn run_as_task(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async {
            Err("this client takes no tasks (it did not declare the \
                 io.modelcontextprotocol/tasks extension); the call goes on without one"
                .to_owned())
        })
    }

    /// Why this client cannot answer a `what` request (sampling,
    /// elicitation, roots), as the source reads it.
    fn unavailable(&self, what: &str) -> String {
        format!("no MCP client is attached to this call to answer {what}")
    }
}

/// Runs `work` with an event sink whose events reach `client`, until both
/// the work and its events are done.
pub(super) async fn converse<T, F>(
    catalog: &Catalog,
    source: &dyn Source,
    uris: &UriMap,
    client: &dyn Client,
    work: impl FnOnce(mpsc::UnboundedSender<PluginEvent>) -> F,
) -> Result<Answer<T>, Fault>
where
    F: Future<Output = Result<Answer<T>, Fault>>,
{
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let work = work(sender);
    // The sink closes when the source is done with it (the call is over),
    // which ends the pump after the last event.
    let pump = async {
        while let Some(event) = receiver.recv().await {
            deliver(catalog, source, uris, client, event).await;
        }
    };
    let (outcome, ()) = tokio::join!(work, pump);
    outcome
}

async fn deliver(
    catalog: &Catalog,
    source: &dyn Source,
    uris: &UriMap,
    client: &dyn Client,
    event: PluginEvent,
) {
    match event {
        PluginEvent::Log { level, message } => client.log(level, message).await,
        PluginEvent::Progress {
            done,
            total,
            message,
        } => client.progress(done, total, message).await,
        PluginEvent::ResourceUpdated { uri } => {
            // A source may announce only what it serves: never another
            // source's resource to that source's subscribers.
            if uris.serves(&uri) {
                catalog.resource_updated(uris.publish(&uri));
            } else {
                tracing::debug!(uri = %uri.escape_debug(), "ignored an update of a resource the source does not serve");
            }
        }
        PluginEvent::Sample { request, reply } => {
            answer(reply, client.sample(request, uris)).await;
        }
        PluginEvent::Elicit {
            message,
            requested_schema,
            reply,
        } => answer(reply, client.elicit(message, requested_schema)).await,
        PluginEvent::Ask { questions, reply } => {
            answer(reply, async { Ok(client.ask(questions, uris).await) }).await;
        }
        PluginEvent::ElicitUrl {
            message,
            url,
            reply,
        } => {
            answer(reply, client.elicit_url(message, url)).await;
        }
        PluginEvent::RunAsTask { reply } => answer(reply, client.run_as_task()).await,
        PluginEvent::SetListed {
            kind,
            name,
            listed,
            reply,
        } => {
            let _ = reply.send(catalog.set_listed(source, kind, &name, listed));
        }
    }
}

/// Sends what `asked` yields to the guest waiting on `reply`; the call may
/// end (deadline, cancel) before the client answers: stop waiting then.
async fn answer<T>(mut reply: oneshot::Sender<T>, asked: impl Future<Output = T>) {
    let answer = tokio::select! {
        answer = asked => answer,
        () = reply.closed() => return,
    };
    let _ = reply.send(answer);
}

/// A client that hears nothing and answers no request: for calls the host
/// makes itself (benchmarks, `inspect`).
pub struct NoClient;

impl Client for NoClient {
    fn log(&self, _level: Level, _message: String) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

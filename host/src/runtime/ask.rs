//! The four kinds of request a group answers, each with its own answer
//! type: a call, a resource read, a prompt and a completion. The sandbox
//! runs any [`Ask`] the same way (limits, faults, output size), and the
//! type of the answer follows from the request, so no caller has to pair
//! them by hand.

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::fault::{self, FaultKind};
use super::state::CallState;
use super::{
    Completion, CompletionRequest, EmbeddedResource, ErrorKind, Exports, Output, PluginError,
    PromptResult,
};
use crate::config::Limits;

/// One request to a group's exports.
pub(super) trait Ask: Send + 'static {
    type Answer: Send;

    /// Calls the export that answers this request.
    fn ask<'a>(
        self,
        store: &'a mut Store<CallState>,
        instance: &'a Instance,
        exports: &'a Exports,
    ) -> BoxFuture<'a, wasmtime::Result<Result<Self::Answer, PluginError>>>
    where
        Self: 'a;

    /// Checks an answer against the limits it was produced under.
    fn check(answer: &Self::Answer, limits: &Limits) -> Result<(), FaultKind>;
}

/// Runs an operation with its arguments (a JSON object as text).
pub(super) struct Call {
    pub operation: String,
    pub arguments: String,
}

/// Reads a resource by its declared URI.
pub(super) struct Read {
    pub uri: String,
}

/// Renders a prompt.
pub(super) struct GetPrompt {
    pub name: String,
    pub arguments: Vec<(String, String)>,
}

/// Suggests values for an argument.
pub(super) struct Complete(pub CompletionRequest);

fn too_large(size: u64, limits: &Limits) -> Result<(), FaultKind> {
    if size > limits.max_output {
        return Err(FaultKind::OutputTooLarge { size: Some(size) });
    }
    Ok(())
}

/// The error a request gets from a group that does not export the
/// interface it needs.
fn not_offered(what: &str) -> PluginError {
    PluginError {
        kind: ErrorKind::NotFound,
        message: format!("this group offers no {what}"),
    }
}

impl Ask for Call {
    type Answer = Output;

    fn ask<'a>(
        self,
        store: &'a mut Store<CallState>,
        instance: &'a Instance,
        exports: &'a Exports,
    ) -> BoxFuture<'a, wasmtime::Result<Result<Output, PluginError>>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            exports
                .tools
                .load(&mut *store, instance)?
                .call_call(&mut *store, &self.operation, &self.arguments)
                .await
        })
    }

    fn check(output: &Output, limits: &Limits) -> Result<(), FaultKind> {
        fault::check_output(output, limits)
    }
}

impl Ask for Read {
    type Answer = Vec<EmbeddedResource>;

    fn ask<'a>(
        self,
        store: &'a mut Store<CallState>,
        instance: &'a Instance,
        exports: &'a Exports,
    ) -> BoxFuture<'a, wasmtime::Result<Result<Vec<EmbeddedResource>, PluginError>>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let Some(indices) = &exports.resources else {
                return Ok(Err(not_offered("resources")));
            };
            indices
                .load(&mut *store, instance)?
                .call_read(&mut *store, &self.uri)
                .await
        })
    }

    fn check(parts: &Vec<EmbeddedResource>, limits: &Limits) -> Result<(), FaultKind> {
        too_large(parts.iter().map(fault::resource_size).sum(), limits)
    }
}

impl Ask for GetPrompt {
    type Answer = PromptResult;

    fn ask<'a>(
        self,
        store: &'a mut Store<CallState>,
        instance: &'a Instance,
        exports: &'a Exports,
    ) -> BoxFuture<'a, wasmtime::Result<Result<PromptResult, PluginError>>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let Some(indices) = &exports.prompts else {
                return Ok(Err(not_offered("prompts")));
            };
            indices
                .load(&mut *store, instance)?
                .call_get(&mut *store, &self.name, &self.arguments)
                .await
        })
    }

    fn check(prompt: &PromptResult, limits: &Limits) -> Result<(), FaultKind> {
        let size = prompt
            .messages
            .iter()
            .map(|m| fault::content_size(&m.content))
            .sum::<u64>()
            + prompt.description.as_ref().map_or(0, |d| d.len() as u64);
        too_large(size, limits)
    }
}

impl Ask for Complete {
    type Answer = Completion;

    fn ask<'a>(
        self,
        store: &'a mut Store<CallState>,
        instance: &'a Instance,
        exports: &'a Exports,
    ) -> BoxFuture<'a, wasmtime::Result<Result<Completion, PluginError>>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let Some(indices) = &exports.completions else {
                return Ok(Ok(Completion {
                    values: Vec::new(),
                    total: None,
                    has_more: false,
                }));
            };
            indices
                .load(&mut *store, instance)?
                .call_complete(&mut *store, &self.0)
                .await
        })
    }

    fn check(completion: &Completion, limits: &Limits) -> Result<(), FaultKind> {
        too_large(
            completion.values.iter().map(|v| v.len() as u64).sum(),
            limits,
        )
    }
}

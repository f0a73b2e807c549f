//! Several questions to the client at once, each under a key of yours:
//! [`Context::questions`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::toolhost::plugin::{host, types};
use crate::elicit::{self, Elicitation};
use crate::{Context, SamplingRequest, SamplingResponse, ToolError, convert};

/// A root the client works in: a directory or file it shares, as a URI
/// (usually `file://`), with a name when it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Where the root is, e.g. `file:///home/ada/project`.
    pub uri: String,
    /// A name for people, e.g. `project`.
    pub name: Option<String>,
}

/// Questions to ask the client at once, built with
/// [`Context::questions`] and sent with [`ask`](Self::ask).
///
/// Keys are yours: 1 to 64 characters of `[A-Za-z0-9_.-]`, unique within
/// the call, at most 16 questions per ask. A 2026-07-28 client receives all
/// of them in one round (`inputRequests`, under these keys); a 2025 client
/// is asked one after the other.
#[must_use = "questions are sent by `ask`"]
pub struct Questions<'c> {
    ctx: &'c Context,
    items: Vec<(String, Asked)>,
}

enum Asked {
    Sampling(SamplingRequest),
    Elicitation { message: String, schema: Value },
    Roots,
}

impl<'c> Questions<'c> {
    pub(crate) fn new(ctx: &'c Context) -> Self {
        Self {
            ctx,
            items: Vec::new(),
        }
    }

    /// Ask the client's model (MCP sampling), under `key`.
    pub fn sample(mut self, key: &str, request: impl Into<SamplingRequest>) -> Self {
        self.items
            .push((key.to_owned(), Asked::Sampling(request.into())));
        self
    }

    /// Ask the user to fill in the form `T` (see [`Context::elicit`]),
    /// under `key`; read the answer with [`Answers::elicitation`].
    pub fn elicit<T: DeserializeOwned + JsonSchema>(self, key: &str, message: &str) -> Self {
        // A type that cannot be asked for fails in `ask`, with the reason.
        let schema = Elicitation::<T>::requested_schema().unwrap_or(Value::Null);
        self.elicit_with_schema(key, message, schema)
    }

    /// Ask the user to fill in a form whose JSON Schema you write (see
    /// [`Context::elicit_with_schema`]), under `key`.
    pub fn elicit_with_schema(mut self, key: &str, message: &str, schema: Value) -> Self {
        self.items.push((
            key.to_owned(),
            Asked::Elicitation {
                message: message.to_owned(),
                schema,
            },
        ));
        self
    }

    /// Ask which roots the client works in (MCP roots), under `key`.
    pub fn roots(mut self, key: &str) -> Self {
        self.items.push((key.to_owned(), Asked::Roots));
        self
    }

    /// Send the questions and wait for the answers. A question the client
    /// cannot answer gets its own error, read when you take its answer.
    ///
    /// ```no_run
    /// use toolhost_sdk::prelude::*;
    /// use toolhost_sdk::{Elicitation, SamplingRequest};
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// # #[serde(crate = "toolhost_sdk::serde")]
    /// # #[schemars(crate = "toolhost_sdk::schemars")]
    /// struct Name {
    ///     name: String,
    /// }
    ///
    /// # fn f(ctx: &Context) -> Result<String, ToolError> {
    /// let answers = ctx
    ///     .questions()
    ///     .elicit::<Name>("user_name", "What is your name?")
    ///     .sample("greeting", SamplingRequest::from("Write a greeting").max_tokens(50))
    ///     .roots("client_roots")
    ///     .ask();
    /// let name = match answers.elicitation::<Name>("user_name")? {
    ///     Elicitation::Accept(Name { name }) => name,
    ///     _ => "stranger".to_owned(),
    /// };
    /// let greeting = answers.sampling("greeting")?;
    /// let roots = answers.roots("client_roots").unwrap_or_default();
    /// Ok(format!("{} {name} ({} roots)", greeting.text().unwrap_or("Hello"), roots.len()))
    /// # }
    /// ```
    pub fn ask(self) -> Answers {
        let mut answers = BTreeMap::new();
        let mut asked = Vec::with_capacity(self.items.len());
        for (key, item) in self.items {
            if let Asked::Elicitation { schema, .. } = &item
                && !schema.is_object()
            {
                let why = format!("the form under `{key}` cannot be asked for");
                answers.insert(key, Err(why));
                continue;
            }
            asked.push((key, item));
        }
        let keys: Vec<String> = asked.iter().map(|(key, _)| key.clone()).collect();
        let replies: Vec<Result<Got, String>> = match self.ctx.is_detached() {
            true => asked
                .into_iter()
                .map(|(_, item)| detached(self.ctx, item))
                .collect(),
            false => {
                let questions: Vec<(String, types::Question)> = asked
                    .into_iter()
                    .map(|(key, item)| (key, to_wit(item)))
                    .collect();
                host::ask(&questions)
                    .into_iter()
                    .map(|reply| reply.map(from_wit))
                    .collect()
            }
        };
        let mut replies = replies.into_iter();
        for key in keys {
            let reply = replies
                .next()
                .unwrap_or_else(|| Err("the host sent no answer".into()));
            answers.insert(key, reply);
        }
        Answers { answers }
    }
}

/// An answer, in the SDK's terms.
#[derive(Debug)]
enum Got {
    Sampling(SamplingResponse),
    Elicitation(Elicitation<()>, Option<String>),
    Roots(Vec<Root>),
}

fn to_wit(item: Asked) -> types::Question {
    match item {
        Asked::Sampling(request) => {
            types::Question::Sampling(convert::sampling_request_to_wit(&request))
        }
        Asked::Elicitation { message, schema } => {
            types::Question::Elicitation(types::ElicitationForm {
                message,
                requested_schema: schema.to_string(),
            })
        }
        Asked::Roots => types::Question::Roots,
    }
}

fn from_wit(answer: types::Answer) -> Got {
    match answer {
        types::Answer::Sampling(response) => {
            Got::Sampling(convert::sampling_response_from_wit(response))
        }
        types::Answer::Elicitation(response) => {
            let (action, content) = convert::elicit_response_from_wit(response);
            Got::Elicitation(action, content)
        }
        types::Answer::Roots(roots) => Got::Roots(
            roots
                .into_iter()
                .map(|root| Root {
                    uri: root.uri,
                    name: root.name,
                })
                .collect(),
        ),
    }
}

/// A question answered by a detached context's sampler or elicitor.
fn detached(ctx: &Context, item: Asked) -> Result<Got, String> {
    match item {
        Asked::Sampling(request) => ctx
            .sample(request)
            .map(Got::Sampling)
            .map_err(|e| e.to_string()),
        Asked::Elicitation { message, schema } => ctx
            .elicit_raw(&message, &schema)
            .map(|(action, content)| Got::Elicitation(action, content))
            .map_err(|e| e.to_string()),
        Asked::Roots => Err("this context is detached from a host and has no roots".into()),
    }
}

/// The answers to [`Questions::ask`], by key.
#[derive(Debug)]
pub struct Answers {
    answers: BTreeMap<String, Result<Got, String>>,
}

impl Answers {
    fn take(&self, key: &str, kind: &str) -> Result<&Got, ToolError> {
        match self.answers.get(key) {
            None => Err(ToolError::failed(format!(
                "no question was asked under `{key}`"
            ))),
            Some(Err(why)) => Err(ToolError::unavailable(format!("{kind} failed: {why}"))),
            Some(Ok(answer)) => Ok(answer),
        }
    }

    /// The model's answer to the sampling question under `key`.
    pub fn sampling(&self, key: &str) -> Result<SamplingResponse, ToolError> {
        match self.take(key, "sampling")? {
            Got::Sampling(response) => Ok(response.clone()),
            _ => Err(ToolError::failed(format!(
                "`{key}` is not a sampling question"
            ))),
        }
    }

    /// The user's answer to the form under `key`, as `T`.
    pub fn elicitation<T: DeserializeOwned>(&self, key: &str) -> Result<Elicitation<T>, ToolError> {
        match self.take(key, "elicitation")? {
            Got::Elicitation(action, content) => {
                elicit::parse_answer(action.clone(), content.as_deref())
            }
            _ => Err(ToolError::failed(format!("`{key}` is not an elicitation"))),
        }
    }

    /// The roots the client named under `key`.
    pub fn roots(&self, key: &str) -> Result<Vec<Root>, ToolError> {
        match self.take(key, "roots")? {
            Got::Roots(roots) => Ok(roots.clone()),
            _ => Err(ToolError::failed(format!(
                "`{key}` is not a roots question"
            ))),
        }
    }
}

//! What an upstream MCP server lists and answers (rmcp's model types) as
//! the contract's own data, which the catalog and the doors already serve.
//! The inverse of `mcp::convert`; nothing here does any work of its own.

use base64::Engine as _;
use rmcp::model::{
    CallToolResult, CompleteResult, ContentBlock, GetPromptResult, Prompt as McpPrompt,
    Resource as McpResource, ResourceContents as McpContents, ResourceTemplate as McpTemplate,
    Role as McpRole, Tool as McpTool,
};

use crate::runtime::{Message, PromptArgument, ResourceLink};
use crate::source::{
    Annotations, Completion, Content, EmbeddedResource, ErrorKind, Icon, Media, Operation, Output,
    PluginError, PromptInfo, PromptResult, ResourceContents, ResourceInfo, ResourceTemplate, Role,
};

/// An upstream tool as an operation of the source.
pub fn operation(tool: &McpTool) -> Result<Operation, String> {
    let schema = |schema: &rmcp::model::JsonObject| {
        serde_json::to_string(schema).map_err(|e| format!("tool `{}`: {e}", tool.name))
    };
    let hints = tool.annotations.as_ref();
    Ok(Operation {
        name: tool.name.to_string(),
        title: tool
            .title
            .clone()
            .or_else(|| hints.and_then(|a| a.title.clone())),
        description: tool.description.as_deref().unwrap_or_default().to_owned(),
        input_schema: schema(&tool.input_schema)?,
        output_schema: tool.output_schema.as_deref().map(schema).transpose()?,
        annotations: Annotations {
            read_only: hints.and_then(|a| a.read_only_hint),
            destructive: hints.and_then(|a| a.destructive_hint),
            idempotent: hints.and_then(|a| a.idempotent_hint),
            open_world: hints.and_then(|a| a.open_world_hint),
        },
    })
}

/// An upstream icon as the contract's.
pub fn icon(icon: &rmcp::model::Icon) -> Icon {
    Icon {
        src: icon.src.clone(),
        mime_type: icon.mime_type.clone(),
        sizes: icon.sizes.clone().unwrap_or_default(),
        theme: icon
            .theme
            .as_ref()
            .and_then(|theme| serde_json::to_value(theme).ok())
            .and_then(|theme| theme.as_str().map(str::to_owned)),
    }
}

pub fn resource(resource: &McpResource) -> ResourceInfo {
    ResourceInfo {
        uri: resource.uri.clone(),
        name: resource.name.clone(),
        title: resource.title.clone(),
        description: resource.description.clone(),
        mime_type: resource.mime_type.clone(),
        size: resource.size,
    }
}

pub fn template(template: &McpTemplate) -> ResourceTemplate {
    ResourceTemplate {
        uri_template: template.uri_template.clone(),
        name: template.name.clone(),
        title: template.title.clone(),
        description: template.description.clone(),
        mime_type: template.mime_type.clone(),
    }
}

pub fn prompt(prompt: &McpPrompt) -> PromptInfo {
    PromptInfo {
        name: prompt.name.clone(),
        title: prompt.title.clone(),
        description: prompt.description.clone(),
        arguments: prompt
            .arguments
            .iter()
            .flatten()
            .map(|a| PromptArgument {
                name: a.name.clone(),
                title: a.title.clone(),
                description: a.description.clone(),
                required: a.required.unwrap_or(false),
            })
            .collect(),
    }
}

fn bytes(base64: &str, what: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|e| format!("{what} is not valid base64 ({e})"))
}

/// Embedded resource contents.
pub fn embedded(contents: McpContents) -> Result<EmbeddedResource, String> {
    Ok(match contents {
        McpContents::TextResourceContents {
            uri,
            mime_type,
            text,
            ..
        } => EmbeddedResource {
            uri,
            mime_type,
            contents: ResourceContents::Text(text),
        },
        McpContents::BlobResourceContents {
            uri,
            mime_type,
            blob,
            ..
        } => EmbeddedResource {
            contents: ResourceContents::Blob(bytes(&blob, &format!("the blob of `{uri}`"))?),
            uri,
            mime_type,
        },
        other => return Err(format!("resource contents of an unknown kind: {other:?}")),
    })
}

/// One piece of content.
pub fn content(block: ContentBlock) -> Result<Content, String> {
    Ok(match block {
        ContentBlock::Text(text) => Content::Text(text.text),
        ContentBlock::Image(image) => Content::Image(Media {
            data: bytes(&image.data, "an image")?,
            mime_type: image.mime_type,
        }),
        ContentBlock::Audio(audio) => Content::Audio(Media {
            data: bytes(&audio.data, "an audio clip")?,
            mime_type: audio.mime_type,
        }),
        ContentBlock::Resource(resource) => Content::Resource(embedded(resource.resource)?),
        ContentBlock::ResourceLink(link) => Content::Link(ResourceLink {
            uri: link.uri,
            name: link.name,
            title: link.title,
            description: link.description,
            mime_type: link.mime_type,
            size: link.size,
        }),
        other => return Err(format!("content of an unknown kind: {other:?}")),
    })
}

/// A tool's result: its output, or its own error (`isError`), whose text
/// content becomes the error's message.
pub fn call_result(result: CallToolResult) -> Result<Result<Output, PluginError>, String> {
    if result.is_error == Some(true) {
        let message = result
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text(text) => Some(text.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        return Ok(Err(PluginError {
            kind: ErrorKind::Failed,
            message,
        }));
    }
    let content = result
        .content
        .into_iter()
        .map(content)
        .collect::<Result<_, _>>()?;
    let structured = result.structured_content.map(|value| value.to_string());
    Ok(Ok(Output {
        content,
        structured,
    }))
}

fn role(role: McpRole) -> Role {
    match role {
        McpRole::User => Role::User,
        McpRole::Assistant => Role::Assistant,
    }
}

pub fn prompt_result(result: GetPromptResult) -> Result<PromptResult, String> {
    Ok(PromptResult {
        description: result.description,
        messages: result
            .messages
            .into_iter()
            .map(|m| {
                Ok(Message {
                    role: role(m.role),
                    content: content(m.content)?,
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

pub fn completion(result: CompleteResult) -> Completion {
    Completion {
        values: result.completion.values,
        total: result.completion.total,
        has_more: result.completion.has_more.unwrap_or(false),
    }
}

/// An upstream's sampling request, as a question for the client that made
/// the call: each content block of a message becomes a message of its own.
pub fn sampling_request(
    params: &rmcp::model::CreateMessageRequestParams,
) -> Result<crate::source::SamplingRequest, String> {
    let mut messages = Vec::new();
    for message in &params.messages {
        let role = role(message.role.clone());
        for block in message.content.clone().into_vec() {
            let block = serde_json::to_value(&block).map_err(|e| e.to_string())?;
            let block: ContentBlock = serde_json::from_value(block)
                .map_err(|_| "sampling messages may only hold text, images or audio".to_owned())?;
            let content = content(block)?;
            if !matches!(
                content,
                Content::Text(_) | Content::Image(_) | Content::Audio(_)
            ) {
                return Err("sampling messages may only hold text, images or audio".into());
            }
            messages.push(Message { role, content });
        }
    }
    Ok(crate::source::SamplingRequest {
        messages,
        system_prompt: params.system_prompt.clone(),
        max_tokens: params.max_tokens,
        temperature: params.temperature.map(f64::from),
        stop_sequences: params.stop_sequences.clone().unwrap_or_default(),
        model_hints: params
            .model_preferences
            .iter()
            .flat_map(|preferences| preferences.hints.iter().flatten())
            .filter_map(|hint| hint.name.clone())
            .collect(),
    })
}

/// The calling client's answer to a sampling request, for the upstream.
pub fn sampling_result(
    response: crate::source::SamplingResponse,
) -> Result<rmcp::model::CreateMessageResult, String> {
    let content = crate::mcp::convert::to_content_block(response.content, &Default::default());
    let result = serde_json::json!({
        "role": crate::mcp::convert::to_role(response.role),
        "content": content,
        "model": response.model,
        "stopReason": response.stop_reason,
    });
    serde_json::from_value(result).map_err(|e| format!("the answer is not valid MCP: {e}"))
}

/// What an upstream's elicitation asks the calling client.
pub enum Elicitation {
    /// A form: the message and the requested schema (JSON text).
    Form(String, String),
    /// A page to send the user to: the message and the URL.
    Url(String, String),
}

pub fn elicitation(params: &rmcp::model::ElicitRequestParams) -> Result<Elicitation, String> {
    let value = serde_json::to_value(params).map_err(|e| e.to_string())?;
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    match value["mode"].as_str() {
        Some("url") => Ok(Elicitation::Url(text("message"), text("url"))),
        _ => Ok(Elicitation::Form(
            text("message"),
            value["requestedSchema"].to_string(),
        )),
    }
}

/// The user's answer, for the upstream.
pub fn elicit_result(
    action: crate::source::ElicitAction,
    content: Option<String>,
) -> Result<rmcp::model::ElicitResult, String> {
    let action = match action {
        crate::source::ElicitAction::Accept => "accept",
        crate::source::ElicitAction::Decline => "decline",
        crate::source::ElicitAction::Cancel => "cancel",
    };
    let mut result = serde_json::json!({ "action": action });
    if let Some(content) = content {
        result["content"] = serde_json::from_str(&content).map_err(|e| e.to_string())?;
    }
    serde_json::from_value(result).map_err(|e| format!("the answer is not valid MCP: {e}"))
}

//! Catalog and source data ↔ rmcp's model types, and the call service's
//! errors as JSON-RPC errors. Nothing here does any work of its own.

use base64::Engine as _;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, CompleteResult, ContentBlock, LoggingLevel, Prompt as McpPrompt,
    PromptArgument as McpPromptArgument, Resource as McpResource, ResourceContents,
    ResourceTemplate as McpResourceTemplate, Tool as McpTool, ToolAnnotations,
};
use serde_json::json;

use crate::catalog::Tool;
use crate::published::{Prompt, Resource, Template, UriMap};
use crate::service::{CallOutcome, Error};
use crate::source::{self, Completion, Content, ErrorKind, Level, Role};

/// A catalog tool as MCP lists it: exactly what the source declared.
pub fn to_mcp_tool(tool: &Tool) -> McpTool {
    let mut out = McpTool::new(
        tool.name.clone(),
        tool.description.clone(),
        tool.input_schema.clone(),
    );
    out.title = tool.title.clone();
    out.output_schema = tool.output_schema.clone();
    if !tool.icons.is_empty() {
        out.icons = Some(tool.icons.iter().map(to_mcp_icon).collect());
    }
    let a = &tool.annotations;
    if a.read_only.is_some()
        || a.destructive.is_some()
        || a.idempotent.is_some()
        || a.open_world.is_some()
    {
        out.annotations = Some(ToolAnnotations::from_raw(
            None,
            a.read_only,
            a.destructive,
            a.idempotent,
            a.open_world,
        ));
    }
    out
}

fn to_mcp_icon(icon: &crate::source::Icon) -> rmcp::model::Icon {
    let mut out = rmcp::model::Icon::new(icon.src.clone());
    out.mime_type = icon.mime_type.clone();
    if !icon.sizes.is_empty() {
        out.sizes = Some(icon.sizes.clone());
    }
    out.theme = icon
        .theme
        .as_deref()
        .and_then(|theme| serde_json::from_value(serde_json::json!(theme)).ok());
    out
}

pub fn to_mcp_resource(resource: &Resource) -> McpResource {
    let d = &resource.declared;
    let mut out = McpResource::new(resource.uri.clone(), resource.name.clone());
    out.title = d.title.clone();
    out.description = d.description.clone();
    out.mime_type = d.mime_type.clone();
    out.size = d.size;
    out
}

pub fn to_mcp_template(template: &Template) -> McpResourceTemplate {
    let d = &template.declared;
    let mut out = McpResourceTemplate::new(template.uri_template.clone(), template.name.clone());
    out.title = d.title.clone();
    out.description = d.description.clone();
    out.mime_type = d.mime_type.clone();
    out
}

pub fn to_mcp_prompt(prompt: &Prompt) -> McpPrompt {
    let d = &prompt.declared;
    let arguments = d
        .arguments
        .iter()
        .map(|a| {
            let mut out = McpPromptArgument::new(a.name.clone()).with_required(a.required);
            out.title = a.title.clone();
            out.description = a.description.clone();
            out
        })
        .collect::<Vec<_>>();
    let mut out = McpPrompt::new(
        prompt.name.clone(),
        d.description.clone(),
        (!arguments.is_empty()).then_some(arguments),
    );
    out.title = d.title.clone();
    out
}

/// A call's outcome as MCP returns it. Everything that went wrong inside the
/// source is a tool result with `isError`, so the model can read it.
pub fn to_call_result(tool: &Tool, outcome: CallOutcome) -> CallToolResult {
    match outcome {
        CallOutcome::Done {
            output, structured, ..
        } => {
            let mut content: Vec<ContentBlock> = output
                .content
                .into_iter()
                .map(|c| to_content_block(c, &tool.uris))
                .collect();
            let mut result = match structured {
                Some(value) => {
                    if content.is_empty() {
                        content.push(ContentBlock::text(value.to_string()));
                    }
                    let mut result = CallToolResult::success(content);
                    result.structured_content = Some(value);
                    result
                }
                None => CallToolResult::success(content),
            };
            result.is_error = Some(false);
            result
        }
        CallOutcome::PluginError(error) => {
            CallToolResult::error(vec![ContentBlock::text(error.message)])
        }
        CallOutcome::InvalidArguments(violations) => {
            let mut text = format!("invalid arguments for tool `{}`:\n", tool.name);
            for violation in violations {
                text.push_str(&format!("- {violation}\n"));
            }
            text.push_str("The tool's inputSchema in tools/list says what it accepts.");
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
        CallOutcome::Fault(fault) => {
            CallToolResult::error(vec![ContentBlock::text(fault.to_string())])
        }
    }
}

/// The call service's refusal as the JSON-RPC error MCP names for it.
pub fn to_mcp_error(error: Error) -> McpError {
    let message = error.to_string();
    match error {
        Error::Unknown {
            what: crate::service::Kind::Resource,
            name,
        } => McpError::resource_not_found(
            message,
            Some(json!({ "uri": crate::service::shown(&name) })),
        ),
        Error::Unknown { .. } | Error::Invalid(_) => McpError::invalid_params(message, None),
        // The HTTP layer answers tool calls without the scope with 403
        // before they get here; this keeps the rule for any other request.
        Error::Forbidden { .. } => McpError::invalid_request(message, None),
        Error::Plugin { error, subject } => {
            let data = Some(json!({ "subject": subject }));
            match error.kind {
                ErrorKind::NotFound => McpError::resource_not_found(message, data),
                ErrorKind::InvalidArguments => McpError::invalid_params(message, data),
                ErrorKind::Denied | ErrorKind::Unavailable | ErrorKind::Failed => {
                    McpError::internal_error(message, data)
                }
            }
        }
        Error::Fault(_) => McpError::internal_error(message, None),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A source's content as MCP sends it, with the source's URIs published.
pub fn to_content_block(content: Content, uris: &UriMap) -> ContentBlock {
    match content {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image(media) => ContentBlock::image(b64(&media.data), media.mime_type),
        Content::Audio(media) => ContentBlock::audio(b64(&media.data), media.mime_type),
        Content::Resource(resource) => ContentBlock::resource(to_resource_contents(resource, uris)),
        Content::Link(link) => {
            let mut out = McpResource::new(uris.publish(&link.uri), link.name);
            out.title = link.title;
            out.description = link.description;
            out.mime_type = link.mime_type;
            out.size = link.size;
            ContentBlock::resource_link(out)
        }
    }
}

pub fn to_resource_contents(resource: source::EmbeddedResource, uris: &UriMap) -> ResourceContents {
    let uri = uris.publish(&resource.uri);
    match resource.contents {
        source::ResourceContents::Text(text) => ResourceContents::TextResourceContents {
            uri,
            mime_type: resource.mime_type,
            text,
            meta: None,
        },
        source::ResourceContents::Blob(blob) => ResourceContents::BlobResourceContents {
            uri,
            mime_type: resource.mime_type,
            blob: b64(&blob),
            meta: None,
        },
    }
}

pub fn to_role(role: Role) -> rmcp::model::Role {
    match role {
        Role::User => rmcp::model::Role::User,
        Role::Assistant => rmcp::model::Role::Assistant,
    }
}

/// At most 100 values, as MCP allows; the rest are counted in `total`.
pub fn to_complete_result(completion: Completion) -> Result<CompleteResult, McpError> {
    const MAX_VALUES: usize = 100;
    let count = completion.values.len();
    let mut values = completion.values;
    values.truncate(MAX_VALUES);
    let total = completion
        .total
        .or_else(|| (count > MAX_VALUES).then(|| u32::try_from(count).unwrap_or(u32::MAX)));
    let info = json!({
        "values": values,
        "total": total,
        "hasMore": completion.has_more || count > MAX_VALUES,
    });
    let info = serde_json::from_value(info)
        .map_err(|e| McpError::internal_error(format!("invalid completion: {e}"), None))?;
    Ok(CompleteResult::new(info))
}

/// RFC 5424 order: higher is more severe.
pub fn severity(level: LoggingLevel) -> u8 {
    level as u8
}

pub fn to_logging_level(level: Level) -> LoggingLevel {
    match level {
        Level::Debug => LoggingLevel::Debug,
        Level::Info => LoggingLevel::Info,
        Level::Notice => LoggingLevel::Notice,
        Level::Warning => LoggingLevel::Warning,
        Level::Error => LoggingLevel::Error,
        Level::Critical => LoggingLevel::Critical,
        Level::Alert => LoggingLevel::Alert,
        Level::Emergency => LoggingLevel::Emergency,
    }
}

//! Conversions between the SDK's types and the WIT contract's.

use crate::__private::bindings::toolhost::plugin::types as t;
use crate::{
    Content, Elicitation, ErrorKind, Message, ResourceContents, ResourceLink, ResourcePart, Role,
    SamplingRequest, SamplingResponse, ToolError,
};

pub(crate) fn content_to_wit(content: Content) -> t::Content {
    match content {
        Content::Text(text) => t::Content::Text(text),
        Content::Image { data, mime_type } => t::Content::Image(t::Media { data, mime_type }),
        Content::Audio { data, mime_type } => t::Content::Audio(t::Media { data, mime_type }),
        Content::Resource {
            uri,
            mime_type,
            contents,
        } => t::Content::Resource(embedded_to_wit(uri, mime_type, contents)),
        Content::Link(link) => t::Content::Link(t::ResourceLink {
            uri: link.uri,
            name: link.name,
            title: link.title,
            description: link.description,
            mime_type: link.mime_type,
            size: link.size,
        }),
    }
}

pub(crate) fn content_from_wit(content: t::Content) -> Content {
    match content {
        t::Content::Text(text) => Content::Text(text),
        t::Content::Image(media) => Content::image(media.data, media.mime_type),
        t::Content::Audio(media) => Content::audio(media.data, media.mime_type),
        t::Content::Resource(resource) => Content::Resource {
            uri: resource.uri,
            mime_type: resource.mime_type,
            contents: match resource.contents {
                t::ResourceContents::Text(text) => ResourceContents::Text(text),
                t::ResourceContents::Blob(bytes) => ResourceContents::Blob(bytes),
            },
        },
        t::Content::Link(link) => Content::Link(ResourceLink {
            uri: link.uri,
            name: link.name,
            title: link.title,
            description: link.description,
            mime_type: link.mime_type,
            size: link.size,
        }),
    }
}

fn embedded_to_wit(
    uri: String,
    mime_type: Option<String>,
    contents: ResourceContents,
) -> t::EmbeddedResource {
    t::EmbeddedResource {
        uri,
        mime_type,
        contents: match contents {
            ResourceContents::Text(text) => t::ResourceContents::Text(text),
            ResourceContents::Blob(bytes) => t::ResourceContents::Blob(bytes),
        },
    }
}

/// A part whose URI the glue has filled in.
pub(crate) fn part_to_wit(part: ResourcePart) -> t::EmbeddedResource {
    embedded_to_wit(part.uri.unwrap_or_default(), part.mime_type, part.contents)
}

fn role_to_wit(role: Role) -> t::Role {
    match role {
        Role::User => t::Role::User,
        Role::Assistant => t::Role::Assistant,
    }
}

pub(crate) fn message_to_wit(message: Message) -> t::Message {
    t::Message {
        role: role_to_wit(message.role),
        content: content_to_wit(message.content),
    }
}

pub(crate) fn sampling_request_to_wit(request: &SamplingRequest) -> t::SamplingRequest {
    t::SamplingRequest {
        messages: request
            .messages
            .iter()
            .cloned()
            .map(message_to_wit)
            .collect(),
        system_prompt: request.system_prompt.clone(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        stop_sequences: request.stop_sequences.clone(),
        model_hints: request.model_hints.clone(),
    }
}

pub(crate) fn sampling_response_from_wit(response: t::SamplingResponse) -> SamplingResponse {
    SamplingResponse {
        role: match response.role {
            t::Role::User => Role::User,
            t::Role::Assistant => Role::Assistant,
        },
        content: content_from_wit(response.content),
        model: response.model,
        stop_reason: response.stop_reason,
    }
}

pub(crate) fn elicit_response_from_wit(
    response: t::ElicitResponse,
) -> (Elicitation<()>, Option<String>) {
    (elicit_action_from_wit(response.action), response.content)
}

pub(crate) fn elicit_action_from_wit(action: t::ElicitAction) -> Elicitation<()> {
    match action {
        t::ElicitAction::Accept => Elicitation::Accept(()),
        t::ElicitAction::Decline => Elicitation::Decline,
        t::ElicitAction::Cancel => Elicitation::Cancel,
    }
}

pub(crate) fn error_to_wit(error: ToolError) -> t::Error {
    t::Error {
        kind: match error.kind() {
            ErrorKind::InvalidArguments => t::ErrorKind::InvalidArguments,
            ErrorKind::NotFound => t::ErrorKind::NotFound,
            ErrorKind::Denied => t::ErrorKind::Denied,
            ErrorKind::Unavailable => t::ErrorKind::Unavailable,
            ErrorKind::Failed => t::ErrorKind::Failed,
        },
        message: error.message().into(),
    }
}

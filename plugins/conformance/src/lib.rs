//! The `conformance` service group: everything the server scenarios of the
//! official MCP conformance suite (`@modelcontextprotocol/conformance`,
//! `conformance server --url ...`) call, with the names, texts, MIME types
//! and data they expect.
//!
//! The host publishes it without a prefix (`namespace = ""` for the group
//! in toolhost.toml), since the suite calls `test_simple_text`, reads
//! `test://static-text` and gets `test_simple_prompt` by those names.
//! Transport behaviour the suite also checks (ping, `logging/setLevel`,
//! subscriptions, progress tokens, sessions, DNS rebinding protection) is
//! the host's.
//!
//! Build: `cargo build --release` in `plugins/` gives
//! `target/wasm32-wasip2/release/conformance.wasm`.

use std::thread::sleep;
use std::time::Duration;

use toolhost_sdk::prelude::*;
use toolhost_sdk::serde_json::{self, json};

/// A 1x1 red pixel.
const RED_PIXEL_PNG: &[u8] = include_bytes!("../assets/red-pixel.png");
/// A minimal WAV clip.
const TONE_WAV: &[u8] = include_bytes!("../assets/tone.wav");

/// How long the logging and progress tools wait between notifications.
const STEP: Duration = Duration::from_millis(50);

/// Test fixtures for the MCP conformance suite: tools returning every kind
/// of content, logging, progress, sampling and elicitation; `test://`
/// resources and a resource template; prompts with arguments, embedded
/// resources and images; completion of a prompt argument.
#[group(name = "conformance")]
mod conformance {
    use super::*;

    // Tools.

    /// Returns one piece of text.
    #[operation(read_only, title = "Simple text")]
    pub fn test_simple_text() -> Content {
        Content::text("This is a simple text response for testing.")
    }

    /// Returns a PNG image (a 1x1 red pixel).
    #[operation(read_only, title = "Image content")]
    pub fn test_image_content() -> Content {
        Content::image(RED_PIXEL_PNG, "image/png")
    }

    /// Returns a WAV audio clip.
    #[operation(read_only, title = "Audio content")]
    pub fn test_audio_content() -> Content {
        Content::audio(TONE_WAV, "audio/wav")
    }

    /// Returns an embedded text resource.
    #[operation(read_only, title = "Embedded resource")]
    pub fn test_embedded_resource() -> Content {
        Content::resource(
            "test://embedded-resource",
            "This is an embedded resource content.",
        )
        .with_mime_type("text/plain")
    }

    /// Returns text, an image and an embedded resource in one result.
    #[operation(read_only, title = "Multiple content types")]
    pub fn test_multiple_content_types() -> Vec<Content> {
        vec![
            "Multiple content types test:".into(),
            Content::image(RED_PIXEL_PNG, "image/png"),
            Content::resource(
                "test://mixed-content-resource",
                json!({ "test": "data", "value": 123 }).to_string(),
            )
            .with_mime_type("application/json"),
        ]
    }

    /// Sends three info log messages, 50 ms apart, while it runs.
    #[operation(read_only, title = "Tool with logging")]
    pub fn test_tool_with_logging(ctx: &Context) -> String {
        ctx.info("Tool execution started");
        sleep(STEP);
        ctx.info("Tool processing data");
        sleep(STEP);
        ctx.info("Tool execution completed");
        "Tool with logging executed successfully".into()
    }

    /// Always fails, to test how errors are reported.
    #[operation(read_only, title = "Error handling")]
    pub fn test_error_handling() -> Result<(), ToolError> {
        Err(ToolError::failed(
            "This tool intentionally returns an error for testing",
        ))
    }

    /// Reports progress 0, 50 and 100 out of 100, 50 ms apart.
    #[operation(read_only, title = "Tool with progress")]
    pub fn test_tool_with_progress(ctx: &Context) -> String {
        for (step, done) in [0.0, 50.0, 100.0].into_iter().enumerate() {
            if step > 0 {
                sleep(STEP);
            }
            ctx.progress(done, Some(100.0), None);
        }
        "Tool with progress executed successfully".into()
    }

    #[derive(Deserialize, JsonSchema)]
    pub struct SamplingArgs {
        /// The prompt to send to the client's model.
        pub prompt: String,
    }

    /// Asks the client's model to answer `prompt` (at most 100 tokens) and
    /// returns its answer.
    #[operation(title = "Sampling")]
    pub fn test_sampling(
        ctx: &Context,
        SamplingArgs { prompt }: SamplingArgs,
    ) -> Result<String, ToolError> {
        let answer = ctx.sample(SamplingRequest::from(prompt).max_tokens(100))?;
        Ok(format!(
            "LLM response: {}",
            answer.text().unwrap_or("(not text)")
        ))
    }

    #[derive(Deserialize, JsonSchema)]
    pub struct ElicitationArgs {
        /// What to tell the user.
        pub message: String,
    }

    /// The form `test_elicitation` asks the user to fill in.
    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct UserInfo {
        /// User's response
        pub username: String,
        /// User's email address
        pub email: String,
    }

    /// Asks the user for a username and an email address, and returns the
    /// answer.
    #[operation(title = "Elicitation")]
    pub fn test_elicitation(
        ctx: &Context,
        ElicitationArgs { message }: ElicitationArgs,
    ) -> Result<String, ToolError> {
        let answer = ctx.elicit::<UserInfo>(&message)?;
        Ok(report("User response", &answer))
    }

    /// A user's status, for `test_elicitation_sep1034_defaults`.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Status {
        Active,
        Inactive,
        Pending,
    }

    /// The form of `test_elicitation_sep1034_defaults`: every field has a
    /// default (SEP-1034).
    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct Defaults {
        /// User name
        #[serde(default = "default_name")]
        pub name: String,
        /// User age
        #[serde(default = "default_age")]
        pub age: i64,
        /// User score
        #[serde(default = "default_score")]
        pub score: f64,
        /// User status
        #[serde(default = "default_status")]
        pub status: Status,
        /// Verification status
        #[serde(default = "default_verified")]
        pub verified: bool,
    }

    fn default_name() -> String {
        "John Doe".into()
    }
    fn default_age() -> i64 {
        30
    }
    fn default_score() -> f64 {
        95.5
    }
    fn default_status() -> Status {
        Status::Active
    }
    fn default_verified() -> bool {
        true
    }

    /// Asks the user to review a form whose fields all have defaults
    /// (string, integer, number, enum and boolean; SEP-1034).
    #[operation(title = "Elicitation with defaults")]
    pub fn test_elicitation_sep1034_defaults(ctx: &Context) -> Result<String, ToolError> {
        let answer =
            ctx.elicit::<Defaults>("Please review and update the form fields with defaults")?;
        Ok(report("Elicitation completed", &answer))
    }

    /// Asks the user to choose from every kind of enum field: untitled and
    /// titled single choice, legacy `enumNames`, untitled and titled
    /// multiple choice (SEP-1330).
    #[operation(title = "Elicitation with enums")]
    pub fn test_elicitation_sep1330_enums(ctx: &Context) -> Result<String, ToolError> {
        let answer = ctx.elicit_with_schema(
            "Please select options from the enum fields",
            crate::enum_form(),
        )?;
        Ok(report("Elicitation completed", &answer))
    }

    /// Returns a text result; the suite uses it to test resuming an SSE
    /// stream, which is the host's part.
    #[operation(read_only, title = "Reconnection")]
    pub fn test_reconnection() -> String {
        "Reconnection test completed successfully. If you received this, the client properly \
         reconnected after stream closure."
            .into()
    }

    /// Tells clients subscribed to `test://watched-resource` that it
    /// changed (`notifications/resources/updated`).
    #[operation(idempotent, title = "Update the watched resource")]
    pub fn test_update_watched_resource(ctx: &Context) -> String {
        ctx.resource_updated("test://watched-resource");
        "test://watched-resource updated".into()
    }

    /// How a tool reports an elicitation's answer.
    fn report<T: Serialize>(what: &str, answer: &Elicitation<T>) -> String {
        match answer {
            Elicitation::Accept(values) => format!(
                "{what}: action=accept, content={}",
                serde_json::to_string(values).unwrap_or_default()
            ),
            other => format!("{what}: action={}", other.action()),
        }
    }

    // Resources.

    /// A static text resource for testing
    #[resource(
        uri = "test://static-text",
        name = "static-text",
        title = "Static Text Resource",
        mime_type = "text/plain"
    )]
    pub fn static_text() -> &'static str {
        "This is the content of the static text resource."
    }

    /// A static binary resource (image) for testing
    #[resource(
        uri = "test://static-binary",
        name = "static-binary",
        title = "Static Binary Resource",
        mime_type = "image/png"
    )]
    pub fn static_binary() -> Vec<u8> {
        RED_PIXEL_PNG.to_vec()
    }

    /// A resource that changes whenever test_update_watched_resource runs
    #[resource(
        uri = "test://watched-resource",
        name = "watched-resource",
        title = "Watched Resource",
        mime_type = "text/plain"
    )]
    pub fn watched_resource() -> &'static str {
        "Watched resource content"
    }

    /// A resource template with parameter substitution
    #[resource(
        template = "test://template/{id}/data",
        name = "template",
        title = "Resource Template",
        mime_type = "application/json"
    )]
    pub fn template(id: String) -> String {
        json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") }).to_string()
    }

    // Prompts.

    /// A simple prompt without arguments
    #[prompt(title = "Simple Test Prompt")]
    pub fn test_simple_prompt() -> &'static str {
        "This is a simple prompt for testing."
    }

    #[derive(Deserialize, JsonSchema)]
    pub struct TwoArguments {
        /// First test argument
        pub arg1: String,
        /// Second test argument
        pub arg2: String,
    }

    /// A prompt with required arguments
    #[prompt(title = "Prompt With Arguments")]
    pub fn test_prompt_with_arguments(TwoArguments { arg1, arg2 }: TwoArguments) -> String {
        format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
    }

    #[complete(prompt = "test_prompt_with_arguments", argument = "arg1")]
    pub fn complete_arg1(value: &str) -> Completion {
        Completion::matching(["test", "testValue1", "testValue2"], value)
    }

    #[derive(Deserialize, JsonSchema)]
    pub struct ResourceArgument {
        /// URI of the resource to embed
        #[serde(rename = "resourceUri")]
        pub resource_uri: String,
    }

    /// A prompt that includes an embedded resource
    #[prompt(title = "Prompt With Embedded Resource")]
    pub fn test_prompt_with_embedded_resource(
        ResourceArgument { resource_uri }: ResourceArgument,
    ) -> Vec<Message> {
        vec![
            Message::user(
                Content::resource(resource_uri, "Embedded resource content for testing.")
                    .with_mime_type("text/plain"),
            ),
            Message::user("Please process the embedded resource above."),
        ]
    }

    /// A prompt that includes image content
    #[prompt(title = "Prompt With Image")]
    pub fn test_prompt_with_image() -> Vec<Message> {
        vec![
            Message::user(Content::image(RED_PIXEL_PNG, "image/png")),
            Message::user("Please analyze the image above."),
        ]
    }
}

/// The form of `test_elicitation_sep1330_enums`, written by hand: the
/// legacy `enumNames` and titled multiple choice have no Rust type to
/// derive them from, and each shape must be exactly what SEP-1330 says.
fn enum_form() -> serde_json::Value {
    let titled = |prefix: &str, titles: [&str; 3]| -> Vec<serde_json::Value> {
        titles
            .iter()
            .enumerate()
            .map(|(index, title)| json!({ "const": format!("{prefix}{}", index + 1), "title": title }))
            .collect()
    };
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"]
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": titled("value", ["First Option", "Second Option", "Third Option"])
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"]
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": { "anyOf": titled("value", ["First Choice", "Second Choice", "Third Choice"]) }
            }
        },
        "required": []
    })
}

#[cfg(test)]
mod tests {
    use super::conformance::*;
    use toolhost_sdk::prelude::*;
    use toolhost_sdk::serde_json::{Value, json};
    use toolhost_sdk::{Elicitation, Role, SamplingResponse};

    #[test]
    fn the_elicitation_forms_are_the_ones_the_suite_expects() {
        let form = Elicitation::<UserInfo>::requested_schema().unwrap();
        assert_eq!(
            form,
            json!({
                "type": "object",
                "properties": {
                    "username": { "type": "string", "description": "User's response" },
                    "email": { "type": "string", "description": "User's email address" }
                },
                "required": ["username", "email"]
            })
        );

        let form = Elicitation::<Defaults>::requested_schema().unwrap();
        let properties = &form["properties"];
        assert_eq!(properties["name"]["type"], "string");
        assert_eq!(properties["name"]["default"], "John Doe");
        assert_eq!(properties["age"]["type"], "integer");
        assert_eq!(properties["age"]["default"], 30);
        assert_eq!(properties["score"]["type"], "number");
        assert_eq!(properties["score"]["default"], 95.5);
        assert_eq!(properties["status"]["type"], "string");
        assert_eq!(
            properties["status"]["enum"],
            json!(["active", "inactive", "pending"])
        );
        assert_eq!(properties["status"]["default"], "active");
        assert!(properties["status"].get("oneOf").is_none(), "{form}");
        assert_eq!(properties["verified"]["type"], "boolean");
        assert_eq!(properties["verified"]["default"], true);
        assert!(
            form.get("required").is_none_or(|r| r == &json!([])),
            "{form}"
        );
    }

    #[test]
    fn elicitation_answers_are_reported_as_json() {
        let ctx = Context::detached().with_elicitor(|message, _| {
            assert_eq!(message, "Please provide your information");
            Ok(Elicitation::Accept(
                json!({ "username": "testuser", "email": "test@example.com" }),
            ))
        });
        let text = test_elicitation(
            &ctx,
            ElicitationArgs {
                message: "Please provide your information".into(),
            },
        )
        .unwrap();
        assert_eq!(
            text,
            r#"User response: action=accept, content={"username":"testuser","email":"test@example.com"}"#
        );

        let ctx = Context::detached().with_elicitor(|_, schema: &Value| {
            assert!(schema["properties"]["titledSingle"].get("enum").is_none());
            Ok(Elicitation::Decline)
        });
        assert_eq!(
            test_elicitation_sep1330_enums(&ctx).unwrap(),
            "Elicitation completed: action=decline"
        );
    }

    #[test]
    fn sampling_asks_for_the_prompt_with_100_tokens() {
        let ctx = Context::detached().with_sampler(|request| {
            assert_eq!(request.max_tokens, 100);
            assert_eq!(request.messages[0].text(), Some("Test prompt for sampling"));
            Ok(SamplingResponse {
                role: Role::Assistant,
                content: Content::text("This is a test response from the client"),
                model: "test-model".into(),
                stop_reason: Some("endTurn".into()),
            })
        });
        let text = test_sampling(
            &ctx,
            SamplingArgs {
                prompt: "Test prompt for sampling".into(),
            },
        )
        .unwrap();
        assert_eq!(
            text,
            "LLM response: This is a test response from the client"
        );
    }

    #[test]
    fn the_template_answers_with_its_id_in_json() {
        assert_eq!(
            template("123".into()),
            r#"{"id":"123","templateTest":true,"data":"Data for ID: 123"}"#
        );
    }
}

//! `#[resource]`, `#[prompt]` and `#[complete]` end to end, natively: what
//! a group declares and how reads, renders and completions are dispatched.

use toolhost_sdk::__private::{self, Group, GroupDef};
use toolhost_sdk::prelude::*;
use toolhost_sdk::{CompletionContext, ErrorKind, ResourceContents, Role};

/// A library catalogue.
#[group(name = "library")]
mod library {
    use super::*;

    /// Every book, one per line.
    #[resource(uri = "library://books", mime_type = "text/plain", title = "Books")]
    pub fn books() -> &'static str {
        "Dune\nEmma"
    }

    /// The cover of the catalogue.
    #[resource(uri = "library://cover.png", name = "cover", mime_type = "image/png")]
    pub fn cover_image(ctx: &Context) -> Vec<u8> {
        ctx.debug("cover");
        vec![0x89, b'P', b'N', b'G']
    }

    /// One shelf, by number.
    #[resource(template = "library://shelves/{number}", mime_type = "text/plain")]
    pub fn shelf(number: u8) -> Result<String, ToolError> {
        if number > 9 {
            return Err(ToolError::not_found(format!("there is no shelf {number}")));
        }
        Ok(format!("shelf {number}"))
    }

    #[derive(Deserialize)]
    pub struct Location {
        pub room: String,
        pub path: String,
    }

    /// A file in a room, in two parts.
    #[resource(template = "library://rooms/{room}/{+path}")]
    pub fn room_file(Location { room, path }: Location) -> Vec<ResourcePart> {
        vec![
            ResourcePart::text(format!("{room}:{path}")),
            ResourcePart::blob(vec![1])
                .with_uri("library://extra")
                .with_mime_type("application/octet-stream"),
        ]
    }

    #[derive(Deserialize, JsonSchema)]
    pub struct Recommend {
        /// A genre.
        #[schemars(title = "Genre")]
        pub genre: String,
        /// How many books.
        pub count: Option<String>,
    }

    /// Ask for book recommendations.
    #[prompt(title = "Recommend books")]
    pub fn recommend(Recommend { genre, count }: Recommend) -> PromptResult {
        let count = count.unwrap_or_else(|| "three".into());
        PromptResult::new(vec![
            Message::user(format!("Recommend {count} {genre} books.")),
            Message::assistant(Content::link("library://books", "books")),
        ])
        .with_description(format!("{genre} recommendations"))
    }

    /// Say hello.
    #[prompt]
    pub fn hello() -> &'static str {
        "hello"
    }

    #[complete(prompt = "recommend", argument = "genre")]
    pub fn genres(value: &str) -> Completion {
        Completion::matching(["fantasy", "fiction", "history"], value)
    }

    #[complete(template = "library://rooms/{room}/{+path}", argument = "path")]
    pub fn paths(context: &CompletionContext, ctx: &Context) -> Vec<String> {
        ctx.debug("completing");
        vec![format!(
            "{}/index",
            context.argument("room").unwrap_or("none")
        )]
    }
}

fn group() -> &'static GroupDef {
    <library::__ToolhostGroup as Group>::GROUP
}

fn read(uri: &str) -> Result<Vec<ResourcePart>, ToolError> {
    __private::read_resource(group(), uri, &Context::detached())
}

fn get(name: &str, arguments: &[(&str, &str)]) -> Result<PromptResult, ToolError> {
    let arguments: Vec<(String, String)> = arguments
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    __private::get_prompt(group(), name, &arguments, &Context::detached())
}

#[test]
fn resources_and_templates_are_declared_by_their_attributes() {
    let group = group();
    let books = &group.resources[0];
    assert_eq!(
        (books.uri, books.name, books.title, books.mime_type),
        (
            "library://books",
            "books",
            Some("Books"),
            Some("text/plain")
        )
    );
    assert_eq!(books.description, "Every book, one per line.");
    assert_eq!(group.resources[1].name, "cover");
    let templates: Vec<(&str, &str)> = group
        .templates
        .iter()
        .map(|t| (t.uri_template, t.name))
        .collect();
    assert_eq!(
        templates,
        [
            ("library://shelves/{number}", "shelf"),
            ("library://rooms/{room}/{+path}", "room_file")
        ]
    );
    assert_eq!(__private::check_group(group), Vec::<String>::new());
}

#[test]
fn reads_fill_in_the_uri_and_the_declared_mime_type() {
    let parts = read("library://books").unwrap();
    assert_eq!(
        parts,
        [ResourcePart::text("Dune\nEmma")
            .with_uri("library://books")
            .with_mime_type("text/plain")]
    );
    let parts = read("library://cover.png").unwrap();
    assert_eq!(
        parts[0].contents,
        ResourceContents::Blob(vec![0x89, b'P', b'N', b'G'])
    );
    assert_eq!(parts[0].mime_type.as_deref(), Some("image/png"));

    let parts = read("library://shelves/3").unwrap();
    assert_eq!(parts[0].contents, ResourceContents::Text("shelf 3".into()));
    assert_eq!(parts[0].uri.as_deref(), Some("library://shelves/3"));

    let parts = read("library://rooms/attic/a/b.txt").unwrap();
    assert_eq!(
        parts[0].contents,
        ResourceContents::Text("attic:a/b.txt".into())
    );
    assert_eq!(parts[1].uri.as_deref(), Some("library://extra"));
}

#[test]
fn failed_reads_say_what_exists() {
    let err = read("library://shelves/12").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = read("library://shelves/x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert!(err.message().contains("`number` = `x`"), "{err}");
    let err = read("library://nothing").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "group `library` has no resource `library://nothing`; its resources are: \
         library://books, library://cover.png; its templates are: \
         library://shelves/{number}, library://rooms/{room}/{+path}"
    );
}

#[test]
fn prompts_take_their_arguments_from_a_struct() {
    let recommend = &group().prompts[0];
    assert_eq!(recommend.title, Some("Recommend books"));
    let arguments = (recommend.arguments)();
    let genre = arguments.iter().find(|a| a.name == "genre").unwrap();
    assert_eq!(genre.title.as_deref(), Some("Genre"));
    assert_eq!(genre.description.as_deref(), Some("A genre."));
    assert!(genre.required);
    let count = arguments.iter().find(|a| a.name == "count").unwrap();
    assert!(!count.required);
    assert!((group().prompts[1].arguments)().is_empty());
}

#[test]
fn prompts_render_messages() {
    let result = get("recommend", &[("genre", "fantasy")]).unwrap();
    assert_eq!(
        result.description.as_deref(),
        Some("fantasy recommendations")
    );
    assert_eq!(
        result.messages[0].text(),
        Some("Recommend three fantasy books.")
    );
    assert_eq!(result.messages[1].role, Role::Assistant);
    assert_eq!(
        result.messages[1].content,
        Content::link("library://books", "books")
    );

    let result = get("hello", &[]).unwrap();
    assert_eq!(result.messages, [Message::user("hello")]);

    let err = get("recommend", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
    assert!(err.message().contains("missing field `genre`"), "{err}");
    let err = get("farewell", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().contains("its prompts are: recommend, hello"),
        "{err}"
    );
}

#[test]
fn completions_are_answered_by_the_matching_function_or_empty() {
    let complete = |prompt: bool, target: &str, argument: &str, value: &str| {
        let context = CompletionContext::from_iter([("room", "attic")]);
        __private::complete(
            group(),
            (prompt, target),
            argument,
            value,
            &context,
            &Context::detached(),
        )
        .unwrap()
    };
    assert_eq!(
        complete(true, "recommend", "genre", "f").values,
        ["fantasy", "fiction"]
    );
    assert_eq!(
        complete(false, "library://rooms/{room}/{+path}", "path", "").values,
        ["attic/index"]
    );
    assert_eq!(
        complete(true, "recommend", "count", "1"),
        Completion::default()
    );
    assert_eq!(
        complete(false, "recommend", "genre", "f"),
        Completion::default()
    );
}

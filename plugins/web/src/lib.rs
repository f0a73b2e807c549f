//! The `web` service group: fetch a page and return its title and readable
//! text, or read a value out of a JSON API. It reaches only the hosts the
//! operator grants (`[[groups.web.http]]` in `toolhost.toml`), and API
//! keys stay with the host (the grant's `headers`). With
//! `[groups.web.state]` granted it keeps pages it read for `cache_ttl`
//! seconds (`[groups.web.config]`, default 300; 0 turns the cache off).
//!
//! Build: `cargo build --release` in `plugins/` gives
//! `target/wasm32-wasip2/release/web.wasm`.

use toolhost_sdk::prelude::*;
use toolhost_sdk::serde_json::Value;

/// Read the web: a page's title and text, or a value from a JSON API.
/// Only hosts the operator granted are reachable; a refused request says
/// which grant is missing.
#[group(name = "web")]
mod web {
    use super::*;

    /// A page to read.
    #[derive(Deserialize, JsonSchema)]
    pub struct Fetch {
        /// The page's `http://` or `https://` URL.
        pub url: String,
        /// Most characters of text to return.
        #[serde(default = "default_max_chars")]
        #[schemars(range(min = 1, max = 100000))]
        pub max_chars: usize,
    }

    fn default_max_chars() -> usize {
        4000
    }

    /// A page's title and readable text.
    #[derive(Serialize, Deserialize, JsonSchema)]
    pub struct Page {
        /// The URL that answered, after redirects.
        pub url: String,
        /// The HTTP status.
        pub status: u16,
        /// The `<title>`, when there is one.
        pub title: Option<String>,
        /// The text without markup, scripts or styles, whitespace
        /// collapsed, cut at `max_chars`.
        pub text: String,
        /// Whether the text was cut.
        pub truncated: bool,
        /// Whether it came from the group's cache rather than the web.
        #[serde(default)]
        pub cached: bool,
    }

    /// Fetch a web page and return its title and readable text. Pages read
    /// recently come from the group's cache (`cached: true`).
    #[operation(read_only, open_world, title = "Fetch a web page")]
    pub fn fetch_page(ctx: &Context, Fetch { url, max_chars }: Fetch) -> Result<Page, ToolError> {
        let cache = crate::Cache::new(ctx, &format!("page:{max_chars}:{url}"));
        if let Some(page) = cache.get::<Page>() {
            return Ok(Page {
                cached: true,
                ..page
            });
        }
        let response = ctx
            .http()
            .get(url)
            .header("Accept", "text/html, text/plain;q=0.9")
            .send()?
            .error_for_status()?;
        let html = response.text();
        let text = crate::readable_text(&html);
        let truncated = text.chars().count() > max_chars;
        let page = Page {
            url: response.url().to_owned(),
            status: response.status(),
            title: crate::title(&html),
            text: text.chars().take(max_chars).collect(),
            truncated,
            cached: false,
        };
        cache.put(&page);
        Ok(page)
    }

    /// A JSON API request.
    #[derive(Deserialize, JsonSchema)]
    pub struct GetJson {
        /// The API's `http://` or `https://` URL, query included.
        pub url: String,
        /// RFC 6901 JSON pointer into the answer (`""`: all of it).
        #[serde(default)]
        pub pointer: String,
    }

    /// GET a JSON API and return the value at a JSON pointer.
    #[operation(read_only, open_world, title = "Read a JSON API")]
    pub fn get_json(ctx: &Context, GetJson { url, pointer }: GetJson) -> Result<Value, ToolError> {
        let document: Value = ctx
            .http()
            .get(url)
            .header("Accept", "application/json")
            .send()?
            .error_for_status()?
            .json()?;
        document
            .pointer(&pointer)
            .cloned()
            .ok_or_else(|| ToolError::not_found(format!("nothing at `{pointer}` in the answer")))
    }
}

/// A page kept in the group's state for `cache_ttl` seconds. Without the
/// state grant (or with `cache_ttl = "0"`) nothing is kept and every read
/// goes to the web.
struct Cache<'a> {
    ctx: &'a Context,
    key: Option<String>,
    ttl: std::time::Duration,
}

impl<'a> Cache<'a> {
    /// The most bytes of a state key.
    const MAX_KEY: usize = 512;

    fn new(ctx: &'a Context, key: &str) -> Self {
        let seconds = ctx
            .config("cache_ttl")
            .and_then(|s| s.parse().ok())
            .unwrap_or(300);
        Self {
            ctx,
            key: (seconds > 0 && key.len() <= Self::MAX_KEY).then(|| key.to_owned()),
            ttl: std::time::Duration::from_secs(seconds),
        }
    }

    fn get<T: toolhost_sdk::serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.ctx.kv().get(self.key.as_deref()?).ok().flatten()
    }

    fn put<T: Serialize>(&self, value: &T) {
        if let Some(key) = &self.key
            && let Err(error) = self.ctx.kv().set_for(key, value, self.ttl)
        {
            self.ctx.log(Level::Debug, format!("not cached: {error}"));
        }
    }
}

/// The text of the first `<title>`, entities decoded.
fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = collapse(&decode(&html[start..end]));
    (!title.is_empty()).then_some(title)
}

/// The text a reader sees: tags dropped, `<script>`, `<style>`, `<head>`
/// and comments skipped, entities decoded, whitespace collapsed.
fn readable_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut text = String::new();
    let mut i = 0;
    while i < html.len() {
        let Some(offset) = lower[i..].find('<') else {
            text.push_str(&html[i..]);
            break;
        };
        text.push_str(&html[i..i + offset]);
        let tag = i + offset;
        let skip_to = |closing: &str| lower[tag..].find(closing).map(|e| tag + e + closing.len());
        let next = if lower[tag..].starts_with("<!--") {
            skip_to("-->")
        } else if let Some(name) = ["script", "style", "head", "noscript"]
            .into_iter()
            .find(|name| lower[tag + 1..].starts_with(name))
        {
            skip_to(&format!("</{name}>"))
        } else {
            lower[tag..].find('>').map(|e| tag + e + 1)
        };
        // Block elements end words.
        text.push(' ');
        i = next.unwrap_or(html.len());
    }
    collapse(&decode(&text))
}

fn decode(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_become_title_and_text() {
        let html = "<html><head><title>A &amp; B</title><style>p{}</style></head>\
                    <body><script>var x = 1;</script><h1>Hello</h1><!-- no -->\
                    <p>World&nbsp;wide</p></body></html>";
        assert_eq!(title(html).as_deref(), Some("A & B"));
        assert_eq!(readable_text(html), "Hello World wide");
    }
}

//! The `text` service group: case conversion, counting, regular expressions
//! and URL slugs, and a `rewrite` prompt whose `tone` argument completes as
//! the user types.
//!
//! Build: `cargo build --release` in `plugins/` gives
//! `target/wasm32-wasip2/release/text.wasm`.

use std::collections::BTreeMap;

use heck::{
    ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToTitleCase, ToUpperCamelCase,
};
use regex::Regex;
use toolhost_sdk::prelude::*;

/// Text utilities: change the case of text, count characters, words and
/// lines, search and replace with regular expressions, and make URL slugs.
#[group(
    name = "text",
    instructions = "Regular expressions use Rust `regex` syntax (no look-around or \
                    back-references); offsets are byte offsets into the UTF-8 text."
)]
mod text {
    use super::*;

    /// A letter case.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Case {
        // Variants carry no doc comments so that the schema is a plain
        // `enum` list, which every client renders; the field documents them.
        Upper,
        Lower,
        Title,
        Snake,
        Kebab,
        Camel,
        Pascal,
        Constant,
    }

    /// Text and the case to convert it to.
    #[derive(Deserialize, JsonSchema)]
    pub struct ConvertCase {
        /// The text to convert.
        pub text: String,
        /// Target case: `upper` (HELLO WORLD), `lower` (hello world), `title`
        /// (Hello World), `snake` (hello_world), `kebab` (hello-world), `camel`
        /// (helloWorld), `pascal` (HelloWorld) or `constant` (HELLO_WORLD).
        pub case: Case,
    }

    /// Convert text to another letter case.
    ///
    /// `upper` and `lower` keep everything but the letters; the other cases
    /// split the text into words (at spaces, punctuation and case changes,
    /// so `parseHTTPResponse` is parse / http / response) and join them.
    #[operation(read_only, idempotent, title = "Convert case")]
    pub fn convert_case(ConvertCase { text, case }: ConvertCase) -> String {
        crate::convert(&text, case)
    }

    /// Text to measure.
    #[derive(Deserialize, JsonSchema)]
    pub struct Text {
        /// The text.
        pub text: String,
    }

    /// Sizes of a text.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Counts {
        /// Unicode scalar values (what most languages call characters).
        pub chars: usize,
        /// Runs of non-whitespace characters.
        pub words: usize,
        /// Lines; a final line break does not start another line.
        pub lines: usize,
        /// Bytes in UTF-8.
        pub bytes: usize,
    }

    /// Count the characters, words, lines and bytes of a text.
    #[operation(read_only, idempotent, title = "Count")]
    pub fn count(Text { text }: Text) -> Counts {
        Counts {
            chars: text.chars().count(),
            words: text.split_whitespace().count(),
            lines: text.lines().count(),
            bytes: text.len(),
        }
    }

    /// What to replace, where, and how often.
    #[derive(Deserialize, JsonSchema)]
    pub struct RegexReplace {
        /// The text to search.
        pub text: String,
        /// Regular expression (Rust `regex` syntax). Prefix with `(?i)` to
        /// ignore case.
        pub pattern: String,
        /// Replacement; `$1` or `${name}` insert capture groups, `$$` is a
        /// literal dollar sign.
        pub replacement: String,
        /// Replace at most this many matches, from the start; all when
        /// absent.
        #[schemars(range(min = 1))]
        pub limit: Option<usize>,
    }

    /// The text after replacement.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Replaced {
        /// The resulting text.
        pub text: String,
        /// How many matches were replaced.
        pub replacements: usize,
    }

    /// Replace the matches of a regular expression.
    ///
    /// Fails with `invalid-arguments` when the pattern is not a valid
    /// regular expression, saying why.
    #[operation(read_only, idempotent, title = "Regex replace")]
    pub fn regex_replace(args: RegexReplace) -> Result<Replaced, ToolError> {
        let regex = crate::compile(&args.pattern)?;
        let limit = args.limit.unwrap_or(0);
        let matches = regex.find_iter(&args.text).count();
        let replacements = if limit == 0 {
            matches
        } else {
            matches.min(limit)
        };
        let text = regex
            .replacen(&args.text, limit, args.replacement.as_str())
            .into_owned();
        Ok(Replaced { text, replacements })
    }

    /// What to look for, and where.
    #[derive(Deserialize, JsonSchema)]
    pub struct RegexFind {
        /// The text to search.
        pub text: String,
        /// Regular expression (Rust `regex` syntax). Prefix with `(?i)` to
        /// ignore case.
        pub pattern: String,
        /// Return at most this many matches.
        #[serde(default = "default_find_limit")]
        #[schemars(range(min = 1, max = 10000))]
        pub limit: usize,
    }

    fn default_find_limit() -> usize {
        100
    }

    /// One match.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Match {
        /// The matched text.
        pub text: String,
        /// Byte offset of the match's first byte.
        pub start: usize,
        /// Byte offset just past the match's last byte.
        pub end: usize,
        /// Capture groups 1, 2, ...; `null` for a group that did not take
        /// part in the match.
        pub groups: Vec<Option<String>>,
        /// Named capture groups that took part in the match.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub named: BTreeMap<String, String>,
    }

    /// The matches found.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Found {
        /// The matches, in order.
        pub matches: Vec<Match>,
        /// Whether there are more matches than `limit`.
        pub truncated: bool,
    }

    /// Find the matches of a regular expression, with their byte offsets and
    /// capture groups.
    ///
    /// Fails with `invalid-arguments` when the pattern is not a valid
    /// regular expression, saying why.
    #[operation(read_only, idempotent, title = "Regex find")]
    pub fn regex_find(args: RegexFind) -> Result<Found, ToolError> {
        let regex = crate::compile(&args.pattern)?;
        let names: Vec<Option<&str>> = regex.capture_names().collect();
        let mut captures = regex.captures_iter(&args.text);
        let matches = captures
            .by_ref()
            .take(args.limit)
            .map(|caps| {
                let whole = caps.get(0).expect("group 0 is the whole match");
                let groups = (1..caps.len())
                    .map(|i| caps.get(i).map(|m| m.as_str().to_owned()))
                    .collect();
                let named = names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, name)| Some(((*name)?, caps.get(i)?)))
                    .map(|(name, m)| (name.to_owned(), m.as_str().to_owned()))
                    .collect();
                Match {
                    text: whole.as_str().to_owned(),
                    start: whole.start(),
                    end: whole.end(),
                    groups,
                    named,
                }
            })
            .collect();
        let truncated = captures.next().is_some();
        Ok(Found { matches, truncated })
    }

    /// Text to turn into a slug.
    #[derive(Deserialize, JsonSchema)]
    pub struct Slugify {
        /// The text, e.g. a title.
        pub text: String,
        /// Character between words.
        #[serde(default = "default_separator")]
        pub separator: char,
        /// Cut the slug to at most this many characters, at a word boundary
        /// when there is one.
        #[schemars(range(min = 1))]
        pub max_length: Option<usize>,
    }

    fn default_separator() -> char {
        '-'
    }

    /// Make a URL slug: lowercase words joined by a separator, e.g.
    /// "Crème Brûlée: A How-To!" → `creme-brulee-a-how-to`.
    ///
    /// Accented Latin letters lose their accents; letters and digits of
    /// other scripts are kept; apostrophes are dropped; everything else
    /// separates words.
    #[operation(read_only, idempotent, title = "Slugify")]
    pub fn slugify(args: Slugify) -> Result<String, ToolError> {
        if args.separator.is_alphanumeric() {
            return Err(ToolError::invalid_arguments(
                "the separator must not be a letter or a digit",
            ));
        }
        Ok(crate::slug(&args.text, args.separator, args.max_length))
    }

    /// What to rewrite, and how.
    #[derive(Deserialize, JsonSchema)]
    pub struct Rewrite {
        /// The text to rewrite.
        pub text: String,
        /// The tone to write in, e.g. `formal`, `friendly` or `concise`.
        pub tone: String,
        /// Who will read the result; anyone when absent.
        pub audience: Option<String>,
    }

    /// Ask the model to rewrite a text in another tone, keeping its meaning.
    #[prompt(title = "Rewrite in another tone")]
    pub fn rewrite(
        Rewrite {
            text,
            tone,
            audience,
        }: Rewrite,
    ) -> PromptResult {
        let audience = audience.unwrap_or_else(|| "any reader".into());
        PromptResult::new(vec![
            Message::user(format!(
                "Rewrite the text below in a {tone} tone for {audience}. Keep its meaning, \
                 facts and language; answer with the rewritten text only."
            )),
            Message::user(text),
        ])
        .with_description(format!("Rewrite a text in a {tone} tone"))
    }

    /// Tones `rewrite` suggests as the user types.
    const TONES: [&str; 8] = [
        "casual",
        "concise",
        "diplomatic",
        "enthusiastic",
        "formal",
        "friendly",
        "neutral",
        "persuasive",
    ];

    #[complete(prompt = "rewrite", argument = "tone")]
    pub fn complete_tone(value: &str) -> Completion {
        Completion::matching(TONES, value)
    }
}

fn compile(pattern: &str) -> Result<Regex, ToolError> {
    Regex::new(pattern).map_err(|err| {
        ToolError::invalid_arguments(format!(
            "`pattern` is not a valid regular expression: {err}"
        ))
    })
}

fn convert(text: &str, case: text::Case) -> String {
    use text::Case;
    match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
        Case::Title => text.to_title_case(),
        Case::Snake => text.to_snake_case(),
        Case::Kebab => text.to_kebab_case(),
        Case::Camel => text.to_lower_camel_case(),
        Case::Pascal => text.to_upper_camel_case(),
        Case::Constant => text.to_shouty_snake_case(),
    }
}

fn slug(text: &str, separator: char, max_length: Option<usize>) -> String {
    let mut slug = String::new();
    let mut pending_separator = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if matches!(c, '\'' | '’') {
            continue;
        }
        if !c.is_alphanumeric() {
            pending_separator = !slug.is_empty();
            continue;
        }
        if pending_separator {
            slug.push(separator);
            pending_separator = false;
        }
        match fold_latin(c) {
            Some(folded) => slug.push_str(folded),
            None => slug.push(c),
        }
    }
    if let Some(max) = max_length
        && slug.chars().count() > max
    {
        let cut: String = slug.chars().take(max).collect();
        let next_is_boundary = slug.chars().nth(max) == Some(separator);
        slug = match cut.rfind(separator) {
            Some(at) if !next_is_boundary && at > 0 => cut[..at].to_owned(),
            _ => cut.trim_end_matches(separator).to_owned(),
        };
    }
    slug
}

/// The ASCII spelling of a lowercase accented Latin letter.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'ĉ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ķ' => "k",
        'ł' | 'ľ' | 'ļ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::text::*;
    use super::*;

    #[test]
    fn rewrite_renders_two_user_messages_and_tones_complete() {
        let result = rewrite(Rewrite {
            text: "gimme the report".into(),
            tone: "formal".into(),
            audience: None,
        });
        assert_eq!(result.messages.len(), 2);
        assert!(
            result.messages[0]
                .text()
                .unwrap()
                .contains("formal tone for any reader")
        );
        assert_eq!(result.messages[1].text(), Some("gimme the report"));
        assert_eq!(complete_tone("f").values, ["formal", "friendly"]);
        assert_eq!(complete_tone("").values.len(), 8);
    }

    #[test]
    fn cases() {
        let convert = |case| convert("parseHTTP response_code", case);
        assert_eq!(convert(Case::Snake), "parse_http_response_code");
        assert_eq!(convert(Case::Kebab), "parse-http-response-code");
        assert_eq!(convert(Case::Camel), "parseHttpResponseCode");
        assert_eq!(convert(Case::Pascal), "ParseHttpResponseCode");
        assert_eq!(convert(Case::Constant), "PARSE_HTTP_RESPONSE_CODE");
        assert_eq!(convert(Case::Title), "Parse Http Response Code");
        assert_eq!(convert(Case::Upper), "PARSEHTTP RESPONSE_CODE");
        assert_eq!(convert(Case::Lower), "parsehttp response_code");
    }

    #[test]
    fn counts() {
        let counts = count(Text {
            text: "héllo wörld\nsecond line\n".into(),
        });
        assert_eq!(
            counts,
            Counts {
                chars: 24,
                words: 4,
                lines: 2,
                bytes: 26
            }
        );
    }

    #[test]
    fn replace_with_groups_and_limit() {
        let replaced = regex_replace(RegexReplace {
            text: "a1 b2 c3".into(),
            pattern: r"([a-z])(\d)".into(),
            replacement: "$2$1".into(),
            limit: Some(2),
        })
        .unwrap();
        assert_eq!(replaced.text, "1a 2b c3");
        assert_eq!(replaced.replacements, 2);
    }

    #[test]
    fn bad_patterns_are_argument_errors_that_say_why() {
        let err = regex_find(RegexFind {
            text: "x".into(),
            pattern: "(unclosed".into(),
            limit: 10,
        })
        .unwrap_err();
        assert_eq!(err.kind(), toolhost_sdk::ErrorKind::InvalidArguments);
        assert!(
            err.message().contains("unclosed group"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn find_reports_byte_offsets_groups_and_truncation() {
        let found = regex_find(RegexFind {
            text: "é=1, b=2, c=3".into(),
            pattern: r"(?<key>\w)=(\d)".into(),
            limit: 2,
        })
        .unwrap();
        assert!(found.truncated);
        assert_eq!(found.matches.len(), 2);
        let first = &found.matches[0];
        assert_eq!((first.start, first.end), (0, 4));
        assert_eq!(
            first.groups,
            vec![Some("é".to_owned()), Some("1".to_owned())]
        );
        assert_eq!(first.named["key"], "é");
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Crème Brûlée: A How-To!", '-', None),
            "creme-brulee-a-how-to"
        );
        assert_eq!(slug("  Don't panic  ", '_', None), "dont_panic");
        assert_eq!(slug("Привет, мир", '-', None), "привет-мир");
        assert_eq!(slug("one two three", '-', Some(9)), "one-two");
        assert_eq!(slug("one two three", '-', Some(7)), "one-two");
        assert_eq!(slug("abcdefgh", '-', Some(3)), "abc");
        assert_eq!(slug("!!!", '-', None), "");
    }
}

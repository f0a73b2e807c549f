//! `[[groups.NAME.http]]` grants, checked at load and matched against each
//! request a group sends.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;

use super::address;
use crate::config::HttpGrant;

/// Every grant of one group, in the order written.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Arc<Rule>>,
}

/// One grant, ready to match.
#[derive(Debug)]
pub struct Rule {
    /// The host as written: for messages and as the metrics label (so the
    /// label's values are bounded by the config, not by the guest).
    pub pattern: Arc<str>,
    host: HostPattern,
    schemes: Vec<String>,
    ports: Option<Vec<u16>>,
    methods: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    addresses: Vec<IpNet>,
    /// Added to every request the rule allows. Marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Debug, PartialEq)]
enum HostPattern {
    Name(String),
    /// `*.example.com`, kept as `.example.com`.
    Subdomains(String),
    Ip(IpAddr),
}

/// What a request asks for, as the rules see it.
#[derive(Debug)]
pub struct Target<'a> {
    pub scheme: &'a str,
    /// Lowercase, without brackets or a trailing dot.
    pub host: &'a str,
    pub port: u16,
    pub method: &'a str,
    pub path: &'a str,
}

impl Rules {
    /// Checks and prepares `grants`; errors say which grant and why.
    pub fn new(grants: &[HttpGrant]) -> anyhow::Result<Self> {
        let rules = grants
            .iter()
            .map(|grant| {
                Rule::new(grant)
                    .map(Arc::new)
                    .with_context(|| format!("http grant `{}`", grant.host))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { rules })
    }

    /// The first rule that allows `target`, or why none does.
    pub fn find(&self, target: &Target<'_>) -> Result<Arc<Rule>, String> {
        let mut why = None;
        for rule in self
            .rules
            .iter()
            .filter(|rule| rule.host.matches(target.host))
        {
            match rule.refuses(target) {
                None => return Ok(rule.clone()),
                Some(reason) => {
                    why.get_or_insert(format!("the grant for `{}` {reason}", rule.pattern));
                }
            }
        }
        Err(why.unwrap_or_else(|| format!("no grant names host `{}`", target.host)))
    }
}

impl Rule {
    fn new(grant: &HttpGrant) -> anyhow::Result<Self> {
        let written = grant.host.trim();
        let host = HostPattern::parse(written)?;
        let schemes = match &grant.schemes {
            None => vec!["https".to_owned()],
            Some(schemes) => schemes
                .iter()
                .map(|s| match s.to_ascii_lowercase().as_str() {
                    scheme @ ("http" | "https") => Ok(scheme.to_owned()),
                    _ => bail!("scheme `{s}` is not http or https"),
                })
                .collect::<anyhow::Result<_>>()?,
        };
        let methods = grant
            .methods
            .as_ref()
            .map(|methods| {
                methods
                    .iter()
                    .map(|m| {
                        http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                            .map(|m| m.as_str().to_owned())
                            .with_context(|| format!("`{m}` is not an HTTP method"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?;
        for path in grant.paths.iter().flatten() {
            if !path.starts_with('/') {
                bail!("path `{path}` must start with /");
            }
        }
        let addresses = grant
            .addresses
            .iter()
            .map(|a| {
                a.parse::<IpNet>()
                    .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
                    .with_context(|| format!("`{a}` in addresses is not an address or CIDR range"))
            })
            .collect::<anyhow::Result<_>>()?;
        let headers = grant
            .headers
            .iter()
            .map(|(name, value)| header(name, value))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            pattern: written.into(),
            host,
            schemes,
            ports: grant.ports.clone(),
            methods,
            paths: grant.paths.clone(),
            addresses,
            headers,
        })
    }

    /// Why this rule does not allow `target` (its host matches), or `None`.
    fn refuses(&self, target: &Target<'_>) -> Option<String> {
        if !self.schemes.iter().any(|s| s == target.scheme) {
            return Some(format!(
                "allows schemes {:?}, not `{}`",
                self.schemes, target.scheme
            ));
        }
        let port_ok = match &self.ports {
            Some(ports) => ports.contains(&target.port),
            None => self
                .schemes
                .iter()
                .any(|s| default_port(s) == Some(target.port)),
        };
        if !port_ok {
            return Some(match &self.ports {
                Some(ports) => format!("allows ports {ports:?}, not {}", target.port),
                None => format!(
                    "allows the schemes' default ports, not {} (grant it in `ports`)",
                    target.port
                ),
            });
        }
        if let Some(methods) = &self.methods
            && !methods.iter().any(|m| m == target.method)
        {
            return Some(format!("allows methods {methods:?}, not {}", target.method));
        }
        if let Some(paths) = &self.paths {
            if has_dot_segments(target.path) {
                return Some(format!(
                    "allows paths {paths:?}, and `{}` has `.` or `..` segments",
                    target.path
                ));
            }
            if !paths.iter().any(|p| target.path.starts_with(p.as_str())) {
                return Some(format!("allows paths {paths:?}, not `{}`", target.path));
            }
        }
        None
    }

    /// Whether the rule lets a request connect to `ip`: public addresses
    /// always, special ones only when the rule names them.
    pub fn may_reach(&self, ip: IpAddr) -> bool {
        address::special(ip).is_none()
            || self.host == HostPattern::Ip(ip)
            || self.addresses.iter().any(|net| net.contains(&ip))
    }
}

impl HostPattern {
    fn parse(written: &str) -> anyhow::Result<Self> {
        let host = written
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let (name, wildcard) = match host.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (host.as_str(), false),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || !name.split('.').all(label_ok) {
            bail!(
                "host must be a name (api.example.com), `*.` and a name, or an IP address; \
                 `*` alone would allow every host"
            );
        }
        Ok(if wildcard {
            Self::Subdomains(format!(".{name}"))
        } else {
            Self::Name(name.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Name(name) => host == name,
            Self::Subdomains(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
            Self::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// Whether a path has `.` or `..` segments, written plainly or
/// percent-encoded: a server would resolve them past a prefix grant.
fn has_dot_segments(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    }) || path.to_ascii_lowercase().contains("%2f")
}

/// A grant's header, its value expanded from `${env:NAME}` and
/// `${file:PATH}`. Errors never contain the value.
fn header(name: &str, template: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .with_context(|| format!("`{name}` is not a header name"))?;
    let value = expand(template).with_context(|| format!("header `{name}`"))?;
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| anyhow::anyhow!("header `{name}`: the value is not a valid header value"))?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// `template` with each `${env:NAME}` and `${file:PATH}` replaced by the
/// variable or the file's contents (less a final line break); errors never
/// contain a value.
pub(crate) fn expand(template: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            bail!("`${{` without a closing `}}`");
        };
        let reference = &rest[start + 2..start + len];
        match reference.split_once(':') {
            Some(("env", var)) => out.push_str(
                &std::env::var(var)
                    .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?,
            ),
            Some(("file", path)) => out.push_str(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {path}: {}", e.kind()))?
                    .trim_end_matches(['\r', '\n']),
            ),
            _ => bail!("`${{{reference}}}` is neither ${{env:NAME}} nor ${{file:PATH}}"),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(host: &str) -> HttpGrant {
        HttpGrant {
            host: host.to_owned(),
            schemes: None,
            ports: None,
            methods: None,
            paths: None,
            addresses: Vec::new(),
            headers: Default::default(),
        }
    }

    fn target<'a>(scheme: &'a str, host: &'a str, port: u16, path: &'a str) -> Target<'a> {
        Target {
            scheme,
            host,
            port,
            method: "GET",
            path,
        }
    }

    #[test]
    fn names_wildcards_and_addresses_match_as_written() {
        let rules = Rules::new(&[
            grant("API.example.com."),
            grant("*.cdn.net"),
            grant("[::1]"),
        ])
        .unwrap();
        assert!(
            rules
                .find(&target("https", "api.example.com", 443, "/"))
                .is_ok()
        );
        assert!(
            rules
                .find(&target("https", "a.b.cdn.net", 443, "/"))
                .is_ok()
        );
        assert!(rules.find(&target("https", "::1", 443, "/")).is_ok());
        let why = rules
            .find(&target("https", "cdn.net", 443, "/"))
            .unwrap_err();
        assert_eq!(why, "no grant names host `cdn.net`");
        let why = rules
            .find(&target("https", "evilcdn.net", 443, "/"))
            .unwrap_err();
        assert!(why.contains("evilcdn.net"), "{why}");
        assert!(Rules::new(&[grant("*")]).is_err());
        assert!(Rules::new(&[grant("a b")]).is_err());
    }

    #[test]
    fn scheme_port_method_and_path_are_each_checked() {
        let mut g = grant("127.0.0.1");
        g.schemes = Some(vec!["http".into()]);
        g.ports = Some(vec![8080]);
        g.methods = Some(vec!["get".into()]);
        g.paths = Some(vec!["/v1/".into()]);
        let rules = Rules::new(&[g]).unwrap();
        assert!(
            rules
                .find(&target("http", "127.0.0.1", 8080, "/v1/x"))
                .is_ok()
        );
        for (t, expected) in [
            (target("https", "127.0.0.1", 8080, "/v1/x"), "schemes"),
            (target("http", "127.0.0.1", 80, "/v1/x"), "ports"),
            (target("http", "127.0.0.1", 8080, "/v2/x"), "paths"),
            (
                target("http", "127.0.0.1", 8080, "/v1/../admin"),
                "segments",
            ),
            (
                target("http", "127.0.0.1", 8080, "/v1/%2E%2e/admin"),
                "segments",
            ),
        ] {
            let why = rules.find(&t).unwrap_err();
            assert!(why.contains(expected), "{why}");
        }
        let post = Target {
            method: "POST",
            ..target("http", "127.0.0.1", 8080, "/v1/x")
        };
        assert!(rules.find(&post).unwrap_err().contains("methods"));
    }

    #[test]
    fn default_ports_follow_the_schemes() {
        let rules = Rules::new(&[grant("example.com")]).unwrap();
        assert!(
            rules
                .find(&target("https", "example.com", 443, "/"))
                .is_ok()
        );
        let why = rules
            .find(&target("https", "example.com", 8443, "/"))
            .unwrap_err();
        assert!(why.contains("ports"), "{why}");
        assert!(rules.find(&target("http", "example.com", 80, "/")).is_err());
    }

    #[test]
    fn special_addresses_need_naming() {
        let rules = Rules::new(&[grant("127.0.0.1"), grant("localhost"), {
            let mut g = grant("intranet.example");
            g.addresses = vec!["10.0.0.0/8".into()];
            g
        }])
        .unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(rules.rules[0].may_reach(loopback));
        assert!(!rules.rules[1].may_reach(loopback));
        assert!(rules.rules[2].may_reach("10.2.3.4".parse().unwrap()));
        assert!(!rules.rules[2].may_reach("192.168.0.1".parse().unwrap()));
        assert!(rules.rules[1].may_reach("1.1.1.1".parse().unwrap()));
    }

    #[test]
    fn header_values_come_from_env_and_files_and_stay_out_of_errors() {
        let dir = std::env::temp_dir().join(format!("toolhost-grant-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret-file\n").unwrap();
        let (_, value) = header("X-Key", &format!("Key ${{file:{}}}", file.display())).unwrap();
        assert_eq!(value, "Key s3cret-file");
        assert!(value.is_sensitive());
        let err = header("X-Key", "${env:TOOLHOST_SURELY_UNSET_VAR}").unwrap_err();
        assert!(format!("{err:#}").contains("TOOLHOST_SURELY_UNSET_VAR is not set"));
        let err = header("X-Key", "${vault:x}").unwrap_err();
        assert!(format!("{err:#}").contains("neither"));
        let err = header("X-Key", "bad\nvalue").unwrap_err();
        assert!(!format!("{err:#}").contains("bad"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

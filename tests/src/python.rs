//! The Python MCP clients (the official SDK and FastMCP), pinned in
//! `tests/clients/python/requirements.txt`, in a venv under the cargo
//! target directory made on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The client script, `tests/clients/python/ask.py`.
pub fn ask_script() -> PathBuf {
    clients_dir().join("ask.py")
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python")
}

/// The venv's `python`, with the pinned clients installed.
///
/// Made with `python3 -m venv` and `pip install -r requirements.txt` the
/// first time, and again whenever the requirements change (a copy of them
/// in the venv marks what it holds). Panics, saying what to install, when
/// there is no `python3` with `venv`.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make_venv)
}

fn make_venv() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let venv = target.join("python-clients");
    let python = venv.join("bin/python");
    let wanted = std::fs::read_to_string(clients_dir().join("requirements.txt"))
        .expect("read tests/clients/python/requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (install python3 and python3-venv)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(clients_dir().join("requirements.txt")),
        "pip install -r tests/clients/python/requirements.txt",
    );
    std::fs::write(&stamp, wanted).expect("mark the venv's requirements");
    python
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

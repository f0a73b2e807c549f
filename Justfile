# Recipes mirror the README; each is a plain command that also works without `just`.

# Serve the bundled example plugins over stdio (builds them first if needed).
serve *ARGS:
    rustup toolchain install
    cargo run --release -p toolhost -- serve {{ARGS}}

# Run the whole test suite (builds the example and fixture plugins).
test:
    rustup toolchain install
    cargo test --workspace

# Build the example plugins into plugins/target/wasm32-wasip2/release/.
plugins:
    cd plugins && cargo build --release

# Print a component's group and tools.
inspect FILE:
    cargo run --release -p toolhost -- inspect {{FILE}}

# Everything CI checks.
ci:
    bash .ci/run

# The call-path benchmark (raw wasmtime floor vs the host's path vs stdio).
bench:
    cargo bench -p toolhost --bench call_path

fmt:
    cargo fmt --all
    cd plugins && cargo fmt --all
    cd plugins/fixtures && cargo fmt --all

# The official MCP conformance suites (0.1.16 and 0.2.0-alpha.12, four
# passes; see conformance/run.sh) against `toolhost serve --http` serving
# plugins/fixtures/conformance. Needs npm.
conformance *ARGS:
    bash conformance/run.sh {{ARGS}}

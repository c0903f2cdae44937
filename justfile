# Tasks for developers. Every recipe is a plain command, so nothing here needs
# `just` itself: the README gives the same commands.

# List the recipes.
default:
    @just --list

# First run: sample data in data/divoc.sqlite, a development key, a request to try.
demo:
    cargo run -p divoc-server -- demo

# Run the service with ./divoc.toml and DIVOC__* variables.
serve:
    cargo run --release -p divoc-server -- serve

# Import registry exports into the configured store.
import +files:
    cargo run --release -p divoc-server -- import {{files}}

# Every test, with PostgreSQL and the PDF and QR tools (installs them when missing).
test *args:
    scripts/test {{args}}

# What CI runs.
ci:
    bash .ci/run

# Formatting and lints.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    python3 scripts/check-deps.py

# Criterion benchmarks (release).
bench:
    cargo bench --workspace

# Regenerate fixtures/sample-records.json.
fixtures:
    python3 fixtures/generate.py

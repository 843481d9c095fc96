# psa-bridge — every target builds what it needs first.
# The component is built with its own profile (opt-level s, fat LTO, strip); the native host,
# simulators and tests share one release build, so wasmtime is compiled once per run.

CARGO     ?= cargo
TARGET    ?= $(or $(CARGO_TARGET_DIR),target)
COMPONENT := $(TARGET)/wasm32-wasip2/component/psa_bridge.wasm
HOST      := $(TARGET)/release/psa-bridge-host
SIM       := $(TARGET)/release/psa-bridge-sim

.PHONY: all build component host toolchain lint test unit e2e jco validate demo bench clean

all: build

toolchain:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

component: toolchain
	$(CARGO) build -p psa-bridge --target wasm32-wasip2 --profile component

host:
	$(CARGO) build --release -p psa-bridge-host -p psa-bridge-sim -p psa-bridge-workflow

build: component host

# Lints as gates: formatting, and clippy with warnings as errors, natively (the whole workspace
# and its tests, in the release profile the tests build anyway) and for the component's target.
lint: toolchain
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p psa-bridge --target wasm32-wasip2 --profile component -- -D warnings

# Lints, native unit tests, simulator tests and end-to-end tests (the real component under the
# harness against the simulators on 127.0.0.1), then the platform's validator on spec, help and real outputs.
test: build
	$(MAKE) --no-print-directory lint
	PSA_BRIDGE_COMPONENT=$(abspath $(COMPONENT)) $(CARGO) test --release --workspace
	$(MAKE) --no-print-directory jco
	$(MAKE) --no-print-directory validate

# The component unchanged in another host: jco transpiles it to JavaScript and runs test_connection
# and get_accounts on Node (preview2-shim) against the simulators; then `jco serve` serves it as a
# wasi:http server (an action, the Halo webhook, the token and secret refusals). npm ci reruns only when the lock changes.
JCO_DEPS := tests/jco/node_modules/.package-lock.json

$(JCO_DEPS): tests/jco/package.json tests/jco/package-lock.json
	cd tests/jco && npm ci --no-audit --no-fund
	@touch $@

jco: build $(JCO_DEPS)
	node tests/jco/run.mjs --component $(abspath $(COMPONENT)) --sim $(abspath $(SIM)) --timeout 120
	node tests/jco/serve.mjs --component $(abspath $(COMPONENT)) --sim $(abspath $(SIM)) --timeout 120

# The 23 validators on the real outputs of the end-to-end run, then proof that they catch a broken
# spec, help or output (each broken on purpose in a temp copy).
validate:
	bash tests/validate/run.sh --require-outputs
	bash tests/validate/run.sh --self-test

demo: build
	$(TARGET)/release/psa-bridge-demo

bench: build
	$(TARGET)/release/psa-bridge-bench

clean:
	$(CARGO) clean

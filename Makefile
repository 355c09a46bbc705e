# tokenclient: the one entry point. `make demo` and `make test` work on a new
# machine once .ci/run's packages are installed (see README.md).

CARGO      ?= cargo
PYTHON     ?= python3
CC         ?= cc
CXX        ?= c++
PROFILE    ?= release
LIBDIR     := $(CURDIR)/target/$(PROFILE)
LIB        := $(LIBDIR)/libtokenclient.so
export TOKENCLIENT_LIBRARY := $(LIB)

.PHONY: all build test demo lint header-check test-rust test-c test-exchange-c test-python test-go server clean

all: build

build:
	$(CARGO) build --release --locked

$(LIB): build

# Node dependencies of the test OpenID Connect server (oidc-provider).
server: tests/server/node_modules/.package-lock.json
tests/server/node_modules/.package-lock.json: tests/server/package-lock.json
	npm ci --prefix tests/server --no-audit --no-fund --loglevel=error

demo: build server
	$(PYTHON) examples/run_demo.py

test: lint header-check test-rust test-c test-exchange-c test-python test-go demo
	@echo "make test: all suites passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# The build regenerates include/tokenclient.h; it must match the committed one.
header-check: build
	git diff --exit-code -- include/ || { echo "include/ differs from the build's header: commit it"; exit 1; }

test-rust: server
	$(CARGO) test --locked

test-c: build
	bash tests/c/run.sh

# Token exchanges from C against the real server, plainly and under valgrind.
test-exchange-c: build server
	$(PYTHON) tests/c/run_exchange.py

test-python: build server
	$(PYTHON) -m pytest -q tests/python bindings/python/tests

test-go: build server
	cd bindings/go && go vet ./... && go test -race -count=1 ./...

clean:
	$(CARGO) clean
	rm -rf build

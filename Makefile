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

# The test-hooks build (cargo feature test-hooks, in its own target dir): the
# shipped code plus tokenclient_test_panic and the record of every error
# message and secret (src/audit.rs). The behavioural suites run against it,
# with TOKENCLIENT_AUDIT_DIR set; test-secrets then scans what they recorded.
# install, docs and demo use the shipped build.
HOOKS_LIBDIR := $(CURDIR)/target/hooks/release
HOOKS_LIB  := $(HOOKS_LIBDIR)/libtokenclient.so
AUDIT_DIR  := $(CURDIR)/build/audit
TEST_HOOKS := TOKENCLIENT_AUDIT_DIR=$(AUDIT_DIR) TOKENCLIENT_REQUIRE_TEST_HOOKS=1 TOKENCLIENT_REQUIRE_SERVER=1
FUZZ_SECONDS ?= 60

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(word 1,$(subst ., ,$(VERSION)))
MINOR      := $(word 2,$(subst ., ,$(VERSION)))
PREFIX     ?= /usr/local
DESTDIR    ?=
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib
INSTALL_INC := $(DESTDIR)$(PREFIX)/include
INSTALL_BIN := $(DESTDIR)$(PREFIX)/bin
SUBST      := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' -e 's|@MINOR@|$(MINOR)|g'
# Everything `make install` puts down, for `make uninstall` to take away.
INSTALLED  := $(INSTALL_LIB)/libtokenclient.so.$(VERSION) $(INSTALL_LIB)/libtokenclient.so.$(MAJOR) \
              $(INSTALL_LIB)/libtokenclient.so $(INSTALL_LIB)/libtokenclient.a \
              $(INSTALL_INC)/tokenclient.h $(INSTALL_INC)/tokenclient.hpp \
              $(INSTALL_LIB)/pkgconfig/tokenclient.pc \
              $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfig.cmake \
              $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfigVersion.cmake \
              $(INSTALL_BIN)/tokenclient

.PHONY: install uninstall docs test-docs test-server test-install bench
.PHONY: all build test demo lint header-check test-rust test-c test-exchange-c test-python test-go server clean
.PHONY: build-hooks audit-reset test-secrets fuzz test-fuzz

all: build

# The shared object's SONAME is libtokenclient.so.$(MAJOR): programs linked in
# the build tree look for that name, so it is linked beside the library.
build:
	$(CARGO) build --release --locked
	ln -sf libtokenclient.so $(LIBDIR)/libtokenclient.so.$(MAJOR)

$(LIB): build

build-hooks:
	$(CARGO) build --release --locked --features test-hooks --target-dir target/hooks
	ln -sf libtokenclient.so $(HOOKS_LIBDIR)/libtokenclient.so.$(MAJOR)

# Node dependencies of the test OpenID Connect server (oidc-provider).
server: tests/server/node_modules/.package-lock.json
tests/server/node_modules/.package-lock.json: tests/server/package-lock.json
	npm ci --prefix tests/server --no-audit --no-fund --loglevel=error

demo: build server
	$(PYTHON) examples/run_demo.py

test: lint header-check audit-reset test-server test-rust test-c test-exchange-c test-python test-go \
      test-secrets test-fuzz test-install test-docs demo
	@echo "make test: all suites passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features test-hooks -- -D warnings

# The build regenerates include/tokenclient.h; it must match the committed one.
header-check: build
	git diff --exit-code -- include/ || { echo "include/ differs from the build's header: commit it"; exit 1; }

test-rust: server
	$(TEST_HOOKS) $(CARGO) test --locked --features test-hooks

test-c: build-hooks
	$(TEST_HOOKS) TOKENCLIENT_LIBDIR=$(HOOKS_LIBDIR) bash tests/c/run.sh

# The test server checks itself (with the `jose` npm package as the client).
test-server: server
	node tests/server/selftest.mjs

# Token exchanges from C against the real server, plainly and under valgrind.
test-exchange-c: build-hooks server
	$(TEST_HOOKS) TOKENCLIENT_LIBDIR=$(HOOKS_LIBDIR) $(PYTHON) tests/c/run_exchange.py
	$(TEST_HOOKS) TOKENCLIENT_LIBDIR=$(HOOKS_LIBDIR) $(PYTHON) tests/c/run_fork.py

test-python: build-hooks server
	$(TEST_HOOKS) TOKENCLIENT_LIBRARY=$(HOOKS_LIB) $(PYTHON) -m pytest -q bindings/python/tests

# Fresh records for the secret scan of this run.
audit-reset:
	rm -rf $(AUDIT_DIR)

# No error message recorded by any suite above contains any secret, key,
# assertion or token that was in play (tests/audit/scan.py; its own tests
# plant leaks). --expect: each suite must have recorded something.
test-secrets:
	$(PYTHON) -m pytest -q tests/audit
	$(PYTHON) tests/audit/scan.py $(AUDIT_DIR) --expect tokenclient- --expect oidc- --expect hostile- \
	  --expect faults- --expect cache- --expect soak- --expect tls- --expect test_core \
	  --expect test_exchange --expect python --expect go.test

# The C/C++ reference (Doxygen) and the Rust API (rustdoc).
docs:
	mkdir -p build/docs
	doxygen docs/Doxyfile
	$(CARGO) doc --no-deps --lib --locked
	@echo "docs: build/docs/c/html/index.html and target/doc/tokenclient/index.html"

# Every code block of the docs compiles; the reference renders every function.
test-docs: build docs
	$(PYTHON) -m pytest -q tests/docs
	grep -rlq tokenclient_client_exchange_code build/docs/c/html
	test -f target/doc/tokenclient/index.html

# make install into a temporary prefix, and every way of consuming it.
test-install: build server
	$(PYTHON) -m pytest -q tests/install

# cargo-fuzz targets (fuzz/, docs/fuzzing.md): `make fuzz FUZZ_SECONDS=N` runs
# each for N seconds; make test runs each for 20 s so regressions show in CI.
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

test-fuzz:
	bash fuzz/run.sh 20

# LD_LIBRARY_PATH loads the test-hooks build; the tag adds the panic test.
test-go: build-hooks server
	cd bindings/go && go vet ./... && go vet -tags tokenclient_testhooks ./... && \
	  $(TEST_HOOKS) LD_LIBRARY_PATH=$(HOOKS_LIBDIR) go test -race -count=1 -tags tokenclient_testhooks ./...

install: build
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/cmake/tokenclient $(INSTALL_INC) $(INSTALL_BIN)
	install -m 0755 $(LIBDIR)/libtokenclient.so $(INSTALL_LIB)/libtokenclient.so.$(VERSION)
	ln -sf libtokenclient.so.$(VERSION) $(INSTALL_LIB)/libtokenclient.so.$(MAJOR)
	ln -sf libtokenclient.so.$(MAJOR) $(INSTALL_LIB)/libtokenclient.so
	install -m 0644 $(LIBDIR)/libtokenclient.a $(INSTALL_LIB)/libtokenclient.a
	install -m 0644 include/tokenclient.h include/tokenclient.hpp $(INSTALL_INC)/
	$(SUBST) packaging/tokenclient.pc.in > $(INSTALL_LIB)/pkgconfig/tokenclient.pc
	$(SUBST) packaging/tokenclientConfig.cmake.in > $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfig.cmake
	$(SUBST) packaging/tokenclientConfigVersion.cmake.in > $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfigVersion.cmake
	install -m 0755 $(LIBDIR)/tokenclient $(INSTALL_BIN)/tokenclient

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(INSTALL_LIB)/cmake/tokenclient 2>/dev/null

# Benchmarks (not part of make test): bench/RESULTS.md.
bench: build
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PYTHON) bench/run.py

clean:
	$(CARGO) clean
	rm -rf build

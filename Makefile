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
.PHONY: wheel sdist dist

all: build

# The shared object's SONAME is libtokenclient.so.$(MAJOR): programs linked in
# the build tree look for that name, so it is linked beside the library.
build:
	$(CARGO) build --release --locked
	ln -sf libtokenclient.so $(LIBDIR)/libtokenclient.so.$(MAJOR)
	mkdir -p target/pkgconfig
	sed -e 's|@PREFIX@|$(CURDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(CURDIR)/include|g' \
	  -e 's|@RPATH@| -Wl,-rpath,$${libdir}|g' packaging/tokenclient.pc.in | $(SUBST) > target/pkgconfig/tokenclient.pc

$(LIB): build

build-hooks:
	$(CARGO) build --release --locked -p tokenclient --features test-hooks --target-dir target/hooks
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
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p tokenclient --all-targets --features test-hooks -- -D warnings

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
	$(PYTHON) -m mypy --strict --cache-dir build/mypy bindings/python/tokenclient

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

# The binding links through the build tree's target/pkgconfig/tokenclient.pc
# (make build); LD_LIBRARY_PATH loads the test-hooks build at run time, and
# the tag adds the panic test. go vet and staticcheck (.ci/run installs it) first.
test-go: build build-hooks server
	cd bindings/go && export PKG_CONFIG_PATH=$(CURDIR)/target/pkgconfig PATH="$$(go env GOPATH | cut -d: -f1)/bin:$$PATH" && \
	  go vet ./... && go vet -tags tokenclient_testhooks ./... && \
	  staticcheck -version && staticcheck ./... && staticcheck -tags tokenclient_testhooks ./... && \
	  $(TEST_HOOKS) LD_LIBRARY_PATH=$(HOOKS_LIBDIR) go test -race -count=1 -tags tokenclient_testhooks ./...

install: build
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/cmake/tokenclient $(INSTALL_INC) $(INSTALL_BIN)
	install -m 0755 $(LIBDIR)/libtokenclient.so $(INSTALL_LIB)/libtokenclient.so.$(VERSION)
	ln -sf libtokenclient.so.$(VERSION) $(INSTALL_LIB)/libtokenclient.so.$(MAJOR)
	ln -sf libtokenclient.so.$(MAJOR) $(INSTALL_LIB)/libtokenclient.so
	install -m 0644 $(LIBDIR)/libtokenclient.a $(INSTALL_LIB)/libtokenclient.a
	install -m 0644 include/tokenclient.h include/tokenclient.hpp $(INSTALL_INC)/
	rpath=' -Wl,-rpath,$${libdir}'; case "$(PREFIX)" in /usr|/usr/) rpath= ;; esac; \
	  $(SUBST) -e 's|@LIBDIR@|$${exec_prefix}/lib|g' -e 's|@INCLUDEDIR@|$${prefix}/include|g' -e "s|@RPATH@|$$rpath|g" \
	  packaging/tokenclient.pc.in > $(INSTALL_LIB)/pkgconfig/tokenclient.pc
	$(SUBST) packaging/tokenclientConfig.cmake.in > $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfig.cmake
	$(SUBST) packaging/tokenclientConfigVersion.cmake.in > $(INSTALL_LIB)/cmake/tokenclient/tokenclientConfigVersion.cmake
	install -m 0755 $(LIBDIR)/tokenclient $(INSTALL_BIN)/tokenclient

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(INSTALL_LIB)/cmake/tokenclient 2>/dev/null

# The Python wheel and sdist, into build/dist/ (bindings/python/README.md). The
# wheel bundles target/release's library as built (never recompiled here), is
# tagged py3-none (ctypes: no CPython ABI), and auditwheel vendors libcurl,
# OpenSSL and theirs, renamed, and gives it its manylinux tag. The sdist
# carries the crate in rust/ and builds it with cargo when installed.
WHEEL_RAW  := $(CURDIR)/build/wheel-raw
PYSCRIPTS   = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
wheel: build
	rm -rf $(WHEEL_RAW) bindings/python/build && mkdir -p build/dist && rm -f build/dist/tokenclient-*.whl
	cd bindings/python && TOKENCLIENT_LIBRARY=$(LIB) $(PYTHON) -m build --wheel --no-isolation --outdir $(WHEEL_RAW) .
	PATH="$(PYSCRIPTS):$$PATH" $(PYTHON) -m auditwheel repair --strip --wheel-dir build/dist $(WHEEL_RAW)/tokenclient-*.whl

sdist:
	mkdir -p build/dist && find build/dist -maxdepth 1 -name 'tokenclient-*.tar.gz' ! -name 'tokenclient-*-*' -delete
	$(PYTHON) -m build --sdist --no-isolation --outdir build/dist bindings/python

# A release's files, into build/dist/: the source tarball (of the commit,
# HEAD), the Python wheel and sdist, and a tarball of the installed tree
# (make install PREFIX=/usr/local), with their SHA-256 sums. The wheel and the
# sdist are made one after the other (both run setuptools in bindings/python).
DIST_STAGE := $(CURDIR)/build/dist-stage
dist: build
	$(MAKE) -s wheel
	$(MAKE) -s sdist
	rm -rf $(DIST_STAGE) build/dist/tokenclient-$(VERSION)-source.tar.gz build/dist/tokenclient-$(VERSION)-linux-*.tar.gz
	git archive --format=tar.gz --prefix=tokenclient-$(VERSION)/ -o build/dist/tokenclient-$(VERSION)-source.tar.gz HEAD
	$(MAKE) -s install DESTDIR=$(DIST_STAGE) PREFIX=/usr/local
	tar -C $(DIST_STAGE) --sort=name --owner=0 --group=0 --numeric-owner \
	  -czf build/dist/tokenclient-$(VERSION)-linux-$$(uname -m).tar.gz usr
	rm -rf $(DIST_STAGE)
	cd build/dist && sha256sum tokenclient-$(VERSION)* > SHA256SUMS && cat SHA256SUMS

# Benchmarks (not part of make test): bench/RESULTS.md.
bench: build
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PYTHON) bench/run.py

clean:
	$(CARGO) clean
	rm -rf build

# flussoc - one non-recursive Makefile.  Objects go to $(BUILD); flex and
# bison output to $(BUILD)/gen.  `make V=1` shows the full commands;
# `make SANITIZE=1` builds into build-asan/ with ASan and UBSan.

ifeq ($(SANITIZE),1)
BUILD   ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
SANFLAGS =
endif

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALLFLAGS = -std=c11 -D_GNU_SOURCE $(SANFLAGS) $(CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS_FRONT = -lcjson
LDLIBS_RT    = -lmicrohttpd -lgnutls -lcjson -lcrypto -lcurl -lsqlite3 -lpq -lpthread -lm
# Those `flussoc --static` links from their .a: Debian 12 ships the static
# archive of each and of everything it needs that is not in LDLIBS_RT
# (docs/operations.md says why the others stay shared).
LDLIBS_RT_STATIC = -lmicrohttpd -lsqlite3
PREFIX  ?= /usr/local

Q = @
ifeq ($(V),1)
Q =
endif

GEN = $(BUILD)/gen

# ---- the compiler ----------------------------------------------------------
FRONT_SRC = $(filter-out compiler/main.c,$(wildcard compiler/*.c))
FRONT_OBJ = $(FRONT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o
FRONT_LIB = $(BUILD)/libflussoc-front.a
FLUSSOC   = $(BUILD)/flussoc

# ---- the runtime library generated code links against ---------------------
# runtime/ holds only the public headers generated code includes; each
# folder below it is a stage of a handler (docs/architecture.md).  Its
# sources see one include path, -Iruntime, and name each other's headers
# by folder ("run/run.h"): the compiler's tree is not on it.
RT_SRC = $(wildcard runtime/*/*.c)
RT_OBJ = $(RT_SRC:%.c=$(BUILD)/%.o)
RT_LIB = $(BUILD)/libflusso.a
# libpq's header lives in its own directory (Debian's libpq-dev); only the
# database step's PostgreSQL backend includes it.
$(BUILD)/runtime/run/db_pg.o: ALLFLAGS += -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

# ---- tests ----------------------------------------------------------------
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_OBJ = $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(BUILD)/tests/unit_tests
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)

.PHONY: all deps deps-build demo check-examples test test-unit test-golden test-robust \
        test-cli test-e2e golden-update install uninstall test-install test-shipping \
        test-docs \
        clean asan-test
.DEFAULT_GOAL := all

all: $(FLUSSOC) $(RT_LIB)

# `make deps` installs what is missing from Debian (as root or through sudo).
deps:
	$(Q)./tools/install-deps

# Only what building needs (make demo): no test servers or tools.
deps-build:
	$(Q)./tools/install-deps --build

# The README's first command: build everything, compile the payment example
# checked by `verify` (examples/payment-verify.json) and serve it on
# 127.0.0.1:8080 (printing a signed curl line to try).
demo: deps-build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo $(FLUSSOC) $(BUILD)

# Every example checks clean, together, has its generated-C golden and
# validates against the JSON Schema, whose committed copy is --schema's
# output (a few err- cases must not validate); README.md's picture is the
# demo's (examples/payment-verify.json).
SCHEMA = docs/workflow.schema.json
SCHEMA_REJECTS = $(addprefix tests/golden/err-,unknown-config-field.json \
    unknown-type.json status-range.json unknown-step-field.json)
check-examples: $(FLUSSOC)
	$(Q)$(FLUSSOC) --check examples/*.json && echo "flussoc: all examples check clean"
	$(Q)for f in examples/*.json; do \
	    g=tests/golden/valid-example-$$(basename $$f); \
	    [ -e $$g ] || { echo "missing $$g: ln -s ../../$$f $$g" >&2; exit 1; }; \
	done
	$(Q)awk '/^```mermaid$$/ { on = 1; next } /^```$$/ { on = 0 } on' README.md \
	    >$(BUILD)/readme.mmd
	$(Q)$(FLUSSOC) --emit-mermaid - examples/payment-verify.json | cmp -s - $(BUILD)/readme.mmd \
	    || { echo "README.md's mermaid block is not flussoc --emit-mermaid - examples/payment-verify.json" >&2; exit 1; }
	$(Q)$(FLUSSOC) --schema | cmp -s - $(SCHEMA) \
	    || { echo "$(SCHEMA) is not flussoc --schema: make golden-update" >&2; exit 1; }
	$(Q)tests/schema/validate $(SCHEMA) examples/*.json $(SCHEMA_REJECTS) >$(BUILD)/schema.log \
	    || { cat $(BUILD)/schema.log >&2; exit 1; }
	$(Q)tail -n 1 $(BUILD)/schema.log

# The README's second command: every test.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test-unit test-golden test-robust test-cli check-examples test-docs test-e2e test-install test-shipping bench-build fuzz-smoke
	@echo "all tests passed"

test-unit: $(UNIT_BIN)
	$(Q)$(UNIT_BIN)

test-golden: $(FLUSSOC)
	$(Q)tests/golden/run $(FLUSSOC)

golden-update: $(FLUSSOC)
	$(Q)$(FLUSSOC) --schema >$(SCHEMA)
	$(Q)tests/golden/run --update $(FLUSSOC)

test-robust: $(FLUSSOC) $(TOOL_BIN)
	$(Q)tests/robust/run $(FLUSSOC) $(BUILD)

# The command line around a compilation: colour, a failing C compiler, -o.
test-cli: $(FLUSSOC) $(RT_LIB)
	$(Q)tests/cli/run $(FLUSSOC)

# End to end, on loopback ports: handlers compiled by flussoc from
# tests/e2e/workflows/, in compiled.sh, then every tests/e2e/suite-*.sh,
# each called as `suite FLUSSOC BUILDDIR`.
test-e2e: $(FLUSSOC) $(RT_LIB) $(BUILD)/tests/loadgen
	$(Q)tests/e2e/compiled.sh $(FLUSSOC) $(BUILD)
	$(Q)for suite in tests/e2e/suite-*.sh; do \
	    [ -e "$$suite" ] || continue; \
	    CC="$(CC)" E2E_CFLAGS="$(ALLFLAGS)" E2E_LDLIBS="$(LDLIBS_RT)" \
	        "$$suite" $(FLUSSOC) $(BUILD) || exit 1; \
	done

$(BUILD)/tests/loadgen: tests/e2e/loadgen.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) -o $@ $<

# Every suite again under ASan and UBSan.
asan-test:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test-unit test-golden test-robust test-e2e

# ---- rules ------------------------------------------------------------------
# flussoc links the runtime archive for what it shares with handlers (the
# number printer); the linker takes only those objects.
$(FLUSSOC): $(BUILD)/compiler/main.o $(FRONT_LIB) $(RT_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALLFLAGS) -o $@ $^ $(LDLIBS_FRONT) -lm

# Handlers built by a sanitized flussoc link the sanitized runtime.
# A flussoc built outside the source tree (BUILD=/elsewhere) still finds
# flusso.h in it.
# Handlers link LDLIBS_RT, listed only here.
$(BUILD)/compiler/cc.o: ALLFLAGS += -DFLUSSOC_RUNTIME_FLAGS='"$(SANFLAGS)"' \
    -DFLUSSOC_SOURCE_INCLUDE='"$(abspath runtime)"' \
    -DFLUSSOC_RUNTIME_LIBS='"$(LDLIBS_RT)"' \
    -DFLUSSOC_STATIC_LIBS='"$(LDLIBS_RT_STATIC)"'
$(BUILD)/compiler/cc.o: Makefile


$(FRONT_LIB): $(FRONT_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(RT_LIB): $(RT_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(UNIT_BIN): $(UNIT_OBJ) $(FRONT_LIB) $(RT_LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALLFLAGS) -o $@ $(UNIT_OBJ) $(FRONT_LIB) $(RT_LIB) -lcunit $(LDLIBS_RT)

$(BUILD)/tests/%: tests/tools/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) -o $@ $<

# The version is written once, in compiler/version.h; the runtime's two
# users get it as a macro.
VERSION = $(shell sed -n 's/^\#define FLUSSOC_VERSION "\(.*\)"$$/\1/p' compiler/version.h)
$(BUILD)/runtime/ops/cli.o $(BUILD)/runtime/run/outbound.o: compiler/version.h
$(BUILD)/runtime/ops/cli.o $(BUILD)/runtime/run/outbound.o: \
    ALLFLAGS += -DFLUSSOC_VERSION='"$(VERSION)"'

$(BUILD)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) $(DEPFLAGS) -Iruntime -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) $(DEPFLAGS) -Icompiler -Iruntime -I$(GEN) -c -o $@ $<

# Generated sources: compiled without -Wextra's noise about flex internals.
$(GEN)/parser.c $(GEN)/parser.h: compiler/parser.y
	@mkdir -p $(GEN)
	@echo "  BISON   $<"
	$(Q)bison -Wall -Werror --defines=$(GEN)/parser.h -o $(GEN)/parser.c $<

$(GEN)/lexer.c $(GEN)/lexer.h: compiler/lexer.l
	@mkdir -p $(GEN)
	@echo "  FLEX    $<"
	$(Q)flex --header-file=$(GEN)/lexer.h -o $(GEN)/lexer.c $<

$(GEN)/%.o: $(GEN)/%.c $(GEN)/parser.h $(GEN)/lexer.h
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) -Wall $(DEPFLAGS) -Icompiler -I$(GEN) -c -o $@ $<

# Every front-end object may include the generated headers: they must
# exist first (order-only), and the -MMD dependency files then say which
# objects a change of parser.y or lexer.l rebuilds.
$(FRONT_SRC:%.c=$(BUILD)/%.o) $(UNIT_OBJ): | $(GEN)/parser.h $(GEN)/lexer.h

# `make install` puts flussoc in PREFIX/bin, the runtime it compiles
# handlers against in PREFIX/lib and PREFIX/include, and the man pages;
# DESTDIR stages it (packaging).  `make uninstall` removes exactly those.
MANDIR ?= $(PREFIX)/share/man
RT_HEADERS = $(notdir $(wildcard runtime/*.h))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(FLUSSOC) $(DESTDIR)$(PREFIX)/bin/flussoc
	install -m 644 $(RT_LIB) $(DESTDIR)$(PREFIX)/lib/libflusso.a
	install -m 644 $(wildcard runtime/*.h) $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/man/flussoc.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/man/flussoc-handler.7 $(DESTDIR)$(MANDIR)/man7/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/flussoc $(DESTDIR)$(PREFIX)/lib/libflusso.a \
	    $(addprefix $(DESTDIR)$(PREFIX)/include/,$(RT_HEADERS)) \
	    $(DESTDIR)$(MANDIR)/man1/flussoc.1 $(DESTDIR)$(MANDIR)/man7/flussoc-handler.7

# From a fresh clone of the committed tree: make install DESTDIR=..., then
# the installed flussoc compiles a workflow and the handler answers; then
# make uninstall leaves nothing behind (tests/install/run).
test-install:
	$(Q)tests/install/run

# docs/operations.md's list of the Debian packages a shipped handler needs:
# handlers run with chroot in a root holding only those packages' files
# and their dependencies' (tests/install/shipping; needs root).
test-shipping: $(FLUSSOC) $(RT_LIB)
	$(Q)tests/install/shipping $(FLUSSOC)

# Every relative link, and every repository file named, in README.md and
# docs/ resolves (tests/docs/check-links).
test-docs:
	$(Q)tests/docs/check-links

clean:
	rm -rf build build-asan build-fuzz

ALL_OBJ = $(FRONT_OBJ) $(BUILD)/compiler/main.o $(RT_OBJ) $(UNIT_OBJ)
-include $(ALL_OBJ:.o=.d)

# ---- the benchmark (docs/performance.md) ------------------------------------
# `make bench` measures the compiled payment handler against bench/handwritten.c
# on loopback with wrk (about 3 minutes on 2 cores).  `make bench-build` only
# builds both and checks the script: it is part of `make test`.
.PHONY: bench bench-build
BENCH_BIN = $(BUILD)/bench/handwritten $(BUILD)/bench/payment

bench-build: $(BENCH_BIN)
	$(Q)bash -n bench/run && echo "bench: builds"

bench: deps bench-build
	$(Q)./tools/install-deps wrk
	$(Q)bench/run $(FLUSSOC) $(BUILD)

$(BUILD)/bench/handwritten: bench/handwritten.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) -o $@ $< -lmicrohttpd -lcjson -lcrypto -lpthread

$(BUILD)/bench/payment: examples/payment.json $(FLUSSOC) $(RT_LIB)
	@mkdir -p $(@D)
	@echo "  FLUSSOC $@"
	$(Q)$(FLUSSOC) examples/payment.json -o $@

# ---- fuzzing (libFuzzer: clang with -fsanitize=fuzzer) ---------------------
# `make fuzz` builds the targets of tests/fuzz/ with clang, ASan and UBSan
# into $(FUZZ_BUILD), replays tests/fuzz/regressions/ and fuzzes each target
# for FUZZ_SECONDS; `make fuzz-smoke` (part of `make test`) does the same
# for FUZZ_SMOKE_SECONDS.
FUZZ_CC            ?= clang
FUZZ_BUILD         ?= $(BUILD)-fuzz
FUZZ_SECONDS       ?= 20
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_TARGETS = workflow template request

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-bins
fuzz: fuzz-build
	$(Q)tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	$(Q)tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
	    SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" fuzz-bins

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(FRONT_LIB) $(RT_LIB)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) -fsanitize=fuzzer -Icompiler -Iruntime -I$(GEN) \
	    -o $@ $< $(FRONT_LIB) $(RT_LIB) $(LDLIBS_RT)

# ---- the burst reproducer (issue 22, docs/burst-stall.md) -----------------
# `make burst` runs bench/burst: rounds of N simultaneous connections (N from
# 64 to 2,048) against fresh, warm and paused handlers, a CPU hog on each
# core, and counts the rounds in which an answer took over 1 s (about 10
# minutes on 2 cores; BURST_* knobs in bench/burst).  `make storm` is the
# long form of the test in `make test` (tests/e2e/suite-burst.sh): 108
# rounds of the compiled handler alone, 6 per kind and N (about 5 minutes),
# failing on a stall; BURST_ROUNDS and the other knobs still apply.
.PHONY: burst storm
burst: $(BENCH_BIN) $(BUILD)/bench/burst
	$(Q)bench/burst $(BUILD)

storm: $(BUILD)/bench/payment $(BUILD)/bench/burst
	$(Q)BURST_SERVERS=$${BURST_SERVERS:-payment} BURST_ROUNDS=$${BURST_ROUNDS:-6} bench/burst $(BUILD)

$(BUILD)/bench/burst: bench/burst.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALLFLAGS) $(WARN) -o $@ $<

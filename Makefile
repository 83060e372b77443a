# surge — plain Makefile. `make` builds ./surge; `make test` installs what the
# suite needs, then runs unit, Lua and end-to-end tests, normal and ASan+UBSan.

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?=
DEPS_PKGS = build-essential pkg-config libluajit-5.1-dev luajit libev-dev libc-ares-dev \
            zlib1g-dev perl iproute2 socat knot knot-dnsutils dnsperf python3 \
            python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
            gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly nodejs npm \
            chromium python3-jsonschema clang nginx wrk redis-server \
            libssl-dev openssl unbound slurmctld slurmd slurm-client munge parallel

PKGS     := luajit libcares zlib openssl
XCFLAGS  := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter $(WERROR) \
            -Iinclude -Iengine $(shell pkg-config --cflags $(PKGS)) \
            -DSURGE_LUADIR='"$(PREFIX)/share/surge/lua"'
XLDFLAGS := -Wl,-E
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -lev -lm

ENGINE_SRCS := $(wildcard engine/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:engine/%.c=$(BUILD)/engine/%.o)
LIB_OBJS    := $(filter-out $(BUILD)/engine/main.o,$(ENGINE_OBJS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all surge deps node-deps test test-unit test-lua test-e2e test-asan check fuzz fuzz-run bench demo install clean

all: surge

# ./surge is the normal build's: a sanitizer build (test-asan) leaves it be,
# so `make test` does not leave a 3x slower binary where the README points.
surge: $(BUILD)/surge
ifeq ($(BUILD),build)
	ln -sf $(BUILD)/surge surge
endif

$(BUILD)/surge: $(ENGINE_OBJS)
	$(CC) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each object and test binary records the headers it included (-MMD) in a
# .d file beside it; -MP adds an empty rule per header so a deleted header
# does not break the build. A header change rebuilds only what includes it.
DEPFLAGS := -MMD -MP

$(BUILD)/engine/%.o: engine/%.c | $(BUILD)/engine
	$(CC) $(CFLAGS) $(XCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(XCFLAGS) $(DEPFLAGS) -Itests/unit $(XLDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# include/surge/ffi.h, preprocessed, is what runtime.lua gives ffi.cdef: one
# declaration of the C<->Lua seam for both sides.
$(BUILD)/engine/ffi_cdef.h: include/surge/ffi.h | $(BUILD)/engine
	$(CC) -E -P -DSURGE_FFI_CDEF $< | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' > $@.tmp
	mv $@.tmp $@
$(BUILD)/engine/lua_engine.o: $(BUILD)/engine/ffi_cdef.h
$(BUILD)/engine/lua_engine.o: XCFLAGS += -I$(BUILD)/engine
# test_stats fails each allocation in turn: its allocator is wrapped.
$(BUILD)/tests/test_stats: XLDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

# Fuzz harnesses: with replay_main.c here (the corpus replayed by `make check`),
# with libFuzzer under `make fuzz`. The Lua ones find lua/ through FUZZ_SRCDIR.
FUZZ_XCFLAGS = -DFUZZ_SRCDIR='"$(CURDIR)"'
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB_OBJS) | $(BUILD)/fuzz
	$(CC) $(CFLAGS) $(XCFLAGS) $(FUZZ_XCFLAGS) $(DEPFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIB_OBJS) $(LDLIBS)

-include $(wildcard $(BUILD)/engine/*.d $(BUILD)/tests/*.d $(BUILD)/fuzz/*.d)

$(BUILD)/fuzzer/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIB_OBJS) | $(BUILD)/fuzzer
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(XCFLAGS) $(FUZZ_XCFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

$(BUILD)/engine $(BUILD)/tests $(BUILD)/fuzz $(BUILD)/fuzzer:
	mkdir -p $@

# Installs, from Debian's archive, whatever the build, the demo and the suite
# need and is not here yet. Needs root (or sudo) only when something is missing.
# A node with its own npm (e.g. NodeSource's) conflicts with Debian's npm
# package, so a working npm command counts as installed.
deps:
	@missing=$$(for p in $(DEPS_PKGS); do \
		case $$p in nodejs|npm) command -v npm >/dev/null 2>&1 && continue;; esac; \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

unit: $(UNIT_BINS) $(FUZZ_BINS)

# Test-only Node packages (the independent HdrHistogram decoder the report
# tests use), kept in build/node, never installed system-wide.
NODE_DIR := build/node
node-deps: $(NODE_DIR)/node_modules/hdr-histogram-js/package.json
$(NODE_DIR)/node_modules/hdr-histogram-js/package.json:
	mkdir -p $(NODE_DIR)
	npm install --prefix $(NODE_DIR) --no-audit --no-fund hdr-histogram-js@3

test: deps node-deps
	$(MAKE) check
	$(MAKE) test-asan

# The suite against the current build (no package installs); test-unit,
# test-lua and test-e2e run one part of it each, the same way.
PROVE := SURGE=$(CURDIR)/$(BUILD)/surge BUILD=$(BUILD) tests/run $(TEST_FLAGS)

check: surge unit
	$(PROVE) $(UNIT_BINS) tests/lua/run $(wildcard tests/fuzz/run) $(wildcard tests/e2e/t_*)

test-unit: unit
	$(PROVE) $(UNIT_BINS) $(wildcard tests/fuzz/run)

test-lua:
	$(PROVE) tests/lua/run

test-e2e: surge
	$(PROVE) $(wildcard tests/e2e/t_*)

# Everything again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) BUILD=build-asan WERROR=-Werror \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" SURGE_ASAN=1 check

# Each harness under libFuzzer (clang, ASan+UBSan) for SECS seconds, one at
# a time, new inputs that add coverage merged into tests/fuzz/corpus/<name>/.
# FUZZ=hlog,units picks harnesses. Findings are left in build-fuzz/findings/.
SECS ?= 60
# RUNS=N stops each at N executions. FUZZ_SAN=undefined builds without ASan
# (in build-fuzz-undefined): 2-5x the runs a second where ASan's large
# allocations dominate (hist, hlog, report); README says which build ran.
FUZZ ?=
RUNS ?= -1
FUZZ_SAN ?= address,undefined
fuzz:
	$(MAKE) BUILD=build-fuzz$(if $(filter address%,$(FUZZ_SAN)),,-$(FUZZ_SAN)) CC=clang \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fsanitize-coverage-ignorelist=tests/fuzz/coverage_ignore.txt -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=$(FUZZ_SAN)" fuzz-run

fuzz-run: $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzzer/%)
	tests/fuzz/fuzz $(BUILD)/fuzzer $(SECS) "$(FUZZ)" $(RUNS)

bench: surge
	tests/bench/run

demo: deps
	$(MAKE) surge
	scenarios/demo.sh

install: surge
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/surge
	install -m 755 $(BUILD)/surge $(DESTDIR)$(PREFIX)/bin/surge
	cd lua && find . -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(PREFIX)/share/surge/lua/{} \;
	cp -r scenarios $(DESTDIR)$(PREFIX)/share/surge/

clean:
	rm -rf build build-asan surge

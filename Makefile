# magma-lua: a run-state engine for MetaWorkflowRun documents, in C, scriptable in Lua 5.4.
#
#   make            build bin/magma and the Lua C module build/magma/core.so
#   make test       install missing Debian packages, build, run the busted specs
#   make asan       the same specs against an -fsanitize=address,undefined build
#   make run        the main job on a bundled example
#   make bench      the benchmarks (figures and ratios against a baseline)
#   make install    PREFIX=/usr/local DESTDIR=
#   make fuzz       libFuzzer targets (clang), bounded run
#   make format     clang-format the C sources (make format-check: verify only)

LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LUA_CMODULE_DIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_MODULE_DIR  ?= $(PREFIX)/share/lua/$(LUA_VERSION)

CC      ?= cc
CFLAGS  ?= -O2 -g
PKG_CONFIG ?= pkg-config
LUA_PC  := lua$(LUA_VERSION)
LUA_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null || echo -I/usr/include/lua$(LUA_VERSION))
LUA_LIBS   = $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null || echo -llua$(LUA_VERSION))
# bin/magma links liblua statically when the archive is there (Debian's liblua5.4-dev ships
# it): the interpreter then runs without PIC indirections, about 1.5x faster on our loops.
# The whole archive is kept and exported, so C modules loaded by scripts find every symbol.
LUA_A     := $(shell $(CC) -print-file-name=liblua$(LUA_VERSION).a 2>/dev/null)
ifneq ($(wildcard $(LUA_A)),)
HOST_LUA_LIBS = -Wl,--whole-archive $(LUA_A) -Wl,--no-whole-archive -ldl
else
HOST_LUA_LIBS = $(LUA_LIBS)
endif

WARN := -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wmissing-prototypes \
        -Wstrict-prototypes -Wpointer-arith -Wcast-qual -Wvla
ALL_CFLAGS = $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(LUA_CFLAGS) $(CPPFLAGS) $(CFLAGS)

# Build products live in $(B); bin/magma is the host program.
B       ?= build
BIN     ?= bin/magma
LIB_SRC := src/mwfr.c src/json.c src/lmagma.c src/ljson.c src/fileio.c
LIB_HDR := $(wildcard src/*.h)
LUA_SRC := $(shell find lua -name '*.lua')

.PHONY: all deps test spec asan run bench install uninstall fuzz format format-check clean

all: $(BIN) $(B)/magma/core.so

deps:
	@scripts/install-deps

$(B)/pic/%.o: src/%.c $(LIB_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(B)/obj/%.o: src/%.c $(LIB_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The C module links no liblua: the host interpreter provides the symbols.
$(B)/magma/core.so: $(patsubst src/%.c,$(B)/pic/%.o,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -o $@ $^

# The host links liblua and exports its symbols (-Wl,-E) for C modules loaded by scripts.
$(BIN): $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC) src/main.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,-E -o $@ $^ $(HOST_LUA_LIBS) -lm

# Specs run twice over: under lua5.4 with the C module (the embedding case), and the
# command-line specs spawn bin/magma. MAGMA_BIN tells the specs which host to spawn.
SPEC_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;scripts/?.lua;;' LUA_CPATH='$(B)/?.so;;' \
	MAGMA_BIN=$(BIN)
BUSTED  ?= /usr/bin/busted

test: deps all
	$(SPEC_ENV) lua$(LUA_VERSION) $(BUSTED) --output=utfTerminal spec

# The sanitizer build: the same specs, run by a sanitized bin/magma (which has the core
# linked in, so every spec exercises instrumented code).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	$(MAKE) --no-print-directory B=build/asan BIN=build/asan/bin/magma CFLAGS='$(ASAN_FLAGS)' \
		LDFLAGS='-fsanitize=address,undefined' build/asan/bin/magma
	@ln -sfn ../../lua build/asan/lua # the host finds its Lua files at bin/../lua
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;spec/?.lua;scripts/?.lua;;' \
	MAGMA_BIN=build/asan/bin/magma \
		build/asan/bin/magma $(BUSTED) --output=utfTerminal spec

# The main job: simulate the bundled CGAP trio run under magma's behaviour and under a capped
# policy with retries; print the comparison and write the Gantt chart.
RUN_SVG ?= build/run.svg
run: deps all
	$(BIN) simulate spec/fixtures/CGAP_WGS_trio.run.json --policy scripts/run/default.lua \
		--vs scripts/run/capped.lua --seed 1 --svg $(RUN_SVG)

bench: deps all
	$(BIN) scripts/bench.lua

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LUA_CMODULE_DIR)/magma $(DESTDIR)$(LUA_MODULE_DIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/magma
	install -m 755 $(B)/magma/core.so $(DESTDIR)$(LUA_CMODULE_DIR)/magma/core.so
	cd lua && find magma -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_MODULE_DIR)/{} \;

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/magma $(DESTDIR)$(LUA_CMODULE_DIR)/magma/core.so
	rm -rf $(DESTDIR)$(LUA_MODULE_DIR)/magma

# libFuzzer targets (clang, address and undefined sanitizers), each run for FUZZ_SECONDS from
# its seed corpus fuzz/corpus/NAME/ (and dictionary fuzz/NAME.dict when there is one); what
# they learn goes to build/fuzz/corpus/NAME/, a crash to build/fuzz/crash-*. Needs clang's
# runtime: scripts/install-deps --fuzz.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZERS      := json json_encode run
FUZZ_CFLAGS  := $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(LUA_CFLAGS) -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# fuzz_run drives the whole library: the constructor and every method.
build/fuzz/fuzz_run: fuzz/fuzz_run.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ fuzz/fuzz_run.c $(LIB_SRC) $(LUA_LIBS) -lm

build/fuzz/fuzz_%: fuzz/fuzz_%.c src/json.c src/ljson.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc -o $@ $< src/json.c src/ljson.c $(LUA_LIBS) -lm

fuzz:
	@scripts/install-deps --fuzz
	$(MAKE) --no-print-directory $(patsubst %,build/fuzz/fuzz_%,$(FUZZERS))
	@set -e; for f in $(FUZZERS); do \
		mkdir -p build/fuzz/corpus/$$f; \
		dict=; [ -f fuzz/$$f.dict ] && dict=-dict=fuzz/$$f.dict; \
		echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-rss_limit_mb=2048 $$dict -artifact_prefix=build/fuzz/ -print_final_stats=1 \
			build/fuzz/corpus/$$f fuzz/corpus/$$f; \
	done

format:
	clang-format -i src/*.c src/*.h $(wildcard fuzz/*.c)

format-check:
	clang-format --dry-run --Werror src/*.c src/*.h $(wildcard fuzz/*.c)

clean:
	rm -rf build bin

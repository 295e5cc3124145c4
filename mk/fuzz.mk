# Fuzzing (issue 7): one libFuzzer target per decoder of bytes that come
# from a traced process, tests/fuzz/fuzz_<name>.c, built with clang's
# libFuzzer, ASan and UBSan straight from the user/*.c sources it needs
# (not from the gcc objects). Seed corpora come from real interpreters
# (tests/fuzz/seeds.py) into $(OUT)/fuzz/corpus/<name>/.
#   make fuzz                 each target FUZZ_TIME seconds (default 300)
#   make fuzz-short           each target FUZZ_SHORT_TIME seconds; part of `make test`
#   make fuzz FUZZ_TARGETS=linetable FUZZ_TIME=60
# Any crash, sanitizer report, failed property, leak or timeout fails the
# target; its reproducer is left in $(OUT)/fuzz/crashes/. Run one input:
#   build/fuzz/fuzz_<name> build/fuzz/crashes/<name>-crash-...
.PHONY: fuzz fuzz-short fuzz-build fuzz-seeds

FUZZ_TIME       ?= 300
FUZZ_SHORT_TIME ?= 6
FUZZ_DIR        := $(OUT)/fuzz
FUZZ_CC         := $(CLANG)
FUZZ_CFLAGS     := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		   -fno-sanitize-recover=all
ALL_FUZZ        := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS    ?= $(ALL_FUZZ)
FUZZ_BINS       := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# The user/*.c files each target links, besides its own tests/fuzz/fuzz_<name>.c.
FUZZ_SRCS_linetable    := user/decode/linetable.c
FUZZ_SRCS_pystr        := user/memory/pystr.c
FUZZ_SRCS_escape       := user/util/escape.c user/util/strbuf.c
FUZZ_SRCS_promfmt      := user/sink/promfmt.c user/util/escape.c user/util/strbuf.c
FUZZ_SRCS_debugoffsets := user/resolve/debugoffsets.c user/memory/remote.c user/resolve/pylayout.c user/util/log.c
FUZZ_SRCS_elfsym       := user/resolve/elfsym.c user/resolve/pysyms.c user/resolve/x86dec.c
FUZZ_LIBS_elfsym       := -lelf -lcapstone
FUZZ_SRCS_pyobj        := user/memory/pyobj.c user/memory/pystr.c user/memory/remote.c user/resolve/pylayout.c user/util/cut.c
FUZZ_SRCS_bytecode     := user/decode/bytecode.c user/decode/linetable.c
FUZZ_SRCS_sockdiag     := user/discover/sockdiag.c
FUZZ_SRCS_identity     := user/discover/identity.c user/util/log.c
FUZZ_DEPS_bytecode     := tests/unit/bytecode_cases.inc tests/unit/bytecode_cases.h
# decode, diagnose, sinks and what they call: every user module but main.c,
# the one that includes the BPF skeleton and the daemon, which drives it
# (its sandbox is inspect's too).
FUZZ_SRCS_report       := $(filter-out user/cli/main.c user/attach/probe.c user/daemon/%, \
			    $(wildcard user/*/*.c)) user/daemon/sandbox.c
FUZZ_LIBS_report       := $(LIBS)

$(FUZZ_DIR):
	$(Q)mkdir -p $@

define FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.h $(FUZZ_SRCS_$(1)) \
		$(FUZZ_DEPS_$(1)) $(wildcard user/*/*.h user/*/*.inc) include/sessiontrace.h | $(FUZZ_DIR)
	$$(call msg,FUZZ-CC,$$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(INCLUDES) $$< $(FUZZ_SRCS_$(1)) \
		$(FUZZ_LIBS_$(1)) -o $$@
endef
$(foreach t,$(ALL_FUZZ),$(eval $(call FUZZ_RULE,$(t))))

# Seeds from every interpreter found (Debian's python3.11, pyenv 3.10-3.13).
$(FUZZ_DIR)/corpus/.stamp: tests/fuzz/seeds.py tests/fuzz/seed_pyerr.c tests/unit/gen_lines.py \
		user/resolve/layouts.inc include/sessiontrace.h | $(FUZZ_DIR)
	$(call msg,SEEDS,$(FUZZ_DIR)/corpus)
	$(Q)/usr/bin/python3 tests/fuzz/seeds.py --all $(FUZZ_DIR)/corpus
	$(Q)touch $@

# fuzz_bytecode's seeds, the real code of tests/unit/bytecode_cases.inc, are
# written by the target itself (FUZZ_BYTECODE_SEEDS; seeds.py does not know them).
$(FUZZ_DIR)/corpus/bytecode/.seeds: $(FUZZ_DIR)/fuzz_bytecode $(FUZZ_DIR)/corpus/.stamp
	$(Q)mkdir -p $(@D) && FUZZ_BYTECODE_SEEDS=$(@D) $< && touch $@
fuzz fuzz-short fuzz-seeds: $(if $(filter bytecode,$(FUZZ_TARGETS)),$(FUZZ_DIR)/corpus/bytecode/.seeds)

fuzz-build: $(FUZZ_BINS)
fuzz-seeds: $(FUZZ_DIR)/corpus/.stamp

fuzz: $(FUZZ_BINS) $(FUZZ_DIR)/corpus/.stamp
	$(Q)FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BINS)

fuzz-short: $(FUZZ_BINS) $(FUZZ_DIR)/corpus/.stamp
	$(Q)FUZZ_DIR=$(FUZZ_DIR) tests/fuzz/run.sh $(FUZZ_SHORT_TIME) $(FUZZ_BINS)

EXTRA_TEST += fuzz-short

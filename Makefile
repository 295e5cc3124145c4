# sessiontrace — see README.md. `make V=1` shows the commands.
OUT        := build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
ARCH       := x86
CFLAGS     ?= -g -O2
WARN       := -Wall -Wextra -Werror -Wno-unused-parameter
INCLUDES   := -Iinclude -Iuser -I$(OUT)
LIBS       := -lbpf -lelf -lz -lmicrohttpd -ljson-c -lcap-ng -lseccomp -lcapstone -lpthread -lm
# Debian's interpreter: pytest and the app packages are Debian packages.
PYTEST     ?= /usr/bin/python3 -m pytest

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
SKELS      := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
# user/<stage>/*.c: see README.md "Architecture".
USER_SRCS  := $(wildcard user/*/*.c)
USER_OBJS  := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(OUT)/user/cli/main.o,$(USER_OBJS))
# Only the objects that include a skeleton depend on it.
SKEL_OBJS  := $(OUT)/user/attach/probe.o
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.PHONY: all deps demo test unit integration asan integration-asan clean layouts \
	check-structure

all: $(OUT)/sessiontrace

$(OUT) $(OUT)/tests:
	$(Q)mkdir -p $@

$(OUT)/vmlinux.h: | $(OUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUT)/%.bpf.o: bpf/%.bpf.c include/sessiontrace.h $(wildcard bpf/*.bpf.h) $(OUT)/vmlinux.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(BPF_DEFS) $(INCLUDES) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Header dependencies come from the compiler (-MMD): each object is rebuilt
# when a header it includes changes, and only then.
$(SKEL_OBJS): $(SKELS)

$(OUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(INCLUDES) -MMD -MP -c $< -o $@

$(OUT)/sessiontrace: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -MMD -MP $< $(LIB_OBJS) $(LIBS) -lcmocka -ldl -o $@

-include $(USER_OBJS:.o=.d) $(UNIT_BINS:=.d)

deps:
	$(Q)scripts/deps.sh

# The structure rules of README "Architecture", on the sources and the objects.
check-structure: $(USER_OBJS)
	$(Q)scripts/check-structure.py $(OUT)

unit: $(UNIT_BINS) check-structure $(OUT)/sessiontrace
	$(Q)scripts/check-manpage.py $(OUT)/sessiontrace docs/sessiontrace.8.scd \
		deploy/bash-completion/sessiontrace docs/usage.md
	$(Q)scripts/check-links.py .
	$(Q)scripts/check-layouts.sh
	$(Q)tests/unit/run.sh $(UNIT_BINS)

integration: $(OUT)/sessiontrace
	$(Q)PYTHONDONTWRITEBYTECODE=1 $(PYTEST) -v -rs $(INTEGRATION_ARGS) tests/integration

# The tracer built with ASan + UBSan (every report fatal), and the soak subset
# on it: code-object churn, a storm, the hostile app, report on hostile files.
ASAN_OUT    := $(OUT)/asan
ASAN_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	       -fno-sanitize-recover=all
asan:
	$(Q)$(MAKE) --no-print-directory OUT=$(ASAN_OUT) CFLAGS="$(ASAN_CFLAGS)" \
		$(ASAN_OUT)/sessiontrace

integration-asan: asan
	$(Q)SESSIONTRACE_BIN=$(ASAN_OUT)/sessiontrace \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98 \
		PYTHONDONTWRITEBYTECODE=1 $(PYTEST) -v -rs tests/integration/test_soak.py \
		"tests/integration/test_hostile.py::test_hostile_paths[debian-3.11]" \
		"tests/integration/test_privileges.py::test_node_mode_decoder_is_unprivileged" \
		"tests/integration/test_inspect.py::test_inspect_predicts_exactly[debian-3.11-insp_mounted]" \
		"tests/integration/test_inspect.py::test_inspect_predicts_exactly[debian-3.11-insp_fastapi_dep]" \
		"tests/integration/test_inspect.py::test_inspect_predicts_exactly[debian-3.11-insp_asgi]"

# The two commands of README.md. The integration tests come last: pytest's
# summary is the last line of `make test`. test_soak.py (lifetimes and memory,
# ~30 s) runs once, on the ASan build; `make integration` alone runs it too.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(if $(strip $(EXTRA_TEST)),$(MAKE) --no-print-directory $(EXTRA_TEST))
	$(Q)$(MAKE) --no-print-directory integration-asan
	$(Q)$(MAKE) --no-print-directory integration \
		INTEGRATION_ARGS=--ignore=tests/integration/test_soak.py

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

# Regenerate user/resolve/layouts.inc and debugoffsets.inc from every CPython's
# own headers found here (pyenv, Debian, scripts/rootfs.sh's trees).
layouts:
	$(Q)scripts/gen-layouts.sh > user/resolve/layouts.inc
	$(Q)scripts/gen-debugoffsets.sh > user/resolve/debugoffsets.inc
	$(Q)scripts/gen-bytecode.sh > user/decode/bytecode.inc

clean:
	$(Q)rm -rf $(OUT)

# Other concerns (fuzzing, benchmarks) live in mk/*.mk. Each may append
# to EXTRA_TEST: targets `make test` runs before the integration tests.
EXTRA_TEST :=
include $(wildcard mk/*.mk)

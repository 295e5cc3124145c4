// SPDX-License-Identifier: BSD-2-Clause
/*
 * Record decoding and the sinks: hit__decode() (user/decode/hit.c) on a
 * fuzzed struct st_event, symbolizing its frames with the real symbolizer
 * (user/decode/symbolizer.c: code object cache, co_qualname/co_filename str
 * reads, co_linetable read, line computation), then diagnose__event() and
 * the JSON record and console sinks, reading "remote" memory through the
 * real process_vm_readv (user/memory/remote.c) of our own pid. The code objects,
 * str objects and line tables it reads are the fuzz input's tail, copied
 * to the fixed-address arena (fuzz_common.h), so pointers in inputs are
 * absolute and reproducible; outside the arena they fault as in a target.
 *
 * The struct target is filled in as target__new() would for a process
 * running the chosen CPython minor version, with PyUnicode_Type at
 * FZ_UNICODE_TYPE.
 *
 * Checked: the return value is 0 or 1 (not a hit: then nothing written);
 * a hit gives exactly one line on the JSON fd that is one strict JSON
 * object (valid UTF-8, every string escaped), and console text that is
 * valid UTF-8 with no control character but newline, no ESC, no C1 and no
 * bidi control: nothing the traced process wrote can drive the terminal.
 *
 * FUZZ_SHOW=1 in the environment prints each record (to look at a
 * reproducer).
 *
 * Input: [version selector][kinds][service: 32 bytes][struct st_event]
 *        [arena...]; short inputs are zero-padded. A frame's code or instr
 *        value below 2^32 is taken as an offset into the arena (so
 *        mutations stay meaningful); in-arena pointers are absolute.
 */
#include "fuzz_common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "decode/drops.h"
#include "decode/hit.h"
#include "decode/symbolizer.h"
#include "diagnose/diagnose.h"
#include "resolve/pylayout.h"
#include "resolve/target.h"
#include "sink/sink.h"

#define FZ_UNICODE_TYPE (FZ_ARENA_BASE + 0x10)
#define HDR_SIZE        (2 + 32)

static const unsigned versions[] = { 0x030a0df0, 0x030b07f0, 0x030c01f0, 0x030d00f0 };

static bool term_forbidden(uint32_t cp)
{
	return (cp < 0x20 && cp != '\n') || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_event ev;
	static int json_fd = -1;
	static struct sink *json;
	static struct hit h;
	static struct diagnosis dg;
	struct diagnose *d;
	struct symbolizer *sym;
	struct sink *con;
	enum drop_reason why;
	struct target *t;
	char *text = NULL;
	size_t textlen = 0, i, k;
	FILE *console;
	off_t jlen;
	uint8_t *jbuf;
	uint32_t cp;
	int ret;

	if (size < HDR_SIZE)
		return 0;
	if (!json) {
		char path[64], err[256];

		/* the records file as the tracer writes it; read back through json_fd */
		snprintf(path, sizeof(path), "/tmp/fuzz-report-%d.jsonl", (int)getpid());
		unlink(path);
		json = record_sink__new(path, 0, 1, err, sizeof(err));
		FUZZ_CHECK(json, "record_sink__new: %s", err);
		json_fd = open(path, O_RDWR | O_CLOEXEC);
		FUZZ_CHECK(json_fd >= 0, "open %s", path);
		unlink(path);
	}
	memset(&ev, 0, sizeof(ev));
	memcpy(&ev, data + HDR_SIZE, size - HDR_SIZE < sizeof(ev) ? size - HDR_SIZE : sizeof(ev));
	if (size > HDR_SIZE + sizeof(ev))
		fz_arena_load(data + HDR_SIZE + sizeof(ev), size - HDR_SIZE - sizeof(ev));
	else
		fz_arena_load(NULL, 0);
	for (i = 0; i < ST_MAX_FRAMES; i++) {
		if (ev.frames[i].code && !(ev.frames[i].code >> 32))
			ev.frames[i].code += FZ_ARENA_BASE;
		if (ev.frames[i].instr && !(ev.frames[i].instr >> 32) && (data[0] & 3))
			ev.frames[i].instr += FZ_ARENA_BASE;
	}

	t = calloc(1, sizeof(*t));
	FUZZ_CHECK(t, "calloc");
	t->pid = getpid();
	t->ns_pid = t->pid;
	t->version_hex = versions[data[0] & 3];
	t->layout = pylayout__find(t->version_hex);
	FUZZ_CHECK(t->layout, "no layout for 0x%x", t->version_hex);
	t->bpf.layout = *t->layout;
	t->bpf.unicode_type = FZ_UNICODE_TYPE;
	t->bpf.kinds = data[1] & ((1U << ST_NPROPS) - 1);
	snprintf(t->python, sizeof(t->python), "%u.%u.%u", t->version_hex >> 24,
		 (t->version_hex >> 16) & 0xff, (t->version_hex >> 8) & 0xff);
	/* the service name comes from the target's command line: untrusted */
	memcpy(t->service, data + 2, 32);
	sym = symbolizer__new(t, NULL);
	d = diagnose__new();
	FUZZ_CHECK(sym && d, "out of memory");

	if (ftruncate(json_fd, 0) || lseek(json_fd, 0, SEEK_SET))
		abort();
	console = open_memstream(&text, &textlen);
	FUZZ_CHECK(console, "open_memstream");
	con = console_sink__new(console);
	FUZZ_CHECK(con, "console_sink__new");
	ret = 1; /* not a record, for a named reason */
	if (hit__decode(&h, t, sym, &ev, &why)) {
		FUZZ_CHECK(!diagnose__event(d, &h, &dg), "diagnose__event failed");
		FUZZ_CHECK(!sink__emit(json, &h, &dg), "JSON record not written");
		FUZZ_CHECK(!sink__emit(con, &h, &dg), "console text not written");
		ret = 0;
	} else {
		FUZZ_CHECK(why < DROP_N, "drop reason %d", why);
	}
	symbolizer__event_end(sym);
	sink__free(con);
	fclose(console);
	jlen = lseek(json_fd, 0, SEEK_END);

	if (getenv("FUZZ_SHOW")) {
		char buf[65536];
		ssize_t got = pread(json_fd, buf, sizeof(buf), 0);

		fprintf(stderr, "ret %d\n%.*s%.*s", ret, (int)(got > 0 ? got : 0), buf, (int)textlen,
			text ? text : "");
	}
	if (ret == 1) {
		FUZZ_CHECK(jlen == 0 && textlen == 0, "not a hit, yet %lld + %zu bytes written",
			   (long long)jlen, textlen);
	} else {
		FUZZ_CHECK(jlen > 2, "no JSON record");
		jbuf = malloc(jlen);
		FUZZ_CHECK(jbuf && pread(json_fd, jbuf, jlen, 0) == jlen, "read back");
		FUZZ_CHECK(jbuf[jlen - 1] == '\n' && !memchr(jbuf, '\n', jlen - 1),
			   "JSON record is not one line");
		FUZZ_CHECK(fz_json_document(jbuf, jlen - 1) && jbuf[0] == '{',
			   "JSON record is not one JSON object: %.*s", (int)jlen, jbuf);
		free(jbuf);
		FUZZ_CHECK(textlen > 0, "no console text");
		for (i = 0; i < textlen; i += k) {
			k = fz_utf8_one((uint8_t *)text + i, textlen - i, &cp);
			FUZZ_CHECK(k, "console text not UTF-8 at %zu", i);
			FUZZ_CHECK(!term_forbidden(cp), "U+%04X in console text at %zu", cp, i);
		}
	}
	free(text);
	diagnose__free(d);
	symbolizer__free(sym);
	target__free(t);
	return 0;
}

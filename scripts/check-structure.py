#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The tree's structural rules (README "Architecture"), checked on the sources
and on the objects the compiler built from them.

    scripts/check-structure.py OUT      (OUT: the build folder, e.g. build)

1. includes: a folder of user/ includes only the folders its row allows, and
   no chain of #includes comes back to the file it started from;
2. state: no object has writable static storage (.data/.bss), but for the
   log level (util/log.c);
3. names: every function or object a user/ object exports is FILE__x,
   FOLDER__x or FILE_y__x, and something outside its own file uses it;
4. size: no C function in the tree is longer than 120 lines (universal-ctags);
5. guards: every header is guarded by #ifndef ST_..._H.

Prints one line per violation and exits 1; prints a one-line summary and exits
0 when the tree keeps them all.
"""
import glob
import os
import re
import subprocess
import sys

MAX_FUNCTION_LINES = 120

# Which folders of user/ each folder may include (besides itself), lowest
# first: the pipeline's order. README "Architecture" has the same table.
ALLOWED = {
    "util": set(),
    "memory": {"util"},
    "discover": {"util"},
    "resolve": {"discover", "memory", "util"},
    "attach": {"resolve", "discover", "util"},
    "decode": {"resolve", "memory", "util"},
    "diagnose": {"decode", "resolve", "memory", "util"},
    "sink": {"diagnose", "decode", "resolve", "memory", "util"},
    "daemon": {"sink", "diagnose", "decode", "attach", "resolve", "discover", "memory",
               "util"},
    "cli": {"daemon", "sink", "diagnose", "decode", "attach", "resolve", "discover",
            "memory", "util"},
}

# Writable static storage allowed: (source, symbol) and why.
ALLOWED_STATE = {
    ("user/util/log.c", "cur_level"): "the verbosity, set once before any thread starts",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def tracked(*patterns):
    """The tree's files matching the patterns: git's (tracked or not ignored),
    or, outside a git checkout, every match on disk."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                              "--", *patterns], capture_output=True, text=True, check=True)
        return sorted(p for p in out.stdout.split() if os.path.exists(p))
    except (OSError, subprocess.CalledProcessError):
        return sorted({p for pat in patterns for p in glob.glob(pat)})


def user_files():
    return [p for p in tracked("user/*/*.c", "user/*/*.h")]


def check_includes(problems):
    graph = {}
    for src in user_files():
        folder = src.split("/")[1]
        if folder not in ALLOWED:
            problems.append(f"{src}: folder user/{folder}/ has no row in ALLOWED "
                            "(scripts/check-structure.py) nor in README \"Architecture\"")
            continue
        deps = []
        with open(src, encoding="utf-8") as f:
            for inc in INCLUDE.findall(f.read()):
                path = "user/" + inc
                if not os.path.exists(path):
                    continue  # include/, the build folder, or a generated .inc
                deps.append(path)
                other = inc.split("/")[0]
                if other != folder and other not in ALLOWED[folder]:
                    problems.append(f"{src}: includes {inc}, but user/{folder}/ may only "
                                    f"include {sorted(ALLOWED[folder]) or 'nothing'}")
        graph[src] = deps
    # a file-level cycle: depth-first search with colors
    color, stack = {}, []

    def visit(n):
        color[n] = 1
        stack.append(n)
        for d in graph.get(n, []):
            if color.get(d) == 1:
                problems.append("include cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            elif d not in color:
                visit(d)
        stack.pop()
        color[n] = 2

    for n in graph:
        if n not in color:
            visit(n)
    return len(graph)


def objects(out):
    for src in tracked("user/*/*.c"):
        obj = os.path.join(out, src[:-2] + ".o")
        if not os.path.exists(obj):
            sys.exit(f"check-structure: {obj} is missing: build first (make)")
        yield src, obj


def check_state(out, problems):
    n = 0
    for src, obj in objects(out):
        n += 1
        table = subprocess.run(["objdump", "-t", obj], capture_output=True, text=True,
                               check=True).stdout
        for line in table.splitlines():
            m = re.search(r"\sO\s+(\.(?:data|bss)\S*)\s+\S+\s+(\S+)$", line)
            if not m or m.group(1).startswith(".data.rel.ro"):
                continue
            sym = m.group(2).split(".")[0]
            if (src, sym) not in ALLOWED_STATE:
                problems.append(f"{src}: '{sym}' is writable static storage ({m.group(1)}); "
                                "state belongs in an object its owner passes on")
    return n


def nm(obj, *flags):
    out = subprocess.run(["nm", *flags, obj], capture_output=True, text=True, check=True)
    return [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]


def check_names(out, problems):
    objs = dict(objects(out))
    undefined = {src: set(nm(obj, "-u")) for src, obj in objs.items()}
    tests = ""
    for p in tracked("tests/unit/*.c", "tests/fuzz/*.c", "tests/fuzz/*.h"):
        with open(p, encoding="utf-8") as f:
            tests += f.read()
    n = 0
    for src, obj in objs.items():
        folder, stem = src.split("/")[1], os.path.basename(src)[:-2]
        for sym in nm(obj, "-g", "--defined-only"):
            if sym == "main" and src == "user/cli/main.c":
                continue
            n += 1
            prefix = sym.split("__")[0] if "__" in sym else None
            if prefix is None or not (prefix in (stem, folder) or
                                      prefix.startswith(stem + "_")):
                problems.append(f"{src}: exports '{sym}'; name it {stem}__... "
                                f"or {folder}__...")
            used = any(sym in u for s, u in undefined.items() if s != src)
            if not used and not re.search(r"\b%s\b" % re.escape(sym), tests):
                problems.append(f"{src}: exports '{sym}', which nothing else uses: "
                                "make it static, or remove it")
    return n


def check_sizes(problems):
    files = tracked("user/*/*.c", "user/*/*.h", "bpf/*.c", "bpf/*.h", "include/*.h",
                    "tools/*.c", "tests/unit/*.c", "tests/unit/*.h", "tests/fuzz/*.c",
                    "tests/fuzz/*.h")
    out = subprocess.run(["ctags", "-x", "--languages=C", "--langmap=C:.c.h",
                          "--kinds-C=f", "--fields=+ne", "-u",
                          "--_xformat=%{line} %{end} %N %F", *files],
                         capture_output=True, text=True, check=True).stdout
    n = 0
    for line in out.splitlines():
        start, end, name, path = line.split(None, 3)
        n += 1
        length = int(end) - int(start) + 1
        if length > MAX_FUNCTION_LINES:
            problems.append(f"{path}:{start}: {name} is {length} lines "
                            f"(at most {MAX_FUNCTION_LINES})")
    return n


def check_guards(problems):
    headers = tracked("user/*/*.h", "include/*.h", "bpf/*.h", "tests/unit/*.h",
                      "tests/fuzz/*.h")
    for h in headers:
        with open(h, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^#ifndef\s+(\S+)\s*\n#define\s+(\S+)", text, re.M)
        if not m or m.group(1) != m.group(2) or not re.fullmatch(r"ST_[A-Z0-9_]+_H",
                                                                   m.group(1)):
            problems.append(f"{h}: not guarded by #ifndef ST_..._H / #define ST_..._H")
    return len(headers)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/check-structure.py OUT")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = []
    files = check_includes(problems)
    objs = check_state(sys.argv[1], problems)
    syms = check_names(sys.argv[1], problems)
    funcs = check_sizes(problems)
    headers = check_guards(problems)
    for p in problems:
        print("check-structure: " + p)
    if problems:
        return 1
    print(f"structure: {files} files include only down the pipeline, no cycle; "
          f"{objs} objects without writable state (but the log level); {syms} exports "
          f"named and used; {funcs} functions of at most {MAX_FUNCTION_LINES} lines; "
          f"{headers} headers guarded")
    return 0


if __name__ == "__main__":
    sys.exit(main())

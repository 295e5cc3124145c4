#!/usr/bin/python3
"""Every option --help prints (the tracer's, report's, inspect's) is in the
man page source and, for the tracer's, in the bash completion; USAGE.md (the
docs' copy of --help, indented) is --help's text exactly. Exit 1 naming what
is missing. Usage: check-manpage.py BINARY MAN.scd COMPLETION USAGE.md"""
import re
import subprocess
import sys


def options(argv):
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    # option lines: "  -p, --pid PID ..." or "      --json-keep N ..."
    found = set()
    for line in out.splitlines():
        if not line.lstrip().startswith("-"):
            continue
        # every option named on an option line: "  -p, --pid PID", "  --route R  --cause C"
        found.update(re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[A-Za-z])(?=[ ,=]|$)", line))
    return found


def main():
    binary, man, completion, usage = sys.argv[1:5]
    page = open(man).read()
    comp = open(completion).read()
    missing = []
    for cmd in ([], ["report"], ["inspect"]):
        for opt in sorted(options([binary] + cmd + ["--help"])):
            if not re.search(r"\*" + re.escape(opt) + r"\*", page):
                missing.append(f"{' '.join(['sessiontrace'] + cmd)} {opt}: not in {man}")
            if not cmd and opt.startswith("--") and not re.search(
                    r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", comp):
                missing.append(f"sessiontrace {opt}: not in {completion}")
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    block = "".join("    " + l + "\n" if l else "\n" for l in text.rstrip("\n").split("\n"))
    if block not in open(usage).read():
        missing.append(f"{usage}: its copy of --help differs from {binary}'s")
    for m in missing:
        print(f"check-manpage: {m}", file=sys.stderr)
    if not missing:
        print("check-manpage: every option of --help is in the man page and the completion; "
              "the docs have --help as it is")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Every relative link of README.md and docs/*.md leads to a file that
exists and, with #anchor, to a heading there (GitHub's anchors); exit 1
naming the broken ones. Usage: check-links.py REPO"""
import pathlib
import re
import sys

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    out, in_code = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^(#+) (.*)$", line)
        if m and not in_code:
            out.add(slug(m.group(2)))
    return out


def main():
    repo = pathlib.Path(sys.argv[1])
    files = [repo / "README.md"] + sorted((repo / "docs").glob("*.md"))
    broken, n = [], 0
    for f in files:
        for m in LINK.finditer(f.read_text()):
            target = m.group(1)
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked (no network)
            n += 1
            path, _, anchor = target.partition("#")
            dest = (f.parent / path).resolve() if path else f
            if not dest.exists():
                broken.append(f"{f.relative_to(repo)}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{f.relative_to(repo)}: {target}: no such heading")
    for b in broken:
        print(f"check-links: {b}", file=sys.stderr)
    if not broken:
        print(f"check-links: {n} links in {len(files)} files lead somewhere")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

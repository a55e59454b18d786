#!/usr/bin/env python3
"""Every relative link in README.md and docs/*.md names a file of the repository, and
every #anchor a heading of the file it points into (GitHub's heading slugs).

usage: docs_links_test.py SOURCE_DIR
"""

import glob
import os
import re
import sys


def slugs(path):
    out, fence = set(), False
    for line in open(path):
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^#{1,6} ", line):
            text = line.lstrip("#").strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            out.add(text.replace(" ", "-"))
    return out


def links(path):
    text, fence, out = open(path).read(), False, []
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if not fence:
            out += [(number, target) for target in re.findall(r"\]\(([^)\s]+)\)", line)]
    return out


def main():
    src = sys.argv[1]
    files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
    problems, count = [], 0
    for path in files:
        for number, target in links(path):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            count += 1
            name, _, anchor = target.partition("#")
            into = os.path.normpath(os.path.join(os.path.dirname(path), name)) if name else path
            where = f"{os.path.relpath(path, src)}:{number}"
            if not os.path.exists(into):
                problems.append(f"{where}: {target}: no such file")
            elif anchor and (not into.endswith(".md") or anchor not in slugs(into)):
                problems.append(f"{where}: {target}: no heading #{anchor} in {os.path.relpath(into, src)}")
    for problem in problems:
        print("FAIL: " + problem)
    print(f"{count} relative links in {len(files)} files, {len(problems)} broken")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

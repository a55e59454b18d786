#!/usr/bin/env python3
"""The README's "Install in a cluster" and tests/e2e/kind.sh cannot drift apart.

- The commands of the README section's blocks fenced as ```sh kind-e2e are, word for
  word and in order, the commands between kind.sh's `# >>> README` and `# <<< README`
  lines; everything else there is a call of one of kind.sh's own e2e_* functions.
- No kind-e2e block sits outside that section.
- Every repository path those commands name exists, and every make target they run
  is in the Makefile.
- kind.sh, with none of its tools on PATH, says SKIPPED and exits 0.

usage: readme_commands_test.py SOURCE_DIR
"""

import os
import re
import subprocess
import sys
import tempfile

SECTION = "## Install in a cluster"
TAG = "kind-e2e"


def logical_lines(lines):
    """Joins backslash continuations; drops blank and comment lines; one space between words."""
    out, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        words = " ".join(line.split())
        if words and not words.startswith("#"):
            out.append(words)
    if pending.strip():
        out.append(" ".join(pending.split()))
    return out


def readme_commands(readme, problems):
    lines = readme.split("\n")
    commands, block, fence_tagged, in_section = [], None, False, False
    for number, line in enumerate(lines, 1):
        if block is None and line.startswith("## "):
            in_section = line.strip() == SECTION
        if line.startswith("```"):
            if block is None:
                info = line[3:].split()
                fence_tagged = TAG in info[1:]
                if fence_tagged and not in_section:
                    problems.append(f"README.md:{number}: a {TAG} block outside '{SECTION}'")
                block = []
            else:
                if fence_tagged and in_section:
                    commands += logical_lines(block)
                block = None
            continue
        if block is not None:
            block.append(line)
    return commands


def script_commands(script, problems):
    lines = script.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("# >>> README")]
    ends = [i for i, line in enumerate(lines) if line.startswith("# <<< README")]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        problems.append("kind.sh: needs exactly one '# >>> README' line and, after it, one '# <<< README' line")
        return [], []
    region = logical_lines(lines[starts[0] + 1:ends[0]])
    defined = set(re.findall(r"^(e2e_\w+)\(\)", script, re.M))
    commands, harness = [], []
    for line in region:
        word = line.split()[0]
        if word.startswith("e2e_"):
            if word not in defined:
                problems.append(f"kind.sh: {word} is called in the README region but not defined")
            harness.append(line)
        else:
            commands.append(line)
    return commands, harness


def main():
    src = sys.argv[1]
    readme = open(os.path.join(src, "README.md")).read()
    script_path = os.path.join(src, "tests/e2e/kind.sh")
    script = open(script_path).read()
    makefile = open(os.path.join(src, "Makefile")).read()
    problems = []

    wanted = readme_commands(readme, problems)
    if not wanted:
        problems.append(f"README.md: no ```sh {TAG} block in '{SECTION}'")
    ran, harness = script_commands(script, problems)
    print(f"README '{SECTION}': {len(wanted)} commands; kind.sh: {len(ran)} of them and {len(harness)} checks")
    for i in range(max(len(wanted), len(ran))):
        want = wanted[i] if i < len(wanted) else "(nothing)"
        got = ran[i] if i < len(ran) else "(nothing)"
        if want != got:
            problems.append(f"command {i + 1}: README has\n    {want}\n  kind.sh has\n    {got}")
            break

    for command in wanted:
        for path in re.findall(r"(?<![\w/$.-])((?:charts|manifests|tests|docs)/[\w./-]+)", command):
            if not os.path.exists(os.path.join(src, path)):
                problems.append(f"README command names {path}, which does not exist: {command}")
        match = re.match(r"make (\S+)", command)
        if match and not re.search(rf"^{re.escape(match.group(1))}:", makefile, re.M):
            problems.append(f"README runs 'make {match.group(1)}', which the Makefile does not have")

    # Without its tools (an empty PATH), the script skips and passes.
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(["/bin/bash", script_path], env={"PATH": empty, "HOME": empty},
                                capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    if result.returncode != 0 or not output.startswith("SKIPPED: "):
        problems.append(f"kind.sh without docker, kind or helm: exit {result.returncode}, said: {output.strip()}")
    else:
        print("kind.sh without its tools: " + output.strip())

    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        sys.exit(1)
    print("kind.sh runs the README's install commands word for word")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""function-lengths.py — the length in lines of every function defined in C files, for the
style rule "no function much over 60-90 lines".

A definition is what the project's style writes: its signature starts at column 0 (after
any comment), its body opens with "{" alone at column 0 and closes with "}" at column 0.
The length counts from the first line of the signature to the closing brace.

usage: function-lengths.py [--max N] FILE...
  prints "FILE:LINE: NAME: N lines" for each function, longest first; with --max N only
  those longer than N, and exits 1 when there is one."""
import re
import sys

NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    """(name, first line, length) of each function defined in path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    found, start, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if start is None and line and not line[0].isspace() and "(" in line and \
                not line.startswith(("#", "/", "*", "}", "typedef", "struct")) and \
                not line.rstrip().endswith(";") and "=" not in line.split("(")[0]:
            start = i
        if start is not None and line == "{":
            m = NAME.search(" ".join(lines[start:i]))
            end = i + 1
            while end < len(lines) and lines[end] != "}":
                end += 1
            if m:
                found.append((m.group(1), start + 1, end - start + 1))
            start, i = None, end
        elif start is not None and (line.rstrip().endswith(";") or line == ""):
            start = None  # a declaration, not a definition
        i += 1
    return found


def main(argv):
    limit = None
    if len(argv) > 2 and argv[1] == "--max":
        limit, argv = int(argv[2]), argv[2:]
    rows = [(n, path, line, name) for path in argv[1:] for name, line, n in functions(path)]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    over = [r for r in rows if limit is None or r[0] > limit]
    for n, path, line, name in over:
        print(f"{path}:{line}: {name}: {n} lines")
    return 1 if limit is not None and over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

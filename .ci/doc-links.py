#!/usr/bin/env python3
"""Checks that every reference to our docs resolves: `docs/<file>.md#<anchor>` in code comments
and docs, and relative markdown links between docs, name a file that exists and a heading it has
(GitHub's anchor rule). Exit 1 listing each broken reference."""
import os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()

def slug(heading):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")

anchors = {}
def anchors_of(path):
    if path not in anchors:
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            anchors[path] = None
        else:
            seen = {}
            found = set()
            in_code = False
            for line in open(full, encoding="utf-8"):
                if line.startswith("```"):
                    in_code = not in_code
                if in_code:
                    continue
                m = re.match(r"#+ (.*)", line)
                if m:
                    s = slug(m.group(1))
                    n = seen.get(s, 0)
                    seen[s] = n + 1
                    found.add(s if n == 0 else f"{s}-{n}")
            anchors[path] = found
    return anchors[path]

broken = []
for f in files:
    if not re.search(r"\.(rs|md|toml|sh|py)$", f) or f.startswith("target/"):
        continue
    text = open(os.path.join(root, f), encoding="utf-8").read()
    refs = []
    for m in re.finditer(r"(?<![\w/.])(docs/[\w./-]+\.md)(?:#([\w-]+))?", text):
        refs.append((m.group(1), m.group(2), m.start()))
    if f.endswith(".md"):
        base = os.path.dirname(f)
        for m in re.finditer(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", text):
            refs.append((os.path.normpath(os.path.join(base, m.group(1))), m.group(2), m.start()))
        for m in re.finditer(r"\]\(#([\w-]+)\)", text):
            refs.append((f, m.group(1), m.start()))
    for path, anchor, pos in refs:
        line = text.count("\n", 0, pos) + 1
        found = anchors_of(path)
        if found is None:
            broken.append(f"{f}:{line}: {path} does not exist")
        elif anchor and anchor not in found:
            broken.append(f"{f}:{line}: {path} has no heading for #{anchor}")

for b in broken:
    print(b)
sys.exit(1 if broken else 0)

#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

For each crate's src/ directory given (default: every crate of the workspace), every
`crate::…`, `super::…` and `self::…` path outside `#[cfg(test)] mod tests` is resolved to the
module it names; a parent and its own submodules are not counted as depending on each other.
Strongly connected groups of more than one module are printed, and the exit status is 1.
Comments count as uses too, so a doc link that points upwards is reported: write such a
reference as plain text.
"""
import os
import re
import sys


def modules(root):
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            found["::".join(parts) or "crate"] = path
    return found


def resolve(mods, current, path):
    segments = path.split("::")
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] in ("super", "self"):
        base = current.split("::") if current != "crate" else []
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
        if segments and segments[0] == "self":
            segments = segments[1:]
    else:
        return None
    for i in range(len(segments), -1, -1):
        name = "::".join(base + segments[:i]) or "crate"
        if name in mods:
            return name
    return None


def related(a, b):
    return a == b or a.startswith(b + "::") or b.startswith(a + "::") or "crate" in (a, b)


def edges_of(mods):
    edges = {m: set() for m in mods}
    for module, path in mods.items():
        with open(path, encoding="utf-8") as f:
            source = re.split(r"#\[cfg\(test\)\]\s*mod tests", f.read())[0]
        targets = [resolve(mods, module, p)
                   for p in re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", source)]
        for prefix, items in re.findall(r"\b((?:crate|super|self)(?:::\w+)*)::\{([^}]*)\}", source):
            for item in items.split(","):
                item = item.strip().split(" ")[0].split("::")[0]
                if item:
                    targets.append(resolve(mods, module, prefix + "::" + item))
        edges[module] = {t for t in targets if t and not related(module, t)}
    return edges


def circles(edges):
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    roots = sys.argv[1:] or ["core/src", "sdk/src", "server/src", "console/src", "cli/src"]
    failed = False
    for root in roots:
        edges = edges_of(modules(root))
        for group in circles(edges):
            failed = True
            print(f"{root}: modules import each other in a circle: {', '.join(group)}")
            for module in group:
                inside = sorted(t for t in edges[module] if t in group)
                print(f"    {module} uses {', '.join(inside)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

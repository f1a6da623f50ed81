#!/usr/bin/env python3
"""The module graph of letterpress: which top-level module of `src/` uses which, from the
`crate::<module>` paths in its files (tests and `#[cfg(test)]` items included), and every
cycle between them (a strongly connected component of more than one module).

    scripts/module_graph.py            # the graph, one line per module, then the cycles
    scripts/module_graph.py --check    # exit 1 when a cycle exists, test code included (for CI)
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)
# `super::` from a top-level module's direct children can reach siblings: `super::super::x`
# from two levels down, etc. Those are resolved relative to the file's module path.
SUPER = re.compile(r"\b((?:super::)+)([a-z_][a-z0-9_]*)")


def module_of(rel):
    """`check/tests.rs` -> ["check", "tests"]; `lib.rs` -> []."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if "\"" not in line else line for line in text.splitlines())


def main():
    tops = set()
    for name in os.listdir(SRC):
        if name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            tops.add(name[:-3])
        elif os.path.isdir(os.path.join(SRC, name)):
            tops.add(name)
    edges = {t: set() for t in tops}
    test_edges = {t: set() for t in tops}
    for dirpath, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), SRC)
            module = module_of(rel)
            if not module or module[0] not in tops:
                continue
            top = module[0]
            text = strip_comments(open(os.path.join(dirpath, name), encoding="utf-8").read())
            # Test code (a `tests` module, in its own file or inline at the end, or the crate-level
            # `src/tests.rs`) is counted apart.
            test_file = "tests" in module
            code, _, tests = text.partition("#[cfg(test)]\nmod tests {")
            for part, is_test in ((code, test_file), (tests, True)):
                used = uses(part, module)
                (test_edges if is_test else edges)[top].update(u for u in used if u in tops and u != top)
    test_only = {t: test_edges[t] - edges[t] for t in tops}
    for top in sorted(tops):
        extra = " ".join(f"({t})" for t in sorted(test_only[top]))
        print(f"{top:16} -> {' '.join(sorted(edges[top])) or '(none)'}{' ' + extra if extra else ''}")
    print("\n(module) = used by test code only")
    for label, graph in (("", edges), ("with test code: ", {t: edges[t] | test_edges[t] for t in tops})):
        cycles = sccs(graph)
        if cycles:
            for cycle in cycles:
                print(f"{label}cycle:", " <-> ".join(sorted(cycle)))
        else:
            print(f"{label}no cycles between top-level modules")
        if "--check" in sys.argv and cycles:
            sys.exit(1)


def uses(text, module):
    """The top-level modules `text` (a file of `module`) names through `crate::` or `super::`."""
    used = set(PATH.findall(text))
    for group in GROUP.findall(text):
        used.update(re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)(?=\s*(?:::|,|\}|$| as ))", group))
    for supers, target in SUPER.findall(text):
        # `super::` as many times as the file is deep names a top-level module.
        if supers.count("super::") == len(module):
            used.add(target)
    return used


def sccs(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    main()

"""Every code block of the documentation compiles: C and C++ against the
headers with warnings as errors, Go as a program against the binding,
Python and shell for syntax (Python's imports are resolved too)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = sorted(REPO.glob("docs/*.md")) + [REPO / "README.md", REPO / "bindings/python/README.md",
                                          REPO / "bindings/go/README.md", REPO / "tests/server/README.md"]
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```", re.M | re.S)
CHECKED = {"c", "cpp", "python", "go", "sh"}


def blocks():
    for doc in DOCS:
        text = doc.read_text()
        for i, m in enumerate(FENCE.finditer(text)):
            lang, code = m.group(1), m.group(2)
            line = text[: m.start()].count("\n") + 1
            yield pytest.param(lang, code, id=f"{doc.relative_to(REPO)}:{line}:{lang or 'plain'}")


ALL = list(blocks())


def test_docs_have_examples_in_every_language():
    langs = {p.values[0] for p in ALL}
    assert CHECKED <= langs, CHECKED - langs


def test_unchecked_blocks_are_plain_text():
    for p in ALL:
        assert p.values[0] in CHECKED | {"text", ""}, f"{p.id}: a block in a language this test does not check"


@pytest.mark.parametrize("lang,code", [p for p in ALL if p.values[0] in CHECKED])
def test_block_compiles(lang, code, tmp_path):
    if lang == "c":
        src = tmp_path / "block.c"
        src.write_text(code)
        cmd = [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
               f"-I{REPO / 'include'}", str(src)]
    elif lang == "cpp":
        src = tmp_path / "block.cpp"
        src.write_text(code)
        cmd = [os.environ.get("CXX", "c++"), "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
               f"-I{REPO / 'include'}", str(src)]
    elif lang == "python":
        compiled = compile(code, "<doc block>", "exec")
        # Resolve the imports (the binding's names must exist); run nothing else.
        sys.path.insert(0, str(REPO / "bindings" / "python"))
        try:
            for line in code.splitlines():
                if re.match(r"(from \S+ )?import ", line) and not line.startswith(" "):
                    exec(line, {})
        finally:
            sys.path.pop(0)
        assert compiled
        return
    elif lang == "sh":
        src = tmp_path / "block.sh"
        src.write_text(code)
        cmd = ["bash", "-n", str(src)]
    else:  # go: a program in a module that uses the binding
        assert code.startswith("package main"), "Go examples are whole programs"
        (tmp_path / "main.go").write_text(code)
        (tmp_path / "go.mod").write_text(
            "module docexample\n\ngo 1.24\n\nrequire github.com/tokenclient/tokenclient/bindings/go v0.0.0\n\n"
            f"replace github.com/tokenclient/tokenclient/bindings/go => {REPO / 'bindings' / 'go'}\n")
        shutil.copy(REPO / "bindings" / "go" / "go.sum", tmp_path / "go.sum")
        # cgo finds the library through pkg-config: the build tree's .pc (make build).
        env = dict(os.environ, GOFLAGS="-mod=mod", PKG_CONFIG_PATH=str(REPO / "target" / "pkgconfig"))
        subprocess.run(["go", "mod", "tidy"], cwd=tmp_path, env=env, check=True, capture_output=True)
        cmd = ["go", "build", "-o", str(tmp_path / "prog"), "."]
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout

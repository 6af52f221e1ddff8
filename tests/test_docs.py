"""The README and docs/ cannot rot: every command they show names a script that exists and flags
that its ``--help`` lists, cheap commands run, Python blocks compile, relative links resolve."""

import re
import shlex
from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: commands cheap enough to run as written
RUN = {("models.py",), ("reproduce.py", "--list")}


def _blocks(text):
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def _commands(page):
    """Every ``python bin/X.py ...`` / ``kerasmgr X ...`` command on a page: fenced bash blocks
    (continuation lines joined, comments dropped) and inline code spans."""
    from kerasmgr.cli import COMMANDS

    text = page.read_text()
    lines = []
    for lang, body in _blocks(text):
        if lang in ("bash", "sh", ""):
            lines += body.replace("\\\n", " ").splitlines()
    lines += re.findall(r"`(python bin/[^`]+|kerasmgr [a-z-]+[^`]*)`", text)
    out = []
    for line in lines:
        for part in re.split(r"&&|;|\bdo\b", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            if len(words) >= 2 and words[0] == "python" and words[1].startswith("bin/"):
                out.append((words[1][4:], words[2:]))
            elif len(words) >= 2 and words[0] == "kerasmgr" and words[1] in COMMANDS:
                out.append((COMMANDS[words[1]][0] + ".py", words[2:]))
    return out


ALL = sorted({(p.relative_to(ROOT).as_posix(), s, tuple(a)) for p in PAGES for s, a in _commands(p)})
_HELP = {}


def _help(script, args):
    """The --help text of a script, or of its subcommand when the first argument is one."""
    key = (script, args[0] if args and not args[0].startswith("-") else None)
    if key not in _HELP:
        text = run_cli(script, "--help").stdout
        if key[1] is not None:
            sub = run_cli(script, key[1], "--help")
            if sub.returncode == 0 and sub.stdout != text:
                text = sub.stdout
        _HELP[key] = text
    return _HELP[key]


def test_the_pages_show_commands():
    assert len(ALL) > 60 and {p for p, _, _ in ALL} >= {"README.md", "docs/weights.md", "docs/datasets.md"}


@pytest.mark.parametrize("page,script,args", ALL, ids=[f"{p}:{s}:{' '.join(a)[:40]}" for p, s, a in ALL])
def test_documented_command_exists_and_its_flags_are_real(page, script, args):
    assert (ROOT / "bin" / script).is_file(), f"{page}: bin/{script} does not exist"
    text = _help(script, list(args))
    assert text.startswith("usage:"), f"{page}: bin/{script} --help printed no usage"
    for flag in (a.split("=")[0] for a in args if a.startswith("--")):
        assert re.search(rf"(^|[\s\[,]){re.escape(flag)}\b", text), f"{page}: bin/{script} has no option {flag}"
    if (script, *args) in RUN:
        r = run_cli(script, *args)
        assert r.returncode == 0, r.stderr[-2000:]


def test_python_blocks_compile():
    for page in PAGES:
        for lang, body in _blocks(page.read_text()):
            if lang == "python":
                compile(body, f"{page.name}:python block", "exec")


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert 'pip install -e ".[dev]" && python bin/train.py --model k2c2' in readme and "python -m pytest" in readme
    for page in ("training", "datasets", "evaluation", "weights", "transfer", "adversaries", "interpretation", "audit",
                 "performance", "scale-out", "architecture"):
        assert f"docs/{page}.md" in readme

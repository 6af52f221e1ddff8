"""The package's shape: an import graph without cycles, layers that only import downwards, one place
for the decisions that used to be copied, and console commands that work from a plain ``pip install .``."""

import ast
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kerasmgr"

#: bin -> cli -> jobs -> training/evaluation -> algorithms -> models -> frontends/layers/data (high to low).
#: A module may import its own layer or lower ones.
LAYERS = {
    "kerasmgr.cli": 6,
    "kerasmgr.jobs": 5,
    "kerasmgr.training": 4, "kerasmgr.evaluation": 4, "kerasmgr.distribute": 4,
    "kerasmgr.adversary": 3, "kerasmgr.auralisation": 3, "kerasmgr.analysis": 3, "kerasmgr.activations": 3,
    "kerasmgr.transfer": 3, "kerasmgr.features": 3, "kerasmgr.dnn_features": 3, "kerasmgr.svm": 3,
    "kerasmgr.convert": 3, "kerasmgr.pretrained": 3, "kerasmgr.inference": 3, "kerasmgr.metrics": 3,
    "kerasmgr.plots": 3, "kerasmgr.optimizers": 3, "kerasmgr.audit": 3, "kerasmgr.export": 3, "kerasmgr.hear": 3,
    "kerasmgr.models": 2, "kerasmgr.presets": 2, "kerasmgr.parts": 2,
    "kerasmgr.frontends": 1, "kerasmgr.layers": 1, "kerasmgr.data": 1,
    "kerasmgr": 0,  # the package itself: version and layer registration
}


def _modules():
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def _targets(mod, node, is_pkg, mods):
    """kerasmgr modules an import statement of ``mod`` refers to."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in mods]
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    out = []
    for a in node.names:
        cand = f"{prefix}.{a.name}"
        out.append(cand if cand in mods else prefix)
    return [t for t in out if t in mods]


def import_graph(function_level=True):
    """``{module: {imported kerasmgr modules}}`` from every import statement (ast, no execution)."""
    mods = _modules()
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        nodes = ast.walk(tree) if function_level else tree.body
        for n in nodes:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                graph[m].update(t for t in _targets(m, n, p.name == "__init__.py", mods) if t != m)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_even_through_function_level_imports():
    assert cycles(import_graph(function_level=False)) == []
    assert cycles(import_graph(function_level=True)) == []


def test_no_function_level_imports_of_the_package():
    """Imports of kerasmgr modules sit at module level, where the graph above sees them (third-party
    imports may be deferred for start-up time)."""
    found = []
    for m, p in _modules().items():
        for fn in ast.walk(ast.parse(p.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for n in ast.walk(fn):
                    if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith("kerasmgr")):
                        found.append(f"{m}.{fn.name}")
                    elif isinstance(n, ast.Import) and any(a.name.startswith("kerasmgr") for a in n.names):
                        found.append(f"{m}.{fn.name}")
    assert found == []


def _layer(module):
    if module == "kerasmgr":
        return LAYERS[module]
    found = [k for k in LAYERS if k != "kerasmgr" and (module == k or module.startswith(k + "."))]
    assert found, f"{module} has no layer: add it to LAYERS (and to the README's architecture section)"
    return LAYERS[max(found, key=len)]


def test_layers_only_import_downwards():
    graph = import_graph()
    assert all(_layer(m) is not None for m in graph)
    upward = sorted(f"{m} -> {t}" for m, ts in graph.items() for t in ts
                    if _layer(t) > _layer(m) and not t.startswith(m + "."))
    assert upward == []


def test_the_decisions_that_were_copied_live_in_one_place():
    """The embedded dataset's rate rule and the split-list folding are DataSelection's; the SNR
    defaults are the adversary module's constants; nothing builds a model to learn its rate."""
    hits = {}
    for m, p in _modules().items():
        text = p.read_text()
        for needle in ('dataset == "embedded"', 'self.dataset == "embedded"', "split_name", "snr=15.0", "snr=30.0",
                       "n_outputs=2"):
            if needle in text:
                hits.setdefault(needle, []).append(m)
    assert hits.get('self.dataset == "embedded"') == ["kerasmgr.data.selection"]
    assert 'dataset == "embedded"' not in hits or hits['dataset == "embedded"'] == ["kerasmgr.data.selection"]
    assert "split_name" not in hits
    assert "snr=15.0" not in hits and "snr=30.0" not in hits
    assert "n_outputs=2" not in hits


def test_no_private_reach_ins_across_modules():
    """``module._name`` of another kerasmgr module is not used (a comment must name the missing public API)."""
    mods = _modules()
    found = []
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        aliases = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                for t, a in zip(_targets(m, n, p.name == "__init__.py", mods), n.names):
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{m}: from {t} import {a.name}")
                    aliases[a.asname or a.name] = t
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
                    and isinstance(n.value, ast.Name) and n.value.id in aliases and aliases[n.value.id] in mods):
                found.append(f"{m}: {n.value.id}.{n.attr}")
    assert found == []


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install .`` (not editable) into a fresh virtual environment that reuses this
    environment's dependencies (``--system-site-packages``; only kerasmgr itself is installed)."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    py = env_dir / "bin" / "python"
    build = tmp_path_factory.mktemp("build")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                        "--prefix", str(env_dir), "--ignore-installed", str(ROOT)],
                       capture_output=True, text=True, cwd=build, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    return env_dir, py


def test_pip_install_gives_working_console_commands(installed, tmp_path):
    env_dir, py = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the install put there
    probe = (
        "import importlib, importlib.metadata as md, kerasmgr, kerasmgr.cli as cli\n"
        "print(kerasmgr.__file__)\n"
        "eps = {e.name: e for e in md.entry_points(group='console_scripts') if e.value.startswith('kerasmgr')}\n"
        "assert eps['kerasmgr'].load() is cli.main, eps\n"
        "for name, (mod, _) in cli.COMMANDS.items():\n"
        "    assert callable(importlib.import_module('kerasmgr.cli.' + mod).main), name\n"
    )
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.split("\n")
    assert str(env_dir) in lines[0]  # the installed copy, not the checkout
    installed_pkg = Path(lines[0]).parent
    site = installed_pkg.parent
    assert not (site / "benchmarks").exists() and not (installed_pkg / "benchmark.py").exists()  # not shipped
    assert (installed_pkg / "jobs" / "reproduce" / "seed004.py").exists()
    script = env_dir / "bin" / "kerasmgr"
    assert script.exists()
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0 and "extract-features" in out.stdout and "reproduce" in out.stdout
    out = subprocess.run([str(script), "models"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0 and "| `k2c2` |" in out.stdout, out.stderr[-2000:]
    bad = subprocess.run([str(script), "nonsense"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "unknown command" in bad.stderr

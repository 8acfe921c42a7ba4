"""docs/architecture.md, enforced: imports point one way (an AST scan of lite/), engines load lazily,
and the add-a-converter checklist works when followed with a throwaway converter."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LITE = REPO / "lite"
ARCHITECTURE = REPO / "docs" / "architecture.md"

ENGINES = {"onnxruntime", "tensorrt", "ncnn", "MNN", "_tools", "torch", "torchvision", "openvino", "onnx",
           "onnxslim", "pnnx", "cuda", "ray"}  # fmt: skip

#: Imports that break the layering today and are being removed elsewhere, with where. An entry that no
#: longer applies fails the test too, so that it is deleted when its fix lands.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def layers_from_docs(text: str) -> dict[str, int]:
    """``{module or package: floor}`` from the "Layers" table of docs/architecture.md (the one source).

    A row is ``| floor | layer | modules | may import |``; every backticked ``lite…`` name in its
    modules cell belongs to that floor. A name listed twice is an error in the document.
    """
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].isdigit():
            continue
        for name in re.findall(r"`(lite(?:\.\w+)*)`", cells[2]):
            assert name not in layers, f"docs/architecture.md lists {name} on floors {layers[name]} and {cells[0]}"
            layers[name] = int(cells[0])
    assert layers, "docs/architecture.md has no Layers table"
    return layers


LAYERS = layers_from_docs(ARCHITECTURE.read_text(encoding="utf-8"))


def _lazy_attrs() -> dict[str, str]:
    """``lite.<name>`` attributes that ``lite/__init__.py`` loads on first use: ``{name: module}``."""
    import lite

    return {k: v[0] for k, v in lite._LAZY_ATTRS.items()} | dict(lite._LAZY_MODULES)


LAZY_ATTRS = _lazy_attrs()


def _from_lite(name: str) -> str | None:
    """The module ``from lite import name`` loads: a lazy attribute's module, or a submodule."""
    if name in LAZY_ATTRS:
        return LAZY_ATTRS[name]
    if (LITE / name).is_dir() or (LITE / f"{name}.py").is_file():
        return f"lite.{name}"
    return None


def _is_module(name: str) -> bool:
    """``lite.a.b`` is a module or package of lite/."""
    if not name.startswith("lite."):
        return False
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _dynamic_target(call: ast.Call) -> str | None:
    """The module ``importlib.import_module("lite.x")`` or ``__import__("lite.x")`` names (an f-string: its prefix)."""
    func = call.func
    fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if fname not in ("import_module", "__import__") or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        prefix = str(arg.values[0].value).rstrip(".")
        return prefix if prefix.count(".") >= 1 else None  # f"lite.{name}": the package itself, not a floor
    return None


def _imports_in(source: str, module: str, is_package: bool = False) -> Iterator[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` of every import in ``source``: ``import``, ``from … import``
    (relative and ``from lite import X`` included), ``importlib.import_module`` and ``__import__``."""
    tree = ast.parse(source)
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, ast.If | ast.Try) for c in ast.walk(n)}
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            if base == "lite":
                for alias in node.names:
                    target = _from_lite(alias.name)
                    if target:
                        yield target, node.lineno, id(node) in top
            elif base:
                for alias in node.names:  # ``from pkg import module`` imports the module
                    sub = f"{base}.{alias.name}"
                    yield (sub if _is_module(sub) else base), node.lineno, id(node) in top
        elif isinstance(node, ast.Call):
            target = _dynamic_target(node)
            if target:
                yield target, node.lineno, False


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """Every import of a file of lite/ (see `_imports_in`)."""
    return _imports_in(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def _type_checking_only(path: Path) -> set[int]:
    """Lines of imports under ``if TYPE_CHECKING:`` (never executed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            lines |= {n.lineno for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)}
    return lines


def _layer(module: str) -> int | None:
    best = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len, default=None)
    return None if best is None else LAYERS[best]


def _edges() -> list[tuple[str, str, str, int, bool]]:
    """``(importer, imported, file, line, module level)`` for every import in lite/."""
    out = []
    for path in sorted(LITE.rglob("*.py")):
        skip = _type_checking_only(path)
        me = _module_name(path)
        for mod, line, top in _imports(path):
            if line not in skip:
                out.append((me, mod, str(path.relative_to(REPO)), line, top))
    return out


EDGES = _edges()


def test_every_module_has_a_layer():
    unplaced = sorted({me for me, *_ in EDGES if _layer(me) is None and me != "lite"})
    assert not unplaced, f"add these to LAYERS and to docs/architecture.md: {unplaced}"


def test_imports_point_down_the_layers():
    found = set()
    bad = []
    for me, mod, where, line, _ in EDGES:
        if not mod.startswith("lite.") or me == "lite":
            continue
        mine, theirs = _layer(me), _layer(mod)
        if mine is not None and theirs is not None and theirs > mine:
            if (me, mod) in KNOWN_VIOLATIONS:
                found.add((me, mod))
                continue
            bad.append(f"{where}:{line}: {me} (layer {mine}) imports {mod} (layer {theirs})")
    assert not bad, "imports against the layering of docs/architecture.md:\n" + "\n".join(bad)
    assert found == KNOWN_VIOLATIONS, f"fixed, delete from KNOWN_VIOLATIONS: {sorted(KNOWN_VIOLATIONS - found)}"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("lite.ops", ("lite.backends", "lite.cv", *ENGINES)),
        ("lite.backends", ("lite.convert", "lite.cv", "lite.cli")),
    ],
)
def test_package_rules_from_the_issue(package, forbidden):
    bad = [
        f"{where}:{line}: {mod}"
        for me, mod, where, line, _ in EDGES
        if (me == package or me.startswith(package + "."))
        and any(mod == f or mod.startswith(f + ".") for f in forbidden)
        and (me, mod) not in KNOWN_VIOLATIONS
    ]
    assert not bad, f"{package} must not import {forbidden}:\n" + "\n".join(bad)


def test_nothing_outside_the_cli_imports_the_cli():
    bad = [
        f"{where}:{line}"
        for me, mod, where, line, _ in EDGES
        if (mod == "lite.cli" or mod.startswith("lite.cli."))
        and not (me.startswith("lite.cli") or me == "lite.__main__")
    ]
    assert not bad, bad


def test_engines_are_imported_lazily_and_only_where_they_belong():
    at_top = [f"{where}:{line}: {mod}" for _, mod, where, line, top in EDGES if top and mod.split(".")[0] in ENGINES]
    assert not at_top, "engines imported at module level (import lite must import no engine):\n" + "\n".join(at_top)
    allowed = ("lite.backends", "lite.convert", "lite.export", "lite.tools.distributed")  # ray: only the Ray runner
    elsewhere = [
        f"{where}:{line}: {mod}"
        for me, mod, where, line, _ in EDGES
        if mod.split(".")[0] in ENGINES and not me.startswith(allowed)
    ]
    assert not elsewhere, elsewhere


def test_the_scan_sees_lazy_imports():
    """The scan must not miss an import inside a function (that is how lite imports engines)."""
    lazy = [(mod, top) for me, mod, *_, top in EDGES if me == "lite.export.onnx" and mod == "torch"]
    assert lazy and not any(top for _, top in lazy)


def test_the_scan_catches_every_import_form():
    """The upward imports a plain ``import`` scan misses: ``from lite import X``, relative, dynamic."""
    source = (
        "from lite import cli, Detector\n"
        "from ..cv import detector\n"
        "from . import letterbox\n"
        "def f(name):\n"
        "    import importlib\n"
        "    importlib.import_module('lite.tools.eval')\n"
        "    __import__('lite.convert')\n"
        "    return importlib.import_module(f'lite.export.{name}')\n"
    )
    found = {mod for mod, *_ in _imports_in(source, "lite.ops.nms")}
    assert {"lite.cli", "lite.cv", "lite.cv.detector", "lite.ops.letterbox", "lite.tools.eval", "lite.convert",
            "lite.export"} <= found, found  # fmt: skip
    upward = {mod for mod in found if _layer(mod) is not None and _layer(mod) > _layer("lite.ops.nms")}
    assert upward == {"lite.cli", "lite.cv", "lite.cv.detector", "lite.tools.eval", "lite.convert", "lite.export"}


def test_the_floors_come_from_the_document():
    """docs/architecture.md's table is the one list: every package of lite/ is on it, each name once."""
    assert LAYERS["lite.core"] < LAYERS["lite.data"] < LAYERS["lite.ops"] < LAYERS["lite.backends"]
    assert LAYERS["lite.backends"] < LAYERS["lite.cv"] < LAYERS["lite.tools"] < LAYERS["lite.cli"]
    packages = sorted(f"lite.{d.name}" for d in LITE.iterdir() if (d / "__init__.py").is_file())
    assert not [p for p in packages if _layer(p) is None], packages
    loose = sorted(f.stem for f in LITE.glob("*.py") if f.stem not in ("__init__", "__main__"))
    assert not loose, f"top-level modules belong in a floor's package: {loose}"
    with pytest.raises(AssertionError, match="lists lite.x on floors 0 and 1"):
        layers_from_docs("\n## Layers\n| 0 | a | `lite.x` | - |\n| 1 | b | `lite.x` | - |\n")


def test_names_say_what_they_are():
    """``lite.compare`` is the function whatever was imported first; ``from lite import *`` keeps builtin eval."""
    code = (
        "import lite, lite.tools.parity\n"
        "assert callable(lite.compare) and lite.compare is lite.tools.parity.compare, lite.compare\n"
        "ns = {}\n"
        "exec('from lite import *', ns)\n"
        "assert 'eval' not in ns and 'compare' in ns and ns['compare'] is lite.tools.parity.compare\n"
        "import lite.tools.eval\n"
        "assert lite.tools.eval.__name__ == 'lite.tools.eval'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert builtins.eval("1 + 1") == 2
    assert not (LITE / "compare.py").exists() and not (LITE / "compare").exists()  # one name, one thing


# ----------------------------------------------------------------------------------------------
# the add-a-converter checklist, followed with a throwaway converter
# ----------------------------------------------------------------------------------------------
needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxruntime")), reason="needs onnx and onnxruntime"
)


@pytest.fixture
def copy_converter():
    """Steps 1-4 of the checklist: one function, registered; Conversion; check_and_place; finish."""
    from lite.convert import _registry
    from lite.convert._common import Conversion
    from lite.convert._registry import ConverterOption, register_converter

    @register_converter(
        "onnxcopy",
        suffixes=(".copy.onnx",),
        help="a byte copy of the ONNX file (test only)",
        options=(ConverterOption("label", "str", "a label for the copy (test only)", metavar="TEXT"),),
    )
    def onnx_to_onnxcopy(onnx, out=None, fp16=False, *, force=False, verify=True, progress=None, label=None):
        job = Conversion("onnxcopy", onnx, out, force=force, stages=3, verify=verify, progress=progress, backend="ort")
        job.stage("copying")  # the "tool": a copy, in a work folder like a real converter's
        work = job.dst.parent / f".work-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            made = work / "model.onnx"
            shutil.copyfile(job.src, made)
            job.check_and_place(made, [made], fp16=fp16, converter="onnx", output_names={"y": "y"})
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return job.finish()

    yield onnx_to_onnxcopy
    del _registry._REGISTRY["onnxcopy"]


def _tiny_onnx(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((2, 3, 1, 1), 0.5, np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1])
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@needs_onnx
def test_add_a_converter_checklist(copy_converter, tmp_path, monkeypatch, capsys):
    from lite.cli import build_parser
    from lite.cli import main as cli_main
    from lite.cli.export import _engines
    from lite.convert import convert, get, known, output_path
    from lite.core.errors import OutputExistsError
    from lite.data.metadata import sidecar_path

    src = _tiny_onnx(tmp_path / "tiny.onnx")
    # step 2: everything else comes from the registration
    assert "onnxcopy" in known() and get("onnxcopy").fn is copy_converter
    convert_parser = build_parser()._subparsers._group_actions[0].choices["convert"]
    to = next(a for a in convert_parser._actions if "--to" in a.option_strings)
    assert "onnxcopy" in to.choices and get("onnxcopy").help == "a byte copy of the ONNX file (test only)"
    assert _engines("onnxcopy") == ["onnxcopy"]  # lite export --to
    monkeypatch.chdir(tmp_path)
    assert output_path(src, None, "onnxcopy") == tmp_path / "tiny.copy.onnx"
    # the library call: checked against ONNX Runtime, written with its sidecar
    out = convert(src, "onnxcopy", tmp_path / "o", progress=False)
    assert out == tmp_path / "o" / "tiny.copy.onnx" and out.read_bytes() == src.read_bytes()
    assert sidecar_path(out).is_file()
    assert sorted(os.listdir(tmp_path / "o")) == ["tiny.copy.onnx", "tiny.copy.onnx.lite.json"]
    with pytest.raises(OutputExistsError):
        convert(src, "onnxcopy", tmp_path / "o", progress=False)
    # the command line: current directory by default, --force to replace
    assert cli_main(["convert", str(src), "--to", "onnxcopy", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "tiny.copy.onnx")
    assert cli_main(["convert", str(src), "--to", "onnxcopy", "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli_main(["convert", str(src), "--to", "onnxcopy", "--quiet", "--force"]) == 0
    # options of another target are refused, naming the target that takes them
    assert cli_main(["convert", str(src), "--to", "onnxcopy", "--int8", "--force"]) == 2
    assert "--int8 apply to --to trt only" in capsys.readouterr().err
    # its own options: declared by the registration, offered as flags, refused for other targets
    assert cli_main(["convert", str(src), "--to", "onnxcopy", "--quiet", "--force", "--label", "x"]) == 0
    assert cli_main(["convert", str(src), "--to", "mnn", "--label", "x"]) == 2
    assert "--label apply to --to onnxcopy only, not --to mnn" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["convert", "--help"])
    assert "--to onnxcopy only:\n  --label TEXT" in capsys.readouterr().out


def test_converter_flags_are_added_only_for_lite_convert():
    """Building the ``lite`` parser, or parsing another command, imports no converter module."""
    code = (
        "import sys\n"
        "from lite.cli import build_parser\n"
        "p = build_parser()\n"
        "p.parse_args(['info', 'm.onnx'])\n"
        "assert not [m for m in sys.modules if m.startswith('lite.convert.') and m != 'lite.convert._registry'], "
        "sorted(sys.modules)\n"
        "args = p.parse_args(['convert', 'm.onnx', '--to', 'trt', '--int8', '--workspace', '2'])\n"
        "assert (args.int8, args.workspace_gb) == (True, '2'), args\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

"""Builds a hookhost handler written in Python into a WebAssembly component.

    python build.py --wit WIT_DIR PROJECT_DIR

PROJECT_DIR/pyproject.toml says what to build:
- `[project] name`: the output, PROJECT_DIR/dist/<name>.wasm;
- `[project] dependencies`: pure-Python packages from PyPI, installed as
  wheels for the component's Python into PROJECT_DIR/build/deps whenever the
  list changes;
- `[tool.hookhost] handler`: the module that defines `handle(event)`
  (default `handler`), in PROJECT_DIR or PROJECT_DIR/src.

The Python running this script needs componentize-py (`hookhost plugin build`
provides one). It writes the component's entry point module, which binds the
SDK to the host and calls the handler, to PROJECT_DIR/build/app, then runs
componentize-py for the world `handler` of WIT_DIR. componentize-py imports
the modules at build time and snapshots the result, so module-level setup
costs nothing per event; the running component has no files, so a module
imported only inside a function fails there.
"""

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib

COMPONENTIZE_PY = "0.25.1"
#: The CPython that componentize-py 0.25.1 puts in the component: dependencies
#: are installed for it, not for the Python running this script.
GUEST_PYTHON = "3.14"
APP_MODULE = "hookhost_app"
WORLD = "handler"
SDK_DIR = os.path.dirname(os.path.abspath(__file__))
#: Directories of a project that hold no handler source.
SKIPPED_DIRS = {"build", "dist", "node_modules", "__pycache__", "venv"}


class BuildError(Exception):
    """A failure the author can act on; its message is printed as is."""


def read_project(project_dir):
    """(name, handler module, dependencies) from the project's pyproject.toml."""
    path = os.path.join(project_dir, "pyproject.toml")
    try:
        with open(path, "rb") as f:
            pyproject = tomllib.load(f)
    except FileNotFoundError:
        raise BuildError(f"{_shown(path)}: not found (a Python handler project has one)") from None
    except tomllib.TOMLDecodeError as e:
        raise BuildError(f"{_shown(path)}: {e}") from None
    project = pyproject.get("project", {})
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise BuildError(f'{_shown(path)}: [project] has no name = "..." (it names dist/<name>.wasm)')
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise BuildError(f"{_shown(path)}: [project] dependencies must be a list of strings")
    handler = pyproject.get("tool", {}).get("hookhost", {}).get("handler", "handler")
    return name, handler, dependencies


def find_handler(project_dir, module):
    """(directory on the Python path, file) of the handler module."""
    relative = module.replace(".", os.sep)
    for source_dir in (project_dir, os.path.join(project_dir, "src")):
        for candidate in (relative + ".py", os.path.join(relative, "__init__.py")):
            path = os.path.join(source_dir, candidate)
            if os.path.isfile(path):
                return source_dir, path
    raise BuildError(
        f"no module {module!r} in {_shown(project_dir)} or its src/: write {relative}.py with "
        "def handle(event), or name your module in pyproject.toml's [tool.hookhost] handler"
    )


def check_sources(source_dir, handler_path):
    """Fails on a syntax error in any source file, or a handler module without `handle`,
    before the slow part of the build."""
    for root, dirs, files in os.walk(source_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for file in sorted(files):
            if file.endswith(".py"):
                _parse(os.path.join(root, file))
    tree = _parse(handler_path)
    binding = _top_level(tree.body).get("handle")
    if binding is None:
        raise BuildError(f"{_shown(handler_path)}: no function handle(event) at top level")
    if isinstance(binding, ast.AsyncFunctionDef):
        raise BuildError(
            f"{_shown(handler_path)}:{binding.lineno}: handle is async; hookhost calls it "
            "synchronously, so define it with plain def"
        )


def _parse(path):
    with open(path, "rb") as f:
        source = f.read()
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as e:
        where = f"{_shown(path)}:{e.lineno}" + (f":{e.offset}" if e.offset else "")
        text = f"\n    {e.text.rstrip()}" if e.text and e.text.strip() else ""
        raise BuildError(f"{where}: SyntaxError: {e.msg}{text}") from None


def _top_level(statements):
    """{name: the statement binding it} for the names a module binds at top level."""
    names = {}
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                names.update(_top_level(getattr(node, block, [])))
            for handler in getattr(node, "handlers", []):
                names.update(_top_level(handler.body))
    return names


def install_dependencies(project_dir, dependencies):
    """The directory holding the dependencies, installed when the list changed; None without any."""
    deps_dir = os.path.join(project_dir, "build", "deps")
    if not dependencies:
        shutil.rmtree(deps_dir, ignore_errors=True)
        return None
    stamp_path = os.path.join(deps_dir, ".hookhost-deps.json")
    wanted = {"python": GUEST_PYTHON, "dependencies": dependencies}
    try:
        with open(stamp_path) as f:
            if json.load(f) == wanted:
                return deps_dir
    except (OSError, ValueError):
        pass
    print(f"installing {', '.join(dependencies)} from PyPI into {_shown(deps_dir)}", file=sys.stderr)
    shutil.rmtree(deps_dir, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", deps_dir,
        # Wheels for any platform, for the component's Python: pure Python only.
        "--only-binary=:all:", "--platform", "any", "--implementation", "py",
        "--abi", "none", "--python-version", GUEST_PYTHON,
        "--", *dependencies,
    ]
    if subprocess.run(command).returncode != 0:
        shutil.rmtree(deps_dir, ignore_errors=True)
        raise BuildError(
            "pip could not install the dependencies (above); a component can only use "
            f"pure-Python packages published as wheels for Python {GUEST_PYTHON}"
        )
    with open(stamp_path, "w") as f:
        json.dump(wanted, f)
    return deps_dir


def app_source(module, display_prefixes):
    """The entry point module componentize-py wraps: it binds the SDK to the
    host and hands each event to `module`'s handle."""
    return f'''"""The component's entry point, written by hookhost's build.py: do not edit."""

import sys

# The build's Python path is the author's project and the SDK: leave no bytecode there.
sys.dont_write_bytecode = True

import wit_world  # noqa: E402
from hookhost_sdk import _app  # noqa: E402

import {module} as _handler  # noqa: E402

WitWorld = _app.entry_point(wit_world.WitWorld, _handler, {display_prefixes!r})
'''


def python_path(project_dir, source_dir, deps_dir):
    """(directories for componentize-py, {each as the component sees it: as tracebacks show it})."""
    directories = [os.path.join(project_dir, "build", "app"), source_dir, SDK_DIR]
    if deps_dir:
        directories.append(deps_dir)
    prefixes = {}
    for index, directory in enumerate(directories):
        shown = os.path.relpath(directory, project_dir).replace(os.sep, "/")
        prefixes[f"/{index}/"] = "" if shown == "." else shown + "/"
    return directories, prefixes


def componentize(wit_dir, directories, prefixes, output):
    try:
        import componentize_py
    except ImportError:
        raise BuildError(
            f"componentize-py is not installed for {sys.executable}: "
            f"pip install componentize-py=={COMPONENTIZE_PY}"
        ) from None
    partial = output + ".partial"
    try:
        componentize_py.componentize(
            wit_path=[wit_dir], worlds=[WORLD], features=[], all_features=False,
            world_module=None, python_path=directories, module_worlds=[],
            app_name=APP_MODULE, output_path=partial, stub_wasi=False,
            import_interface_names=[], export_interface_names=[], full_names=False,
            intersect_world=None,
        )
    except AssertionError as e:
        # The component's own output at build time (a traceback, say), then
        # componentize-py's causes and backtrace: keep what the author can
        # act on, in the author's paths.
        message = str(e).split("\nStack backtrace:")[0]
        if "Traceback (most recent call last):" in message:
            message = message.split("\nCaused by:")[0]
        message = message.rstrip()
        for prefix, shown in prefixes.items():
            message = message.replace(f'"{prefix}', f'"{shown}')
        if os.path.exists(partial):
            os.remove(partial)
        raise BuildError(f"componentize-py failed:\n{message}") from None
    os.replace(partial, output)


def build(wit_dir, project_dir):
    """Builds the project; returns the component's path."""
    started = time.monotonic()
    name, module, dependencies = read_project(project_dir)
    source_dir, handler_path = find_handler(project_dir, module)
    check_sources(source_dir, handler_path)
    deps_dir = install_dependencies(project_dir, dependencies)
    directories, prefixes = python_path(project_dir, source_dir, deps_dir)
    os.makedirs(directories[0], exist_ok=True)
    with open(os.path.join(directories[0], APP_MODULE + ".py"), "w") as f:
        f.write(app_source(module, prefixes))
    os.makedirs(os.path.join(project_dir, "dist"), exist_ok=True)
    output = os.path.join(project_dir, "dist", name + ".wasm")
    componentize(os.path.abspath(wit_dir), directories, prefixes, output)
    size = os.path.getsize(output) / 1e6
    print(f"built {_shown(output)} ({size:.1f} MB) in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return output


def _shown(path):
    return os.path.relpath(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build a hookhost Python handler into a component.")
    parser.add_argument("--wit", required=True, help="the directory of the hookhost WIT world")
    parser.add_argument("project", help="the directory holding pyproject.toml")
    args = parser.parse_args(argv)
    try:
        build(args.wit, os.path.abspath(args.project))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

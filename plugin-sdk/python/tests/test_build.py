"""build.py's checks and the entry point it writes, without running componentize-py."""

import os
import tempfile
import textwrap
import unittest

import support  # noqa: F401  (puts the SDK on the path)
import build
from build import BuildError


def project(files):
    """A project directory holding `files` ({relative path: text})."""
    directory = tempfile.mkdtemp()
    for path, text in files.items():
        full = os.path.join(directory, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(textwrap.dedent(text))
    return directory


PYPROJECT = '[project]\nname = "demo"\n'


class Project(unittest.TestCase):
    def test_name_handler_and_dependencies_come_from_pyproject(self):
        directory = project({"pyproject.toml": """\
            [project]
            name = "demo"
            dependencies = ["python-dateutil==2.9.0.post0"]

            [tool.hookhost]
            sdk = "../sdk"
            handler = "app.main"
            """})
        self.assertEqual(build.read_project(directory), ("demo", "app.main", ["python-dateutil==2.9.0.post0"]))

    def test_the_handler_module_defaults_to_handler(self):
        self.assertEqual(build.read_project(project({"pyproject.toml": PYPROJECT})), ("demo", "handler", []))

    def test_a_project_without_a_name_is_refused(self):
        directory = project({"pyproject.toml": "[project]\nversion = '1'\n"})
        with self.assertRaisesRegex(BuildError, r"pyproject.toml: \[project\] has no name"):
            build.read_project(directory)

    def test_the_handler_is_found_in_the_project_or_its_src(self):
        flat = project({"handler.py": "def handle(event): pass\n"})
        self.assertEqual(build.find_handler(flat, "handler"), (flat, os.path.join(flat, "handler.py")))
        nested = project({"src/app/main.py": "def handle(event): pass\n"})
        self.assertEqual(
            build.find_handler(nested, "app.main"),
            (os.path.join(nested, "src"), os.path.join(nested, "src", "app", "main.py")),
        )
        with self.assertRaisesRegex(BuildError, "no module 'handler' in"):
            build.find_handler(project({}), "handler")


class SourceChecks(unittest.TestCase):
    def check(self, files):
        directory = project(files)
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(directory)  # build errors name files relative to the working directory
        build.check_sources(directory, os.path.join(directory, "handler.py"))

    def test_a_syntax_error_names_the_file_and_line(self):
        with self.assertRaises(BuildError) as caught:
            self.check({
                "handler.py": "from util import go\n\ndef handle(event):\n    go()\n",
                "util.py": "def go():\n    return [1,\n\ndef other(:\n    pass\n",
            })
        self.assertRegex(str(caught.exception), r"^util\.py:4:\d+: SyntaxError: ")

    def test_a_handler_module_without_handle_is_refused(self):
        with self.assertRaisesRegex(BuildError, r"^handler\.py: no function handle\(event\) at top level$"):
            self.check({"handler.py": "def handler(event):\n    pass\n"})

    def test_an_async_handle_is_refused(self):
        with self.assertRaisesRegex(BuildError, r"^handler\.py:1: handle is async"):
            self.check({"handler.py": "async def handle(event):\n    pass\n"})

    def test_handle_may_be_imported_or_assigned(self):
        self.check({"handler.py": "from impl import handle\n", "impl.py": "def handle(event): pass\n"})
        self.check({"handler.py": "import impl\nhandle = impl.run\n", "impl.py": "def run(event): pass\n"})

    def test_build_output_and_hidden_directories_are_not_checked(self):
        self.check({
            "handler.py": "def handle(event): pass\n",
            "build/deps/broken.py": "def (:\n",
            ".venv/broken.py": "def (:\n",
        })


class EntryPoint(unittest.TestCase):
    def test_tracebacks_show_paths_relative_to_the_project(self):
        directory = project({})
        directories, prefixes = build.python_path(directory, os.path.join(directory, "src"), None)
        self.assertEqual(directories[1:], [os.path.join(directory, "src"), build.SDK_DIR])
        self.assertEqual(prefixes["/1/"], "src/")
        self.assertTrue(prefixes["/2/"].endswith("/"))
        _, prefixes = build.python_path(directory, directory, os.path.join(directory, "build", "deps"))
        self.assertEqual((prefixes["/1/"], prefixes["/3/"]), ("", "build/deps/"))

    def test_the_entry_point_imports_the_handler_and_hands_it_to_the_sdk(self):
        source = build.app_source("app.main", {"/1/": "src/"})
        compile(source, "hookhost_app.py", "exec")
        self.assertIn("import app.main as _handler", source)
        self.assertIn("_app.entry_point(wit_world.WitWorld, _handler, {'/1/': 'src/'})", source)


if __name__ == "__main__":
    unittest.main()

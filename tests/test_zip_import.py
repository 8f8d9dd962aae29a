"""pigw.zip_import: from a built pigw.pyz each module is compiled once, with zipimport's names, data and sources."""

import os
import subprocess
import sys
import tempfile
import unittest

import build_zipapp
from pigw import zip_import

# Imports from the zip at argv[1] with the finder installed, counting compiles per file name.
PROBE = """
import builtins, linecache, os, pkgutil, sys
compiled = []
original = builtins.compile
def counting(source, filename, *args, **kwargs):
    compiled.append(filename)
    return original(source, filename, *args, **kwargs)
builtins.compile = counting
pyz = sys.argv[1]
sys.path.insert(0, pyz)
from pigw import zip_import
zip_import.install()
zip_import.install()
from pigw.net import http
from pigw import registry
print(type(http.__loader__).__name__, http.__name__, http.__package__)
counts = [compiled.count(module.__file__) for module in (http, registry)]
print(http.__file__ == os.path.join(pyz, "pigw", "net", "http.py"), counts)
import pigw.net
print(pigw.net.__path__ == [os.path.join(pyz, "pigw", "net")], pigw.net.__file__.endswith("__init__.py"))
print(len(pkgutil.get_data("pigw", "data/catalog.json")) > 10000)
print(repr(linecache.getline(http.__file__, 1, http.__dict__)[:3]))
print(sum(isinstance(f, zip_import.ZipSourceFinder) for f in sys.meta_path))
try:
    import pigw.no_such_module
except ModuleNotFoundError as error:
    print(error.name)
"""


class ZipImport(unittest.TestCase):
    def test_modules_from_the_built_zip_are_compiled_once(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            pyz = build_zipapp.build(os.path.join(folder, "pigw.pyz"))
            done = subprocess.run(
                [sys.executable, "-c", PROBE, pyz], capture_output=True, text=True, timeout=60, cwd=folder
            )
        self.assertEqual(done.stderr, "")
        self.assertEqual(
            done.stdout.splitlines(),
            [
                "ZipSourceFinder pigw.net.http pigw.net",
                "True [1, 1]",
                "True True",
                "True",
                '\'"""\'',
                "1",
                "pigw.no_such_module",
            ],
        )

    def test_install_does_nothing_outside_a_zip(self) -> None:
        before = list(sys.meta_path)
        zip_import.install()  # this pigw comes from the checkout
        self.assertEqual(sys.meta_path, before)


if __name__ == "__main__":
    unittest.main()

"""The runtime imports nothing but the standard library and pigw itself."""

import ast
import importlib.util
import os
import sys
import sysconfig
import unittest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pigw")


def imported_modules():
    for directory, _subdirectories, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    tree = ast.parse(handle.read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        for alias in node.names:
                            yield path, alias.name.split(".")[0]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        yield path, node.module.split(".")[0]


def is_stdlib(module: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return module in names
    if module in sys.builtin_module_names:
        return True
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    if spec.origin == "frozen":  # zipimport on 3.8 and 3.9
        return True
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    origin = os.path.realpath(spec.origin)
    return origin.startswith(stdlib + os.sep) and "site-packages" not in origin


class StdlibOnly(unittest.TestCase):
    def test_every_runtime_import_is_stdlib_or_pigw(self) -> None:
        offenders = sorted(
            {
                "%s imports %s" % (os.path.relpath(path, PACKAGE), module)
                for path, module in imported_modules()
                if module not in ("pigw", "__future__") and not is_stdlib(module)
            }
        )
        self.assertEqual(offenders, [])

    def test_checker_catches_a_third_party_import(self) -> None:
        self.assertFalse(is_stdlib("openai_does_not_exist"))
        self.assertTrue(is_stdlib("json"))
        self.assertTrue(is_stdlib("zipimport"))


if __name__ == "__main__":
    unittest.main()

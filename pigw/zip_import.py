"""Importing pigw's own modules from pigw.pyz with one compile each, instead of zipimport's two.

A .pyz holds only source (bytecode would fit one Python version), and zipimport compiles a source
module twice: once to name its file for the module spec, once to run it. Compiling is most of
pigw's start-up time, so ``pigw.pyz``'s ``__main__`` calls ``install`` first: a finder ahead of the
others on ``sys.meta_path`` names the file from the zip's table of contents and compiles once.
Modules, ``__file__``, ``__path__``, ``pkgutil.get_data`` and tracebacks' source lines are as
zipimport gives them. Run from a directory (``python -m pigw``), ``install`` does nothing.
"""

import importlib.util
import os
import sys
import zipimport
from typing import Any, Dict, Optional

PACKAGE = "pigw"


class ZipSourceFinder:
    """Finder and loader of ``pigw`` and its submodules in the zip at ``archive``; others are not its business."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self._importers: Dict[str, zipimport.zipimporter] = {}  # package -> zipimporter of its directory

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[Any]:
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        try:
            is_package = self.is_package(fullname)
        except zipimport.ZipImportError:  # not in the zip: the usual finders say what there is
            return None
        where = self._path(fullname)
        return importlib.util.spec_from_file_location(
            fullname,
            where + os.sep + "__init__.py" if is_package else where + ".py",
            loader=self,  # type: ignore[arg-type]
            submodule_search_locations=[where] if is_package else None,
        )

    def create_module(self, spec: Any) -> None:
        return None  # the default module

    def exec_module(self, module: Any) -> None:
        origin = module.__spec__.origin
        exec(compile(self.get_data(origin), origin, "exec", dont_inherit=True), module.__dict__)

    def get_data(self, path: str) -> bytes:
        """A file of the zip by its full path (``pkgutil.get_data`` reads pigw's data through this)."""
        return self._importer("").get_data(path)

    def get_source(self, fullname: str) -> Optional[str]:
        return self._importer(fullname.rpartition(".")[0]).get_source(fullname)

    def is_package(self, fullname: str) -> bool:
        return self._importer(fullname.rpartition(".")[0]).is_package(fullname)

    def _importer(self, package: str) -> zipimport.zipimporter:
        """The zipimporter of a package's directory (zipimport finds a module by its last name only)."""
        importer = self._importers.get(package)
        if importer is None:
            importer = self._importers[package] = zipimport.zipimporter(self._path(package))
        return importer

    def _path(self, dotted: str) -> str:
        """The path in the zip of a module or package name ("" for the zip itself), as zipimport spells it."""
        return os.sep.join([self.archive] + dotted.split(".")) if dotted else self.archive


def install() -> None:
    """Put a ZipSourceFinder first on sys.meta_path when pigw was imported from a zip; else nothing."""
    package = sys.modules[PACKAGE]
    if not isinstance(getattr(package, "__loader__", None), zipimport.zipimporter):
        return
    archive = os.path.dirname(os.path.dirname(package.__file__ or ""))
    if not any(isinstance(finder, ZipSourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, ZipSourceFinder(archive))  # type: ignore[arg-type]

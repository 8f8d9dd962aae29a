"""Builds dist/pigw.pyz: the `pigw` package and its data in one zip that `python pigw.pyz` runs.

Reproducible: files are added in sorted order with a fixed timestamp and mode, so the same
sources always give the same bytes. Usage: python build_zipapp.py [--output PATH]
"""

import argparse
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "pigw"
SHEBANG = b"#!/usr/bin/env python3\n"
# pigw.zip_import first: from then on each of pigw's modules is compiled once, not twice (see there).
MAIN = (
    b"import sys\n\nfrom pigw import zip_import\n\nzip_import.install()\n\n"
    b"from pigw.cli import main\n\nsys.exit(main())\n"
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
INCLUDED = (".py", ".json")


def build(output: str) -> str:
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    temporary = output + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(SHEBANG)
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            _add(archive, "__main__.py", MAIN)
            for relative in _package_files():
                with open(os.path.join(ROOT, relative), "rb") as source:
                    _add(archive, relative.replace(os.sep, "/"), source.read())
    os.chmod(temporary, 0o755)
    os.replace(temporary, output)
    return output


def _package_files():
    found = []
    for directory, subdirectories, files in os.walk(os.path.join(ROOT, PACKAGE)):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        for name in files:
            if name.endswith(INCLUDED):
                found.append(os.path.relpath(os.path.join(directory, name), ROOT))
    return sorted(found)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=9)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(ROOT, "dist", "pigw.pyz"))
    path = build(parser.parse_args().output)
    sys.stdout.write("built %s (%d bytes)\n" % (os.path.relpath(path), os.path.getsize(path)))

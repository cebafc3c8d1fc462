"""Builds a Python wasmtrace plugin into a component and stamps its identity.

    python -m wasmtrace.build app -o app.wasm [--name NAME] [--version VERSION]
                              [--wit DIR] [--world WORLD] [--http] [-p PATH]...

It runs ``componentize-py -d WIT -w WORLD componentize APP -p APP_DIR -p SDK
-o OUT`` (the app's directory and this SDK on the Python path), then appends
the ``wasmtrace-plugin`` custom section (``name@version``, the identity the
host names the ``invoke`` span and the instrumentation scope after). Name
and version default to the ``[project]`` table of the ``pyproject.toml``
next to the app (or in a parent directory).

Defaults: the WIT shipped with this package (``wasmtrace/wit``, or the
repository's ``wit/``), world ``wasmtrace:plugin/plugin``. ``--http`` builds
an HTTP service for ``wasmtrace serve``: world
``wasmtrace:http-plugin/http-plugin`` (``wit/http``: ``wasi:http/proxy``
plus the wasmtrace imports); the app then defines ``IncomingHandler``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

SECTION = "wasmtrace-plugin"
PLUGIN_WORLD = "wasmtrace:plugin/plugin"
HTTP_WORLD = "wasmtrace:http-plugin/http-plugin"

_SDK_ROOT = Path(__file__).resolve().parent.parent


def default_wit() -> Path:
    """The WIT this SDK builds against: bundled, else the repository's."""
    bundled = Path(__file__).resolve().parent / "wit"
    return bundled if bundled.is_dir() else _SDK_ROOT.parent / "wit"


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def with_custom_section(component: bytes, name: str, payload: bytes) -> bytes:
    """``component`` with a custom section appended (a component may carry
    custom sections anywhere at its top level)."""
    name_bytes = name.encode("utf-8")
    body = _leb128(len(name_bytes)) + name_bytes + payload
    return component + b"\x00" + _leb128(len(body)) + body


def stamp(component: bytes, name: str, version: str) -> bytes:
    """Stamps ``name@version`` as the plugin's identity."""
    if not name or not version:
        raise ValueError("a plugin identity needs a name and a version")
    return with_custom_section(component, SECTION, f"{name}@{version}".encode("utf-8"))


def project_identity(start: Path) -> Tuple[Optional[str], Optional[str]]:
    """``[project]`` name and version of the nearest ``pyproject.toml``."""
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            project = tomllib.loads(candidate.read_text("utf-8")).get("project", {})
            return project.get("name"), project.get("version")
    return None, None


def _http_wit(wit: Path, into: Path) -> Path:
    """``wit/http`` laid out with the plugin and telemetry packages and the
    WASI ones as its dependencies, in one directory."""
    out = into / "wit"
    shutil.copytree(wit / "http", out)
    shutil.copytree(wit / "deps", out / "deps", dirs_exist_ok=True)
    shutil.copy(wit / "plugin.wit", out / "deps" / "plugin.wit")
    return out


def build(
    app: str,
    out: Path,
    *,
    app_dir: Path,
    name: Optional[str] = None,
    version: Optional[str] = None,
    wit: Optional[Path] = None,
    world: Optional[str] = None,
    http: bool = False,
    python_path: Sequence[Path] = (),
) -> Tuple[str, str, int, float]:
    """Builds module ``app`` of ``app_dir`` into ``out``; returns the
    identity, the component's size and the build's seconds."""
    found_name, found_version = project_identity(app_dir.resolve())
    name = name or found_name
    version = version or found_version
    if not name or not version:
        raise SystemExit("error: no --name/--version and no pyproject.toml with [project] name and version")
    componentize = shutil.which("componentize-py")
    if componentize is None:
        raise SystemExit("error: componentize-py is not installed (python3 -m pip install componentize-py==0.25.1)")
    wit = wit or default_wit()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wasmtrace-build-") as work:
        wit_path = _http_wit(wit, Path(work)) if http else wit
        raw = Path(work) / "component.wasm"
        cmd: List[str] = [
            componentize,
            "-d",
            str(wit_path),
            "-w",
            world or (HTTP_WORLD if http else PLUGIN_WORLD),
            "componentize",
            app,
            "-p",
            str(app_dir),
            "-p",
            str(_SDK_ROOT),
        ]
        for path in python_path:
            cmd += ["-p", str(path)]
        cmd += ["-o", str(raw)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"error: componentize-py failed ({result.returncode})")
        component = raw.read_bytes()
    out.write_bytes(stamp(component, name, version))
    return name, version, len(component), time.monotonic() - started


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wasmtrace.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="the app module (e.g. `app` for app.py), or a path to its .py file")
    parser.add_argument("-o", "--out", required=True, type=Path, help="the component to write")
    parser.add_argument("--name", help="the plugin's name (default: pyproject.toml's)")
    parser.add_argument("--version", help="the plugin's version (default: pyproject.toml's)")
    parser.add_argument("--wit", type=Path, help="the WIT directory (default: the SDK's)")
    parser.add_argument("--world", help=f"the world (default {PLUGIN_WORLD}, or {HTTP_WORLD} with --http)")
    parser.add_argument("--http", action="store_true", help="an HTTP service for `wasmtrace serve`")
    parser.add_argument("-p", "--python-path", action="append", type=Path, default=[], help="more module directories")
    args = parser.parse_args(argv)

    app = Path(args.app)
    if app.suffix == ".py":
        app_dir, module = app.resolve().parent, app.stem
    else:
        app_dir, module = Path.cwd(), args.app
    name, version, size, seconds = build(
        module,
        args.out,
        app_dir=app_dir,
        name=args.name,
        version=args.version,
        wit=args.wit,
        world=args.world,
        http=args.http,
        python_path=args.python_path,
    )
    print(f"{args.out}: {name}@{version}, {size} bytes in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Every version and checksum the browser bundle is made of, in one place.

To move to a new version, change it here and set its ``sha256`` to ``""``: the next
``tracker build`` downloads it, prints the checksum it computed, and stops until the
checksum is pinned here. A download that does not match its pin is deleted and the
build fails, so the bundle is the same bytes on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NpmPin:
    """A tarball from the npm registry (``npm pack NAME@VERSION``)."""

    name: str
    version: str
    sha256: str  # of the .tgz that npm pack writes

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        # npm pack names scoped packages "scope-name-version.tgz" without the "@".
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


@dataclass(frozen=True)
class WheelPin:
    """A wheel from PyPI, as Pyodide's lock file describes it."""

    name: str  # the key and "name" in pyodide-lock.json (as Pyodide's own lock spells it)
    version: str
    file_name: str
    sha256: str
    imports: tuple[str, ...]
    depends: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


PYODIDE = NpmPin(
    name="pyodide",
    version="314.0.7",
    sha256="66b7949e5a0cba2250b586d7e368bf12fb482800748d182c4618254b685ffaa0",
)

# The files loadPyodide() fetches from indexURL. Pyodide's own pyodide-lock.json is read
# from the tarball (for its "info" block) but not shipped: the bundle has its own lock.
PYODIDE_RUNTIME_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
)
PYODIDE_UPSTREAM_LOCK = "pyodide-lock.json"

PYSCRIPT = NpmPin(
    name="@pyscript/core",
    version="0.7.31",
    sha256="b2ca1a0c0956aebd990a7c8524cca1eb061444a8319a7264d2f31ef30bea276a",
)

# Wheels that Pyodide 314 can load: CPython 3.14 and the pyemscripten 2026_0 ABI.
WHEEL_PLATFORM = "pyemscripten_2026_0_wasm32"
WHEEL_PYTHON_VERSION = "3.14"

WHEELS = (
    WheelPin(
        name="pydantic",
        version="2.14.4",
        file_name="pydantic-2.14.4-py3-none-any.whl",
        sha256="653a2ad9f6d8858529c77c72717d0ea991d6c6837fe683246b2f4b2bbfc3fadc",
        imports=("pydantic",),
        depends=("typing-extensions", "pydantic_core", "annotated-types", "typing-inspection"),
    ),
    WheelPin(
        # pydantic pins pydantic-core exactly: the two move together.
        name="pydantic_core",
        version="2.50.5",
        file_name="pydantic_core-2.50.5-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        sha256="b2910ec0fa5aeb9bef70156f2b79f4783978fdcfaa7b2f1b5d1814458d2e79a1",
        imports=("pydantic_core",),
        depends=("typing-extensions",),
    ),
    WheelPin(
        name="typing-extensions",
        version="4.16.0",
        file_name="typing_extensions-4.16.0-py3-none-any.whl",
        sha256="481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8",
        imports=("typing_extensions",),
    ),
    WheelPin(
        name="annotated-types",
        version="0.8.0",
        file_name="annotated_types-0.8.0-py3-none-any.whl",
        sha256="f072f4d804ea359e4eaf198b1af7a8b0943881a87f31bb764f8bf219bb9419e0",
        imports=("annotated_types",),
    ),
    WheelPin(
        name="typing-inspection",
        version="0.4.5",
        file_name="typing_inspection-0.4.5-py3-none-any.whl",
        sha256="bc210535442b39e1bf2805e0c7a17dfd6a4ace760c84c7f7d16245d23a6b1c39",
        imports=("typing_inspection",),
        depends=("typing-extensions",),
    ),
)

# The static demo's in-page server (tracker demo --static): the pure-Python wheels that
# tracker.server and tracker.demo import, the versions the server is tested with.
SERVER_WHEELS = (
    WheelPin(
        name="starlette",
        version="1.10.0",
        file_name="starlette-1.10.0-py3-none-any.whl",
        sha256="478c0ab3b4ced6e82719849c118fa406f0278a3499c1a898cd15cd31bdc38ce4",
        imports=("starlette",),
    ),
    WheelPin(
        name="anyio",
        version="4.16.0",
        file_name="anyio-4.16.0-py3-none-any.whl",
        sha256="c66ae634e0b8228396b801741beb3294326d4b6102f7bba4041c0dfb58c29026",
        imports=("anyio",),
    ),
    WheelPin(
        name="idna",
        version="3.20",
        file_name="idna-3.20-py3-none-any.whl",
        sha256="ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c",
        imports=("idna",),
    ),
    WheelPin(
        name="httpx",
        version="0.29.0",
        file_name="httpx-0.29.0-py3-none-any.whl",
        sha256="6734dcf742ced6e8018e45d3f9f7728975b6b3e1085a24f3e2c056069d858bd1",
        imports=("httpx",),
    ),
    WheelPin(
        name="httpcore",
        version="1.0.9",
        file_name="httpcore-1.0.9-py3-none-any.whl",
        sha256="2d400746a40668fc9dec9810239072b40b4484b640a8c38fd654a024c7a1bf55",
        imports=("httpcore",),
    ),
    WheelPin(
        name="h11",
        version="0.16.0",
        file_name="h11-0.16.0-py3-none-any.whl",
        sha256="63cf8bbe7522de3bf65932fda1d9c2772064ffb3dae62d55932da54b31cb6c86",
        imports=("h11",),
    ),
    WheelPin(
        name="certifi",
        version="2026.10.19.post1",
        file_name="certifi-2026.10.19.post1-py3-none-any.whl",
        sha256="1324c476b4811eff41a8bc2122cd0bbd4d9c7234c725446d99ab1612b3a7fdd2",
        imports=("certifi",),
    ),
    WheelPin(
        name="itsdangerous",
        version="2.2.0",
        file_name="itsdangerous-2.2.0-py3-none-any.whl",
        sha256="c6242fc49e35958c8b15141343aa660db5fc54d4f13a1db01a3f5891b98700ef",
        imports=("itsdangerous",),
    ),
    WheelPin(
        # zoneinfo's time zones: Pyodide has no /usr/share/zoneinfo.
        name="tzdata",
        version="2026.6",
        file_name="tzdata-2026.6-py2.py3-none-any.whl",
        sha256="0a10eec6e13ef16b627fabed9a5f2ba61a62b1c67f327305f4e7e412a70b4aec",
        imports=("tzdata",),
    ),
)

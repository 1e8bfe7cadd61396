"""Builds and installs the `popalign` Python package offline:

    /usr/bin/python3 -m venv --system-site-packages venv
    venv/bin/pip install --no-build-isolation --no-index python/

The extension (popalign._core) is built by the project's CMake (the repository root is this
file's parent directory) with POPALIGN_BUILD_PYTHON=ON and tests, benchmarks and examples off;
the build directory is POPALIGN_BUILD_TEMP when set, else setuptools' build_temp. pip builds
in place (python/build, python/popalign.egg-info); to keep the checkout clean, copy python/
elsewhere and set POPALIGN_SOURCE_DIR to the repository root. ccache is used
when it is installed. Needs cmake, a C++20 compiler, pybind11-dev and the library's Debian
packages (scripts/deps.sh --build).
"""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# The repository root; POPALIGN_SOURCE_DIR when this directory was copied elsewhere to build.
ROOT = os.environ.get("POPALIGN_SOURCE_DIR") or os.path.dirname(HERE)


def version():
    parts = {}
    with open(os.path.join(ROOT, "include", "popalign", "version.hpp")) as f:
        for line in f:
            for key in ("MAJOR", "MINOR", "PATCH"):
                tag = f"#define POPALIGN_VERSION_{key} "
                if line.startswith(tag):
                    parts[key] = line[len(tag):].strip()
    return f"{parts['MAJOR']}.{parts['MINOR']}.{parts['PATCH']}"


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.environ.get("POPALIGN_BUILD_TEMP") or os.path.join(
            os.path.abspath(self.build_temp), "cmake")
        os.makedirs(build_dir, exist_ok=True)
        args = [
            "cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython_EXECUTABLE={sys.executable}", "-DPOPALIGN_BUILD_PYTHON=ON",
            "-DPOPALIGN_BUILD_TESTS=OFF", "-DPOPALIGN_BUILD_BENCHMARKS=OFF",
            "-DPOPALIGN_BUILD_EXAMPLES=OFF", "-DPOPALIGN_INSTALL=OFF",
        ]
        if shutil.which("ninja"):
            args += ["-G", "Ninja"]
        if shutil.which("ccache") and "CMAKE_CXX_COMPILER_LAUNCHER" not in os.environ:
            args += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        subprocess.check_call(args)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "popalign_python",
                               "-j", jobs])
        built = os.path.join(build_dir, "python", "popalign")
        target = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(built):
            if name.startswith("_core") and name.endswith(".so"):
                shutil.copy2(os.path.join(built, name), os.path.join(target, name))


setup(
    name="popalign",
    version=version(),
    description="Population-aligned persona sets for LLM social simulation",
    license="MIT",
    packages=["popalign"],
    package_dir={"popalign": "popalign"},
    package_data={"popalign": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("popalign._core")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.8",
    install_requires=["numpy"],
    extras_require={"pandas": ["pandas"]},
    zip_safe=False,
)

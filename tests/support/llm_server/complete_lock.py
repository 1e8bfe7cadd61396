#!/usr/bin/env python3
"""Adds the lock entries of node-llama-cpp's prebuilt-binary packages for other platforms.

`npm install` on linux-x64 against a registry that serves only the linux packages writes a
package-lock.json without the darwin/win32/riscv64 optional packages, and `npm ci` then refuses
the lock as "not in sync". With these entries (os/cpu set, so npm skips them on this platform)
`npm ci` works. Run after regenerating the lock:  python3 complete_lock.py
"""
import json
import pathlib

LOCK = pathlib.Path(__file__).with_name("package-lock.json")
PLATFORMS = {
    "linux-riscv64": (["linux"], ["riscv64"]),
    "mac-arm64-metal": (["darwin"], ["arm64"]),
    "mac-x64": (["darwin"], ["x64"]),
    "win-arm64": (["win32"], ["arm64"]),
    "win-x64": (["win32"], ["x64"]),
    "win-x64-cuda": (["win32"], ["x64"]),
    "win-x64-cuda-ext": (["win32"], ["x64"]),
    "win-x64-vulkan": (["win32"], ["x64"]),
}

lock = json.loads(LOCK.read_text())
packages = lock["packages"]
version = packages["node_modules/node-llama-cpp"]["version"]
for name, (os_, cpu) in PLATFORMS.items():
    key = f"node_modules/@node-llama-cpp/{name}"
    packages.setdefault(key, {
        "version": version,
        "resolved": f"https://registry.npmjs.org/@node-llama-cpp/{name}/-/{name}-{version}.tgz",
        "cpu": cpu, "license": "MIT", "optional": True, "os": os_,
    })
lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
LOCK.write_text(json.dumps(lock, indent=2) + "\n")

#!/usr/bin/env python3
"""The declared MSRV is true of the dependency graph: no locked package
(normal, build or dev dependency) declares a rust-version above the
workspace's. Reads `cargo metadata`; exit 1 and name them otherwise."""
import json
import subprocess
import sys


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
members = set(meta["workspace_members"])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"the workspace crates declare rust-version {sorted(map(str, ours))}: one, inherited")
msrv = ours.pop()
above = sorted(
    f"{p['name']} {p['version']} needs {p['rust_version']}"
    for p in meta["packages"]
    if p["id"] not in members
    and p.get("rust_version")
    and version(p["rust_version"]) > version(msrv)
)
if above:
    print(f"rust-version {msrv} is below what locked dependencies declare:")
    print("\n".join("  " + a for a in above))
    sys.exit(1)
print(f"rust-version {msrv}: no locked dependency declares a newer one")

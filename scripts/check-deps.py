#!/usr/bin/env python3
"""Checks the crate boundaries: only divoc-store depends on diesel and only
divoc-server on actix-web, directly or through another crate."""

import json
import subprocess
import sys

DATABASE = {"diesel", "diesel_migrations", "libsqlite3-sys", "pq-sys", "r2d2"}
WEB = {"actix-web", "actix-http", "actix-server", "actix-rt"}
ALLOWED = {"divoc-store": DATABASE, "divoc-server": WEB}

metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
packages = {package["id"]: package for package in metadata["packages"]}
nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
members = {packages[member]["name"]: member for member in metadata["workspace_members"]}


def normal_dependencies(node_id):
    """Ids of the normal and build dependencies of a package (no dev-dependencies)."""
    for dependency in nodes[node_id]["deps"]:
        kinds = {kind["kind"] for kind in dependency["dep_kinds"]}
        if kinds & {None, "build"}:
            yield dependency["pkg"]


def reachable(start, through_members):
    """Names of every package reachable from `start`, not walking into `through_members`."""
    seen, stack, names = set(), [start], set()
    while stack:
        current = stack.pop()
        for dependency in normal_dependencies(current):
            if dependency in seen:
                continue
            seen.add(dependency)
            name = packages[dependency]["name"]
            names.add(name)
            if name not in through_members:
                stack.append(dependency)
    return names


failures = []
for name, member_id in sorted(members.items()):
    # A crate may reach the database or the web stack only through the crate that owns it.
    owners = {owner for owner in ALLOWED if owner != name}
    found = reachable(member_id, owners)
    forbidden = (DATABASE | WEB) - ALLOWED.get(name, set())
    bad = sorted(found & forbidden)
    if bad:
        failures.append(f"{name} depends on {', '.join(bad)}")

if failures:
    for failure in failures:
        print(f"crate boundary broken: {failure}", file=sys.stderr)
    sys.exit(1)
print(f"crate boundaries hold for {len(members)} workspace members")

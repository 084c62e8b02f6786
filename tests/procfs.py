"""Process trees read from /proc, for tests and the bench that start `kyodo serve` processes."""

from __future__ import annotations

from pathlib import Path


def children() -> dict[int, list[int]]:
    """Every live process's children: parent pid → child pids."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone between the listing and the read
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        found.setdefault(ppid, []).append(int(entry.name))
    return found


def tree(root: int) -> list[int]:
    """`root` and its descendants."""
    parents = children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found

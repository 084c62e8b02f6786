"""Reading py-spy's collapsed stacks (`--format raw`): where the broker's CPU went, by function."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def _function(frame: str) -> str:
    """`render_entity (broker/ngsild/render.py:54)` → `render_entity (broker/ngsild/render.py)`."""
    frame = _LINE.sub(")", frame.strip())
    return re.sub(r"\(.*?/(site-packages|lib/python3\.\d+)/", r"(", frame)


def _package(function: str) -> str:
    """`f (broker/ngsild/render.py)` → `broker/ngsild`; `f (pymongo/pool.py)` → `pymongo`."""
    where = function[function.rfind("(") + 1:-1]
    parts = where.split("/")
    if parts[0] == "broker" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0] if len(parts) > 1 else where


def summarize(path: Path, top: int = 25) -> str:
    """Shares of the sampled time: by package (where the leaf frame is), by function (self), and by
    function including callees (broker code only, where the time goes per step of a request)."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_function(frame) for frame in stack.split(";") if "(" in frame]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        packages[_package(frames[-1])] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "(no samples)"
    out = [f"{total} samples", "", "| self % | package |", "|--:|---|"]
    out += [f"| {count / total * 100:.1f} | `{name}` |" for name, count in packages.most_common(12)]
    out += ["", "| self % | function |", "|--:|---|"]
    out += [f"| {count / total * 100:.1f} | `{name}` |" for name, count in own.most_common(top)]
    out += ["", "| inclusive % | broker function |", "|--:|---|"]
    out += [f"| {count / total * 100:.1f} | `{name}` |" for name, count in inclusive.most_common()
            if "(broker/" in name and "broker/cli.py" not in name][:top]
    return "\n".join(out)

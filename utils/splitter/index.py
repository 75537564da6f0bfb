"""``index.txt`` of a split set: build time and memory estimate per group file (docs/splitter.md).

For a group with L lines of which D are directories:

* build time (s) = L / lines_per_second + base_seconds, printed as Python's
  ``str`` of the float;
* dir% = D / L × 100; bytes per node = the ``bytes_per_node`` entry of the
  first threshold in ``dir_percent_thresholds`` that dir% is below (the last
  entry when none);
* memory (bytes) = (D × nodes_per_dir + base_nodes) × bytes per node, an integer.

The group column holds the name's bytes as they are (like the file name), even
when they are not UTF-8.
"""

from __future__ import annotations

import os
from typing import Mapping

from utils.common.config import SplitterConfig
from utils.splitter.dirswap import private_opener
from utils.splitter.split import GroupCounts

INDEX_NAME = "index.txt"
INDEX_HEADER = ("Group", "Build time (sec)", "Memory use (bytes)")


def build_seconds(counts: GroupCounts, settings: SplitterConfig) -> float:
    return counts.lines / settings.lines_per_second + settings.base_seconds


def bytes_per_node(counts: GroupCounts, settings: SplitterConfig) -> int:
    dir_percent = counts.dirs / counts.lines * 100
    for threshold, size in zip(settings.dir_percent_thresholds, settings.bytes_per_node):
        if dir_percent < threshold:
            return size
    return settings.bytes_per_node[-1]


def memory_bytes(counts: GroupCounts, settings: SplitterConfig) -> int:
    nodes = counts.dirs * settings.nodes_per_dir + settings.base_nodes
    return int(nodes * bytes_per_node(counts, settings))


def index_text(groups: Mapping[str, GroupCounts], settings: SplitterConfig, *, by_gid: bool) -> str:
    """The index: header, then one row per group sorted by label (numerically with ``by_gid``)."""
    order = sorted(groups, key=int) if by_gid else sorted(groups)
    rows = ["\t".join(INDEX_HEADER)]
    for label in order:
        counts = groups[label]
        rows.append(f"{label}\t{build_seconds(counts, settings)}\t{memory_bytes(counts, settings)}")
    return "\n".join(rows) + "\n"


def write_index(directory: str, groups: Mapping[str, GroupCounts], settings: SplitterConfig, *,
                by_gid: bool) -> str:
    """Write (and fsync) ``<directory>/index.txt`` (mode 0600: the set is being built); returns its path."""
    path = os.path.join(directory, INDEX_NAME)
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n",
              opener=private_opener) as handle:
        handle.write(index_text(groups, settings, by_gid=by_gid))
        handle.flush()
        os.fsync(handle.fileno())
    return path

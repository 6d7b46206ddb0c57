"""Where the page writes its runs and which finished runs it opens: folders under set roots only.

A path typed on the page comes from whoever reaches it in a browser (``ecosim-app --host`` can
open it beyond this machine), so it may not reach the rest of the disk:

* a run is written under the page's results directory (``ecosim-app --results``), in a folder of
  its own: the name typed is taken relative to it, and ``..``, ``~``, an absolute path or a
  symbolic link that leads elsewhere is refused;
* a finished run is opened from under one of the runs roots: the results directory, and
  ``results/`` of the folder the page was started in (``ecosim-app --runs-root`` replaces the
  latter).

Paths are resolved (``..`` and links followed) before they are compared with a root, and the
resolved path is the one used afterwards.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ecosim.config import ConfigError


def is_under(path: Path, root: Path, strictly: bool = False) -> bool:
    """Whether the resolved ``path`` lies in the resolved ``root`` (or is it, unless strictly)."""
    path, root = path.resolve(), root.resolve()
    return path.is_relative_to(root) and not (strictly and path == root)


def run_dir_for(name: str, results: Path, source_stem: str = "default") -> Path:
    """The folder a run named ``name`` goes to: a new folder of its own under ``results``.

    A blank name gets ``<date>-<time>-<source_stem>-<id>``.

    Raises:
        ConfigError: ``run name: <name> is not allowed; ...`` when the name leads outside
            ``results`` (``..``, ``~``, an absolute path elsewhere, a link) or is ``results``
            itself.
    """
    root = results.resolve()
    if not name.strip():
        slug = re.sub(r"[^A-Za-z0-9]+", "_", source_stem) or "default"
        return root / f"{time.strftime('%Y-%m-%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:6]}"
    path = (root / Path(name.strip()).expanduser()).resolve()  # an absolute name replaces root
    if not is_under(path, root, strictly=True):
        raise ConfigError("run name", name.strip(), f"expected a folder name under {root} (the "
                          "page writes its runs there only)")
    return path


def openable_run_dir(text: str, roots: Sequence[Path]) -> Path:
    """The directory of a finished run typed as ``text``, if it lies under one of ``roots``.

    A relative path is looked up under each root in turn (the first that has it wins; none:
    the first root's); an absolute one is taken as it is. Whether the folder is a complete run
    is for ``ecosim.report.deck.check_run_dir`` to say.

    Raises:
        ConfigError: ``run directory: <text> is not allowed; ...`` when the path leads outside
            every root.
    """
    typed = Path(text.strip()).expanduser()
    candidates = [(root / typed).resolve() for root in roots]
    path = next((c for c in candidates if c.is_dir()), candidates[0])
    if not any(is_under(path, root) for root in roots):
        where = " or ".join(str(root.resolve()) for root in roots)
        raise ConfigError("run directory", text.strip(), f"expected a folder under {where} "
                          "(ecosim-app --runs-root sets where runs may be opened from)")
    return path


def readable_file(run_dir: Path, name: str) -> Path | None:
    """``run_dir/name`` if it is a file inside ``run_dir`` (a link out of it is not served)."""
    path = run_dir / name
    return path if path.is_file() and is_under(path, run_dir, strictly=True) else None

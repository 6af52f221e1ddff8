"""Where kerasmgr caches generated and decoded audio: ``$KERASMGR_CACHE`` or ``~/.cache/kerasmgr``.

This module owns the cache location only; the embedded dataset and the clip stores write below it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir", "audio_cache_dir"]


def default_cache_dir():
    """``$KERASMGR_CACHE`` or ``~/.cache/kerasmgr``."""
    return Path(os.environ.get("KERASMGR_CACHE", Path.home() / ".cache" / "kerasmgr"))


def audio_cache_dir(root=None):
    """``<root or $KERASMGR_CACHE or ~/.cache/kerasmgr>/audio``: decoded clips of disk-backed stores."""
    return Path(root) / "audio" if root is not None else default_cache_dir() / "audio"

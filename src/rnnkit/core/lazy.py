"""Names of a package that are imported when first used (PEP 562), not when the package is.

Most of rnnkit imports torch; ``import rnnkit``, ``rnnkit --help`` and the torch-free parts (an
exported model's runtime) should not pay for it. A package lists where each public name lives,
and ``exports`` gives it the module-level ``__getattr__`` and ``__dir__`` that import it on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, Callable


def exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose name ``n`` is ``where[n]``'s attribute ``n``
    (``where[n]`` relative to the package, e.g. ``".api"``), or the submodule itself if ``where[n]`` is ``"." + n``."""

    def __getattr__(name: str) -> Any:
        if name not in where:  # a submodule not imported yet (``rnnkit.text.textdata``), as before names were lazy
            if name.startswith("__") or importlib.util.find_spec(f"{package}.{name}") is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return importlib.import_module(f".{name}", package)
        module = importlib.import_module(where[name], package)
        value = module if where[name] == "." + name else getattr(module, name)
        setattr(sys.modules[package], name, value)  # later uses are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__

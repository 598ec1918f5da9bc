"""Which stage each hyperparameter belongs to, declared once on its ``Params`` field.

A method's ``Params`` dataclass declares every field with :func:`pretraining` or
:func:`finetuning` (``mask_ratio: float = pretraining(0.3, fraction)``), with the values it accepts
beside the stage (:mod:`~automl_har.ranges`). A field is a *pre-training* one
when its value changes what pre-training produces (the masked autoencoder's mask ratio, Cosmo's
encoder widths, which are used by both stages); everything else is *fine-tuning*. From this one
declaration come:

- the stage cache keys (:func:`stage_values` of the pre-training fields, plus the data, the seed
  and :func:`method_code_version`), so two trials that differ in fine-tuning fields only share
  one pre-training;
- the fine-tune-only search variant (``--space finetune``: pre-training fields pinned to their
  defaults, see :mod:`automl_har.search_spaces`);
- the search spaces' ``DEFAULTS`` (:func:`paper_defaults`: the ``Params`` defaults, never a copy).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.util
from typing import Any

from automl_har.errors import ConfigError
from automl_har.ranges import VALID_KEY, OneOf, Range

PRETRAIN = "pretrain"
FINETUNE = "finetune"
STAGES = (PRETRAIN, FINETUNE)
_STAGE_KEY = "stage"
#: the package parts whose code a cached stage result depends on (data is keyed by its content hash)
_CODE_PACKAGES = ("automl_har.methods", "automl_har.models")


def pretraining(default: Any, valid: Range | OneOf | None = None) -> Any:
    """A ``Params`` field whose value changes the pre-trained state (its cache key); ``valid``: the
    values the method can run with (:mod:`~automl_har.ranges`)."""
    return dataclasses.field(default=default, metadata={_STAGE_KEY: PRETRAIN, VALID_KEY: valid})


def finetuning(default: Any, valid: Range | OneOf | None = None) -> Any:
    """A ``Params`` field read by fine-tuning (or prediction) only; ``valid`` as for :func:`pretraining`."""
    return dataclasses.field(default=default, metadata={_STAGE_KEY: FINETUNE, VALID_KEY: valid})


def stage_of(params_cls: type, name: str) -> str:
    """The declared stage of field ``name``; a ConfigError when the field declares none."""
    field = {f.name: f for f in dataclasses.fields(params_cls)}[name]
    stage = field.metadata.get(_STAGE_KEY)
    if stage not in STAGES:
        raise ConfigError(f"{params_cls.__name__}.{name} declares no stage; define it with "
                          f"pretraining(default) or finetuning(default)")
    return stage


def stage_names(params_cls: type, stage: str) -> tuple[str, ...]:
    """The fields of ``params_cls`` declared in ``stage``, in declaration order."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    return tuple(f.name for f in dataclasses.fields(params_cls) if stage_of(params_cls, f.name) == stage)


def stage_values(params: Any, stage: str) -> dict[str, Any]:
    """``{name: value}`` of the fields of ``params`` declared in ``stage``."""
    return {name: getattr(params, name) for name in stage_names(type(params), stage)}


def paper_defaults(params_cls: type) -> dict[str, Any]:
    """Every field's default (the paper's values), as declared on ``params_cls``."""
    return {f.name: f.default for f in dataclasses.fields(params_cls)}


@functools.cache
def method_code_version(module_name: str) -> str:
    """A digest of the source of ``module_name`` and of every ``automl_har.methods`` /
    ``automl_har.models`` module it imports, transitively.

    Every stage cache key carries it, so an edited pre-training (or fine-tuning, or network)
    never reuses a result cached by the old code. The digest covers the whole method module: a
    stage's code is not delimited by module, so an edit anywhere in it recomputes both stages'
    entries (a miss, never a stale hit)."""
    return source_closure_digest(module_name, _CODE_PACKAGES)


def source_closure_digest(module_name: str, packages: tuple[str, ...]) -> str:
    """sha256 over the sources of ``module_name`` and the modules under ``packages`` it imports
    (``import x`` and ``from x import y`` at any depth of the file), transitively."""
    seen: dict[str, bytes] = {}
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ModuleNotFoundError, ValueError):  # `from module import function`: not a module
            spec = None
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, "rb") as file:
            source = file.read()
        seen[name] = source
        pending.extend(_imported_modules(source, name, spec.submodule_search_locations is not None, packages))
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + b"\0" + seen[name] + b"\0")
    return digest.hexdigest()[:16]


def _imported_modules(source: bytes, module_name: str, is_package: bool, packages: tuple[str, ...]) -> list[str]:
    base = module_name if is_package else module_name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parent = node.module or ""
            if node.level:
                anchor = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
                parent = f"{anchor}.{parent}" if parent else anchor
            found.append(parent)
            found += [f"{parent}.{alias.name}" for alias in node.names]  # `from pkg import module`
    return [name for name in found if name.startswith(tuple(f"{p}." for p in packages) + packages)]

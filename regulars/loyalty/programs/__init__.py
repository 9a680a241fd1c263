"""Program kinds: one class per kind, found by `Program.kind` through this registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regulars.loyalty.models import Program
    from regulars.loyalty.programs.base import ProgramKind

REGISTRY: dict[str, type[ProgramKind]] = {}


def register[K: type[ProgramKind]](cls: K) -> K:
    """Class decorator: make a kind available under its `kind` key."""
    REGISTRY[str(cls.kind)] = cls
    return cls


def kind_class(kind: str) -> type[ProgramKind]:
    _load()
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LookupError(
            f"no program kind {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


def rules_for(program: Program) -> ProgramKind:
    """The program's kind class bound to it, with its config parsed."""
    return kind_class(program.kind)(program)


def _load() -> None:
    # Imported on first use, not at package import: the kinds import the models, and the
    # models reach the registry lazily through Program.rules. Importing twice is a no-op.
    from regulars.loyalty.programs import cashback, discount, points, stamps, tiers  # noqa: F401

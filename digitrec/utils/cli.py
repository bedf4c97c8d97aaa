"""What every command does with a user's mistake: one line on stderr, exit status 1.

A missing or wrong file, folder, key or device is the user's to fix, and a traceback would only
bury the one line that says what to fix; ``HYDRA_FULL_ERROR=1`` (and a sweep's job, whose
launcher records the failure and goes on) still raise it with the traceback. Any other
exception is a bug in digitrec and keeps its traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hydra.errors import InstantiationException
from rich.console import Console
from rich.markup import escape

#: the mistakes every command reports as one line (with their subclasses: a checkpoint or
#: layout error, a file that exists and differs, ...)
USER_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, FileExistsError, ValueError)


def print_error(message: object) -> None:
    """``error: <message>`` on stderr, the message printed as it is (no rich markup)."""
    Console(stderr=True, soft_wrap=True, highlight=False).print(
        f"[red]error:[/red] {escape(str(message))}"
    )


@contextmanager
def user_errors(
    *more: type[BaseException], raise_if: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Report :data:`USER_ERRORS` (and ``more``) raised in the block as one line and exit 1,
    unless ``HYDRA_FULL_ERROR=1`` or ``raise_if()`` says to let it raise."""
    try:
        yield
    except Exception as err:
        mistake = _users_mistake(err, (*USER_ERRORS, *more))
        if mistake is None:
            raise
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or (raise_if is not None and raise_if()):
            raise
        print_error(mistake)
        raise SystemExit(1) from None


def _users_mistake(
    err: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """``err`` if it is one of ``kinds``, or the one a Hydra instantiation wrapped (a data or
    model class rejecting a value of its config); None for anything else."""
    while isinstance(err, InstantiationException) and err.__cause__ is not None:
        err = err.__cause__
    return err if isinstance(err, kinds) else None

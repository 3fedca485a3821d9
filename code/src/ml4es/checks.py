"""Exercise checkers: test a reader's answer against a reference and print a one-line verdict.

A checker is a function decorated with :func:`checker`. Inside it, call the reader's code with
:func:`call`, convert what comes back with :func:`as_tensor` or :func:`as_float`, and raise
:class:`CheckFailed` with a sentence that says what is wrong and what was expected. The decorator
turns every outcome into a :class:`Verdict`, so a reader never sees a traceback from inside a
checker:

- the stub is untouched (``...``, ``None`` or ``NotImplementedError``): "not implemented yet";
- the reader's code raises: the exception's type and message, as a failed verdict;
- a :class:`CheckFailed`: its message, as a failed verdict;
- anything else that goes wrong inside the checker: a failed verdict that says so.

Set the environment variable ``ML4ES_STRICT_CHECKS=1`` to turn every verdict that is not a pass
into an ``AssertionError``: the tests run the instructor notebooks that way.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

STRICT_ENV = "ML4ES_STRICT_CHECKS"

NOT_IMPLEMENTED = "not implemented yet"


class CheckFailed(Exception):
    """An answer is wrong; the message says what is wrong and what was expected."""


class NotImplementedYet(Exception):
    """The reader has not filled in the stub yet."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of one checker: ``passed`` is True, False, or None for an untouched stub."""

    exercise: str
    passed: bool | None
    message: str

    def __bool__(self) -> bool:
        return self.passed is True

    def __str__(self) -> str:
        if self.passed is None:
            mark = "[ ]"
        elif self.passed:
            mark = "[correct]"
        else:
            mark = "[wrong]"
        return f"{mark} {self.exercise}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _ipython_display_(self) -> None:
        # The checker has printed the verdict already: show nothing for the returned value,
        # so a checker call at the end of a cell does not show the verdict twice.
        return None


def checker(exercise: str) -> Callable[[Callable[..., str | None]], Callable[..., Verdict]]:
    """Turn a checking function into a checker that prints and returns a :class:`Verdict`.

    The checking function returns an optional sentence for a correct answer (for example the
    error it measured) and raises :class:`CheckFailed` or :class:`NotImplementedYet` otherwise.
    """

    def decorate(check: Callable[..., str | None]) -> Callable[..., Verdict]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> Verdict:
            verdict = _verdict(exercise, check, args, kwargs)
            print(verdict)
            if os.environ.get(STRICT_ENV) == "1" and not verdict:
                raise AssertionError(str(verdict))
            return verdict

        return run

    return decorate


def _verdict(exercise: str, check: Callable[..., str | None], args: tuple, kwargs: dict) -> Verdict:
    if any(is_stub(value) for value in (*args, *kwargs.values())):
        return Verdict(exercise, None, _not_implemented_message())
    try:
        detail = check(*args, **kwargs)
    except NotImplementedYet as stub:
        # A stub with its own reason (such as "returned None") gets that reason in place of the
        # generic instructions, so the verdict stays one sentence.
        message = f"{NOT_IMPLEMENTED}: {stub}" if str(stub) else _not_implemented_message()
        return Verdict(exercise, None, message)
    except CheckFailed as failure:
        return Verdict(exercise, False, str(failure))
    except Exception as error:  # a bug in the checker must not reach the reader as a traceback
        logger.debug("checker for %s failed", exercise, exc_info=True)
        return Verdict(
            exercise,
            False,
            f"the checker could not test this answer ({type(error).__name__}: {error}). "
            "Check that your answer has the type the exercise asks for.",
        )
    message = "correct."
    if detail:
        message = f"correct. {_sentence(detail)}"
    return Verdict(exercise, True, message)


def _sentence(detail: str) -> str:
    """Capitalise a detail's first word, unless it looks like code (one letter other than "a", or not all letters)."""
    first = detail.split(" ", 1)[0]
    if first == "a" or (len(first) > 1 and first.isalpha() and first.islower()):
        return detail[:1].upper() + detail[1:]
    return detail


def _not_implemented_message() -> str:
    return (
        f"{NOT_IMPLEMENTED}. Replace the `...` or `raise NotImplementedError` in the exercise "
        "cell, run that cell, then run this one again."
    )


def is_stub(value: Any) -> bool:
    """Return True for the placeholders a stub leaves behind: ``...`` and ``None``."""
    return value is Ellipsis or value is None


def call(function: Any, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call the reader's ``function`` and turn what can go wrong into a verdict.

    Raises :class:`NotImplementedYet` for an untouched stub and :class:`CheckFailed` when the
    function is not callable or raises.
    """
    label = name or getattr(function, "__name__", "your function")
    if is_stub(function):
        raise NotImplementedYet
    if not callable(function):
        raise CheckFailed(f"`{label}` should be a function, but it is {_article(type(function).__name__)}.")
    try:
        result = function(*args, **kwargs)
    except NotImplementedError as error:
        raise NotImplementedYet from error
    except Exception as error:
        raise CheckFailed(f"`{label}` raised {type(error).__name__}: {error}") from error
    if result is Ellipsis:
        raise NotImplementedYet
    if result is None:
        # A stub whose body is `...` returns None too, so this is not a wrong answer yet.
        raise NotImplementedYet(f"`{label}` returned None (did you forget `return`?).")
    return result


def _article(noun: str) -> str:
    """Return ``noun`` with "a" or "an" in front, as in "an int" or "a str"."""
    return f"an {noun}" if noun[:1].lower() in "aeio" else f"a {noun}"


def as_tensor(
    value: Any,
    name: str,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Convert an answer (tensor on any device, NumPy array, list or number) to a CPU tensor.

    The result is detached from any graph and cast to ``dtype``. When ``shape`` is given, the
    answer must have that shape, or the same values with singleton axes added or dropped
    (``(n,)`` for ``(n, 1)``). NaN and infinite values are rejected.
    """
    if is_stub(value):
        raise NotImplementedYet
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
    elif isinstance(value, (tuple, list)) and any(isinstance(item, torch.Tensor) for item in value):
        described = _describe_items(value, name)
        # Named tuples list their fields in _fields, and torch's named results in __match_args__,
        # for example torch.linalg.lstsq's (solution, residuals, rank, singular_values).
        fields = getattr(value, "_fields", None) or getattr(value, "__match_args__", None)
        if fields:
            example = "solution" if "solution" in fields else fields[0]
            raise CheckFailed(
                f"{described} ({', '.join(fields)}); expected one tensor. "
                f"Return the field the exercise asks for, such as `.{example}`."
            )
        if all(isinstance(item, torch.Tensor) and item.dim() == 0 for item in value):
            raise CheckFailed(f"{described}; expected one tensor. Combine the numbers with torch.stack.")
        raise CheckFailed(
            f"{described}; expected one tensor. "
            "Combine the parts with torch.cat or return only the one the exercise asks for."
        )
    else:
        if is_text(value):
            message = f"`{name}` is text ({shorten(repr(value))}); expected numbers."
            try:
                np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise CheckFailed(message) from None
            raise CheckFailed(f"{message} Remove the quotes, or convert with float().")
        try:
            # A copy: torch rejects arrays with negative strides (values[::-1]) and warns about
            # read-only ones (xarray coordinates). It also keeps in-place changes off the reader's array.
            tensor = torch.from_numpy(np.array(value, dtype=np.float64))
        except (TypeError, ValueError, RuntimeError) as error:
            raise CheckFailed(
                f"`{name}` should be a tensor or array of numbers, but it is "
                f"{_article(type(value).__name__)} ({error})."
            ) from error
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise CheckFailed(f"`{name}` has dtype {tensor.dtype}; expected real numbers.")
    tensor = tensor.to(dtype)

    if shape is not None and tuple(tensor.shape) != tuple(shape):
        squeezed = [size for size in tensor.shape if size != 1]
        expected = [size for size in shape if size != 1]
        if squeezed != expected:
            raise CheckFailed(
                f"`{name}` has shape {tuple(tensor.shape)}, expected {tuple(shape)}."
            )
        tensor = tensor.reshape(shape)

    if not torch.isfinite(tensor).all():
        count = int((~torch.isfinite(tensor)).sum())
        raise CheckFailed(f"`{name}` contains {count} NaN or infinite values.")
    return tensor


def _describe_items(value: tuple | list, name: str) -> str:
    """Describe a tuple or list answer by its type and length, such as "`x` is a tuple of 2 items"."""
    return f"`{name}` is {_article(type(value).__name__)} of {len(value)} item{'s' if len(value) != 1 else ''}"


def is_text(value: Any) -> bool:
    """Return True for a string, or a list or array that contains one.

    NumPy converts "8" to the number 8 without a warning, so a quoted answer would otherwise pass.
    """
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return any(is_text(item) for item in value.flat)
        return value.dtype.kind in "SU"
    if isinstance(value, (tuple, list)):
        return any(is_text(item) for item in value)
    return False


def shorten(text: str, limit: int = 40) -> str:
    """Cut ``text`` to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_float(value: Any, name: str) -> float:
    """Convert a scalar answer (number, 0-d or one-element tensor or array) to a float."""
    if isinstance(value, (tuple, list)) and any(isinstance(item, torch.Tensor) for item in value):
        raise CheckFailed(f"{_describe_items(value, name)}; expected a single number.")
    tensor = as_tensor(value, name)
    if tensor.numel() != 1:
        raise CheckFailed(
            f"`{name}` should be a single number, but it has shape {tuple(tensor.shape)}."
        )
    return float(tensor.reshape(()))


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    name: str,
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> float:
    """Raise :class:`CheckFailed` unless ``actual`` matches ``expected``; return the max error."""
    actual = as_tensor(actual, name, shape=tuple(expected.shape))
    expected = expected.detach().cpu().to(torch.float64)
    error = (actual - expected).abs()
    max_error = float(error.max()) if error.numel() else 0.0
    if not torch.allclose(actual, expected, rtol=rtol, atol=atol):
        scale = float(expected.abs().max()) if expected.numel() else 0.0
        raise CheckFailed(
            f"`{name}` differs from the reference: the largest difference is {max_error:.3g} "
            f"(values up to {scale:.3g}, tolerance {rtol:g} relative + {atol:g} absolute)."
        )
    return max_error


def relative_error(actual: float, expected: float) -> float:
    """Return ``|actual - expected| / |expected|`` (the absolute error when ``expected`` is 0)."""
    if expected == 0:
        return abs(actual)
    return abs(actual - expected) / abs(expected)


def check_finite_number(value: float, name: str) -> None:
    """Raise :class:`CheckFailed` when ``value`` is NaN or infinite."""
    if not math.isfinite(value):
        raise CheckFailed(f"`{name}` is {value}; expected a finite number.")

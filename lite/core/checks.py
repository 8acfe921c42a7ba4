"""Argument checks shared by constructors: a wrong type is an `InputTypeError`, a wrong value an `InputError`.

Each check names the argument, says what it expects and what it got, and returns the value
normalised (e.g. ``input_size=320`` -> ``(320, 320)``). They run first in `lite.cv.Detector`'s
constructor, so a bad argument fails before a model is opened or downloaded.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

from lite.core.errors import InputError, InputTypeError

__all__ = [
    "check_detector_args",
    "check_input_size",
    "check_model",
    "check_names",
    "check_optional_bool",
    "check_strides",
    "check_threads",
]


def _got(value: Any) -> str:
    return f"{value!r} of type {'None' if value is None else type(value).__name__}"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_model(model: Any, opened: type | tuple[type, ...] = ()) -> None:
    """``model`` is a path, a hub name or an opened model (an instance of ``opened``, e.g. a ``Backend``).

    ``opened`` is given by the caller, so this module imports nothing above the io layer.

    Raises:
        InputTypeError: Any other type (``None``, a number...).
        InputError: An empty string.
    """
    if opened and isinstance(model, opened):
        return
    if not isinstance(model, str | os.PathLike):
        raise InputTypeError(
            f"model: expected a model file path (str or pathlib.Path), a hub name such as 'yolov6lite-s' or an "
            f"opened lite.backends.Backend; got {_got(model)}"
        )
    if not os.fspath(model):
        raise InputError("model: expected a model file path or a hub name; got an empty string")


def check_threads(threads: Any) -> int | None:
    """``threads`` is None (the engine's default) or a positive int.

    Raises:
        InputTypeError: Not an int (``"2"``, ``2.0``).
        InputError: Zero or negative.
    """
    if threads is None:
        return None
    if not _is_int(threads):
        raise InputTypeError(f"threads: expected a positive int or None (the engine's default); got {_got(threads)}")
    if threads < 1:
        raise InputError(f"threads: expected a positive int or None (the engine's default); got {threads}")
    return int(threads)


def check_input_size(input_size: Any, name: str = "input_size") -> tuple[int, int] | None:
    """``input_size`` is None, an int N (N×N) or ``(H, W)``; returns ``(H, W)`` or None.

    Raises:
        InputTypeError: Not an int or a sequence of ints (``"abc"``, ``320.0``).
        InputError: Not one or two values, or a value ≤ 0.
    """
    if input_size is None:
        return None
    expected = "a positive int N or (height, width)"
    if _is_int(input_size):
        values: tuple[Any, ...] = (input_size, input_size)
    elif isinstance(input_size, Sequence) and not isinstance(input_size, str | bytes):
        values = tuple(input_size)
        if not all(_is_int(v) for v in values):
            raise InputTypeError(f"{name}: expected {expected} of ints; got {_got(input_size)}")
        if len(values) == 1:
            values = values * 2
    else:
        raise InputTypeError(f"{name}: expected {expected}; got {_got(input_size)}")
    if len(values) != 2 or min(values) <= 0:
        raise InputError(f"{name}: expected {expected}; got {input_size!r}")
    return int(values[0]), int(values[1])


def check_strides(strides: Any, name: str = "strides") -> tuple[int, ...] | None:
    """``strides`` is None or a non-empty sequence of positive ints (one per output level).

    Raises:
        InputTypeError: Not a sequence of ints.
        InputError: Empty, or a stride ≤ 0.
    """
    if strides is None:
        return None
    expected = "a sequence of positive ints, one per output level, e.g. [8, 16, 32]"
    if not isinstance(strides, Sequence) or isinstance(strides, str | bytes) or not all(_is_int(s) for s in strides):
        raise InputTypeError(f"{name}: expected {expected}; got {_got(strides)}")
    if not strides or min(strides) <= 0:
        raise InputError(f"{name}: expected {expected}; got {list(strides)!r}")
    return tuple(int(s) for s in strides)


def check_names(names: Any, name: str = "names") -> tuple[str, ...] | None:
    """``names`` is None or a non-empty sequence of class-name strings (a single string is refused).

    Raises:
        InputTypeError: A string, or not a sequence of strings.
        InputError: An empty sequence.
    """
    if names is None:
        return None
    expected = "a sequence of class names (strings), one per class id"
    if not isinstance(names, Sequence) or isinstance(names, str | bytes) or not all(isinstance(n, str) for n in names):
        raise InputTypeError(f"{name}: expected {expected}; got {_got(names)}")
    if not names:
        raise InputError(f"{name}: expected {expected}; got an empty sequence")
    return tuple(names)


def check_optional_bool(value: Any, name: str) -> bool | None:
    """``value`` is None, True or False.

    Raises:
        InputTypeError: Anything else (``"yes"``, ``1``).
    """
    if value is None or isinstance(value, bool):
        return value
    raise InputTypeError(f"{name}: expected True, False or None; got {_got(value)}")


def check_detector_args(
    model: Any,
    *,
    opened: type | tuple[type, ...] = (),
    device: Any = None,
    threads: Any = None,
    input_size: Any = None,
    names: Any = None,
    strides: Any = None,
    box_first: Any = None,
    sigmoid: Any = None,
) -> None:
    """Every type/value check of `lite.cv.Detector`'s arguments that needs no model (run before opening it).

    Raises:
        InputTypeError: An argument of the wrong type (a `TypeError`).
        InputError: An argument with a wrong value (a `ValueError`).
    """
    check_model(model, opened)
    if device is not None and not isinstance(device, str):
        raise InputTypeError(f"device: expected a device name such as 'cpu' or 'cuda:0', or None; got {_got(device)}")
    check_threads(threads)
    check_input_size(input_size)
    check_names(names)
    check_strides(strides)
    check_optional_bool(box_first, "box_first")
    check_optional_bool(sigmoid, "sigmoid")

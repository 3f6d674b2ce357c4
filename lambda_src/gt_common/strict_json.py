"""Strict JSON for what the consolidation functions cannot trust: workers' answers and stored state.

Python's ``json.loads`` accepts ``NaN``, ``Infinity`` and ``-Infinity``, turns ``1e999`` into
``inf``, and raises ``RecursionError`` (not ``ValueError``) on deeply nested input. A value that
parses can still be too deep for later code that walks it (``repr``, ``json.dumps``). ``loads``
refuses all of that with one exception type, ``JSONError``, whose message says what is wrong;
``check`` applies the same rules to a value that was parsed elsewhere.

A lone surrogate (``"\\ud800"``: what a browser's ``JSON.stringify`` writes for half of an emoji a field was cut
in) parses into a string no UTF-8 writer can encode: one worker's note stopped the writing of a whole manifest.
``loads`` replaces each with U+FFFD, the replacement character, as a UTF-8 decoder does for a bad byte.
"""
from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, Union

#: Deepest nesting accepted. A worker's form is a few levels deep (form > field > entities > entity);
#: anything near Python's recursion limit only exists to break the code that walks it.
MAX_DEPTH = 64


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape of a surrogate: a pair, or a lone one
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # in a decoded string, every surrogate is a lone one


class JSONError(ValueError):
    """The text is not strict JSON (or the value breaks ``check``'s rules); the message says why."""


def _reject_constant(name: str) -> Any:
    raise JSONError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONError(f"number {text[:40]} is out of range")
    return value


def _keys_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise JSONError(f"names {twice[:80]!r} twice in one object")
    return obj


# One decoder for every call: building one per call (what json.loads does with options) costs more
# than parsing a small form.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# A browser's JSON.stringify never writes a key twice; a hand-made request that does would have its first value
# dropped without a word. Only for what a server reads from a person (a hook per object costs the payloads' reading).
_UNIQUE_KEYS_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float,
                                        object_pairs_hook=_keys_once)


def loads(raw: Union[str, bytes, bytearray], *, max_depth: int = MAX_DEPTH, unique_keys: bool = False) -> Any:
    """Parse ``raw`` strictly: finite numbers only, UTF-8 (or UTF-16/32 with JSON's detection),
    nesting at most ``max_depth`` levels, and (``unique_keys``) no key twice in an object. Raises JSONError, never
    anything else."""
    try:
        if isinstance(raw, (bytes, bytearray)):  # decoded as json.loads decodes bytes
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        elif isinstance(raw, str):
            text = raw
        else:
            raise JSONError(f"is {type(raw).__name__}, not JSON text")
        if text.startswith("\ufeff"):
            raise JSONError("starts with a byte order mark")
        value = (_UNIQUE_KEYS_DECODER if unique_keys else _DECODER).decode(text)
    except JSONError:
        raise
    except RecursionError:
        raise JSONError("is nested too deeply to parse") from None
    except UnicodeDecodeError as error:
        raise JSONError(f"is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except (ValueError, TypeError) as error:  # JSONDecodeError, integers over Python's digit limit
        if "Exceeds the limit" in str(error) and "digits" in str(error):
            raise JSONError(f"holds an integer of more than {sys.get_int_max_str_digits()} digits") from None
        raise JSONError(f"is not valid JSON: {str(error)[:200]}") from None
    # Each level of nesting takes two characters: a short text cannot be too deep (most forms are).
    if len(raw) > 2 * max_depth:
        check(value, max_depth=max_depth)
    if _SURROGATE_ESCAPE.search(text):  # rare: only then is every string looked at
        value = _without_lone_surrogates(value)
    return value


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its strings (keys too) replaced by U+FFFD. Iterative (``check`` has
    bounded the depth, but a wide value should not recurse either)."""
    def mended(item: Any) -> Any:
        return _LONE_SURROGATE.sub("\ufffd", item) if isinstance(item, str) else item

    root = [mended(value)]
    stack = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                container[index] = mended(item)
                if isinstance(item, (dict, list)):
                    stack.append(container[index])
        else:
            for key in list(container):
                item = container.pop(key)
                container[mended(key)] = mended(item)
                if isinstance(item, (dict, list)):
                    stack.append(item)
    return root[0]


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONError if ``value`` nests deeper than ``max_depth`` or holds a non-finite float.

    Iterative, so a value too deep for recursion is refused instead of crashing the walk.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise JSONError(f"holds the non-finite number {item!r}")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise JSONError(f"is nested more than {max_depth} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)

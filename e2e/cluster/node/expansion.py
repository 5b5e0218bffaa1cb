"""`$(VAR)` expansion in env values, command and args, as the kubelet does it.

A transcription of the behaviour of k8s.io/kubernetes third_party/forked/golang/expansion:
`$(NAME)` becomes the value when NAME is known and stays as written when not; `$$` is an escaped
`$`; a `$` before anything else, and an unclosed `$(`, are copied as they are.
"""
from typing import Callable, Mapping


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look a name up in each context in turn; unknown names stay `$(NAME)`."""
    def lookup(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"$({name})"
    return lookup


def expand(text: str, lookup: Callable[[str], str]) -> str:
    out = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_name(text, cursor + 1)
            out.append(lookup(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _read_name(text: str, start: int) -> tuple[str, bool, int]:
    first = text[start]
    if first == "$":  # `$$`: an escaped operator
        return "$", False, 1
    if first == "(":
        close = text.find(")", start + 1)
        if close != -1:
            return text[start + 1:close], True, close - start + 1
        return "$(", False, 1  # unclosed: copied as it is
    return "$" + first, False, 1

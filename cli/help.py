"""``--help`` as plain text that reads at 80 columns.

Each option gets a line with its flags and metavar (``-s, --solver
[auto|cpsat|mip|ga|greedy]``: the values it takes, when they are a fixed set), then its help
indented below, wrapped to the terminal (at most 100 columns); options are grouped in panels
(``rich_help_panel``). Nothing here is read as markup: ``'taskalloc[ray]'`` and
``file.yaml:100:5`` print as written. Paragraphs of a docstring are rewrapped; a paragraph
whose lines start with spaces keeps its lines.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from typing import Any

#: widest help, whatever the terminal
MAX_WIDTH = 100
#: indent of an option's help under its flags
INDENT = 6


def width() -> int:
    return max(40, min(MAX_WIDTH, shutil.get_terminal_size((80, 24)).columns))


def paragraphs(text: str, indent: int, cols: int) -> list[str]:
    """``text`` (a docstring) as wrapped lines; blank lines between paragraphs."""
    out: list[str] = []
    for para in textwrap.dedent(text).strip().split("\n\n"):
        lines = para.split("\n")
        if out:
            out.append("")
        if all(line.startswith(" ") for line in lines[1:]) and len(lines) > 1:
            out.extend(" " * indent + line for line in lines)  # a block: keep its lines
            continue
        out.extend(wrap(" ".join(line.strip() for line in lines), cols, indent))
    return out


#: what stands for a space that no line break may take (a private-use character)
GLUE = "\ue000"
#: a flag and its value (``-s greedy``, ``--policy best-fit``, ``-O lns=true``): the flag, a
#: space, then a word that is no flag
_FLAG_VALUE = re.compile(r"(?<![\w\-`'])(-[A-Za-z]|--[A-Za-z][\w\-]*) (?=[^\s\-])")
#: a code span (```taskalloc check NEWPLAN```), kept whole when short
_CODE = re.compile(r"`[^`\n]{1,40}`")
#: a number and its unit (``0.09 s``, ``53.12 %``), ``pip install``
_PAIRS = re.compile(r"(?<=\d) (?=s\b|%|pts\b)|(?<=\bpip) (?=install\b)")
#: an exit code and what it means (``...; 3 proven infeasible``, ``Exit 0 when``)
_CODE_MEANING = re.compile(r"((?:(?<=; )|(?<=: )|(?<=Exit ))\d{1,3}) (?=[a-z(])")


def glue(text: str) -> str:
    """``text`` with the spaces no line break may take replaced by :data:`GLUE`: between a
    flag and its value, inside a short code span, between an exit code and its meaning,
    between a number and its unit; turn them back into spaces with ``.replace(GLUE, " ")``
    after wrapping."""
    text = _FLAG_VALUE.sub(lambda m: m.group(1) + GLUE, text)
    text = _CODE.sub(lambda m: m.group(0).replace(" ", GLUE), text)
    text = _CODE_MEANING.sub(lambda m: m.group(1) + GLUE, text)
    return _PAIRS.sub(GLUE, text)


def wrap(text: str, cols: int, indent: int, first: str | None = None) -> list[str]:
    """``text`` wrapped at ``cols`` and indented (``first``: the first line's prefix); a
    flag and its value, a short code span, a number and its unit stay on one line."""
    text = glue(text)
    lines = textwrap.wrap(
        text,
        cols,
        initial_indent=" " * indent if first is None else first,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(GLUE, " ") for line in lines]


def metavar(param: Any, ctx: Any) -> str:
    """What follows an option's flags: its metavar, or ``[a|b|c]`` for a fixed set of values;
    nothing for a flag."""
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        return ""
    if param.metavar is not None:
        return str(param.metavar)
    shown = str(param.display_type(ctx) or "")
    if shown.startswith("<") and shown.endswith(">"):
        inner = shown[1:-1]
        return f"[{inner}]" if "|" in inner else inner.upper()
    return shown


def header(param: Any, ctx: Any) -> str:
    if param.param_type_name == "argument":
        name = str(param.metavar or param.name.upper())
        shown = str(param.display_type(ctx) or "")
        return f"{name} [{shown[1:-1]}]" if "|" in shown else name
    opts = sorted(param.opts, key=lambda o: (o.startswith("--"), o))
    flags = ", ".join(opts)
    if param.secondary_opts:
        flags += " / " + ", ".join(param.secondary_opts)
    meta = metavar(param, ctx)
    return f"{flags} {meta}" if meta else flags


def _empty(default: Any) -> bool:
    return default is None or default is False or default == () or default == []


def extras(param: Any, ctx: Any) -> str:
    parts = []
    if param.param_type_name == "argument":
        if param.required:
            parts.append("required")
    else:
        default = param.default
        shown = param.show_default
        if isinstance(shown, str):
            parts.append(f"default: {shown}")
        elif shown is not False and not param.is_flag and not _empty(default):
            value = getattr(default, "value", default)
            parts.append(f"default: {value}")
    return f" [{'; '.join(parts)}]" if parts else ""


def param_lines(param: Any, ctx: Any, cols: int) -> list[str]:
    lines = ["  " + header(param, ctx)]
    text = (param.help or "") + extras(param, ctx)
    if text.strip():
        lines.extend(paragraphs(text.strip(), INDENT, cols))
    return lines


def usage(command: Any, ctx: Any) -> str:
    pieces = ["[OPTIONS]"] if any(p.param_type_name == "option" for p in command.params) else []
    for param in command.params:
        if param.param_type_name != "argument":
            continue
        name = str(param.metavar or param.name.upper())
        if param.nargs == -1 and not name.endswith("..."):
            name += "..."
        pieces.append(name if param.required else f"[{name}]")
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(["Usage:", ctx.command_path, *pieces])


def render(command: Any, ctx: Any) -> str:
    """The help of a command or group."""
    cols = width()
    out = [usage(command, ctx), ""]
    if command.help:
        out.extend(paragraphs(command.help, 2, cols))
        out.append("")
    panels: dict[str, list[Any]] = {}
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        default_panel = "Arguments" if param.param_type_name == "argument" else "Options"
        panels.setdefault(getattr(param, "rich_help_panel", None) or default_panel, []).append(
            param
        )
    ordered = sorted(panels, key=lambda name: name == "Options")  # plain options last
    for name in ordered:
        out.append(f"{name}:")
        for param in panels[name]:
            out.extend(param_lines(param, ctx, cols))
        out.append("")
    if hasattr(command, "list_commands"):
        names = command.list_commands(ctx)
        if names:
            pad = max(len(n) for n in names) + 4
            out.append("Commands:")
            for n in names:
                sub = command.get_command(ctx, n)
                summary = (sub.help or "").strip().split("\n\n")[0].replace("\n", " ")
                wrapped = wrap(summary, cols, pad, first="  " + n.ljust(pad - 2))
                out.extend(wrapped or ["  " + n])
            out.append("")
    if command.epilog:
        out.extend(paragraphs(command.epilog, 2, cols))
        out.append("")
    return "\n".join(out)

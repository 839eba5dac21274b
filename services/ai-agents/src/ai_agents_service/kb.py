"""Knowledge-base loading and validation for the MeTTa agents.

The `.metta` files beside this module hold every rule. Loading is strict, because
hyperon is forgiving in the wrong way: a typo in a rule body is a new symbol, the
rule then never reduces and the query silently answers the unevaluated
expression. So a file is split into top-level forms with their line numbers, each
form goes through hyperon's parser, and every symbol a rule uses must be known:
declared with `(: name Type)`, defined as a function or fact head, matched as a
constant in a rule's left-hand side, or part of the small MeTTa vocabulary below.
Errors name the file and line. `!` (execution) is refused in the knowledge base.

The same loader runs in the service process (validation, thresholds, texts) and
in each interpreter worker, so both see exactly the same rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

KB_DIR = Path(__file__).parent / "kb"
KB_MODULES = ("pricing", "collaboration", "risk", "market")

# Symbols MeTTa itself gives meaning to (the ones our rules may use), plus the
# engine's own constructor `rule`, whose shape the engine checks on every answer.
MeTTa_VOCABULARY = frozenset(
    {
        "=", ":", "->", "Type", "Atom", "Symbol", "Expression", "Number", "Bool", "String",
        "True", "False", "Empty", "if", "let", "let*", "case", "match", "superpose",
        "collapse", "and", "or", "not", "rule",
    }
)

# Grounded functions the workers register; the loader registers stand-ins with the
# same names so parsing (which resolves tokens) treats them the same way.
GROUNDED_NAMES = ("market-volume-level", "market-trend-level")


class KbError(Exception):
    """The knowledge base is malformed; the message names the file and line."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class Form:
    """One top-level form of a .metta file and where it starts."""

    text: str
    line: int


@dataclass
class KbInfo:
    """What the service process reads out of the knowledge base once per load."""

    version: str
    files: tuple[Path, ...]
    atom_count: int
    # dimension -> [(lower bound, level)] sorted ascending
    bounds: dict[str, list[tuple[Decimal, str]]] = field(default_factory=dict)
    explanations: dict[str, str] = field(default_factory=dict)
    prohibited_terms: tuple[str, ...] = ()

    def level(self, dimension: str, value: Decimal | float) -> str:
        """The highest level of `dimension` whose lower bound `value` reaches."""
        try:
            steps = self.bounds[dimension]
        except KeyError:
            raise KbError("<kb>", 0, f"no (level-bounds {dimension} ...) facts") from None
        chosen = steps[0][1]
        v = Decimal(str(value))
        for bound, name in steps:
            if v >= bound:
                chosen = name
        return chosen


def kb_files(kb_dir: Path = KB_DIR) -> tuple[Path, ...]:
    """The knowledge-base files in load order; a missing module is an error."""
    files = []
    for name in KB_MODULES:
        path = kb_dir / f"{name}.metta"
        if not path.is_file():
            raise KbError(path, 0, "knowledge-base file is missing")
        files.append(path)
    return tuple(files)


def kb_fingerprint(files: Iterable[Path]) -> str:
    """A content hash of the files: the knowledge-base version, and the reload trigger."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def split_forms(text: str, path: Path | str) -> list[Form]:
    """Split MeTTa source into top-level forms, checking brackets and strings."""
    forms: list[Form] = []
    i, n, line = 0, len(text), 1
    depth = 0
    start = 0
    start_line = 0
    open_lines: list[int] = []
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == ";":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif ch == '"':
            str_line = line
            i += 1
            while i < n and text[i] not in '"\n':
                if text[i] == "\\":
                    i += 1
                i += 1
            if i >= n or text[i] == "\n":  # strings are one line: report where it opened
                raise KbError(path, str_line, "unterminated string")
            if depth == 0:
                raise KbError(path, str_line, "a bare string at top level is not a rule or fact")
        elif ch == "!" and depth == 0:
            raise KbError(path, line, "`!` (execution) is not allowed in the knowledge base")
        elif ch == "(":
            if depth == 0:
                start, start_line = i, line
            depth += 1
            open_lines.append(line)
        elif ch == ")":
            if depth == 0:
                raise KbError(path, line, "unexpected ')'")
            depth -= 1
            open_lines.pop()
            if depth == 0:
                forms.append(Form(text[start : i + 1], start_line))
        elif not ch.isspace() and depth == 0:
            # a bare top-level token: read it to report it
            j = i
            while j < n and not text[j].isspace() and text[j] not in "();":
                j += 1
            raise KbError(path, line, f"bare token {text[i:j]!r} at top level is not a rule or fact")
        i += 1
    if depth:
        raise KbError(path, open_lines[0], "'(' is never closed")
    return forms


def _symbols(atom: Any, out: list[str]) -> None:
    from hyperon.atoms import AtomKind

    kind = atom.get_metatype()
    if kind == AtomKind.SYMBOL:
        out.append(atom.get_name())
    elif kind == AtomKind.EXPR:
        for child in atom.get_children():
            _symbols(child, out)


def _head_name(atom: Any) -> str | None:
    from hyperon.atoms import AtomKind

    if atom.get_metatype() == AtomKind.EXPR:
        children = atom.get_children()
        if children and children[0].get_metatype() == AtomKind.SYMBOL:
            return str(children[0].get_name())
    return None


def _line_of(symbol: str, form: Form) -> int:
    """The line inside a form where a symbol first appears as a whole token."""
    for offset, text_line in enumerate(form.text.split("\n")):
        code = text_line.split(";", 1)[0]
        tokens = code.replace("(", " ").replace(")", " ").split()
        if symbol in tokens:
            return form.line + offset
    return form.line


def register_grounded(metta: Any, ctx: dict[str, Any]) -> None:
    """Register the grounded functions rules may call; they read the request's data in ctx."""
    from hyperon import OperationAtom, S

    def level(key: str) -> Callable[[], list[Any]]:
        def op() -> list[Any]:
            value = ctx.get(key)
            if not isinstance(value, str):
                # Returning nothing leaves the call unreduced; the engine reports it.
                return []
            return [S(value)]

        return op

    for name in GROUNDED_NAMES:
        key = name.removeprefix("market-").replace("-", "_")  # volume_level, trend_level
        metta.register_atom(name, OperationAtom(name, level(key), ["Symbol"], unwrap=False))


def load_kb(metta: Any, files: tuple[Path, ...]) -> KbInfo:
    """Parse, validate and add every file's forms to `metta`'s space; KbError on any fault."""
    from hyperon import E, S, V

    parsed: list[tuple[Path, Form, Any]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KbError(path, 0, f"cannot read: {exc}") from exc
        for form in split_forms(text, path):
            try:
                atoms = metta.parse_all(form.text)
            except Exception as exc:  # hyperon raises SyntaxError/RuntimeError with a bare message
                raise KbError(path, form.line, f"syntax error: {exc}") from exc
            if len(atoms) != 1:
                raise KbError(path, form.line, "expected one form")
            parsed.append((path, form, atoms[0]))

    known = set(MeTTa_VOCABULARY)
    for _path, _form, atom in parsed:
        children = atom.get_children()
        head = _head_name(atom)
        if head == ":" and len(children) == 3:
            names: list[str] = []
            _symbols(children[1], names)
            _symbols(children[2], names)
            known.update(names)
        elif head == "=" and len(children) == 3:
            lhs: list[str] = []
            _symbols(children[1], lhs)
            known.update(lhs)
        elif head is not None:
            # a fact: its head names a relation (level-bounds, explain, ...)
            known.add(head)
    for path, form, atom in parsed:
        # Declarations and facts introduce names; only rule bodies must use known ones.
        if _head_name(atom) != "=" or len(atom.get_children()) != 3:
            continue
        used: list[str] = []
        _symbols(atom.get_children()[2], used)
        for name in used:
            if name not in known:
                raise KbError(path, _line_of(name, form), f"unknown symbol {name!r}")

    space = metta.space()
    for _path, _form, atom in parsed:
        space.add_atom(atom)

    info = KbInfo(version=kb_fingerprint(files), files=files, atom_count=len(parsed))
    for binding in space.query(E(S("level-bounds"), V("d"), V("l"), V("v"))):
        bound = binding["v"].get_object().value
        info.bounds.setdefault(str(binding["d"]), []).append((Decimal(str(bound)), str(binding["l"])))
    for steps in info.bounds.values():
        steps.sort()
    for binding in space.query(E(S("explain"), V("n"), V("t"))):
        info.explanations[str(binding["n"])] = str(binding["t"].get_object().value)
    info.prohibited_terms = tuple(
        sorted(str(b["t"].get_object().value).lower() for b in space.query(E(S("prohibited-term"), V("t"))))
    )
    return info


def validate_kb(kb_dir: Path = KB_DIR) -> KbInfo:
    """Load the knowledge base into a throw-away interpreter: the start-up check."""
    from hyperon import MeTTa

    files = kb_files(kb_dir)
    metta = MeTTa()
    register_grounded(metta, {})
    return load_kb(metta, files)

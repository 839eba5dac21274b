"""The knowledge base loads strictly: faults stop start-up with the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from ai_agents_service.engine import RulePool
from ai_agents_service.kb import KB_MODULES, KbError, validate_kb


def _insert_after(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text().split("\n")
    lines.insert(line_no, text)
    path.write_text("\n".join(lines))


def test_whole_knowledge_base_loads_and_stays_far_below_the_index_limit() -> None:
    info = validate_kb()
    assert [f.stem for f in info.files] == list(KB_MODULES)
    # hyperon's index aborts around 1000 mixed atoms (#1076): the KB keeps well clear.
    assert 100 < info.atom_count < 500
    assert info.level("reputation", 75) == "renowned"
    assert info.level("trend", -12) == "falling"
    assert "counterfeit" in info.prohibited_terms


def test_unbalanced_bracket_is_reported_with_file_and_line(kb_copy: Path) -> None:
    _insert_after(kb_copy / "risk.metta", 9, "(= (content-risk maybe) (rule unique-content 0)")
    with pytest.raises(KbError) as err:
        validate_kb(kb_copy)
    assert err.value.path.endswith("risk.metta")
    assert err.value.line == 10
    assert "never closed" in str(err.value)


def test_stray_closing_bracket_is_reported_with_its_line(kb_copy: Path) -> None:
    _insert_after(kb_copy / "market.metta", 4, "(= (volume-signal odd) (rule volume-stable 0)))")
    with pytest.raises(KbError) as err:
        validate_kb(kb_copy)
    assert (err.value.path.endswith("market.metta"), err.value.line) == (True, 5)
    assert "unexpected ')'" in str(err.value)


def test_unknown_symbol_in_a_rule_body_is_reported_with_its_line(kb_copy: Path) -> None:
    # A typo'd rule name would silently never fire in hyperon; the loader refuses it.
    _insert_after(kb_copy / "pricing.metta", 20, "(= (base-price sculpture)\n   (rule base-sculptre 0.4))")
    with pytest.raises(KbError) as err:
        validate_kb(kb_copy)
    assert err.value.path.endswith("pricing.metta")
    assert err.value.line == 22
    assert "unknown symbol 'base-sculptre'" in str(err.value)


def test_execution_in_the_knowledge_base_is_refused(kb_copy: Path) -> None:
    _insert_after(kb_copy / "collaboration.metta", 3, "!(base-price art)")
    with pytest.raises(KbError, match=r"collaboration.metta:4: `!`"):
        validate_kb(kb_copy)


def test_unterminated_string_is_reported(kb_copy: Path) -> None:
    _insert_after(kb_copy / "risk.metta", 40, '(prohibited-term "unclosed)')
    with pytest.raises(KbError, match=r"risk.metta:41: unterminated string"):
        validate_kb(kb_copy)


def test_missing_module_file_is_reported(kb_copy: Path) -> None:
    (kb_copy / "market.metta").unlink()
    with pytest.raises(KbError, match="market.metta:0: knowledge-base file is missing"):
        validate_kb(kb_copy)


async def test_malformed_knowledge_base_stops_the_engine_from_starting(kb_copy: Path) -> None:
    _insert_after(kb_copy / "pricing.metta", 20, "(= (region-factor mars) (rule region-mars 2.0)")
    engine = RulePool(size=1, kb_dir=kb_copy)
    with pytest.raises(KbError, match=r"pricing.metta:21: '\(' is never closed"):
        await engine.start()
    assert engine.worker_pids() == []

"""docs/faults.md lists every fault code the services can give."""

from pathlib import Path

from cpbridge.faults import FAULT_CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "faults.md"


def test_every_fault_code_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [code for code in FAULT_CODES if f"`{code}`" not in text]
    assert not missing, f"docs/faults.md does not describe: {', '.join(missing)}"

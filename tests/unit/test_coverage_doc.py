"""docs/coverage.md is generated from the registered operations; it must match them."""

from pathlib import Path

from nimbus.coverage import render


def test_coverage_doc_is_current() -> None:
    written = (Path(__file__).resolve().parents[2] / "docs" / "coverage.md").read_text()
    assert written == render(), "docs/coverage.md is stale: run `make coverage-doc`"

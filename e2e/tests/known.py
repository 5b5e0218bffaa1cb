"""Differences the real engine found, each written up in e2e/FINDINGS.md (F<n>).
A test that shows one is marked xfail(strict=True) with the finding's id, so the suite stays
honest (it fails the day the bug is fixed and the entry is not removed)."""
import pytest

FINDINGS = {
    "F1": "translator refused a constant holding '{{' (task input): fixed (issue 10 item 14)",
    "F2": "a container component's output parameter loses its trailing newline (Argo's executor trims one)",
    "F3": "DeletePVC's `kubectl delete` waited for the claim (pods keep it): fixed, `--wait=false`",
}

# (test, case) -> finding id
KNOWN: dict[tuple[str, str], str] = {
    ("argo", "container-newline"): "F2",
}


def mark(test: str, case: str):
    """The xfail mark for a known finding, or no mark."""
    fid = KNOWN.get((test, case))
    if fid is None:
        return ()
    return (pytest.mark.xfail(strict=True, reason=f"{fid}: {FINDINGS[fid]} (e2e/FINDINGS.md)"),)


def params(test: str, names):
    return [pytest.param(n, id=n, marks=mark(test, n)) for n in names]

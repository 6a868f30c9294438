"""Reliability tests (issue #9): the operator as a real process, SIGKILLed, SIGSTOPped, fed API and Ray faults
and hostile objects, against the embedded API server and the fake Ray dashboard (``harness.py``).

Every test is seeded, bounded by ``pytest.mark.timeout``, prints its figures (``pytest -s`` shows them) and
asserts on them; the whole directory takes about two minutes on a 2-core machine.
"""

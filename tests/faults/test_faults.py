"""The fault suite in its short form (part of `make test`); VISITDESK_FAULTS=full runs every fault with 40 requests.

Own PostgreSQL cluster, own broker behind a cutting proxy, four service processes: see tests/faults/suite.py.
"""

import os

import pytest

from tests.faults import suite

FULL = os.environ.get("VISITDESK_FAULTS") == "full"


@pytest.mark.timeout(1800 if FULL else 480)
async def test_every_acknowledged_submission_is_stored_routed_and_mailed_once_whatever_fails(tmp_path):
    faults, requests = (list(suite.FAULTS), 40) if FULL else (suite.SHORT, 10)
    outcomes = await suite.run_suite(tmp_path, faults, requests)
    print("\n" + suite.table(outcomes))
    assert all(o.ok for o in outcomes), "\n" + suite.table(outcomes) + "\n" + "\n".join(suite.problems(outcomes))

"""Sample events and one renderer for the notifications unit tests."""

import pytest

from services.notifications.messages import Renderer
from tests.unit.notifications.samples import build


@pytest.fixture
def sample():
    return build


@pytest.fixture(scope="module")
def renderer():
    return Renderer()

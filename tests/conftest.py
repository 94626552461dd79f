import pytest
import torch

import cgh_mm  # noqa: F401  (registers the modules)
from tests.helpers import tiny_cgh_cfg as _tiny_cgh_cfg


@pytest.fixture
def tiny_cgh_cfg():
    """Config dict of the tests' tiny CGH (ResNet-18, 32-d embeddings, queue of 64)."""
    return _tiny_cgh_cfg()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

import pytest
import torch

import cgh_mm.datasets  # noqa: F401  (each sub-package registers its modules)
import cgh_mm.engine  # noqa: F401
import cgh_mm.evaluation  # noqa: F401
import cgh_mm.models  # noqa: F401
import cgh_mm.utils  # noqa: F401
from tests.helpers import tiny_cgh_cfg as _tiny_cgh_cfg


@pytest.fixture
def tiny_cgh_cfg():
    """Config dict of the tests' tiny CGH (ResNet-18, 32-d embeddings, queue of 64)."""
    return _tiny_cgh_cfg()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

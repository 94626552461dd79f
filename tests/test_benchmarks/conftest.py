import pytest

from tests.test_benchmarks.runner_utils import write_backbone_file


@pytest.fixture(scope='session')
def backbone_files(tmp_path_factory):
    """``{depth: (backbone file, student weights)}`` of a CGH ResNet-50 and ResNet-18."""
    tmp = tmp_path_factory.mktemp('backbones')
    return {depth: write_backbone_file(tmp, depth) for depth in (18, 50)}

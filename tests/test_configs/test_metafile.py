"""The model zoo: model-index.yml and configs/cgh/metafile.yml read by mim-style tooling."""
import os.path as osp

import pytest
import yaml
from modelindex.load_model_index import load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README_TABLES = ('pretraining', 'linear-probe', 'semi-supervised', 'knn', 'voc-detection',
                 'coco-detection', 'segmentation')


@pytest.fixture(scope='module')
def model_index():
    return load(osp.join(ROOT, 'model-index.yml'))


def test_model_index_imports_the_cgh_metafile(model_index):
    assert [c.name for c in model_index.collections] == ['CGH']
    collection = model_index.collections[0]
    assert collection.paper['URL'] == 'https://arxiv.org/abs/2308.13392'
    assert collection.metadata.training_techniques
    assert collection.metadata.architecture
    assert model_index.models, 'the metafile lists no model'
    # OpenMMLab metafiles give README paths from the repository root (as mim reads
    # them); model-index's check resolves them from the metafile's folder instead,
    # so that one message is checked here against the root.
    errors = model_index.check(silent=True)
    assert [e for e in errors if 'README' not in e] == []
    assert osp.isfile(osp.join(ROOT, collection.readme))


def test_every_config_exists_and_names_match_stems(model_index):
    missing = [m.config for m in model_index.models
               if not osp.isfile(osp.join(ROOT, m.config))]
    assert not missing, f'metafile Config paths that do not exist: {missing}'
    wrong = [(m.name, m.config) for m in model_index.models
             if m.name != osp.splitext(osp.basename(m.config))[0]]
    assert not wrong, f'model names differing from their config stems: {wrong}'
    assert all(m.in_collection == 'CGH' for m in model_index.models)


def test_results_are_sourced_and_weights_exist():
    with open(osp.join(ROOT, 'configs', 'cgh', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    for model in models:
        assert model['Metadata']['Benchmark'] in README_TABLES, model['Name']
        for result in model.get('Results') or []:
            source = result.get('Source') or {}
            assert {'Config', 'Hardware', 'Date'} <= set(source), model['Name']
            assert source['Config'] == osp.basename(model['Config'])
        if model.get('Weights'):
            assert osp.isfile(osp.join(ROOT, model['Weights'])), model['Weights']


def test_readme_has_a_marked_table_per_benchmark():
    with open(osp.join(ROOT, 'configs', 'cgh', 'README.md')) as f:
        text = f.read()
    for table in README_TABLES:
        assert text.count(f'<!-- results:{table}:start -->') == 1, table
        assert text.count(f'<!-- results:{table}:end -->') == 1, table

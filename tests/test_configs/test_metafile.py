"""The model zoo: model-index.yml and configs/cgh/metafile.yml read by mim-style tooling."""
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile

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


def test_results_name_the_data_they_were_measured_on():
    """Dataset names come from the metafile (Training/Evaluation Data), never a class name."""
    from mmengine.config import Config

    with open(osp.join(ROOT, 'configs', 'cgh', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    for model in models:
        cfg = Config.fromfile(osp.join(ROOT, model['Config']), import_custom_modules=False)
        if cfg.get('val_evaluator') or cfg.get('test_evaluator'):
            assert model['Metadata'].get('Evaluation Data'), model['Name']
        for result in model.get('Results') or []:
            assert not result['Dataset'].endswith('Dataset'), model['Name']
            key = 'Training Data' if result['Task'] == 'Self-Supervised Pre-training' \
                else 'Evaluation Data'
            assert result['Dataset'] == model['Metadata'][key], model['Name']


def test_readme_tables_are_the_metafile_rendered():
    from tests.helpers import TOOLS, load_tool

    update_readme = load_tool(osp.join(TOOLS, 'model_zoo', 'collect_results.py')).update_readme

    with open(osp.join(ROOT, 'configs', 'cgh', 'metafile.yml')) as f:
        metafile = yaml.safe_load(f)
    with open(osp.join(ROOT, 'configs', 'cgh', 'README.md')) as f:
        text = f.read()
    assert update_readme(text, metafile) == text


@pytest.mark.slow
def test_wheel_built_from_the_sdist_ships_the_model_index_where_mim_reads_it(tmp_path):
    """mim finds `<package>/.mim/model-index.yml` and resolves configs under `.mim/`."""
    src = tmp_path / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.egg-info', 'build')
    src.mkdir()
    for name in ('setup.cfg', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'model-index.yml'):
        shutil.copy(osp.join(ROOT, name), src / name)
    for name in ('cgh_mm', 'configs', 'tools', 'requirements'):
        shutil.copytree(osp.join(ROOT, name), src / name, symlinks=True, ignore=ignore)
    subprocess.run([sys.executable, '-c', 'from setuptools import build_meta; '
                    f'build_meta.build_sdist({str(tmp_path / "dist")!r})'],
                   cwd=src, check=True, capture_output=True)
    (sdist, ) = (tmp_path / 'dist').glob('cgh_mm-*.tar.gz')
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / 'sdist')
    (unpacked, ) = (tmp_path / 'sdist').iterdir()
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(tmp_path / 'wheel'), str(unpacked)],
                   check=True, capture_output=True)
    (wheel, ) = (tmp_path / 'wheel').glob('cgh_mm-*.whl')
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(tmp_path / 'installed')
    mim = tmp_path / 'installed' / 'cgh_mm' / '.mim'
    index = load(str(mim / 'model-index.yml'))
    assert [m.name for m in index.models] == [m.name for m in
                                              load(osp.join(ROOT, 'model-index.yml')).models]
    for model in index.models:
        assert (mim / model.config).is_file(), model.config
    assert (mim / index.collections[0].readme).is_file()
    assert (mim / 'tools' / 'train.py').is_file() and (mim / 'tools' / 'test.py').is_file()
    assert (mim / 'configs' / '_base_' / 'default_runtime.py').is_file()

"""What a pip user gets: every third-party module that cgh_mm, or a tool the wheel ships
(``cgh_mm/.mim/tools``), imports is a declared requirement."""
import ast
import configparser
import glob
import os.path as osp
import re
import sys
from importlib.metadata import packages_distributions

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
USER_CHOICE = {'torch', 'torchvision'}  # the CPU or CUDA build is the user's to install


def imported_modules(package_dir: str) -> dict:
    """Top-level module -> first file importing it, over every import in the package
    (module level and inside functions)."""
    found = {}
    for path in sorted(glob.glob(osp.join(package_dir, '**', '*.py'), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split('.')[0], osp.relpath(path, ROOT))
    return found


def declared_requirements() -> set:
    cfg = configparser.ConfigParser()
    cfg.read(osp.join(ROOT, 'setup.cfg'))
    lines = cfg['options']['install_requires'].split('\n')
    return {re.split(r'[<>=!~\[ ;]', line.strip())[0].lower().replace('_', '-')
            for line in lines if line.strip() and not line.strip().startswith('#')}


@pytest.mark.parametrize('folder', ['cgh_mm', 'tools'])
def test_every_third_party_import_is_declared(folder):
    distributions = packages_distributions()
    declared = declared_requirements()
    # a tool imports what it shares with other tools from cgh_mm, never a sibling script:
    # an import of one by its file name is undeclared here
    undeclared = {}
    for module, path in imported_modules(osp.join(ROOT, folder)).items():
        if module in sys.stdlib_module_names or module == 'cgh_mm' or module in USER_CHOICE:
            continue
        dists = {d.lower().replace('_', '-') for d in distributions.get(module, [module])}
        if not dists & declared:
            undeclared[module] = (path, sorted(dists))
    assert not undeclared, (
        f'imported by {folder} but not in setup.cfg install_requires: {undeclared}')


def test_the_check_sees_imports_inside_functions(tmp_path):
    (tmp_path / 'mod.py').write_text('import os\n\ndef f():\n    from sklearn import metrics\n')
    assert set(imported_modules(str(tmp_path))) == {'os', 'sklearn'}

"""The method figure of configs/cgh/README.md is drawn by a script, not pasted."""
import os.path as osp

import matplotlib.image as mpimg

from tests.helpers import TOOLS, load_tool

main = load_tool(osp.join(TOOLS, 'model_zoo', 'draw_cgh_diagram.py')).main


def test_diagram_is_a_readable_png(tmp_path, capsys):
    out = tmp_path / 'figures' / 'cgh_method.png'
    main(['--out', str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    height, width = mpimg.imread(out).shape[:2]
    assert width > 1000 and height > 500

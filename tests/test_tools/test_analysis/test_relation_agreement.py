"""The agreement measures of tools/analysis/visualize_relations.py."""
import math
import os.path as osp

import torch

from tests.helpers import TOOLS, load_tool, raises_stating

visualize_relations = load_tool(osp.join(TOOLS, 'analysis', 'visualize_relations.py'))
kl_divergence, topk_overlap = visualize_relations.kl_divergence, visualize_relations.topk_overlap


def test_identical_distributions_agree_fully():
    p = torch.softmax(torch.randn(3, 10), dim=1)
    torch.testing.assert_close(kl_divergence(p, p.clone()), torch.zeros(3))
    torch.testing.assert_close(topk_overlap(p, p.clone(), k=4), torch.ones(3))


def test_disjoint_distributions():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    q = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    eps = 1e-6
    # every slot of p meets q == 0, floored to eps: sum 0.5 * log(0.5 / eps)
    torch.testing.assert_close(kl_divergence(p, q, eps=eps),
                               torch.tensor([math.log(0.5 / eps)]))
    torch.testing.assert_close(topk_overlap(p, q, k=2), torch.tensor([0.0]))


def test_hand_computed_values():
    p = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    q = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    expected = torch.tensor([0.5 * math.log(2) + 0.5 * math.log(2 / 3), math.log(2)])
    torch.testing.assert_close(kl_divergence(p, q), expected)
    # top-2 of p: slots {0, 1}; of q: {1, 2} -> one shared of two
    p = torch.tensor([[0.4, 0.3, 0.2, 0.1]])
    q = torch.tensor([[0.1, 0.4, 0.3, 0.2]])
    torch.testing.assert_close(topk_overlap(p, q, k=2), torch.tensor([0.5]))
    torch.testing.assert_close(topk_overlap(p, q, k=3), torch.tensor([2 / 3]))


def test_bad_input_is_named():
    p = torch.softmax(torch.randn(2, 4), dim=1)
    with raises_stating(ValueError, '[1, 4]', 'got 5'):  # k's range: the queue length
        topk_overlap(p, p, k=5)
    with raises_stating(ValueError, '(N, K)', '(2, 4)', '(2, 3)'):
        kl_divergence(p, p[:, :3])

"""Weighted kNN top-1 of a backbone's pooled features (DINO-style vote, T=0.07).

The config's train dataloader is the memory set, its test (else val) dataloader the query
set and its ``model.backbone`` the backbone of CHECKPOINT; see ``--help``.
"""
import argparse
import json

from cgh_mm.evaluation import weighted_knn_accuracy
from cgh_mm.evaluation.feature_sets import (
    add_feature_arguments,
    checked_device,
    device_name,
    feature_sets_from_args,
)
from cgh_mm.runtime import write_file_atomically


def main() -> None:
    parser = argparse.ArgumentParser(description='Weighted kNN evaluation of features')
    add_feature_arguments(parser)
    parser.add_argument('--ks', type=int, nargs='+', default=[10, 20, 100, 200],
                        help='numbers of neighbours')
    parser.add_argument('--temperature', type=float, default=0.07,
                        help='temperature of the neighbour votes')
    args = parser.parse_args()
    if any(k <= 0 for k in args.ks) or args.temperature <= 0:
        parser.error(f'--ks must be positive and --temperature > 0, got {args.ks} and '
                     f'{args.temperature}.')
    device = checked_device(args.device)
    sets = feature_sets_from_args(args, device)
    # the search too: one (chunk x memory) product per 256 queries
    accuracies = weighted_knn_accuracy(*[sets[k].to(device) for k in (
        'train_features', 'train_labels', 'test_features', 'test_labels')],
        sets['num_classes'], ks=args.ks, temperature=args.temperature)
    print(f"weighted kNN on {device_name(device)}, T={args.temperature}, "
          f"{len(sets['train_labels'])} memory / "
          f"{len(sets['test_labels'])} query samples, {sets['num_classes']} classes\n"
          f"{'k':>6} | {'top-1 (%)':>9}\n{'-' * 18}")
    for k, acc in accuracies.items():
        print(f'{k:>6} | {acc:9.2f}')
    clamped = [k for k in args.ks if k > len(sets['train_labels'])]
    if clamped:
        print(f"k={', '.join(map(str, clamped))} asked for more neighbours than the "
              f"{len(sets['train_labels'])} memory samples: k={len(sets['train_labels'])} "
              'was used instead.')
    if args.out:
        write_file_atomically(args.out, json.dumps(dict(
            temperature=args.temperature, weights=args.weights, device=str(device),
            top1={str(k): v for k, v in accuracies.items()}), indent=2).encode())


if __name__ == '__main__':
    main()

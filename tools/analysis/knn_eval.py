"""Weighted kNN accuracy of a backbone's pooled features (DINO-style vote, T=0.07).

    python tools/analysis/knn_eval.py CONFIG CHECKPOINT [--weights student|teacher] \
        [--ks 10 20 100 200] [--temperature 0.07] [--save-features F.pth] [--out r.json]
    python tools/analysis/knn_eval.py --load-features F.pth [--out r.json]

The config's train dataloader is the memory set, its test (else val) dataloader the
query set, and its ``model.backbone`` the backbone the checkpoint is loaded into.
"""
import argparse
import json

from cgh_mm.evaluation import add_feature_arguments, feature_sets_from_args, weighted_knn_accuracy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Weighted kNN evaluation of features')
    add_feature_arguments(parser)
    parser.add_argument('--ks', type=int, nargs='+', default=[10, 20, 100, 200],
                        help='numbers of neighbours')
    parser.add_argument('--temperature', type=float, default=0.07,
                        help='temperature of the neighbour votes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if any(k <= 0 for k in args.ks) or args.temperature <= 0:
        raise SystemExit(f'--ks must be positive and --temperature > 0, got {args.ks} and '
                         f'{args.temperature}.')
    sets = feature_sets_from_args(args)
    accuracies = weighted_knn_accuracy(
        sets['train_features'], sets['train_labels'], sets['test_features'],
        sets['test_labels'], sets['num_classes'], ks=args.ks, temperature=args.temperature)
    print(f"weighted kNN, T={args.temperature}, {len(sets['train_labels'])} memory / "
          f"{len(sets['test_labels'])} query samples, {sets['num_classes']} classes")
    print(f"{'k':>6} | {'top-1 (%)':>9}")
    print('-' * 18)
    for k, acc in accuracies.items():
        print(f'{k:>6} | {acc:9.2f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(temperature=args.temperature, weights=args.weights,
                           top1={str(k): v for k, v in accuracies.items()}), f, indent=2)


if __name__ == '__main__':
    main()

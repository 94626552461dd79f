"""k-means clustering of a backbone's pooled features: NMI, AMI, ARI, Hungarian accuracy.

    python tools/analysis/cluster_eval.py CONFIG CHECKPOINT [--weights student|teacher] \
        [--num-clusters K] [--seed 0] [--save-features F.pth] [--out r.json]
    python tools/analysis/cluster_eval.py --load-features F.pth [--out r.json]

k-means is fitted on the train (fit) set and assigns the test (else val) query set,
whose clusters are scored against its labels. ``--num-clusters`` defaults to the
number of classes.
"""
import argparse
import json

from cgh_mm.evaluation import add_feature_arguments, clustering_metrics, feature_sets_from_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='k-means evaluation of features')
    add_feature_arguments(parser)
    parser.add_argument('--num-clusters', type=int, help='k of k-means (default: classes)')
    parser.add_argument('--seed', type=int, default=0, help='seed of k-means')
    parser.add_argument('--n-init', type=int, default=10, help='k-means restarts')
    return parser.parse_args()


def main() -> None:
    from sklearn.cluster import KMeans

    args = parse_args()
    sets = feature_sets_from_args(args)
    num_clusters = args.num_clusters or sets['num_classes']
    if num_clusters < 2 or num_clusters > len(sets['train_features']):
        raise SystemExit(f'--num-clusters must be in [2, {len(sets["train_features"])}] '
                         f'(fit samples), got {num_clusters}.')
    kmeans = KMeans(n_clusters=num_clusters, n_init=args.n_init, random_state=args.seed)
    kmeans.fit(sets['train_features'].double().numpy())
    clusters = kmeans.predict(sets['test_features'].double().numpy())
    scores = clustering_metrics(sets['test_labels'].numpy(), clusters)
    print(f"k-means, k={num_clusters}, fit on {len(sets['train_labels'])}, "
          f"scored on {len(sets['test_labels'])} samples")
    print(' | '.join(f'{name.upper():>6}' for name in scores))
    print(' | '.join(f'{value:6.4f}' for value in scores.values()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(num_clusters=num_clusters, weights=args.weights, seed=args.seed,
                           **scores), f, indent=2)


if __name__ == '__main__':
    main()

"""k-means clustering of a backbone's pooled features: NMI, AMI, ARI, Hungarian accuracy.

k-means is fitted on the config's train (fit) set and assigns its test (else val) set,
whose clusters are scored against its labels; see ``--help``.
"""
import argparse
import json

from sklearn.cluster import KMeans

from cgh_mm.evaluation import add_feature_arguments, clustering_metrics, feature_sets_from_args
from cgh_mm.utils import write_file_atomically


def main() -> None:
    parser = argparse.ArgumentParser(description='k-means evaluation of features')
    add_feature_arguments(parser)
    parser.add_argument('--num-clusters', type=int, help='k of k-means (default: classes)')
    parser.add_argument('--seed', type=int, default=0, help='seed of k-means')
    parser.add_argument('--n-init', type=int, default=10, help='k-means restarts')
    args = parser.parse_args()
    sets = feature_sets_from_args(args)
    num_clusters = args.num_clusters or sets['num_classes']
    if not 2 <= num_clusters <= len(sets['train_features']):
        parser.error(f'--num-clusters must be in [2, {len(sets["train_features"])}] '
                     f'(fit samples), got {num_clusters}.')
    kmeans = KMeans(n_clusters=num_clusters, n_init=args.n_init, random_state=args.seed)
    kmeans.fit(sets['train_features'].double().numpy())
    clusters = kmeans.predict(sets['test_features'].double().numpy())
    scores = clustering_metrics(sets['test_labels'].numpy(), clusters)
    print(f"k-means, k={num_clusters}, fit on {len(sets['train_labels'])}, scored on "
          f"{len(sets['test_labels'])} samples\n"
          + ' | '.join(f'{name.upper():>6}' for name in scores) + '\n'
          + ' | '.join(f'{value:6.4f}' for value in scores.values()))
    if args.out:
        write_file_atomically(args.out, json.dumps(dict(
            num_clusters=num_clusters, weights=args.weights, seed=args.seed, **scores),
            indent=2).encode())


if __name__ == '__main__':
    main()

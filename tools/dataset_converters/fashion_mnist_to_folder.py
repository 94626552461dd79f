"""Convert the Fashion-MNIST idx files (SRC: default, the Debian package's) into
DST/{train,test}/<class>/<index>.png and DST/meta/{train,test}.txt (``<class>/<index>.png
<label>`` lines in the original class-mixed order: ``indices=N`` is class-balanced)."""
import argparse

from cgh_mm.datasets.fashion_mnist_folder import DEFAULT_SRC, convert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', nargs='?', default=DEFAULT_SRC, help='folder of the idx files')
    parser.add_argument('dst', nargs='?', default='data/fashion-mnist', help='output folder')
    args = parser.parse_args()
    counts = convert(args.src, args.dst)
    print(f'{args.dst}: ' + ', '.join(f'{k} {v} images' for k, v in counts.items()))


if __name__ == '__main__':
    main()

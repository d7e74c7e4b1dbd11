#!/usr/bin/python3
"""Texture mosaics for `task: segmentation`: each image is a patchwork of
regions, each region cut from one of scikit-image's bundled photographs,
and its mask holds the index of that photograph's class.

Writes OUT/images/NNNN.<png|jpg>, OUT/masks/NNNN.png (gray, pixel = class
index in the order of --textures) and OUT/classes.txt (one class a line).

Needs Debian's python3-skimage (run with /usr/bin/python3: a pyenv python
may not see it). Only photos that ship inside the package load offline;
those that scikit-image fetches on first use (eagle, kidney, skin, …) fail
here and are refused with the list of those that load.

    /usr/bin/python3 scripts/make-texture-mosaics.py OUT --count 200 --size 128 --seed 1
"""
import argparse
import os
import sys
import warnings

import numpy as np
from PIL import Image

import skimage.data

# Bundled with the package and loaded without a network (checked with python3-skimage 0.19).
OFFLINE = ['brick', 'grass', 'gravel', 'camera', 'moon', 'coins', 'text', 'page', 'clock', 'cell',
           'checkerboard', 'astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry', 'retina',
           'hubble_deep_field', 'colorwheel']


def load_texture(name):
    """The photo as float RGB in 0–255; gray photos repeated to three channels."""
    if name not in OFFLINE:
        sys.exit(f'texture {name!r} is not bundled for offline use; choose from: {", ".join(OFFLINE)}')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        photo = np.asarray(getattr(skimage.data, name)())
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    return photo[:, :, :3].astype(np.float32)


def voronoi_regions(rng, size, regions):
    """A label per pixel: the nearest of `regions` random seed points."""
    points = rng.uniform(0, size, size=(regions, 2))
    ys, xs = np.mgrid[0:size, 0:size]
    distance = (ys[None] - points[:, 0, None, None]) ** 2 + (xs[None] - points[:, 1, None, None]) ** 2
    return distance.argmin(axis=0)


def rectangle_regions(rng, size, regions):
    """A label per pixel: rectangles drawn one over another on a first region."""
    labels = np.zeros((size, size), dtype=np.int64)
    for region in range(1, regions):
        y0, x0 = rng.integers(0, size - size // 4, size=2)
        h, w = rng.integers(size // 4, size // 2 + 1, size=2)
        labels[y0:y0 + h, x0:x0 + w] = region
    return labels


def texture_patch(rng, photo, size, scale_range):
    """A square crop of the photo at a random place and scale, resized to size×size."""
    scale = rng.uniform(*scale_range)
    side = int(min(photo.shape[0], photo.shape[1], max(8, round(size * scale))))
    y0 = rng.integers(0, photo.shape[0] - side + 1)
    x0 = rng.integers(0, photo.shape[1] - side + 1)
    crop = Image.fromarray(photo[y0:y0 + side, x0:x0 + side].astype(np.uint8))
    return np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def mosaic(rng, photos, size, args):
    """One image and its mask; every mosaic holds at least two classes."""
    classes = len(photos)
    while True:
        regions = int(rng.integers(args.min_regions, args.max_regions + 1))
        region_of = (voronoi_regions if args.regions == 'voronoi' else rectangle_regions)(rng, size, regions)
        class_of_region = rng.integers(0, classes, size=regions)
        mask = class_of_region[region_of].astype(np.uint8)
        if len(np.unique(mask)) >= 2:
            break
    image = np.zeros((size, size, 3), dtype=np.uint8)
    for c in np.unique(mask):
        where = mask == c
        image[where] = texture_patch(rng, photos[c], size, (args.min_scale, args.max_scale))[where]
    return image, mask


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder (images/, masks/ and classes.txt are written in it)')
    parser.add_argument('--count', type=int, default=200)
    parser.add_argument('--size', type=int, default=128, help='side of the square images, in pixels')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--textures', default='brick,grass,gravel',
                        help=f'comma-separated, class order; bundled: {",".join(OFFLINE)}')
    parser.add_argument('--regions', choices=['voronoi', 'rectangles'], default='voronoi')
    parser.add_argument('--min-regions', type=int, default=2)
    parser.add_argument('--max-regions', type=int, default=6)
    parser.add_argument('--min-scale', type=float, default=1.0, help='crop side as a multiple of --size, least')
    parser.add_argument('--max-scale', type=float, default=2.0, help='… and most')
    parser.add_argument('--format', choices=['png', 'jpg'], default='png', help='of the images; masks are PNG')
    parser.add_argument('--quality', type=int, default=90, help='JPEG quality')
    args = parser.parse_args()
    names = [n.strip() for n in args.textures.split(',') if n.strip()]
    if len(names) < 2:
        sys.exit('--textures needs at least two names')
    if args.size < 8 or args.count < 1 or args.min_regions < 2 or args.max_regions < args.min_regions:
        sys.exit('--size ≥ 8, --count ≥ 1 and 2 ≤ --min-regions ≤ --max-regions')
    photos = [load_texture(n) for n in names]
    rng = np.random.default_rng(args.seed)
    os.makedirs(os.path.join(args.out, 'images'), exist_ok=True)
    os.makedirs(os.path.join(args.out, 'masks'), exist_ok=True)
    for i in range(args.count):
        image, mask = mosaic(rng, photos, args.size, args)
        stem = f'{i:04d}'
        picture = Image.fromarray(image)
        if args.format == 'jpg':
            picture.save(os.path.join(args.out, 'images', stem + '.jpg'), quality=args.quality)
        else:
            picture.save(os.path.join(args.out, 'images', stem + '.png'), optimize=True)
        Image.fromarray(mask, mode='L').save(os.path.join(args.out, 'masks', stem + '.png'), optimize=True)
    with open(os.path.join(args.out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    print(f'{args.count} mosaics of {", ".join(names)} at {args.size}×{args.size} in {args.out}')


if __name__ == '__main__':
    main()

/**
 * How a mask is coloured wherever tlpipe draws one (the report's overlays,
 * the demo page): here, below both the engine and the pages, so both draw
 * with the same colours and the same alpha.
 */

/**
 * The colour of class `index` in PASCAL VOC's palette, the one most
 * segmentation tools draw with: the bits of the index spread over the
 * high bits of R, G and B, so neighbouring indexes differ strongly and
 * class 0 (the background) is black. Fixed, so a class keeps its colour in
 * every report and every run.
 */
export function classColour(index: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let bit = 0, c = index; bit < 8 && c > 0; bit++, c >>= 3) {
    r |= (c & 1) << (7 - bit);
    g |= ((c >> 1) & 1) << (7 - bit);
    b |= ((c >> 2) & 1) << (7 - bit);
  }
  return [r, g, b];
}

/** VOC's colour for the pixels that count nowhere (its object borders, value 255). */
export const IGNORED_COLOUR: [number, number, number] = [224, 224, 192];

/** How much of a class's colour covers the image where a mask is drawn over it, unless told otherwise. */
export const MASK_OVERLAY_ALPHA = 0.5;

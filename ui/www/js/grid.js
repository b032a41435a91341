// Arrow-key movement in a grid of camera tiles. Pure, so the rules are tested in Node;
// the caller measures how many columns the CSS grid currently has.

/**
 * @param {number} index the focused tile, 0-based
 * @param {number} count how many tiles
 * @param {number} columns tiles per row as laid out now (≥ 1)
 * @param {string} key a KeyboardEvent.key
 * @returns {number | null} the tile to focus, or null when the key is not a grid move
 */
export function moveInGrid(index, count, columns, key) {
  if (count <= 0) return null;
  const cols = Math.max(1, Math.floor(columns));
  const last = count - 1;
  const i = Math.min(Math.max(0, index), last);
  switch (key) {
    // Left and right read on through the rows, as text does.
    case 'ArrowLeft':
      return Math.max(0, i - 1);
    case 'ArrowRight':
      return Math.min(last, i + 1);
    case 'ArrowUp':
      return i - cols >= 0 ? i - cols : i;
    case 'ArrowDown':
      if (i + cols <= last) return i + cols;
      // The row below is shorter: land on its last tile rather than going nowhere.
      return Math.floor(i / cols) < Math.floor(last / cols) ? last : i;
    case 'Home':
      return 0;
    case 'End':
      return last;
    default:
      return null;
  }
}

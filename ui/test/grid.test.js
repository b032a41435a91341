import { test } from 'node:test';
import assert from 'node:assert/strict';
import { moveInGrid } from '../www/js/grid.js';

// 7 tiles in 3 columns:   0 1 2
//                         3 4 5
//                         6
test('up and down move by a row and stop at the edges', () => {
  assert.equal(moveInGrid(1, 7, 3, 'ArrowDown'), 4);
  assert.equal(moveInGrid(4, 7, 3, 'ArrowUp'), 1);
  assert.equal(moveInGrid(1, 7, 3, 'ArrowUp'), 1);
  assert.equal(moveInGrid(6, 7, 3, 'ArrowDown'), 6);
});

test('down into a shorter last row lands on its last tile', () => {
  assert.equal(moveInGrid(5, 7, 3, 'ArrowDown'), 6);
  assert.equal(moveInGrid(4, 7, 3, 'ArrowDown'), 6);
});

test('left and right read on across rows and stop at the ends', () => {
  assert.equal(moveInGrid(2, 7, 3, 'ArrowRight'), 3);
  assert.equal(moveInGrid(3, 7, 3, 'ArrowLeft'), 2);
  assert.equal(moveInGrid(0, 7, 3, 'ArrowLeft'), 0);
  assert.equal(moveInGrid(6, 7, 3, 'ArrowRight'), 6);
});

test('Home and End go to the first and last tile', () => {
  assert.equal(moveInGrid(4, 7, 3, 'Home'), 0);
  assert.equal(moveInGrid(0, 7, 3, 'End'), 6);
});

test('other keys are not grid moves; an empty grid has nowhere to go', () => {
  assert.equal(moveInGrid(0, 7, 3, 'Enter'), null);
  assert.equal(moveInGrid(0, 0, 3, 'ArrowDown'), null);
});

test('two columns, as on a phone', () => {
  assert.equal(moveInGrid(0, 4, 2, 'ArrowDown'), 2);
  assert.equal(moveInGrid(3, 4, 2, 'ArrowUp'), 1);
});

test('a nonsense column count is treated as one column', () => {
  assert.equal(moveInGrid(0, 3, 0, 'ArrowDown'), 1);
});

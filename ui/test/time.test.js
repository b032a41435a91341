import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatClock, formatDate } from '../www/js/time.js';

/** @type {(h: number, m: number, day?: number) => number} */
const utc = (h, m, day = 24) => Date.UTC(2025, 10, day, h, m);

test('times of today are HH:MM, 24-hour, zero-padded', () => {
  const now = utc(23, 59);
  assert.equal(formatClock(utc(0, 5), { now, timeZone: 'UTC' }), '00:05');
  assert.equal(formatClock(utc(9, 7), { now, timeZone: 'UTC' }), '09:07');
  assert.equal(formatClock(utc(23, 50), { now, timeZone: 'UTC' }), '23:50');
});

test('an earlier day gets its date in front', () => {
  assert.equal(formatClock(utc(23, 50, 23), { now: utc(8, 0), timeZone: 'UTC' }), '11/23 23:50');
});

test('the day is judged in the time zone shown', () => {
  // 23:50 UTC on the 23rd is 08:50 on the 24th in Tokyo, the same day as "now" there.
  assert.equal(formatClock(utc(23, 50, 23), { now: utc(8, 0), timeZone: 'Asia/Tokyo' }), '08:50');
});

test('dates are written out in full, the same in every language', () => {
  assert.equal(formatDate(utc(9, 7, 3), { timeZone: 'UTC' }), '2025-11-03 09:07');
  // 23:50 UTC on the 23rd is already the 24th in Tokyo.
  assert.equal(formatDate(utc(23, 50, 23), { timeZone: 'Asia/Tokyo' }), '2025-11-24 08:50');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES, canOperate, roleLabel, siteRole } from '../www/js/roles.js';
import { translate } from '../www/js/i18n.js';

/**
 * @typedef {import('../www/js/types.js').OutputKind} OutputKind
 * @typedef {import('../www/js/types.js').ProfileSummary} ProfileSummary
 */

/** @type {OutputKind[]} */
const KINDS = ['siren', 'light', 'lock', 'relay'];

test('roles are named in words, in both languages', () => {
  assert.deepEqual(ROLES.map((r) => translate('en', roleLabel(r))), ['Viewer', 'Operator', 'Admin']);
  assert.deepEqual(ROLES.map((r) => translate('ja', roleLabel(r))), ['閲覧者', '操作者', '管理者']);
});

test('a role from a newer core is shown as the least one', () => {
  assert.equal(roleLabel(/** @type {any} */ ('auditor')), 'role.viewer');
});

test('what each role may operate: viewer nothing, operator siren and light, admin all', () => {
  const table = Object.fromEntries(ROLES.map((r) => [r, KINDS.filter((k) => canOperate(r, k))]));
  assert.deepEqual(table, {
    viewer: [],
    operator: ['siren', 'light'],
    admin: ['siren', 'light', 'lock', 'relay'],
  });
});

test('no role, an unknown role or an unknown kind operates nothing', () => {
  for (const kind of KINDS) {
    assert.equal(canOperate(null, kind), false);
    assert.equal(canOperate(undefined, kind), false);
    assert.equal(canOperate(/** @type {any} */ ('superuser'), kind), false);
    assert.equal(canOperate(/** @type {any} */ ('toString'), kind), false);
  }
  assert.equal(canOperate('admin', /** @type {any} */ ('fog')), false);
});

/**
 * @param {string} id
 * @param {[string, import('../www/js/types.js').Role][]} sites
 * @returns {ProfileSummary}
 */
const profile = (id, sites) => ({
  id, label: id, user: 'aiko', enrolledMs: 0, sites: sites.map(([site, role]) => ({ id: site, name: site.toUpperCase(), role })),
});

test('the role at a site comes from the profile that lists it', () => {
  const profiles = [profile('p1', [['hq', 'viewer'], ['shop', 'admin']]), profile('p2', [['depot', 'operator']])];
  assert.equal(siteRole(profiles, 'hq'), 'viewer');
  assert.equal(siteRole(profiles, 'depot'), 'operator');
  assert.equal(siteRole(profiles, 'shop'), 'admin');
  assert.equal(siteRole(profiles, 'elsewhere'), null);
  assert.equal(siteRole(null, 'hq'), null);
  assert.equal(siteRole([], 'hq'), null);
});

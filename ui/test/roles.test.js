import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES, canOperate, roleLabel, siteRole } from '../www/js/roles.js';
import { translate } from '../www/js/i18n.js';

/**
 * @typedef {import('../www/js/types.js').OutputKind} OutputKind
 * @typedef {import('../www/js/types.js').SiteSummary} SiteSummary
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
 * @param {import('../www/js/types.js').Role | null} role
 * @returns {SiteSummary}
 */
const site = (id, role) => ({
  id, name: id, link: 'online', armed: null, cameraCount: 0, faultyCameras: 0, outputCount: 0, lastSeenMs: null, role, roleFromSite: true,
});

test('the role at a site is the one the core reports for it, never the enrolled one', () => {
  const sites = [site('hq', 'viewer'), site('shop', 'admin'), site('depot', null)];
  assert.equal(siteRole(sites, 'hq'), 'viewer');
  assert.equal(siteRole(sites, 'shop'), 'admin');
  assert.equal(siteRole(sites, 'depot'), null);
  assert.equal(siteRole(sites, 'elsewhere'), null);
  assert.equal(siteRole(null, 'hq'), null);
});

// What a user's role at a site is called, and what it lets them operate. The site, the
// broker and the core enforce roles; the UI only reflects them (docs/enrolment.md, Roles),
// so that a viewer is not offered a control that would be refused anyway. The role shown is
// the one the core reports for the site (`SiteSummary.role`: the role the site publishes),
// never the one an enrolment code carried.

/**
 * @typedef {import('./types.js').Role} Role
 * @typedef {import('./types.js').OutputKind} OutputKind
 * @typedef {import('./types.js').SiteSummary} SiteSummary
 * @typedef {import('./i18n.js').MessageKey} MessageKey
 */

/** @type {readonly Role[]} */
export const ROLES = ['viewer', 'operator', 'admin'];

/** @type {Record<Role, MessageKey>} */
const LABEL = { viewer: 'role.viewer', operator: 'role.operator', admin: 'role.admin' };

/**
 * The words for a role. A role from a newer core that this UI does not know is shown as
 * the least one, like the controls it gets (none).
 * @param {Role} role
 * @returns {MessageKey}
 */
export const roleLabel = (role) => LABEL[role] ?? LABEL.viewer;

/** Which outputs each role may switch: viewers none, operators siren and light, admins all. */
/** @type {Record<Role, readonly OutputKind[]>} */
const OPERATES = {
  viewer: [],
  operator: ['siren', 'light'],
  admin: ['siren', 'light', 'lock', 'relay'],
};

/**
 * Whether a user with `role` may be offered the control of an output of `kind`. No role
 * (a site this device is not enrolled for), an unknown role or an unknown kind: no.
 * @param {Role | null | undefined} role
 * @param {OutputKind} kind
 */
export function canOperate(role, kind) {
  if (role === null || role === undefined || !Object.hasOwn(OPERATES, role)) return false;
  return OPERATES[role].includes(kind);
}

/**
 * Whether a user with `role` may acknowledge alerts: operators and admins.
 * @param {Role | null | undefined} role
 */
export const canAcknowledge = (role) => role === 'operator' || role === 'admin';

/**
 * The user's role at a site, as the core reports it (the role the site enforces); null
 * when there is none, or before the site has reported.
 * @param {readonly SiteSummary[] | null} sites
 * @param {string} siteId
 * @returns {Role | null}
 */
export function siteRole(sites, siteId) {
  return sites?.find((s) => s.id === siteId)?.role ?? null;
}

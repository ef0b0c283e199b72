// The dashboard: `vouch serve` registers `dashboard` at DASHBOARD_PREFIX; the admin API accepts its
// session through dashboardPrincipal().
export { dashboard, DASHBOARD_PREFIX, CONTENT_SECURITY_POLICY } from './plugin.ts';
export type { DashboardOptions } from './plugin.ts';
export {
  dashboardPrincipal,
  dashboardSessionAuthentication,
  originOf,
  csrfTokenOf,
  SESSION_COOKIE,
  CSRF_HEADER,
  SESSION_IDLE_MS,
  SESSION_LIFETIME_MS,
} from './session.ts';
export type { DashboardPrincipal } from './session.ts';
export { loadAssets } from './assets.ts';
export type { Asset } from './assets.ts';
export { WebError, WebErrorCode, WEB_PROBLEM_STATUS } from './errors.ts';
export type { WebErrorCodeName } from './errors.ts';

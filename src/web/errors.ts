import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const WebErrorCode = defineErrorCodes('web', {
  ERR_WEB_SESSION:
    'No dashboard session, or it ended (signed out, past its lifetime, idle too long, or its admin token was revoked or expired): sign in again.',
  ERR_WEB_CSRF:
    "A state-changing dashboard call came from another site, or without the session's CSRF token in the x-vouch-csrf header; the dashboard sends both, a forged request cannot.",
  ERR_WEB_ASSETS: "The dashboard's browser modules could not be read or translated when the server started; the message names the file.",
});
export type WebErrorCodeName = keyof typeof WebErrorCode;

/** The HTTP status each dashboard refusal travels with. */
export const WEB_PROBLEM_STATUS: Readonly<Record<WebErrorCodeName, number>> = {
  ERR_WEB_SESSION: 401,
  ERR_WEB_CSRF: 403,
  ERR_WEB_ASSETS: 500,
};

export class WebError extends VouchError {
  constructor(code: WebErrorCodeName, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

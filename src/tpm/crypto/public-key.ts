/**
 * TPMT_PUBLIC → node:crypto KeyObject / PEM (SubjectPublicKeyInfo), under the names the client,
 * CLI and scenario tests use; the conversion itself lives in keys.ts (both directions, all curves).
 */
export { publicKeyFromTpm as publicKeyFromTpmt, publicKeyPemFromTpm as publicKeyPem } from './keys.ts';

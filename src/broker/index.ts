// The key broker's secrets at rest: envelope encryption under a master key (file, environment or
// PKCS#11 HSM), crash-safe rotation, encrypted backups. docs/design.md "Secrets at rest".
export { SecretBroker, SECRET_NAMES, LUKS_KEY_BYTES, MAX_SECRET_BYTES } from './broker.ts';
export type { SecretValue, IssuedSecret, RotationProgress, RotationReport } from './broker.ts';
export { loadMasterKey, masterKeyFromBytes, createMasterKeyFile } from './master-key.ts';
export type { MasterKey } from './master-key.ts';
export { createPkcs11MasterKey, parsePkcs11Uri } from './pkcs11.ts';
export type { Pkcs11KeyLocation } from './pkcs11.ts';
export { writeSecretsBackupFile, readSecretsBackupFile } from './backup.ts';
export type { BackupKey, ImportReport } from './backup.ts';
export { BrokerError, BrokerErrorCode } from './errors.ts';
export type { BrokerErrorCodeName } from './errors.ts';

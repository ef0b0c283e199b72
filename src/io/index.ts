// File-system helpers shared by the I/O edges (CLI, stores, the software TPM's state file).
export { makeDirectory } from './make-directory.ts';
export { readFileUpTo, FileTooLargeError } from './read-file.ts';
export { writeFileAtomically, syncDirectory } from './write-atomically.ts';

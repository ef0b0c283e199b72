import type { Command } from '../command.ts';
import { commands as composefs } from './composefs.ts';
import { commands as composefsImage } from './composefs-image.ts';
import { commands as demo } from './demo.ts';
import { commands as eventlog } from './eventlog.ts';
import { commands as predict } from './predict.ts';
import { commands as secureboot } from './secureboot.ts';
import { commands as tpm } from './tpm.ts';
import { commands as verify } from './verify.ts';
import { commands as verifyEkcert } from './verify-ekcert.ts';

/**
 * Every command module, one line each. Each area owns its file in this folder and
 * exports `commands`.
 */
export const allCommands: readonly Command[] = [
  ...composefs,
  ...composefsImage,
  ...demo,
  ...eventlog,
  ...predict,
  ...secureboot,
  ...tpm,
  ...verify,
  ...verifyEkcert,
];

/** Every command the software TPM implements, by command code. */
import { attestHandlers } from './handlers-attest.ts';
import { coreHandlers } from './handlers-core.ts';
import { nvHandlers } from './handlers-nv.ts';
import { objectHandlers } from './handlers-objects.ts';
import { policyHandlers } from './handlers-policy.ts';
import type { Handler } from './model.ts';

export const HANDLERS: ReadonlyMap<number, Handler> = new Map([...coreHandlers, ...objectHandlers, ...attestHandlers, ...policyHandlers, ...nvHandlers]);

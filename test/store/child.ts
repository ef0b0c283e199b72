// A second process for store tests: the writer lock, appends from several processes, and kills
// (SIGKILL) at chosen points. Run as `node child.ts '<json command>'`; it reports on stdout, one
// line per step, and where a test kills it, it waits (on stdin, which the test never writes).
import { openStore, type StoreLocation } from '../../src/store/index.ts';
import { SecretBroker, masterKeyFromBytes, type MasterKey } from '../../src/broker/index.ts';

export type ChildCommand =
  | { readonly op: 'hold'; readonly location: StoreLocation }
  | { readonly op: 'append-audit'; readonly location: StoreLocation; readonly count: number; readonly actor: string }
  | { readonly op: 'issue-and-wait'; readonly location: StoreLocation; readonly masterKey: string; readonly owner: string; readonly value: string }
  | {
      readonly op: 'rotate';
      readonly location: StoreLocation;
      readonly from: string;
      readonly to: string;
      readonly batchSize: number;
      /** Stop (freeze until killed) after this many batches committed... */
      readonly stopAfterBatches?: number;
      /** ...or inside a batch's transaction, when the new key has wrapped this many data keys. */
      readonly stopAtWrap?: number;
    };

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Waits until killed: the test reads what we said, then SIGKILLs us. */
function waitForKill(): Promise<never> {
  return new Promise(() => {
    process.stdin.resume();
  });
}

/** Blocks the whole process (the event loop included) where it is, e.g. inside a transaction. */
function freeze(): never {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error('unreachable');
}

function key(hex: string): MasterKey {
  return masterKeyFromBytes(Buffer.from(hex, 'hex'));
}

const command = JSON.parse(process.argv[2]!) as ChildCommand;
switch (command.op) {
  case 'hold': {
    await openStore(command.location);
    say('ready');
    await waitForKill();
    break;
  }
  case 'append-audit': {
    const store = await openStore(command.location);
    for (let i = 0; i < command.count; i++) await store.audit.append({ actor: command.actor, action: 'test.append', details: { i } });
    await store.close();
    say('done');
    break;
  }
  case 'issue-and-wait': {
    const store = await openStore(command.location);
    const broker = await SecretBroker.open(store, [key(command.masterKey)]);
    const issued = await broker.issue(command.owner, 'luks-key', Buffer.from(command.value, 'hex'));
    say(`committed ${issued.version}`);
    await waitForKill();
    break;
  }
  case 'rotate': {
    const store = await openStore(command.location);
    const to = key(command.to);
    let wraps = 0;
    // The new key, counting its wraps: at the chosen one the process stops inside the transaction.
    const counting: MasterKey = {
      id: to.id,
      description: to.description,
      wrap(dataKey, aad) {
        if (++wraps === command.stopAtWrap) {
          say('inside-transaction');
          freeze();
        }
        return to.wrap(dataKey, aad);
      },
      unwrap: (wrapped, aad) => to.unwrap(wrapped, aad),
      close: () => to.close(),
    };
    const broker = await SecretBroker.open(store, [counting, key(command.from)]);
    let batches = 0;
    await broker.rotate({
      batchSize: command.batchSize,
      onBatch: () => {
        // The batch has committed; stop before the next one starts.
        if (++batches === command.stopAfterBatches) {
          say('between-batches');
          freeze();
        }
      },
    });
    say('rotated');
    await store.close();
    break;
  }
}

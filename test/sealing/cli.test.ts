// The release workflow on the command line: `vouch uki build --pcrpkey` → `vouch predict
// --sign-policy` (the .pcrsig of that image's PCR 11 per boot phase) → `vouch uki build --pcrpkey
// --pcrsig` embeds it; the finished image predicts the same PCR 11, its .pcrsig verifies under its
// .pcrpkey, and a document signed by another key or a malformed one is refused with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePcrSignature, verifyPcrSignature, type PcrSignatureDocument } from '../../src/sealing/index.ts';
import { parsePe, peSectionContent } from '../../src/secureboot/index.ts';
import { runVouch, type JsonError } from '../helpers/cli.ts';
import { SYSTEMD_STUB } from '../helpers/bootlab.ts';
import { withDir } from '../io/helpers.ts';
import { haveStub, policyKey } from './helpers.ts';

/** `vouch ARGS --json`: the result on success; on failure `result` is null and `error` holds the code. */
interface Outcome<R> {
  readonly code: number;
  readonly doc: { readonly result: R; readonly error: JsonError['error'] };
}

async function vouch<R>(dir: string, args: readonly string[]): Promise<Outcome<R>> {
  const r = await runVouch([...args, '--json'], { cwd: dir });
  return { code: r.code, doc: JSON.parse(r.stdout) as Outcome<R>['doc'] };
}

test('vouch predict --sign-policy and vouch uki build --pcrpkey/--pcrsig make a UKI whose .pcrsig approves its own PCR 11', async (t) => {
  if (!haveStub(t)) return;
  await withDir(async (dir) => {
    const key = policyKey('ec');
    const other = policyKey('rsa');
    await writeFile(join(dir, 'policy.key'), key.privatePem);
    await writeFile(join(dir, 'policy.pub'), key.publicPem);
    await writeFile(join(dir, 'other.pub'), other.publicPem);
    await writeFile(join(dir, 'vmlinuz'), randomBytes(4096));
    const build = (out: string, ...extra: string[]) =>
      vouch<{ pcrsig: boolean }>(dir, [
        'uki',
        'build',
        '--stub',
        SYSTEMD_STUB,
        '--linux',
        'vmlinuz',
        '--cmdline',
        'ro',
        '--pcrpkey',
        'policy.pub',
        '--out',
        out,
        ...extra,
      ]);
    assert.equal((await build('stage1.efi')).code, 0);
    const profile = (image: string) =>
      JSON.stringify({ banks: ['sha256'], chain: [{ kind: 'uki', image, authority: 'none', phases: ['enter-initrd', 'leave-initrd'] }] });
    await writeFile(join(dir, 'stage1.json'), profile('stage1.efi'));
    const signed = await vouch<{ pcrsig: PcrSignatureDocument; phases: Record<string, string[]> }>(dir, [
      'predict',
      'stage1.json',
      '--sign-policy',
      'policy.key',
      '--pcrsig-out',
      'uki.pcrsig',
      '--policy-counter',
      '3',
    ]);
    assert.equal(signed.code, 0, JSON.stringify(signed.doc.error));
    assert.deepEqual(signed.doc.result.phases.sha256, ['enter-initrd', 'enter-initrd', 'enter-initrd:leave-initrd', 'enter-initrd:leave-initrd']);
    assert.deepEqual(
      signed.doc.result.pcrsig.sha256!.map((e) => e.counter),
      [undefined, 3, undefined, 3],
    );

    const final = await build('final.efi', '--pcrsig', 'uki.pcrsig');
    assert.equal(final.code, 0, JSON.stringify(final.doc.error));
    assert.equal(final.doc.result.pcrsig, true);
    const pe = parsePe(new Uint8Array(await readFile(join(dir, 'final.efi'))));
    const embedded = parsePcrSignature(peSectionContent(pe, '.pcrsig')!);
    assert.equal(verifyPcrSignature(embedded, key.publicKey), 4);

    // The finished image, .pcrsig included, has the PCR 11 the signatures were made for.
    await writeFile(join(dir, 'final.json'), profile('final.efi'));
    const again = await vouch<{ pcrsig: PcrSignatureDocument }>(dir, ['predict', 'final.json', '--sign-policy', 'policy.key', '--policy-counter', '3']);
    assert.deepEqual(
      again.doc.result.pcrsig.sha256!.map((e) => e.pol),
      signed.doc.result.pcrsig.sha256!.map((e) => e.pol),
    );

    const foreign = await build('bad.efi', '--pcrsig', 'uki.pcrsig', '--pcrpkey', 'other.pub');
    assert.equal(foreign.code, 1);
    assert.equal(foreign.doc.error.code, 'ERR_SEALING_PCRSIG_SIGNATURE');
    await writeFile(join(dir, 'broken.pcrsig'), '{"sha256":[{"pcrs":[11],"pkfp":"00","pol":"11","sig":"AA=="}]}');
    const broken = await build('bad.efi', '--pcrsig', 'broken.pcrsig');
    assert.equal(broken.doc.error.code, 'ERR_SEALING_PCRSIG_FORMAT');
    const noKey = await vouch(dir, ['uki', 'build', '--stub', SYSTEMD_STUB, '--linux', 'vmlinuz', '--pcrsig', 'uki.pcrsig', '--out', 'bad.efi']);
    assert.equal(noKey.doc.error.code, 'ERR_CLI_USAGE');
    const twoProfiles = await vouch(dir, ['predict', 'stage1.json', 'final.json', '--sign-policy', 'policy.key']);
    assert.equal(twoProfiles.doc.error.code, 'ERR_CLI_USAGE');
    const stray = await vouch(dir, ['predict', 'stage1.json', '--policy-counter', '2']);
    assert.equal(stray.doc.error.code, 'ERR_CLI_USAGE');
  });
});

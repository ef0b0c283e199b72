import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDump, printDump, createInode, createRoot, addChild, addHardlink, setXattr, FileType, lookupPath, isVouchErrorWithCode } from './helpers.ts';

const vectors = join(import.meta.dirname, '../vectors/composefs');
const dumps = readdirSync(vectors)
  .filter((f) => f.endsWith('.dump'))
  .sort();
// composefs' own test-checksums.sh parses these three without CFS_PARSE_STRICT.
const nonStrict = new Set(['no-newline.dump', 'longlink.dump', 'honggfuzz-longlink-unterminated.dump']);

for (const file of dumps.filter((f) => !f.startsWith('should-fail-') && !nonStrict.has(f))) {
  test(`composefs vector ${file}: strict parse then print reproduces it byte for byte`, () => {
    const bytes = readFileSync(join(vectors, file));
    assert.equal(printDump(parseDump(bytes, { strict: true })), bytes.toString('latin1'));
  });
}

for (const file of [...nonStrict]) {
  test(`composefs vector ${file}: parses leniently and its canonical print is a fixed point`, () => {
    const bytes = readFileSync(join(vectors, file));
    const printed = printDump(parseDump(bytes));
    assert.equal(printDump(parseDump(printed, { strict: true })), printed);
  });
}

test('no-newline.dump is rejected in strict mode with the line number', () => {
  const bytes = readFileSync(join(vectors, 'no-newline.dump'));
  assert.throws(
    () => parseDump(bytes, { strict: true }),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE') && /line 3: missing trailing newline/.test(e.message),
  );
});

const expectedReasons: Record<string, RegExp> = {
  'should-fail-big-inline.dump': /line 2: .*exceeds the maximum 5000/,
  'should-fail-dir-hardlink.dump': /line 2: directories cannot be hardlinked/,
  'should-fail-dot-name.dump': /line 2: invalid \. or \.\./,
  'should-fail-dotdot-name.dump': /line 2: invalid \. or \.\./,
  'should-fail-empty-link-name.dump': /line 2: symlink without a target/,
  'should-fail-empty-name.dump': /line 2: empty component/,
  'should-fail-empty-xattr-key.dump': /line 2: empty xattr name/,
  'should-fail-honggfuzz-long-xattr.dump': /line 1: xattrs of \d+ bytes exceed/,
  'should-fail-long-link.dump': /line 2: PAYLOAD of \d+ bytes exceeds 4095/,
  'should-fail-long-xattr-key.dump': /line 2: xattrs take \d+ bytes/,
  'should-fail-long-xattr-value.dump': /line 2: invalid mode 644/,
  'should-fail-no-ftype.dump': /line 2: invalid mode 0/,
  'should-fail-self-hardlink.dump': /line 2: self-referential hardlink/,
  'should-fail-too-big.dump': /line 2: .*too big for composefs/,
};

for (const file of dumps.filter((f) => f.startsWith('should-fail-'))) {
  test(`composefs vector ${file} is rejected with its line and reason`, () => {
    const reason = expectedReasons[file];
    assert.ok(reason, `no expected reason recorded for ${file}`);
    const bytes = readFileSync(join(vectors, file));
    assert.throws(
      () => parseDump(bytes),
      (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE') && reason.test(e.message) && typeof e.details.line === 'number',
    );
  });
}

test('pinned-digests dumps round trip', () => {
  const pinned = JSON.parse(readFileSync(join(vectors, 'pinned-digests.json'), 'utf8')) as { cases: { dump: string }[] };
  for (const c of pinned.cases) assert.equal(printDump(parseDump(c.dump, { strict: true })), c.dump);
});

test('escapes: backslash, controls, spaces, lone dash, = in xattrs, high bytes', () => {
  const root = createRoot(createInode({ mode: FileType.directory | 0o755, nlink: 2 }));
  const f = addChild(root, 'a b\\c\n\xff=', createInode({ mode: FileType.regular | 0o644, size: 1n, content: new Uint8Array([0x2d]) }));
  setXattr(f.inode, 'user.k=y', new Uint8Array([0x3d, 0x20, 0x00, 0x09]));
  addChild(root, 'dash', createInode({ mode: FileType.symlink | 0o777, size: 1n, payload: '-' }));
  const text = printDump(root);
  assert.equal(
    text,
    '/ 0 40755 2 0 0 0 0.0 - - -\n' +
      '/a\\x20b\\\\c\\n\\xff= 1 100644 1 0 0 0 0.0 - \\x2d - user.k\\x3dy=\\x3d\\x20\\x00\\t\n' +
      '/dash 1 120777 1 0 0 0 0.0 \\x2d - -\n',
  );
  assert.equal(printDump(parseDump(text, { strict: true })), text);
});

test('hardlinks resolve after all lines, share the target inode and print with @', () => {
  const text = '/ 0 40755 2 0 0 0 0.0 - - -\n' + '/a 0 @100644 2 0 0 0 0.0 /z - -\n' + '/z 5 100644 2 7 7 0 3.4 - hello -\n';
  const root = parseDump(text);
  const a = lookupPath(root, '/a')!;
  const z = lookupPath(root, '/z')!;
  assert.equal(a.hardlinkTarget, z);
  assert.equal(a.inode, z.inode);
  assert.equal(printDump(root), '/ 0 40755 2 0 0 0 0.0 - - -\n/a 5 @100644 2 7 7 0 3.4 /z hello -\n/z 5 100644 2 7 7 0 3.4 - hello -\n');
  const root2 = createRoot(createInode({ mode: FileType.directory | 0o755 }));
  assert.throws(
    () => addHardlink(root2, 'x', root2),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_TREE_INVALID'),
  );
});

test('malformed lines fail with a typed error naming the line', () => {
  const root = '/ 0 40755 2 0 0 0 0.0 - - -\n';
  const bad = [
    '/x 0 100644 1 0 0 0 0 - - -\n', // mtime without '.'
    '/x zz 100644 1 0 0 0 0.0 - - -\n',
    '/x 0 100648 1 0 0 0 0.0 - - -\n',
    '/x 0 100644 1 0 0 0 0.0 - - - noequals\n',
    '/x 0 100644 1 0 0 0 0.0 - - - a=\\q\n',
    '/x 0 100644 1 0 0 0 0.0 - - - a=\\x4\n',
    '/x 0 100644 1 0 0 0 0.0 - - 1234\n',
    '/x 3 100644 1 0 0 0 0.0 - ab -\n',
    '/missing/x 0 100644 1 0 0 0 0.0 - - -\n',
    '/x 0 100644 1 0 0 0 0.0 - - -\n/x 0 100644 1 0 0 0 0.0 - - -\n',
    '/x 0 100644 1 0 0 0 0.0 - - -\n/x/y 0 100644 1 0 0 0 0.0 - - -\n',
    '/x 0 100644 1 0 0 99999999999 0.0 - - -\n',
    '/x 0 @100644 1 0 0 0 0.0 /nowhere - -\n',
    '/x 0 100644 1 0 \0 0 0.0 - - -\n',
    '/ 0 40755 2 0 0 0 0.0 - - -\n',
  ];
  for (const b of bad) {
    assert.throws(
      () => parseDump(root + b),
      (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE') && /^line \d+: /.test(e.message),
      JSON.stringify(b),
    );
  }
  assert.throws(
    () => parseDump(''),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE'),
  );
  assert.throws(
    () => parseDump('/x 0 100644 1 0 0 0 0.0 - - -\n'),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE'),
  );
});

test('random and mutated dumps only ever throw typed errors', () => {
  const seed = readFileSync(join(vectors, 'special.dump'));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(seed.length), fc.nat(255), (junk, at, byte) => {
      for (const input of [
        junk,
        (() => {
          const m = Uint8Array.from(seed);
          m[at % m.length] = byte;
          return m;
        })(),
        seed.subarray(0, at),
      ]) {
        try {
          parseDump(input);
        } catch (e) {
          assert.ok(isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE'), String(e));
        }
      }
    }),
    { numRuns: 150 },
  );
});

test('random trees: print then strict parse then print is the identity', () => {
  const nameArb = fc
    .uint8Array({ minLength: 1, maxLength: 12 })
    .map((b) => Buffer.from(b.map((x) => (x === 0x2f || x === 0 ? 0x41 : x))).toString('latin1'))
    .filter((n) => n !== '.' && n !== '..');
  const entryArb = fc.record({
    name: nameArb,
    kind: fc.constantFrom('dir', 'inline', 'external', 'empty', 'symlink', 'fifo', 'chr', 'hardlink'),
    perm: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.nat(),
    gid: fc.nat(),
    sec: fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }),
    nsec: fc.integer({ min: 0, max: 999_999_999 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    xattrs: fc.array(
      fc.tuple(
        nameArb.map((n) => `user.${n}`),
        fc.uint8Array({ maxLength: 20 }),
      ),
      { maxLength: 3 },
    ),
    depth: fc.nat(3),
  });
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 25 }), (entries) => {
      const root = createRoot(createInode({ mode: FileType.directory | 0o755, nlink: 2 }));
      const dirs = [root];
      const files: ReturnType<typeof addChild>[] = [];
      for (const e of entries) {
        const parent = dirs[Math.min(e.depth, dirs.length - 1)]!;
        if (parent.children!.has(e.name)) continue;
        const common = { uid: e.uid, gid: e.gid, mtimeSec: e.sec, mtimeNsec: e.nsec };
        if (e.kind === 'hardlink') {
          if (files.length > 0) addHardlink(parent, e.name, files[e.perm % files.length]!);
          continue;
        }
        const inode =
          e.kind === 'dir'
            ? createInode({ ...common, mode: FileType.directory | e.perm, nlink: 2 })
            : e.kind === 'inline'
              ? createInode({ ...common, mode: FileType.regular | e.perm, size: BigInt(e.bytes.length), content: e.bytes })
              : e.kind === 'external'
                ? createInode({
                    ...common,
                    mode: FileType.regular | e.perm,
                    size: 1000n + BigInt(e.bytes[0]!),
                    payload: 'ab/' + 'c'.repeat(62),
                    fsverityDigest: new Uint8Array(32).fill(e.bytes[0]!),
                  })
                : e.kind === 'empty'
                  ? createInode({ ...common, mode: FileType.regular | e.perm })
                  : e.kind === 'symlink'
                    ? createInode({
                        ...common,
                        mode: FileType.symlink | 0o777,
                        size: BigInt(e.bytes.length),
                        payload: Buffer.from(e.bytes.map((x) => x || 1)).toString('latin1'),
                      })
                    : e.kind === 'fifo'
                      ? createInode({ ...common, mode: FileType.fifo | e.perm })
                      : createInode({ ...common, mode: FileType.charDevice | e.perm, rdev: e.uid % 65536 });
        for (const [k, v] of e.xattrs) setXattr(inode, k, v);
        const node = addChild(parent, e.name, inode);
        if (node.children) dirs.push(node);
        else if (e.kind !== 'symlink') files.push(node);
      }
      const text = printDump(root);
      assert.equal(printDump(parseDump(text, { strict: true })), text);
    }),
    { numRuns: 200 },
  );
});

test('MTIME seconds must fit a signed 64-bit time: 2^63 is refused (mkcomposefs would silently wrap it to -2^63)', () => {
  const line = (mtime: string): string => `/ 0 40755 2 0 0 0 0.0 - - -\n/f 0 100644 1 0 0 0 ${mtime} - - -\n`;
  assert.equal(lookupPath(parseDump(line('9223372036854775807.0')), '/f')!.inode.mtimeSec, 2n ** 63n - 1n);
  assert.equal(lookupPath(parseDump(line('-9223372036854775808.0')), '/f')!.inode.mtimeSec, -(2n ** 63n));
  for (const mtime of ['9223372036854775808.0', '-9223372036854775809.0', '18446744073709551615.0']) {
    assert.throws(
      () => parseDump(line(mtime)),
      (e) =>
        isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE') && /line 2: MTIME seconds: .* outside -9223372036854775808\.\.9223372036854775807/.test(e.message),
      mtime,
    );
  }
});

test('an external file with an empty DIGEST is refused (mkcomposefs would pin an uninitialised buffer); elsewhere it means none', () => {
  // A line cut after PAYLOAD and CONTENT: the DIGEST field is there but empty.
  assert.throws(
    () => parseDump('/ 0 40755 2 0 0 0 0.0 - - -\n/f 5000 100644 1 0 0 0 0.0 ab/cdef - \n'),
    (e) => isVouchErrorWithCode(e, 'ERR_COMPOSEFS_DUMP_PARSE') && /line 2: DIGEST is empty for an external file/.test(e.message),
  );
  const tree = parseDump('/ 0 40755 2 0 0 0 0.0 - - -\n/c 0 20644 1 0 0 0 0.0 - - \n/e 0 100644 1 0 0 0 0.0 - - \n/i 2 100644 1 0 0 0 0.0 - ab \n');
  for (const path of ['/c', '/e', '/i']) assert.equal(lookupPath(tree, path)!.inode.fsverityDigest, null, path);
});

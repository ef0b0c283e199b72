// Certificates made by the real peer, openssl, for the EK/AK certificate tests: CAs, intermediates
// and leaves with exactly the extensions a case needs, and `openssl verify` to compare verdicts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface IssuedCertificate {
  readonly name: string;
  readonly key: string;
  /** PEM file. */
  readonly cert: string;
  readonly pem: string;
  readonly der: Uint8Array;
}

export interface CertificateSpec {
  /** openssl -subj: '/' for an empty subject. */
  readonly subject: string;
  /** x509v3 config lines of this certificate's extension section. */
  readonly extensions: readonly string[];
  /** Issuer; self-signed when absent. */
  readonly issuer?: IssuedCertificate;
  /** A new 'ec' (P-256, fast) or 'rsa' (2048) key, or the key of an earlier certificate (RSA key generation takes a second). */
  readonly key?: 'ec' | 'rsa' | IssuedCertificate;
  readonly days?: number;
}

/** A scratch directory of openssl-made certificates, removed after the test. */
export class OpensslPki {
  readonly dir: string;
  readonly openssl: string;
  private count = 0;

  constructor(t: TestContext, openssl: string) {
    this.openssl = openssl;
    this.dir = mkdtempSync(join(tmpdir(), 'vouch-pki-'));
    t.after(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  private run(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
    return spawnSync(this.openssl, args, { encoding: 'utf8' });
  }

  private must(args: readonly string[]): string {
    const r = this.run(args);
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  issue(name: string, spec: CertificateSpec): IssuedCertificate {
    const base = join(this.dir, `${String(this.count++).padStart(2, '0')}-${name}`);
    const config = `${base}.cnf`;
    writeFileSync(config, ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...spec.extensions, ''].join('\n'));
    const cert = `${base}.pem`;
    const reused = typeof spec.key === 'object' ? spec.key.key : undefined;
    const key = reused ?? `${base}.key`;
    const keyArgs =
      reused !== undefined
        ? ['-key', reused]
        : spec.key === 'rsa'
          ? ['-newkey', 'rsa:2048', '-keyout', key]
          : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', key];
    const days = String(spec.days ?? 30);
    if (spec.issuer === undefined) {
      this.must(['req', '-x509', ...keyArgs, '-nodes', '-out', cert, '-subj', spec.subject, '-days', days, '-config', config, '-extensions', 'ext']);
    } else {
      const csr = `${base}.csr`;
      this.must(['req', '-new', ...keyArgs, '-nodes', '-out', csr, '-subj', spec.subject, '-config', config]);
      this.must([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        spec.issuer.cert,
        '-CAkey',
        spec.issuer.key,
        '-CAcreateserial',
        '-out',
        cert,
        '-days',
        days,
        '-extfile',
        config,
        '-extensions',
        'ext',
      ]);
    }
    const pem = readFileSync(cert, 'utf8');
    return { name, key, cert, pem, der: new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')) };
  }

  /** A PEM bundle file of several certificates (for -CAfile / -untrusted and --root / --intermediate). */
  bundle(name: string, certificates: readonly IssuedCertificate[]): string {
    const path = join(this.dir, `${name}.bundle.pem`);
    writeFileSync(path, certificates.map((c) => c.pem).join(''));
    return path;
  }

  /** `openssl verify -purpose any` at `at`: true when OpenSSL accepts the chain. */
  verify(leaf: IssuedCertificate, roots: readonly IssuedCertificate[], intermediates: readonly IssuedCertificate[], at: Date): boolean {
    const args = ['verify', '-purpose', 'any', '-attime', String(Math.floor(at.getTime() / 1000)), '-CAfile', this.bundle('roots', roots)];
    if (intermediates.length) args.push('-untrusted', this.bundle('intermediates', intermediates));
    return this.run([...args, leaf.cert]).status === 0;
  }
}

/** Extension lines of CA certificates and TCG EK / cloud AK leaves. */
export const Extensions = {
  ca: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash'],
  /** An EK certificate as the TCG profile has it, for an RSA EK; the TPM identity goes in the SAN. */
  rsaEk: [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, keyEncipherment',
    'extendedKeyUsage = 2.23.133.8.1',
    'subjectAltName = critical, dirName:tpm',
    'authorityKeyIdentifier = keyid',
    // openssl strips a field name up to its first dot (to allow repeated fields): hence the "1." prefixes.
    '[tpm]',
    '1.2.23.133.2.1 = id:00001014',
    '2.2.23.133.2.2 = swtpm',
    '3.2.23.133.2.3 = id:20191023',
  ],
  /** A cloud vTPM AK certificate: a signing key. */
  ak: ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'subjectAltName = critical, DNS:node-1.example'],
} as const;

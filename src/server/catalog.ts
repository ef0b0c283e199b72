// What appraisal judges against: the accepted reference sets and the active policy, compiled once
// per version. Each attestation asks the database which versions are accepted (two small indexed
// reads), so a change made through any replica applies at every replica's next attestation; the
// sets and the policy themselves are loaded and compiled only when those versions change.
import { parse as parseYaml } from 'yaml';
import { compilePolicy, PolicyError, type PolicyDocument } from '../policy/index.ts';
import type { ActiveReferenceSet, Repositories } from '../store/index.ts';
import type { PolicyCheck, ReleaseCatalog } from '../verifier/index.ts';
import { releaseCatalog } from './references.ts';

export interface Catalog {
  readonly references: ReleaseCatalog;
  /** The accepted (release, version) pairs the references are made of. */
  readonly referenceVersions: readonly ActiveReferenceSet[];
  /** The active policy; undefined when none is active (reference values alone decide). */
  readonly policy?: { readonly version: number; readonly check: PolicyCheck };
}

/** A policy as stored: a YAML or JSON document, checked and compiled (ERR_POLICY_INVALID otherwise). */
export function compileStoredPolicy(text: string): { document: PolicyDocument; check: PolicyCheck } {
  let untrusted: unknown;
  try {
    untrusted = parseYaml(text, { maxAliasCount: 16 });
  } catch (e) {
    throw new PolicyError('ERR_POLICY_INVALID', `the policy is neither YAML nor JSON: ${(e as Error).message.split('\n')[0] ?? ''}`, {});
  }
  return compilePolicy(untrusted);
}

export class CatalogCache {
  readonly #store: Repositories;
  #references: { key: string; references: ReleaseCatalog; versions: readonly ActiveReferenceSet[] } | undefined;
  #policy: { version: number; check: PolicyCheck } | undefined;

  constructor(store: Repositories) {
    this.#store = store;
  }

  async current(): Promise<Catalog> {
    const versions = await this.#store.referenceSets.activeVersions();
    const key = versions.map((v) => `${v.name}@${v.version}`).join(',');
    if (this.#references?.key !== key) {
      const records = await this.#store.referenceSets.active();
      // Another replica may have switched versions between the two reads: key what was loaded.
      const loaded = records.map((r) => ({ name: r.name, version: r.version }));
      this.#references = { key: loaded.map((v) => `${v.name}@${v.version}`).join(','), references: releaseCatalog(records), versions: loaded };
    }
    const active = await this.#store.policies.active();
    if (active === undefined) this.#policy = undefined;
    else if (this.#policy?.version !== active.version) this.#policy = { version: active.version, check: compileStoredPolicy(active.text).check };
    return {
      references: this.#references.references,
      referenceVersions: this.#references.versions,
      ...(this.#policy ? { policy: this.#policy } : {}),
    };
  }
}

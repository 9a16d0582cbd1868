import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../runtime/src/mainProcess.ts';

/**
 * The boundaries between the parts (docs/design.md#data-flow): which part's product code may
 * import which other part, and only through that part's public modules. Test code (`tests/` and
 * each part's `test/`) is not checked: it reaches internals on purpose.
 */

type Part = 'console' | 'protocol' | 'runtime' | 'storage' | 'broker' | 'gateway' | 'device-sim' | 'device-kit' | 'flows' | 'dashboards' | 'cli' | 'scripts';
const PARTS: readonly Part[] = ['console', 'protocol', 'runtime', 'storage', 'broker', 'gateway', 'device-sim', 'device-kit', 'flows', 'dashboards', 'cli', 'scripts'];

/** The parts each part may import (besides itself and npm packages). */
const MAY_IMPORT: Record<Part, readonly Part[]> = {
  // The console is a client of the management API in the browser; the hub only mounts its router.
  console: [],
  protocol: [],
  runtime: [],
  storage: ['protocol', 'runtime'],
  broker: ['protocol', 'runtime', 'storage', 'console'],
  gateway: ['protocol', 'runtime'],
  dashboards: ['protocol', 'runtime', 'storage'],
  flows: ['protocol', 'runtime'],
  // The CLI is a client of the management API: HTTP only, nothing of the hub.
  cli: ['protocol', 'runtime'],
  // The simulator registers its fleet through the management API, with the CLI's client.
  'device-sim': ['protocol', 'runtime', 'gateway', 'broker', 'cli'],
  // What a vendor copies: the wire contract and nothing else of ours.
  'device-kit': ['protocol'],
  scripts: ['protocol', 'runtime', 'storage', 'broker', 'gateway', 'device-sim', 'flows', 'dashboards', 'cli'],
};

/**
 * What another part may import of each part; each part's README lists the same under "Public
 * modules". `all`: every file of its `src/`.
 */
const PUBLIC_MODULES: Record<Part, 'all' | readonly string[]> = {
  console: ['src/server.ts'],
  protocol: 'all',
  runtime: 'all',
  storage: 'all',
  broker: ['src/registry.ts', 'src/provision.ts', 'src/hubProcess.ts', 'src/inventoryCsv.ts'],
  gateway: ['src/gateway.ts', 'src/config.ts'],
  'device-sim': ['src/fleet.ts', 'src/apiProvision.ts', 'src/campuses.ts', 'src/schoolGateway.ts'],
  'device-kit': ['src/client.ts'],
  flows: ['src/build.ts', 'src/nodeRedProcess.ts'],
  dashboards: ['src/build.ts'],
  cli: ['src/main.ts', 'src/client.ts', 'src/errors.ts'],
  scripts: [],
};

/**
 * Imports that break a rule today and are being removed by changes in flight. The integrator
 * empties this list after merging them; an entry that no longer occurs fails the test below.
 */
const PENDING: ReadonlyArray<{ from: string; to: string; reason: string }> = [];


interface Violation {
  from: string;
  to: string;
  why: string;
}

const SOURCE = /\.(ts|js|cjs|mjs)$/;

const partOf = (path: string): Part | undefined => PARTS.find((p) => path === p || path.startsWith(`${p}/`));
const isTestCode = (path: string): boolean => path.startsWith('tests/') || /^[^/]+\/test\//.test(path);

/** Every module a file names: static and dynamic imports, re-exports, `require()`; type-only too. */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

function isPublic(target: string): boolean {
  const part = partOf(target);
  if (!part) return false;
  const inPart = target.slice(part.length + 1);
  const pub = PUBLIC_MODULES[part];
  return pub === 'all' ? inPart.startsWith('src/') : pub.includes(inPart);
}

/** The rule an import breaks, or undefined. Paths are relative to the project root, with `/`. */
function ruleBroken(from: string, to: string): string | undefined {
  const part = partOf(from);
  if (!part || isTestCode(from)) return undefined;
  if (to.startsWith('tests/') || to === 'tests') return 'product code imports the tests';
  const target = partOf(to);
  if (target === part) return undefined;
  if (!target) return to.startsWith('node_modules/') ? undefined : `${part} imports ${to}, which belongs to no part`;
  if (!MAY_IMPORT[part].includes(target)) return `${part} may not import ${target}`;
  if (!isPublic(to)) return `${to} is not one of ${target}'s public modules`;
  return undefined;
}

/** Checks the files given (path relative to the project root → text). */
function checkImports(files: ReadonlyMap<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [from, text] of files) {
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) continue; // npm packages and node: builtins
      const to = posix.normalize(posix.join(posix.dirname(from), spec));
      const why = ruleBroken(from, to);
      if (why) out.push({ from, to, why });
    }
  }
  return out;
}

function productFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.') && !isTestCode(`${rel}/`)) walk(rel);
      } else if (SOURCE.test(e.name) && !isTestCode(rel)) {
        files.set(rel, readFileSync(join(PROJECT_ROOT, rel), 'utf8'));
      }
    }
  };
  for (const p of PARTS) if (existsSync(join(PROJECT_ROOT, p))) walk(p);
  return files;
}

const isPending = (v: Violation) => PENDING.some((p) => p.from === v.from && p.to === v.to);

describe('architecture: the parts import each other only as allowed', () => {
  const files = productFiles();
  const violations = checkImports(files);

  it('finds the product code of every part (the checker sees what it checks)', () => {
    for (const p of ['protocol', 'runtime', 'storage', 'broker', 'gateway', 'device-sim', 'flows', 'dashboards', 'cli', 'scripts'] as const) {
      expect([...files.keys()].some((f) => f.startsWith(`${p}/`)), p).toBe(true);
    }
    expect(files.has('flows/node-red/settings.cjs')).toBe(true);
    expect([...files.keys()].filter(isTestCode)).toEqual([]);
  });

  it('no part imports another part it may not, or another part\'s internals, or the tests', () => {
    expect(violations.filter((v) => !isPending(v))).toEqual([]);
  });

  it('every PENDING entry still occurs (remove the ones that are fixed)', () => {
    const stale = PENDING.filter((p) => !violations.some((v) => v.from === p.from && v.to === p.to));
    expect(stale).toEqual([]);
  });

  it('each part\'s README lists its public modules as this table does', () => {
    // One bullet per public module, `- \`src/…\` — what it is for`.
    for (const part of PARTS) {
      const readme = join(PROJECT_ROOT, part, 'README.md');
      if (part === 'scripts' || !existsSync(readme)) continue;
      const text = readFileSync(readme, 'utf8');
      const section = /^## Public modules\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text)?.[1];
      expect(section, `${part}/README.md has a "## Public modules" section`).toBeDefined();
      const pub = PUBLIC_MODULES[part];
      if (pub === 'all') expect(section, part).toMatch(/every file of `src\/`/i);
      else expect([...section!.matchAll(/^- `(src\/[^`]+)`/gm)].map((m) => m[1]).sort(), part).toEqual([...pub].sort());
    }
  });
});

describe('the import checker', () => {
  const check = (path: string, text: string) => checkImports(new Map([[path, text]]));

  it('reports a part importing a part it may not import', () => {
    expect(check('gateway/src/x.ts', "import { createHub } from '../../broker/src/hub.ts';\n")).toEqual([
      { from: 'gateway/src/x.ts', to: 'broker/src/hub.ts', why: 'gateway may not import broker' },
    ]);
    expect(check('runtime/src/x.cjs', "const t = require('../../protocol/src/topics.ts');\n")).toEqual([
      { from: 'runtime/src/x.cjs', to: 'protocol/src/topics.ts', why: 'runtime may not import protocol' },
    ]);
  });

  it('reports an import of another part\'s internals, dynamic and type-only imports included', () => {
    expect(check('device-sim/src/x.ts', "import type { Hub } from '../../broker/src/hub.ts';\nimport { Registry } from '../../broker/src/registry.ts';\n")).toEqual([
      { from: 'device-sim/src/x.ts', to: 'broker/src/hub.ts', why: "broker/src/hub.ts is not one of broker's public modules" },
    ]);
    expect(check('scripts/x.ts', "const u = await import('../gateway/src/uplink.ts');\n").map((v) => v.why)).toEqual([
      "gateway/src/uplink.ts is not one of gateway's public modules",
    ]);
  });

  it('reports product code importing the tests, and leaves test code alone', () => {
    expect(check('broker/src/x.ts', "export { startInflux } from '../../tests/harness/influx.ts';\n")).toEqual([
      { from: 'broker/src/x.ts', to: 'tests/harness/influx.ts', why: 'product code imports the tests' },
    ]);
    expect(check('flows/test/x.test.ts', "import { route } from '../../tests/harness/grafana.ts';\nimport '../../broker/src/hub.ts';\n")).toEqual([]);
  });

  it('accepts the allowed imports and ignores imports written in comments and strings', () => {
    const text = [
      "import { z } from 'zod';",
      "import { join } from 'node:path';",
      "import { topicFor } from '../../protocol/src/topics.ts';",
      "import { createGateway } from '../../gateway/src/gateway.ts';",
      "import { fleetOf } from './config.ts';",
      "// import { createHub } from '../../broker/src/hub.ts';",
      "const script = '../../broker/src/main.ts';",
    ].join('\n');
    expect(check('device-sim/src/x.ts', text)).toEqual([]);
  });
});

// The previous release of weft, built from git in a test's own folder, for the rolling-upgrade
// test (issue 15). Wire compatibility is promised one minor version back (docs/HOSTS.md,
// "Upgrades"), so this names the release before package.json's version.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** The last release: its tag, and the commit the tag names (for a clone fetched without tags). */
export const PREVIOUS_RELEASE = { version: '0.1.0', tag: 'v0.1.0', commit: '46b7c7dfa3b8c7c4981181073d5edf3f1a9cef59' };

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** The tag or, failing that, the commit, if this clone has it; undefined otherwise. */
export function previousReleaseRev(): string | undefined {
  for (const rev of [PREVIOUS_RELEASE.tag, PREVIOUS_RELEASE.commit]) {
    const r = spawnSync('git', ['-C', REPO, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
      stdio: 'ignore',
    });
    if (r.status === 0) return rev;
  }
  return undefined;
}

/**
 * Extracts the release into dir and transpiles its sources with esbuild (one file per source,
 * as tsc lays out dist/, in well under a second; the release's own tsc build would take a
 * minute here). Its node_modules is ours: the dependencies are the same versions. Returns the
 * command that runs its CLI.
 */
export function buildPreviousRelease(dir: string, rev: string): string[] {
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git -C "${REPO}" archive "${rev}" | tar -x -C "${dir}"`]);
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  const sources = execFileSync('git', ['-C', REPO, 'ls-tree', '-r', '--name-only', rev], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !/^(props|bench|test)\//.test(f));
  buildSync({
    entryPoints: sources,
    absWorkingDir: dir,
    outdir: 'dist',
    outbase: '.',
    format: 'esm',
    platform: 'node',
    logLevel: 'warning',
  });
  return [process.execPath, join(dir, 'dist/src/cli.js')];
}

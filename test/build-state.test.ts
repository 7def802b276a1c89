import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildState } from '../bin/build-state';

/** A checkout with one source file written a minute ago and a finished build stamped half a minute ago. */
function checkout(): {
  root: string;
  source: string;
  stamp: string;
  touch(path: string, secondsAgo: number): void;
} {
  const root = mkdtempSync(join(tmpdir(), 'tourniquet-build-state-'));
  const touch = (path: string, secondsAgo: number) => {
    const at = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path, at, at);
  };
  writeFileSync(join(root, 'tsconfig.json'), '{}');
  writeFileSync(join(root, 'tsconfig.build.json'), JSON.stringify({ include: ['lib', 'absent'] }));
  mkdirSync(join(root, 'lib'));
  const source = join(root, 'lib', 'code.ts');
  writeFileSync(source, 'export const a = 1;\n');
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
  writeFileSync(join(root, 'dist', 'cli', 'main.js'), '');
  const stamp = join(root, 'dist', 'build-info.json');
  writeFileSync(stamp, '{}');
  for (const path of [
    join(root, 'tsconfig.json'),
    join(root, 'tsconfig.build.json'),
    join(root, 'lib'),
    source,
  ])
    touch(path, 60);
  touch(stamp, 30);
  return { root, source, stamp, touch };
}

describe('which code bin/tourniquet.js runs', () => {
  it('runs a build made after the last source change', () => {
    expect(buildState(checkout().root)).toBe('current');
  });

  it('does not run a build older than a source file, a removed source or the compiler settings', () => {
    const edited = checkout();
    edited.touch(edited.source, 0);
    expect(buildState(edited.root)).toBe('stale');

    const removed = checkout();
    rmSync(removed.source);
    expect(buildState(removed.root)).toBe('stale');

    const settings = checkout();
    settings.touch(join(settings.root, 'tsconfig.json'), 0);
    expect(buildState(settings.root)).toBe('stale');
  });

  it('does not run a build that never finished (no stamp) or has no CLI', () => {
    const unfinished = checkout();
    rmSync(unfinished.stamp);
    expect(buildState(unfinished.root)).toBe('missing');

    const noCli = checkout();
    rmSync(join(noCli.root, 'dist', 'cli', 'main.js'));
    expect(buildState(noCli.root)).toBe('missing');
  });

  it('runs the build of an image that holds no sources to compare with', () => {
    const image = checkout();
    rmSync(join(image.root, 'tsconfig.build.json'));
    rmSync(join(image.root, 'lib'), { recursive: true });
    expect(buildState(image.root)).toBe('current');
  });
});

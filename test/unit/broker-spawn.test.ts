/**
 * The crash tests' child runner (test/helpers/broker-spawn.cjs): a wait for a line rejects, with
 * the child's name, when the child exits without writing it. (It used to miss an exit that came
 * before the line and wait forever; the torture run's parent then exited 0 mid-run, its event
 * loop empty.)
 */
import { describe, expect, it } from 'vitest';
import { spawnChild } from '../helpers/broker-spawn.cjs';

describe('spawnChild', () => {
  it('rejects a wait for a line when the child exits first', async () => {
    // power-loss-timer.cjs only defines a function: run as a script it exits at once, silent.
    const child = spawnChild('power-loss-timer.cjs', {});
    await expect(child.waitFor((lines: string[]) => lines.includes('ready'), 'ready')).rejects.toThrow(/power-loss-timer\.cjs exited before ready/);
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });
});
